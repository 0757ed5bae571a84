// Drift: what the running load balancer does that its topology does not say. Pure: the runtime
// API's answers and the files' hashes come in, a report in the plan's words comes out.
import { field, numberField, type ParsedStat } from "../../haproxy/show-stat.ts";
import { isIP } from "node:net";
import type { MapEntry } from "../../haproxy/show-map.ts";
import { tableEntryKey, type RouteTable, type RouteTableEntry } from "../model/routing.ts";
import { configuredWeight, type Server, type Topology } from "../model/schema.ts";
import { rateLimitTables, tableMapPath } from "../render/routing.ts";
import { isSlowAnswersTable } from "../../sidecar/slow-answers.ts";
import { LOCAL_ADDRESS } from "../render/targets.ts";
import { diffTopologies, runtimeApiCommands, type TopologyChange, type TopologyEdit } from "./changes.ts";
import { makePlan } from "./plan.ts";
import type { RolloutExpectation } from "./rollout-policy.ts";

/** One server as HAProxy reports it over "show stat". */
export interface ObservedServer {
  backend: string;
  name: string;
  address: string;
  port: number;
  /** The configured (user) weight, not the effective one during slowstart. */
  weight: number;
  maxconn?: number;
  /** Administrative state: maint (also "disabled" in the file), drain, or ready. */
  adminState: "ready" | "maint" | "drain";
  rise?: number;
  fall?: number;
  /** The health status when it is not an administrative one: UP, DOWN, "DOWN 1/2"... */
  status: string;
  checkStatus: string;
}

export interface Observation {
  servers: ObservedServer[];
  /** Backend → its balance algorithm. */
  algorithms: Map<string, string>;
  /** Workers a reload left, still finishing their connections (show proc's old workers). */
  drainingWorkers?: number[];
  /** Each route table's map as HAProxy holds it ("show map"), by the file the config names. */
  maps?: Map<string, MapEntry[]>;
  /** Backends a canary rollout is under or left (rolloutExpectation): its step's weights, or an abort's maintenance. */
  rollouts?: Map<string, RolloutExpectation>;
}

export function observe(stat: ParsedStat): Observation {
  const servers: ObservedServer[] = [];
  const algorithms = new Map<string, string>();
  for (const row of stat.rows) {
    if (row.kind === "backend") algorithms.set(row.proxy, field(row, "algo") ?? "");
    if (row.kind !== "server") continue;
    const status = field(row, "status") ?? "";
    const [address = "", port = "0"] = (field(row, "addr") ?? "").split(/:(?=\d+$)/);
    servers.push({
      backend: row.proxy,
      name: row.name,
      address,
      port: Number(port),
      weight: numberField(row, "uweight") ?? numberField(row, "weight") ?? 0,
      maxconn: numberField(row, "slim"),
      adminState: status.startsWith("MAINT") ? "maint" : status.startsWith("DRAIN") ? "drain" : "ready",
      rise: numberField(row, "check_rise"),
      fall: numberField(row, "check_fall"),
      status,
      checkStatus: field(row, "check_status") ?? "",
    });
  }
  return { servers, algorithms };
}

/**
 * The topology HAProxy is running, as far as the runtime API tells: `base` (what it loaded) with
 * every observable field replaced by what HAProxy reports. Fields it cannot see stay as in `base`.
 */
export function observedTopology(base: Topology, observation: Observation): Topology {
  const topology = structuredClone(base);
  const backends = new Map(topology.backends.map((b) => [b.name, b]));
  // The keyed rate limits' and the canaries' table sections are backends to HAProxy, not to the
  // topology (a promoted canary's stays until the next reload).
  const rateTables = new Set(rateLimitTables(base.frontends).map((t) => t.name));
  const isTable = (name: string) => rateTables.has(name) || isSlowAnswersTable(name);
  for (const name of observation.algorithms.keys()) if (name !== "monitoring" && !isTable(name) && !backends.has(name)) backends.set(name, { name, balance: "roundrobin", servers: [] } as unknown as Topology["backends"][number]);
  topology.backends = [...backends.values()].filter((b) => observation.algorithms.has(b.name) && !isTable(b.name));
  for (const backend of topology.backends) {
    const algorithm = observation.algorithms.get(backend.name);
    if (algorithm) backend.balance = algorithm as typeof backend.balance;
    const known = new Map(backend.servers.map((s) => [s.name, s]));
    // A discovered group's slots are its own: their addresses and maintenance come from DNS, not the
    // topology. What the file fixes, the number of slots, is observed.
    const prefix = backend.discovery?.name;
    const isSlot = (o: ObservedServer) => prefix !== undefined && !known.has(o.name) && o.name.startsWith(prefix) && /^\d+$/.test(o.name.slice(prefix.length));
    const observed = observation.servers.filter((o) => o.backend === backend.name);
    if (backend.discovery) backend.discovery.maxServers = observed.filter(isSlot).length;
    const rollout = observation.rollouts?.get(backend.name);
    backend.servers = observed.filter((o) => !isSlot(o)).map((o) => observedServer(known.get(o.name), o, backend, rollout));
  }
  for (const frontend of topology.frontends) {
    for (const table of frontend.routeTables) {
      const entries = observation.maps?.get(tableMapPath(frontend.name, table.name));
      if (entries) table.entries = entries.map((e) => observedEntry(table, e));
    }
  }
  return topology;
}

