// npm run verify's wiring: the model says what to expect, the local runtime provides the access
// (stats socket, killing and restarting a gunicorn); the sidecar's assertions do the rest.
import { settleMs } from "../../haproxy/check-timing.ts";
import { existsSync, readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { join } from "node:path";
import { bindCertificates, bindPorts, configuredWeight, groupSlotNames, proxyMode, resolutionMs, type Bind, type Topology } from "../model/schema.ts";
import { picksPrimary, serverProtocol } from "../model/checks.ts";
import { expandCondition, sniNamesIn } from "../model/routing.ts";
import { field, parseShowStat, type StatRow } from "../../haproxy/show-stat.ts";
import { hstsValue, retryAfterSeconds } from "../render/view.ts";
import { DEV_CA_FILE } from "./certificates.ts";
import { parseDuration } from "../../haproxy/duration.ts";
import { LOCAL_ADDRESS, localBindUrl } from "../render/targets.ts";
import { StackNotRunningError, VerifyNotPossibleError } from "../errors.ts";
import { runtimeCommand } from "../../haproxy/runtime-api.ts";
import type { EntrypointExpectation, Expectations, RoutingExpectation, TcpFailoverExpectation, TcpProbe } from "../../verification/judge.ts";
import { resolveRequest, resolveRoute, type RouteRequest } from "../model/route-resolver.ts";
import { routingMatrix } from "../model/route-matrix.ts";
import type { RunOptions, StackAccess, VerifyRun } from "../../verification/run.ts";
import { writeFileAtomic } from "../files.ts";
import { ASSERTIONS_FILE, type LocalComponent, type LocalStackDeclaration } from "./declaration.ts";
import { killProcessGroup } from "./processes.ts";
import { holdComponent, launchComponent, recordedProcesses, recordRestart } from "./stack.ts";
import { stillRecordedProcess } from "./state.ts";

export interface ExpectationOptions {
  /** The CA certificate (PEM) HTTPS answers chain to: the run directory's development CA, or one given. */
  ca?: string;
  /** The discovered groups' servers as HAProxy holds them now (readDiscoveredServers): the model lists none. */
  discovered?: readonly DiscoveredServer[];
}

/** A slot of a discovered group that holds an address: a server verify can send traffic to and fail. */
export interface DiscoveredServer {
  backend: string;
  slot: string;
  /** "address:port", as HAProxy reports it. */
  address: string;
}

/** Pure: the slots of the topology's discovered groups that hold an address and are not in maintenance. */
export function discoveredServers(rows: readonly StatRow[], topology: Topology): DiscoveredServer[] {
  const slots = new Map(topology.backends.flatMap((b) => (b.discovery ? groupSlotNames(b.discovery).map((slot) => [`${b.name}/${slot}`, b.name] as const) : [])));
  return rows
    .filter((r) => r.kind === "server" && slots.has(`${r.proxy}/${r.name}`))
    .map((r) => ({ backend: r.proxy, slot: r.name, address: field(r, "addr") ?? "", status: field(r, "status") ?? "" }))
    .filter((s) => /:\d+$/.test(s.address) && !s.status.startsWith("MAINT"))
    .map(({ status: _status, ...server }) => server);
}

/** The discovered groups' servers, from the running HAProxy; [] for a topology without groups (no question asked). */
export async function readDiscoveredServers(adminSocket: string, topology: Topology): Promise<DiscoveredServer[]> {
  if (!topology.backends.some((b) => b.discovery)) return [];
  return discoveredServers(parseShowStat(await runtimeCommand({ path: adminSocket }, "show stat", { timeoutMs: 2000 })).rows, topology);
}

/** The web components the local stack runs, as recorded (npm run scale may have started more than the topology file counts). */
async function runningWebComponents(plan: LocalStackDeclaration): Promise<LocalComponent[]> {
  const recorded = ((await recordedProcesses(plan.runDir)) ?? []).flatMap((p) => (p.component ? [p.component] : []));
  return [...recorded, ...plan.components].filter((c) => c.kind === "web");
}

/** The discovered servers of the local stack. */
export const readLocalDiscoveredServers = (plan: LocalStackDeclaration, topology: Topology = plan.topology) => readDiscoveredServers(plan.sockets.admin, topology);

/**
 * What traffic must show, derived from the model: the first frontend's backend in depth (through
 * its HTTPS bind when plain requests are redirected), and every port of every frontend.
 */
export function expectationsFromTopology(topology: Topology, options: ExpectationOptions = {}): Expectations {
  const frontend = topology.frontends[0]!;
  const tlsBind = frontend.binds.find((b) => b.tlsCertificate !== undefined);
  const bind = (frontend.httpsRedirect ? tlsBind : undefined) ?? frontend.binds.find((b) => b.tlsCertificate === undefined) ?? tlsBind!;
  // The backend in depth is where the frontend's routes send "/" (its default backend without routes).
  const root = resolveRequest(frontend, topology.backends, rootRequest(bind, bind.port), tlsBind?.port);
  const backendName = root.kind === "backend" ? root.backend : frontend.defaultBackend;
  const backend = topology.backends.find((b) => b.name === backendName);
  if (!backend) throw new VerifyNotPossibleError(`frontends.${frontend.name}: its routes answer "/" themselves (${root.route}) and it has no defaultBackend: the checks send their traffic to "/"; add a route or a defaultBackend that serves it`);
  const { defaults } = topology;
  const entrypoints = entrypointExpectations(topology, options.discovered ?? []);
  const retries = backend.retries ?? defaults.retries;
  const redispatch = backend.redispatch ?? defaults.redispatch;
  const retryOn = backend.retryOn ?? defaults.retryOn;
  const group = backend.discovery;
  const discovered = (options.discovered ?? []).filter((d) => d.backend === backend.name);
  const inters = [...backend.servers.map((s) => s.inter), ...(group ? [group.inter] : [])].map(parseDuration);
  // The assertions' traffic comes from loopback: from 127.0.0.1, or spread over 127.0.0.0/8 when the
  // frontend limits each client address (so that a production topology passes its own checks).
  const allowlist = frontend.allowlist;
  if (allowlist && !allowlist.some((network) => networkContains(network, LOCAL_ADDRESS))) {
    throw new VerifyNotPossibleError(`frontends.${frontend.name}.allowlist: ${LOCAL_ADDRESS} is not in it, so every request from this machine gets 403: add "127.0.0.0/8" to check the stack from here`);
  }
  if (frontend.rateLimit && allowlist && !allowlist.some((network) => networkContains(network, "127.255.255.254") && networkContains(network, LOCAL_ADDRESS))) {
    throw new VerifyNotPossibleError(`frontends.${frontend.name}.allowlist: the rate limit makes the checks spread their traffic over loopback addresses, and the allowlist admits only some: allow "127.0.0.0/8"`);
  }
  return {
    // One source sends fewer requests than the limit lets through in a window.
    ...(frontend.rateLimit && { perSource: Math.max(1, Math.floor(frontend.rateLimit.requests * 0.9)) }),
    frontendUrl: localBindUrl(bind, bind.port),
    // A server that vanished (a stopped container) answers nothing: HAProxy retries after timeout connect.
    requestTimeoutMs: parseDuration(defaults.timeouts.connect) + 5000,
    ...(options.ca !== undefined && { ca: options.ca }),
    backend: backend.name,
    balance: backend.balance,
    ...(backend.balanceKey !== undefined && { balanceKey: backend.balanceKey }),
    cookie: backend.cookie?.name,
    lossless: retries > 0 && redispatch && (retryOn.includes("all-retryable-errors") || (retryOn.includes("conn-failure") && retryOn.includes("empty-response"))),
    // Without "timeout check", HAProxy gives a check as long as inter.
    checkTimeoutMs: defaults.timeouts.check ? parseDuration(defaults.timeouts.check) : Math.max(...inters),
    servers: [
      ...backend.servers.map((s) => ({ name: s.name, weight: configuredWeight(backend, s), active: !s.backup && !s.disabled, interMs: parseDuration(s.inter), fall: s.fall, rise: s.rise })),
      ...(group ? discovered.map((d) => ({ name: d.slot, weight: group.weight, active: true, interMs: parseDuration(group.inter), fall: group.fall, rise: group.rise })) : []),
    ],
    entrypoints,
    ...tcpFailoverExpectations(topology, entrypoints),
    ...(backend.servers.some((s) => s.external) && { unattributable: `backend ${backend.name} has servers the stack does not run (${backend.servers.filter((s) => s.external).map((s) => s.name).join(", ")}): their answers do not say which server gave them` }),
    routing: routingExpectations(topology, options),
    ...(options.discovered?.length && { serverNames: Object.fromEntries(options.discovered.map((d) => [d.address, d.slot])) }),
    security: {
      ...(frontend.rateLimit && { rateLimit: { requests: frontend.rateLimit.requests, retryAfterSeconds: retryAfterSeconds(frontend.rateLimit) } }),
      ...(allowlist && { allowlist: outsideSource(allowlist) }),
      ...(backend.cookie && { cookie: { name: backend.cookie.name, secure: backend.cookie.secure, httponly: backend.cookie.httponly, sameSite: backend.cookie.sameSite } }),
    },
  };
}

/**
 * The servers of a backend that may answer: enabled, weighted, and the discovered slots that hold an
 * address; undefined when one is a server the stack does not run (its answers do not name it).
 */
function answeringServers(topology: Topology, backendName: string, discovered: readonly DiscoveredServer[]): string[] | undefined {
  const backend = topology.backends.find((b) => b.name === backendName)!;
  if (backend.servers.some((s) => s.external && !s.disabled)) return undefined;
  return [
    ...backend.servers.filter((s) => !s.disabled && configuredWeight(backend, s) > 0).map((s) => s.name),
    ...(backend.discovery && backend.discovery.weight > 0 ? discovered.filter((d) => d.backend === backend.name).map((d) => d.slot) : []),
  ];
}

/** "GET /" as a check sends it to one port of a bind: Host is the address and port it connects to. */
const rootRequest = (bind: Bind, port: number): RouteRequest => ({ method: "GET", host: `${LOCAL_ADDRESS}:${port}`, path: "/", source: LOCAL_ADDRESS, tls: bind.tlsCertificate !== undefined, headers: [] });

/** Every port of every frontend: what "/" must answer there (as the routes decide), and what TLS and HSTS must show. */
function entrypointExpectations(topology: Topology, discovered: readonly DiscoveredServer[]): EntrypointExpectation[] {
  return topology.frontends.flatMap((frontend) => {
    if (proxyMode(frontend, topology.defaults) === "tcp") return tcpEntrypoints(topology, frontend);
    const tlsBind = frontend.binds.find((b) => b.tlsCertificate !== undefined);
    return frontend.binds.flatMap((bind) =>
      bindPorts([bind]).map((port): EntrypointExpectation => {
        const tls = bind.tlsCertificate !== undefined;
        const outcome = resolveRequest(frontend, topology.backends, rootRequest(bind, port), tlsBind?.port);
        const servers = outcome.kind === "backend" ? answeringServers(topology, outcome.backend, discovered) : [];
        // The HTTPS redirect's Location is the TLS bind's URL as this machine reaches it.
        const answer: Partial<EntrypointExpectation> =
          outcome.kind === "backend" ? {} : outcome.route === "httpsRedirect" && tlsBind ? { redirectTo: localBindUrl(tlsBind, tlsBind.port) } : outcome.kind === "redirect" ? { redirectTo: outcome.location, redirectStatus: outcome.status } : outcome.kind === "service" || outcome.kind === "undecided" ? { anyServer: true } : { answers: outcome.kind === "unrouted" ? 503 : outcome.status };
        return {
          frontend: frontend.name,
          url: localBindUrl(bind, port),
          servers: servers ?? [],
          ...(servers === undefined && { anyServer: true }),
          ...answer,
          ...(tls && { tls: { minVersion: topology.global.tls.minVersion, http2: bind.http2, ...managedServerName(topology, bind) } }),
          ...(tls && frontend.hsts && { hsts: hstsValue(frontend.hsts) }),
        };
      }),
    );
  });
}

/** A bind whose default certificate the stack manages is reached by that certificate's first name, as its clients do. */
function managedServerName(topology: Topology, bind: Bind): { serverName?: string } {
  const managed = topology.certificates.find((c) => c.file === bindCertificates(bind)[0]);
  return managed ? { serverName: managed.names[0]! } : {};
}

/**
 * A TCP frontend's ports: a connection to each, speaking its backend's protocol; with routes by
 * SNI, a handshake for each name a route lists (the certificate seen must be its server's own) and
 * one for a name no route takes (refused where a route denies it).
 */
function tcpEntrypoints(topology: Topology, frontend: Topology["frontends"][number]): EntrypointExpectation[] {
  const probeFor = (backend: string): TcpProbe => {
    const protocol = serverProtocol(topology.backends.find((b) => b.name === backend)!);
    return { probe: protocol === "redis" || protocol === "postgresql" ? protocol : "connect", backend };
  };
  const names = [...new Set(frontend.routes.flatMap((r) => (r.when ? sniNamesIn(expandCondition(r.when, frontend.conditions)) : [])))].filter((n) => !n.startsWith("*."));
  return frontend.binds.flatMap((bind) =>
    bindPorts([bind]).flatMap((port): EntrypointExpectation[] => {
      const url = `tcp://${LOCAL_ADDRESS}:${port}`;
      const request = (sni?: string): RouteRequest => ({ method: "", path: "/", source: LOCAL_ADDRESS, tls: false, destinationPort: port, ...(sni !== undefined && { sni }) });
      const expectation = (sni?: string): EntrypointExpectation | undefined => {
        const outcome = resolveRoute(frontend, request(sni));
        const base = { frontend: frontend.name, url, servers: [], anyServer: true };
        if (outcome.kind === "deny") return { ...base, tcp: { probe: "refused", serverName: sni } };
        if (outcome.kind !== "backend") return undefined;
        const protocol = serverProtocol(topology.backends.find((b) => b.name === outcome.backend)!);
        if (sni !== undefined) return protocol === "tls" ? { ...base, tcp: { probe: "tls", serverName: sni, backend: outcome.backend } } : undefined;
        return { ...base, tcp: probeFor(outcome.backend) };
      };
      if (names.length === 0) return [expectation()].filter((e) => e !== undefined);
      return [...names.map((n) => expectation(n)), expectation(`unrouted-${port}.invalid`)].filter((e) => e !== undefined);
    }),
  );
}

/**
 * The TCP backends verify fails over, each once: those a TCP frontend's entry points reach, with two
 * or more active, checked servers the stack runs (not one whose check finds the primary: a primary
 * changes by promotion, which is the database's business, not a failover).
 */
function tcpFailoverExpectations(topology: Topology, entrypoints: readonly EntrypointExpectation[]): { tcpFailovers?: TcpFailoverExpectation[] } {
  const failovers: TcpFailoverExpectation[] = [];
  for (const ep of entrypoints) {
    const probe = ep.tcp;
    if (!probe?.backend || (probe.probe !== "tls" && probe.probe !== "redis" && probe.probe !== "postgresql" && probe.probe !== "connect")) continue;
    if (failovers.some((f) => f.backend === probe.backend)) continue;
    const backend = topology.backends.find((b) => b.name === probe.backend)!;
    const active = backend.servers.filter((s) => !s.backup && !s.disabled && s.check);
    if (picksPrimary(backend) || backend.servers.some((s) => s.external) || active.length < 2) continue;
    const victim = active[0]!;
    const { defaults } = topology;
    const retries = backend.retries ?? defaults.retries;
    const redispatch = backend.redispatch ?? defaults.redispatch;
    failovers.push({
      frontend: ep.frontend,
      url: ep.url,
      probe,
      backend: backend.name,
      victim: victim.name,
      victimUrl: `tcp://${LOCAL_ADDRESS}:${victim.port}`,
      interMs: parseDuration(victim.inter),
      fall: victim.fall,
      rise: victim.rise,
      checkTimeoutMs: defaults.timeouts.check ? parseDuration(defaults.timeouts.check) : parseDuration(victim.inter),
      lossless: retries > 0 && redispatch,
    });
  }
  return failovers.length ? { tcpFailovers: failovers } : {};
}

/** Loopback addresses the routing checks may send from (source conditions, allowlists). */
const ROUTING_SOURCES = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.10.0.1", "127.255.255.254"];

/** Every frontend's routing matrix, as requests to its first plain (or TLS) port, with what must answer. */
function routingExpectations(topology: Topology, options: ExpectationOptions): RoutingExpectation[] {
  return topology.frontends.flatMap((frontend) => {
    // A TCP frontend's routes are proven by the entry points' handshakes.
    if (frontend.routes.length === 0 || proxyMode(frontend, topology.defaults) === "tcp") return [];
    const plain = frontend.binds.find((b) => b.tlsCertificate === undefined);
    // TLS requests need the CA the stack's certificates chain to.
    const tlsBind = options.ca !== undefined ? frontend.binds.find((b) => b.tlsCertificate !== undefined) : undefined;
    return routingMatrix(frontend, { tls: tlsBind !== undefined, sources: ROUTING_SOURCES, backends: topology.backends }).flatMap(({ route, kind, request, expected }): RoutingExpectation[] => {
      const bind = request.tls ? tlsBind : plain;
      if (!bind) return [];
      const base = { route, kind, url: localBindUrl(bind, bind.port), method: request.method, host: request.host ?? "", target: `${request.path}${request.query !== undefined ? `?${request.query}` : ""}`, headers: (request.headers ?? []).map(([n, v]): [string, string] => [n, v]), source: request.source };
      switch (expected.kind) {
        case "backend": {
          const servers = answeringServers(topology, expected.backend, options.discovered ?? []);
          return [{ ...base, status: 200, ...(servers && { servers }), outcome: `backend ${expected.backend} (${expected.route})` }];
        }
        case "redirect":
          return [{ ...base, status: expected.status, location: expected.location, outcome: `redirect ${expected.status} to ${expected.location} (${expected.route})` }];
        case "respond":
          return [{ ...base, status: expected.status, ...(expected.body !== undefined && request.method !== "HEAD" && { body: expected.body }), outcome: `answer ${expected.status} (${expected.route})` }];
        case "unrouted":
          return [{ ...base, status: 503, outcome: "503: no route, no default backend" }];
        case "auth":
          return [{ ...base, status: 401, outcome: `401, a login for ${expected.realm} (${expected.route})` }];
        case "service":
        case "undecided":
          return []; // what a Lua service answers, or which requests a Lua fetch lets through, is the script's to say, not the topology's
        default:
          return [{ ...base, status: expected.status, outcome: `${expected.kind} ${expected.status} (${expected.route})` }];
      }
    });
  });
}

/** A loopback address outside the allowlist, from which a 403 can be shown; or why there is none. */
function outsideSource(allowlist: string[]): { outsideSource: string } | { untestable: string } {
  const candidate = ["127.255.255.254", "127.200.0.1", "127.1.0.1", "127.0.1.1", "127.0.0.2"].find((address) => !allowlist.some((network) => networkContains(network, address)));
  return candidate ? { outsideSource: candidate } : { untestable: "every loopback address is allowed, so no client outside the allowlist can be made on this machine" };
}

/** The run directory's development CA, when the stack made one. */
export function localCa(runDir: string, managed: Pick<Topology, "certificates"> = { certificates: [] }, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = join(runDir, DEV_CA_FILE);
  const dev = existsSync(file) ? readFileSync(file, "utf8") : undefined;
  if (managed.certificates.length === 0) return dev;
  // Managed certificates chain to a public CA (the system's roots, which a given CA would replace),
  // or to the roots a private ACME server names; until one is issued, the development placeholder.
  const roots = managed.certificates.flatMap((c) => {
    const path = c.acme.rootsFileFromEnv !== undefined ? env[c.acme.rootsFileFromEnv] : undefined;
    return path && existsSync(path) ? [readFileSync(path, "utf8")] : [];
  });
  return [...rootCertificates, ...(dev ? [dev] : []), ...roots].join("\n");
}

/** Pure: whether an IPv4 network ("10.0.0.0/8", or one address) contains `address`. */
export function networkContains(network: string, address: string): boolean {
  const [base, bits = "32"] = network.split("/");
  const toNumber = (ip: string) => ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toNumber(base!) / size) === Math.floor(toNumber(address) / size);
}

