// Routing, side by side in one run: (1) requests per second through a 10,000-host route table, a
// single route, and the same 10,000 hosts written by hand as use_backend lines, all to one fast
// origin (HAProxy answering by itself, so that routing is what differs); (2) render and haproxy -c
// with 10,000 table entries and 500 routes; (3) on the real local stack under wrk, a table entry
// added by apply (until served, reloads) and all 10,000 entries replaced in one apply.
import { request } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseShowProc } from "../haproxy/master-cli.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology, TopologyInput } from "../infra/model/schema.ts";
import { checkHaproxyConfig } from "../infra/render/haproxy-check.ts";
import { writeMapFiles } from "../infra/render/map-files.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { mapFiles } from "../infra/render/routing.ts";
import { localTarget } from "../infra/render/targets.ts";
import { findFreePortRange, withFreePorts } from "../infra/runtime/ports.ts";
import { startProcess, stopProcessGroup, type ManagedProcess } from "../infra/runtime/processes.ts";
import { startLocalStack } from "../infra/runtime/stack.ts";
import { topology as seed } from "../infra/topology.ts";
import { pollUntil } from "../lib/poll.ts";
import { median, medianMs, ms, type BenchRow } from "./table.ts";
import { runWrk, startWrk, type WrkResult } from "./wrk.ts";
import { applyCli } from "./apply.bench.ts";

const HOSTS = 10_000;
const BACKENDS = 10;
const ROUNDS = 3;
const SECONDS = 3;
const CONNECTIONS = 16;
/** The host every throughput request asks for: the table's last, the hand-written list's worst case. */
const ASKED = `host-${HOSTS - 1}.example.com`;

const host = (i: number, prefix = "host") => `${prefix}-${i}.example.com`;

/** A topology whose one frontend routes as `routing` says to BACKENDS backends on `origin`. */
function routedTopology(ports: { frontend: number; monitoring: number; origin: number }, routing: Record<string, unknown>): TopologyInput {
  return {
    name: "routing-bench",
    global: { logs: [] },
    frontends: [{ name: "edge", binds: [{ port: ports.frontend }], forwardfor: false, defaultBackend: "b0", ...routing }],
    backends: Array.from({ length: BACKENDS }, (_, i) => ({ name: `b${i}`, servers: [{ name: `s${i}`, address: "127.0.0.1", port: ports.origin, check: false }] })),
    monitoring: { port: ports.monitoring },
  } as TopologyInput;
}

const tableRouting = () => ({ routes: [{ table: "hosts" }], routeTables: [{ name: "hosts", entries: Array.from({ length: HOSTS }, (_, i) => ({ host: host(i), backend: `b${i % BACKENDS}` })) }] });

/** The same hosts as a hand-written config says them: one use_backend line each. */
function handWrittenConfig(frontendPort: number, origin: number): string {
  return [
    "defaults",
    "    mode http",
    "    timeout connect 5s",
    "    timeout client 10s",
    "    timeout server 10s",
    "frontend edge",
    `    bind 127.0.0.1:${frontendPort}`,
    ...Array.from({ length: HOSTS }, (_, i) => `    use_backend b${i % BACKENDS} if { hdr(host) -i ${host(i)} }`),
    "    default_backend b0",
    ...Array.from({ length: BACKENDS }, (_, i) => [`backend b${i}`, `    server s${i} 127.0.0.1:${origin}`]).flat(),
    "",
  ].join("\n");
}

async function startHaproxy(dir: string, config: string, maps: { path: string; content: string }[] = []): Promise<ManagedProcess> {
  await mkdir(dir, { recursive: true });
  await writeMapFiles(dir, maps);
  await writeFile(join(dir, "haproxy.cfg"), config);
  return startProcess({ name: "haproxy", command: "haproxy", args: ["-f", join(dir, "haproxy.cfg")], logFile: join(dir, "haproxy.log") });
}

