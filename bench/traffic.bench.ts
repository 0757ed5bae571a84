// Throughput and latency side by side in one run, with Debian's wrk on the same gunicorn backends:
// through the stack's HAProxy with the generated config, the same config as a bare process with and
// without its request log, a minimal hand-written config, and straight to gunicorn. Rounds are
// interleaved so drift hits all alike. Beside each run's requests per second, the CPU time HAProxy and
// the web servers spent per request: where a difference in throughput goes. The generated and the
// minimal config run again with one thread, which on these 2 shared cores serves more than HAProxy's
// default of one thread per core: the features' cost at equal threads.
import { cp, mkdir, rm, writeFile } from "node:fs/promises";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTopology } from "../infra/model/parse.ts";
import { onNetwork, type Topology } from "../infra/model/schema.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { DEFAULT_ERROR_PAGES_DIR } from "../infra/render/haproxy-check.ts";
import { ERROR_PAGE_DIR, localTarget } from "../infra/render/targets.ts";
import { findFreePortRange, withFreePorts } from "../infra/runtime/ports.ts";
import { startLocalStack } from "../infra/runtime/stack.ts";
import { startProcess, stopProcessGroup, type ManagedProcess } from "../infra/runtime/processes.ts";
import { topology as seed } from "../infra/topology.ts";
import { median, ms, type BenchRow } from "./table.ts";
import { pollUntil } from "../lib/poll.ts";
import { runWrk, type WrkResult } from "./wrk.ts";
import { groupCpuSeconds } from "./cpu.ts";

// A 2 % goal needs many short interleaved rounds: one 4 s run to the next varies by ±3 % here.
const ROUNDS = 9;
const SECONDS = 3;
const CONNECTIONS = 16;

/** The smallest config that balances the same two servers: no checks, no logs, no cookies. */
export function minimalConfig(frontendPort: number, servers: { name: string; port: number }[], options: { nbthread?: number } = {}): string {
  return [
    "global",
    "    maxconn 4096",
    ...(options.nbthread === undefined ? [] : [`    nbthread ${options.nbthread}`]),
    "defaults",
    "    mode http",
    "    timeout connect 5s",
    "    timeout client 10s",
    "    timeout server 10s",
    "frontend minimal",
    `    bind 127.0.0.1:${frontendPort}`,
    "    default_backend servers",
    "backend servers",
    "    balance roundrobin",
    ...servers.map((s) => `    server ${s.name} 127.0.0.1:${s.port}`),
    "",
  ].join("\n");
}

async function startHaproxy(runDir: string, config: string): Promise<ManagedProcess> {
  await mkdir(runDir, { recursive: true });
  await cp(DEFAULT_ERROR_PAGES_DIR, join(runDir, ERROR_PAGE_DIR), { recursive: true });
  await writeFile(join(runDir, "haproxy.cfg"), config);
  return startProcess({ name: "haproxy", command: "haproxy", args: ["-f", join(runDir, "haproxy.cfg")], logFile: join(runDir, "haproxy.log") });
}

async function waitForHttp(url: string): Promise<void> {
  const ok = await pollUntil(async () => ((await fetch(url, { signal: AbortSignal.timeout(1000) })).ok ? true : undefined), { timeoutMs: 10_000 });
  if (!ok) throw new Error(`${url} did not answer within 10 s`);
}

/** The same topology on new frontend/monitoring ports, optionally with no log target at all. */
async function variant(topology: Topology, edit: (t: any) => void): Promise<Topology> {
  const copy = structuredClone(topology) as any;
  const taken = new Set<number>(); // one port, one listener: a draw never repeats an earlier one
  copy.frontends[0].binds = [{ address: "*", port: await findFreePortRange(1, taken) }];
  copy.monitoring.port = await findFreePortRange(1, taken);
  for (const service of Object.values(copy.services) as { port: number }[]) service.port = await findFreePortRange(1, taken);
  edit(copy);
  return parseTopology(copy);
}