/** What npm start checks before it says "up" (it has just gated on health itself). */
export const START_CHECKS: RunOptions = { only: ["entrypoints", "routing", "distribution", "persistence"], requests: 200 };
/** What an apply verifies once its change is live: quick, and with no fault injected. */
export const APPLY_CHECKS: RunOptions = { only: ["health", "entrypoints", "routing", "distribution", "persistence"], requests: 200 };

/**
 * How long health checks take to settle after a change: the slowest server's checks, enough of them
 * to go DOWN or UP (inter × max(fall, rise)), plus one check timeout. Verifying sooner would judge
 * servers HAProxy has not looked at yet.
 */
export function checkSettleMs(topology: Topology): number {
  const checkTimeoutMs = (s: { inter: string }) => (topology.defaults.timeouts.check ? parseDuration(topology.defaults.timeouts.check) : parseDuration(s.inter));
  const settle = (s: { inter: string; fall: number; rise: number }) => settleMs({ interMs: parseDuration(s.inter), fall: s.fall, rise: s.rise, checkTimeoutMs: checkTimeoutMs(s) });
  const servers = topology.backends.flatMap((b) => b.servers).filter((s) => s.check);
  // A discovered group's records are read again first: a resolution, and a retry if one was lost.
  const groups = topology.backends.flatMap((b) => (b.discovery?.check ? [b.discovery] : []));
  return Math.max(0, ...servers.map(settle), ...groups.map((g) => resolutionMs(g.resolver) + settle(g)));
}