/** A map entry as a table entry: the loaded one with the same key (and the backend HAProxy holds), else one made from the key. */
function observedEntry(table: RouteTable, entry: MapEntry): RouteTableEntry {
  const loaded = table.entries.find((e) => tableEntryKey(table, e) === entry.key);
  if (loaded) return { ...loaded, backend: entry.value };
  if (table.key === "host") return { host: entry.key, backend: entry.value };
  const slash = entry.key.indexOf("/");
  return { host: entry.key.slice(0, slash), pathPrefix: entry.key.slice(slash).replace(/(.)\/$/, "$1"), backend: entry.value };
}

function observedServer(loaded: Server | undefined, o: ObservedServer, backend: Pick<Topology["backends"][number], "canary">, rollout?: RolloutExpectation): Server {
  const server: Server = loaded ? { ...loaded } : { name: o.name, address: o.address, port: o.port, check: o.rise !== undefined, inter: "2s", fall: o.fall ?? 3, rise: o.rise ?? 2, weight: o.weight, backup: false, external: false, disabled: false };
  // On the local target every server is 127.0.0.1: the model's address is then a name, not drift; an
  // external server named by host shows the address its name resolved to.
  const namedExternal = loaded?.external === true && loaded.address !== undefined && isIP(loaded.address) === 0;
  // A server on a unix socket has no address or port to differ in (HAProxy's state file shows none).
  if (loaded?.unixSocket === undefined) {
    if ((o.address !== LOCAL_ADDRESS || !loaded) && !namedExternal) server.address = o.address;
    server.port = o.port;
  }
  // A canary's server is configured at 0 until a rollout: at 0 it is as the topology says. Under a
  // rollout, every server of the backend is as the topology says at the weight of the current step.
  const expected = rollout?.weights?.[o.name] ?? (loaded ? configuredWeight(backend, loaded) : undefined);
  server.weight = loaded && o.weight === expected ? loaded.weight : o.weight;
  // An aborted rollout may leave the canary in maintenance (its sessions moved): expected, not drift.
  const maintenanceExpected = loaded !== undefined && rollout?.maintenance?.includes(o.name) === true;
  server.disabled = o.adminState === "maint" ? (maintenanceExpected ? loaded!.disabled : true) : false;
  if (server.maxconn !== undefined || o.maxconn !== undefined) server.maxconn = o.maxconn;
  if (server.check && o.rise !== undefined) server.rise = o.rise;
  if (server.check && o.fall !== undefined) server.fall = o.fall;
  return server;
}

export interface ConfigFileFacts {
  /** sha256 of the config HAProxy loaded (recorded at start or apply); undefined when not recorded. */
  loaded?: string;
  /** sha256 of haproxy.cfg on disk now. */
  onDisk: string;
  /** sha256 of the config the working tree's topology renders for this stack. */
  rendered: string;
}

export interface DriftReport {
  inSync: boolean;
  /** Changed behind the topology's back, as the changes that would undo it (running → topology). */
  drift: TopologyChange[];
  /** In the working tree's topology, not yet applied to the running stack (running → topology). */
  notApplied: TopologyChange[];
  /** Problems with the config file itself: edited on disk, or a load that was never recorded. */
  configFile: string[];
  /** Not drift: servers whose health checks fail, and why. */
  operational: string[];
}