async function throughputRows(scratch: string, started: ManagedProcess[]): Promise<BenchRow[]> {
  const origin = await findFreePortRange(1);
  started.push(await startHaproxy(join(scratch, "origin"), ["defaults", "    mode http", "    timeout client 10s", "frontend origin", `    bind 127.0.0.1:${origin}`, '    http-request return status 200 content-type text/plain string "ok"', ""].join("\n")));
  const targets: [string, number][] = [];
  for (const [name, routing] of [
    ["route table, 10,000 hosts", tableRouting()],
    ["a single route", { routes: [{ when: { host: ASKED }, backend: `b${(HOSTS - 1) % BACKENDS}` }] }],
  ] as const) {
    const ports = { frontend: await findFreePortRange(1), monitoring: await findFreePortRange(1), origin };
    const topology = parseTopology(routedTopology(ports, routing));
    const dir = join(scratch, name.replace(/\W+/g, "-"));
    started.push(await startHaproxy(dir, renderHaproxyConfig(topology, localTarget(dir)), mapFiles(topology)));
    targets.push([name, ports.frontend]);
  }
  const handPort = await findFreePortRange(1);
  started.push(await startHaproxy(join(scratch, "hand"), handWrittenConfig(handPort, origin)));
  targets.push(["10,000 use_backend lines by hand", handPort]);

  const url = (port: number) => `http://127.0.0.1:${port}/`;
  const headers = [`Host: ${ASKED}`];
  for (const [, port] of targets) {
    const up = await pollUntil(async () => ((await fetch(url(port), { signal: AbortSignal.timeout(1000) }).catch(() => undefined))?.ok ? true : undefined), { timeoutMs: 20_000 });
    if (!up) throw new Error(`HAProxy on ${port} did not answer within 20 s`);
    await runWrk(url(port), { seconds: 1, connections: CONNECTIONS, headers }); // warm-up
  }
  const results = new Map<string, WrkResult[]>(targets.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) for (const [name, port] of targets) results.get(name)!.push(await runWrk(url(port), { seconds: SECONDS, connections: CONNECTIONS, headers }));
  const rps = (name: string) => median(results.get(name)!.map((r) => r.requestsPerSecond));
  const rows: BenchRow[] = targets.map(([name]) => ({
    group: "routing",
    case: `${name}: req/s`,
    value: `${Math.round(rps(name))}`,
    note: `p99 ${ms(median(results.get(name)!.map((r) => r.p99Ms)))}; ${results.get(name)!.reduce((n, r) => n + r.errors, 0)} errors; median of ${ROUNDS}×${SECONDS}s, ${CONNECTIONS} conns, Host ${ASKED}`,
  }));
  rows.push({ group: "routing", case: "route table ÷ single route", value: (rps(targets[0]![0]) / rps(targets[1]![0])).toFixed(2), note: "goal ≥ 0.97" });
  rows.push({ group: "routing", case: "hand-written use_backend lines ÷ single route", value: (rps(targets[2]![0]) / rps(targets[1]![0])).toFixed(2), note: "the anchor: each request walks the list" });
  return rows;
}

async function renderRows(): Promise<BenchRow[]> {
  const ports = { frontend: 18_000, monitoring: 18_001, origin: 18_002 };
  const routes = Array.from({ length: 500 }, (_, i) => ({ name: `r${i}`, when: i % 2 ? { pathPrefix: `/svc${i}` } : { all: [{ host: host(i, "app") }, { pathPrefix: "/api" }] }, backend: `b${i % BACKENDS}` }));
  const input = routedTopology(ports, { ...tableRouting(), routes: [...routes, { table: "hosts" }] });
  let config = "";
  let topology: Topology | undefined;
  const renderMs = await medianMs(5, () => {
    topology = parseTopology(input);
    config = renderHaproxyConfig(topology, localTarget("/var/run/lb-bench"));
  });
  const checkMs = await medianMs(3, () => checkHaproxyConfig(config, { maps: mapFiles(topology!) }));
  return [
    { group: "routing", case: "parse + render, 10,000 entries and 500 routes", value: ms(renderMs), note: `median of 5; ${config.split("\n").length} config lines` },
    { group: "routing", case: "haproxy -c, the same", value: ms(checkMs), note: "median of 3" },
    { group: "routing", case: "render + haproxy -c", value: ms(renderMs + checkMs), note: "goal < 1 s" },
  ];
}

/** Whether a request for `name` is answered by the api backend's server (web-c). */
function servedByApi(port: number, name: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/", headers: { host: name }, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.headers["x-served-by"] === "web-c");
    });
    req.on("error", () => resolve(false)).on("timeout", () => req.destroy()).end();
  });
}