/** What a verification leaves in the run directory: the sidecar exports it (haproxy_sidecar_assertion_passed). */
export interface VerifyReport {
  topology: string;
  generatedAt: string;
  passed: boolean;
  results: VerifyRun["results"];
  timeline?: VerifyRun["timeline"];
}

export async function recordVerifyReport(runDir: string, report: VerifyReport): Promise<string> {
  const json = `${JSON.stringify(report, null, 2)}\n`;
  await writeFileAtomic(join(runDir, ASSERTIONS_FILE), json);
  return json;
}

/** Access to the local stack running from `plan.runDir`. */
export function localStackAccess(plan: LocalStackDeclaration, log: (line: string) => void): StackAccess {
  // A discovered group's slot is the instance at the address HAProxy holds for it (read once, when
  // first asked: a fault test fails the instance that served, and starts that one again).
  const slotInstances = new Map<string, string>();
  const web = async (name: string) => {
    const components = await runningWebComponents(plan);
    if (!slotInstances.has(name)) {
      for (const d of await readLocalDiscoveredServers(plan)) {
        const instance = components.find((c) => c.env?.BIND === d.address);
        if (instance) slotInstances.set(d.slot, instance.name);
      }
    }
    const component = components.find((c) => c.name === (slotInstances.get(name) ?? name));
    if (!component) throw new VerifyNotPossibleError(`no web server named ${name} in the local stack's plan`);
    return component;
  };
  return {
    api: (command) => runtimeCommand({ path: plan.sockets.admin }, command, { timeoutMs: 2000 }),
    async killServer(name) {
      const { name: instance } = await web(name);
      const recorded = (await recordedProcesses(plan.runDir))?.find((p) => p.name === instance);
      if (recorded === undefined) throw new StackNotRunningError(plan.runDir, `${name} is not recorded in its stack.json`);
      // A pid that names another process now is never signalled.
      if (!stillRecordedProcess(recorded)) throw new StackNotRunningError(plan.runDir, `${name} (pid ${recorded.pid}) is no longer running`);
      await holdComponent(plan.runDir, instance); // or the supervisor would restart it before HAProxy notices
      await killProcessGroup(recorded.pid);
    },
    async startServer(name) {
      const component = await web(name);
      const started = await launchComponent(component);
      started.child.unref();
      await recordRestart(plan.runDir, component.name, started.pid);
    },
    serverHealthUrl: async (name) => (await web(name)).readyUrl!,
    prometheus: { targetsUrl: plan.prometheus.targetsApiUrl, jobs: plan.prometheus.jobs },
    log,
  };
}