export async function trafficBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const scratch = mkdtempSync(join(tmpdir(), "lb-bench-"));
  const extra: ManagedProcess[] = [];
  // Time from start to every server UP, with the stack this bench then loads.
  const topology = parseTopology(await withFreePorts(structuredClone(seed)));
  const started = performance.now();
  const stack = await startLocalStack(topology, { runDir: join(scratch, "stack") });
  rows.push({ group: "runtime", case: "start to every server UP (web, HAProxy, Prometheus)", value: ms(performance.now() - started), note: "one start" });
  try {
    const servers = topology.backends[0]!.servers.filter(onNetwork).map((s) => ({ name: s.name, port: s.port }));
    // The same config as bare processes, with and without the log: the log's cost apart from the stack around HAProxy.
    const bare = await variant(topology, () => {});
    const bareDir = join(scratch, "bare");
    extra.push(await startHaproxy(bareDir, renderHaproxyConfig(bare, localTarget(bareDir))));
    const quiet = await variant(topology, (t) => (t.global.logs = []));
    const quietDir = join(scratch, "quiet");
    extra.push(await startHaproxy(quietDir, renderHaproxyConfig(quiet, localTarget(quietDir))));
    const minimalPort = await findFreePortRange(1);
    extra.push(await startHaproxy(join(scratch, "minimal"), minimalConfig(minimalPort, servers)));
    // Both again with one thread: what HAProxy's default of one thread per core costs where it shares the cores.
    const single = await variant(topology, (t) => (t.global.nbthread = 1));
    const singleDir = join(scratch, "single");
    extra.push(await startHaproxy(singleDir, renderHaproxyConfig(single, localTarget(singleDir))));
    const minimalSinglePort = await findFreePortRange(1);
    extra.push(await startHaproxy(join(scratch, "minimal-single"), minimalConfig(minimalSinglePort, servers, { nbthread: 1 })));

    // Each target, its URL, and the HAProxy whose CPU time it costs (a process group: master-worker's worker included).
    const group = (name: string) => stack.processes.find((p) => p.spec.name === name)!.pid;
    const [bareHaproxy, quietHaproxy, minimalHaproxy, singleHaproxy, minimalSingleHaproxy] = extra.map((p) => p.pid);
    const targets: [string, string, number | undefined][] = [
      ["generated config", `http://127.0.0.1:${topology.frontends[0]!.binds[0]!.port}/`, group("haproxy")],
      ["generated, bare process", `http://127.0.0.1:${bare.frontends[0]!.binds[0]!.port}/`, bareHaproxy],
      ["generated, bare, no request log", `http://127.0.0.1:${quiet.frontends[0]!.binds[0]!.port}/`, quietHaproxy],
      ["minimal hand-written config", `http://127.0.0.1:${minimalPort}/`, minimalHaproxy],
      ["generated, bare, one thread", `http://127.0.0.1:${single.frontends[0]!.binds[0]!.port}/`, singleHaproxy],
      ["minimal, one thread", `http://127.0.0.1:${minimalSinglePort}/`, minimalSingleHaproxy],
      ["direct to gunicorn web-a", `http://127.0.0.1:${servers[0]!.port}/`, undefined],
    ];
    const webServers = new Set(servers.map((s) => group(s.name)));
    for (const [, url] of targets) await waitForHttp(url);
    for (const [, url] of targets) await runWrk(url, { seconds: 1, connections: CONNECTIONS }); // warm-up

    const results = new Map<string, WrkResult[]>(targets.map(([name]) => [name, []]));
    /** Microseconds of CPU per request, per run: HAProxy's (the target's), the web servers'. */
    const cpu = new Map<string, { haproxy: number[]; web: number[] }>(targets.map(([name]) => [name, { haproxy: [], web: [] }]));
    for (let round = 0; round < ROUNDS; round++) {
      // Each round starts one target later: none always follows the same one (the direct run leaves a gunicorn busiest).
      for (let k = 0; k < targets.length; k++) {
        const [name, url, haproxy] = targets[(round + k) % targets.length]!;
        const haproxyGroup = new Set(haproxy === undefined ? [] : [haproxy]);
        const [haproxyBefore, webBefore] = [groupCpuSeconds(haproxyGroup), groupCpuSeconds(webServers)];
        const run = await runWrk(url, { seconds: SECONDS, connections: CONNECTIONS });
        results.get(name)!.push(run);
        const perRequest = (seconds: number) => (seconds * 1e6) / run.requests;
        cpu.get(name)!.haproxy.push(perRequest(groupCpuSeconds(haproxyGroup) - haproxyBefore));
        cpu.get(name)!.web.push(perRequest(groupCpuSeconds(webServers) - webBefore));
      }
    }
    const rps = (name: string) => median(results.get(name)!.map((r) => r.requestsPerSecond));
    for (const [name] of targets) {
      const runs = results.get(name)!;
      const errors = runs.reduce((sum, r) => sum + r.errors, 0);
      rows.push({
        group: "traffic",
        case: `${name}: req/s, p50, p99`,
        value: `${Math.round(rps(name))}`,
        note: `p50 ${ms(median(runs.map((r) => r.p50Ms)))}, p99 ${ms(median(runs.map((r) => r.p99Ms)))}; ${errors} errors; median of ${ROUNDS}×${SECONDS}s, ${CONNECTIONS} conns`,
      });
      const { haproxy, web } = cpu.get(name)!;
      rows.push({
        group: "traffic",
        case: `${name}: CPU µs per request, HAProxy / web servers`,
        value: `${haproxy.some((v) => v > 0) ? median(haproxy).toFixed(1) : "–"} / ${median(web).toFixed(1)}`,
        note: `median of ${ROUNDS} runs; what the throughput difference is made of (HAProxy, wrk and the web servers share the cores)`,
      });
    }
    // Paired by round (the two ran seconds apart): drift on a shared machine moves both alike.
    const ratio = (a: string, b: string) => {
      const ratios = results.get(a)!.map((r, i) => r.requestsPerSecond / results.get(b)![i]!.requestsPerSecond);
      return { value: median(ratios).toFixed(3), range: `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)} over ${ROUNDS} rounds` };
    };
    const row = (name: string, a: string, b: string, why: string): BenchRow => {
      const { value, range } = ratio(a, b);
      return { group: "traffic", case: name, value, note: `${why}; median of per-round ratios, ${range}` };
    };
    rows.push(row("generated ÷ minimal", "generated config", "minimal hand-written config", "goal ≥ 0.98"));
    rows.push(row("generated, bare process ÷ minimal", "generated, bare process", "minimal hand-written config", "no sidecar or Prometheus reading it, not master-worker"));
    rows.push(row("generated, bare, no request log ÷ minimal", "generated, bare, no request log", "minimal hand-written config", "the log apart"));
    rows.push(row("bare without ÷ with the request log", "generated, bare, no request log", "generated, bare process", "the log's cost"));
    rows.push(row("generated ÷ minimal, both one thread", "generated, bare, one thread", "minimal, one thread", "the features' cost is not the threads'"));
    rows.push(row("minimal, one thread ÷ default threads", "minimal, one thread", "minimal hand-written config", "nbthread 1 against one thread per core, on cores shared with wrk and the web servers"));
    rows.push(row("via HAProxy (minimal) ÷ direct", "minimal hand-written config", "direct to gunicorn web-a", "HAProxy and 2 gunicorns share 2 cores; direct hits one gunicorn"));
  } finally {
    for (const p of extra) await stopProcessGroup(p.pid);
    await stack.stop();
    await rm(scratch, { recursive: true, force: true });
  }
  return rows;
}