async function applyRows(scratch: string): Promise<BenchRow[]> {
  const input = structuredClone(seed) as any;
  input.backends.push({ name: "api", servers: [{ name: "web-c", address: "web-c", port: 5003, inter: "500ms", fall: 2, rise: 2 }] });
  input.frontends[0].routes = [{ name: "hosts", table: "hosts" }];
  input.frontends[0].routeTables = [{ name: "hosts", entries: Array.from({ length: HOSTS }, (_, i) => ({ host: host(i), backend: "api" })) }];
  const topology = parseTopology(await withFreePorts(input));
  const runDir = join(scratch, "stack");
  const stack = await startLocalStack(topology, { runDir });
  const port = topology.frontends[0]!.binds[0]!.port;
  const workers = async () => parseShowProc(await runtimeCommand({ path: stack.plan.sockets.master }, "show proc")).workers.map((w) => w.pid);
  try {
    const rows: BenchRow[] = [];
    /** Applies `entries` as the table; how long until `probe` is served by the api backend, the whole apply, and new workers. */
    const applyEntries = async (name: string, entries: { host: string; backend: string }[], probe: string) => {
      const next = structuredClone(topology) as any;
      next.frontends[0].routeTables[0].entries = entries;
      const file = join(runDir, `${name.replace(/\W+/g, "-")}.json`);
      writeFileSync(file, JSON.stringify(next));
      const before = await workers();
      const started = performance.now();
      const applied = applyCli(runDir, file);
      const served = await pollUntil(async () => ((await servedByApi(port, probe)) ? performance.now() - started : undefined), { timeoutMs: 60_000, intervalMs: 20 });
      const code = await applied;
      const total = performance.now() - started;
      const reloads = (await workers()).filter((pid) => !before.includes(pid)).length;
      Object.assign(topology, parseTopology(next));
      return { served, total, code, reloads };
    };
    // Timed on an idle machine: under wrk the apply's own start (node, the plan) waits for the CPU.
    for (const [name, entries, probe] of [
      ["one entry added", [...topology.frontends[0]!.routeTables[0]!.entries, { host: host(0, "new"), backend: "api" }], host(0, "new")],
      ["10,000 entries replaced", Array.from({ length: HOSTS }, (_, i) => ({ host: host(i, "next"), backend: "api" })), host(HOSTS - 1, "next")],
    ] as const) {
      const r = await applyEntries(name, [...entries], probe);
      rows.push({ group: "routing", case: `apply, ${name}: until served`, value: r.served === undefined ? "never" : ms(r.served), note: `idle machine; from starting npm run apply (node included); to verified ${ms(r.total)}; exit ${r.code}; new workers: ${r.reloads} (goal 0)` });
    }
    const wrk = startWrk(`http://127.0.0.1:${port}/`, CONNECTIONS);
    await new Promise((r) => setTimeout(r, 1000));
    const r = await applyEntries("10,000 replaced under load", Array.from({ length: HOSTS }, (_, i) => ({ host: host(i, "again"), backend: "api" })), host(HOSTS - 1, "again"));
    const load = await wrk.stop();
    rows.push({ group: "routing", case: "apply, 10,000 replaced under wrk -c16: failed requests", value: `${load.non2xx + load.socketErrors}`, note: `of ${load.requests} (non-2xx ${load.non2xx}, socket errors ${load.socketErrors}); served after ${r.served === undefined ? "never" : ms(r.served)}; new workers: ${r.reloads}; goal 0 failed` });
    return rows;
  } finally {
    await stack.stop();
  }
}

export async function routingBench(): Promise<BenchRow[]> {
  const scratch = mkdtempSync(join(tmpdir(), "lb-routing-bench-"));
  const started: ManagedProcess[] = [];
  try {
    const rows = await throughputRows(scratch, started);
    for (const p of started.splice(0)) await stopProcessGroup(p.pid);
    rows.push(...(await renderRows()), ...(await applyRows(scratch)));
    return rows;
  } finally {
    for (const p of started) await stopProcessGroup(p.pid);
    rmSync(scratch, { recursive: true, force: true });
  }
}