export function judgeDrift(desired: Topology, loaded: Topology | undefined, observation: Observation, files: ConfigFileFacts): DriftReport {
  const base = loaded ?? desired;
  const running = observedTopology(base, observation);
  const drift = diffTopologies(running, base).map((change) => tableEntryFix(change, base) ?? asDriftFix(change));
  for (const o of observation.servers.filter((s) => s.adminState === "drain")) {
    drift.push({ path: `backends.${o.backend}.servers.${o.name}.state`, kind: "change", from: "drain", to: "ready", class: "runtime", detail: `set server ${o.backend}/${o.name} state ready` });
  }
  const notApplied = loaded ? makePlan(loaded, desired).changes : [];
  const configFile: string[] = [];
  if (files.loaded !== undefined && files.onDisk !== files.loaded) {
    configFile.push(`haproxy.cfg on disk was changed after HAProxy loaded it (sha256 ${files.loaded.slice(0, 12)} loaded, ${files.onDisk.slice(0, 12)} on disk): the next reload would load that edit`);
  }
  if (files.loaded === undefined) configFile.push("the stack recorded no loaded configuration (started by an older version?): restart it to record one");
  else if (notApplied.length === 0 && files.rendered !== files.loaded) configFile.push(`HAProxy loaded a configuration the topology does not render (sha256 ${files.loaded.slice(0, 12)} loaded, ${files.rendered.slice(0, 12)} rendered): the templates changed since; npm run apply loads it`);
  const operational = observation.servers
    .filter((o) => o.adminState === "ready" && !/^(UP|no check)/.test(o.status))
    .map((o) => `${o.backend}/${o.name} is ${o.status}${o.checkStatus ? ` (check: ${o.checkStatus})` : ""}: its health check fails, which the topology cannot fix`);
  for (const [backend, r] of observation.rollouts ?? []) {
    if (r.weights) operational.push(`a canary rollout of ${backend} is ${r.phase} at ${r.percent} %: its step's weights are expected, not the configured ones (npm run rollout -- ${backend} --status)`);
    const inMaintenance = (r.maintenance ?? []).filter((name) => observation.servers.some((o) => o.backend === backend && o.name === name && o.adminState === "maint"));
    if (inMaintenance.length) operational.push(`${inMaintenance.join(", ")} of ${backend} stay in maintenance after an aborted rollout (the sessions pinned to the canary moved): the next rollout puts them back`);
  }
  if (observation.drainingWorkers?.length) {
    operational.push(`HAProxy's old worker ${observation.drainingWorkers.join(", ")} still finishes the connections it had before a reload (it leaves by itself, within hard-stop-after ${base.global.hardStopAfter})`);
  }
  return { inSync: drift.length === 0 && notApplied.length === 0 && configFile.length === 0, drift, notApplied, configFile, operational };
}

/** The runtime command that puts a route table's entry back as the topology says, for a change to one. */
function tableEntryFix(change: TopologyEdit, topology: Topology): TopologyChange | undefined {
  for (const frontend of topology.frontends) {
    for (const table of frontend.routeTables) {
      const prefix = `frontends.${frontend.name}.routeTables.${table.name}.entries.`;
      if (!change.path.startsWith(prefix)) continue;
      const file = tableMapPath(frontend.name, table.name);
      const entry = (change.to ?? change.from) as RouteTableEntry;
      if (change.kind === "remove") return { ...change, class: "runtime", detail: `del map ${file} ${tableEntryKey(table, entry)}` };
      if (change.kind === "add") return { ...change, class: "runtime", detail: `add map ${file} ${tableEntryKey(table, entry)} ${entry.backend}` };
      const wanted = table.entries.find((e) => change.path === `${prefix}${e.pathPrefix === undefined ? e.host.toLowerCase() : tableEntryKey({ key: "host+path" }, e)}.backend`);
      if (wanted) return { ...change, class: "runtime", detail: `set map ${file} ${tableEntryKey(table, wanted)} ${wanted.backend}` };
    }
  }
  return undefined;
}

/**
 * What undoes a change made behind the topology's back: the runtime API where it can (a port too,
 * not by restarting the web app), else a reload of the topology's config (npm run apply).
 */
function asDriftFix(change: TopologyEdit): TopologyChange {
  const port = /^backends\.([^.]+)\.servers\.([^.]+)\.port$/.exec(change.path);
  if (port) return { ...change, class: "runtime", detail: `set server ${port[1]}/${port[2]} addr ${LOCAL_ADDRESS} port ${change.to}` };
  const commands = runtimeApiCommands(change.path, change.to, "local");
  if (commands?.length) return { ...change, class: "runtime", detail: commands.join("; ") };
  return { ...change, class: "reload", detail: "npm run apply reloads the topology's config" };
}
