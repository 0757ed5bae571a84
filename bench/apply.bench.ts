// Applies under load, side by side in one run: 10 applies each while wrk keeps 32 keep-alive
// connections busy, for (a) a runtime change, (b) a reload with the model's defaults (idle-close-on-
// response, no close-spread-time), (c) the same with close-spread-time 5s, (d) a reload with plain
// settings, (e) a naive stop and start of HAProxy, the baseline that shows why the rest matters.
// Non-2xx and socket errors apart, p99, and the time from starting an apply to its verification.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology } from "../infra/model/schema.ts";
import { nodeArguments } from "../infra/commands.ts";
import { REPO_ROOT } from "../infra/repo.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { killProcessGroup, startProcess } from "../infra/runtime/processes.ts";
import { killOnInterrupt } from "../lib/interrupt.ts";
import { recordRestart, startLocalStack, type LocalStack } from "../infra/runtime/stack.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { parseShowStat, serverStates } from "../haproxy/show-stat.ts";
import { pollUntil } from "../lib/poll.ts";
import { topology as seed } from "../infra/topology.ts";
import { median, ms, type BenchRow } from "./table.ts";
import { startWrk } from "./wrk.ts";

const APPLIES = 10;
const CONNECTIONS = 32;

interface Scenario {
  name: string;
  /** The stack's settings. */
  base: (t: any) => void;
  /** The i-th change, as a topology edit; undefined: the naive restart instead of an apply. */
  change?: (t: any, i: number) => void;
}

const SCENARIOS: Scenario[] = [
  { name: "(a) runtime change (weight)", base: () => {}, change: (t, i) => (t.backends[0].servers[0].weight = 1 + (i % 2)) },
  { name: "(b) reload, model defaults", base: () => {}, change: (t, i) => (t.defaults.timeouts.server = `${10 + (i % 2)}s`) },
  { name: "(c) reload, close-spread-time 5s", base: (t) => (t.global.closeSpreadTime = "5s"), change: (t, i) => (t.defaults.timeouts.server = `${10 + (i % 2)}s`) },
  {
    name: "(d) reload, plain settings",
    base: (t) => ((t.defaults.idleCloseOnResponse = false), (t.global.closeSpreadTime = "off")),
    change: (t, i) => (t.defaults.timeouts.server = `${10 + (i % 2)}s`),
  },
  { name: "(e) naive stop and start of HAProxy", base: () => {} },
];

/** npm run apply on `file`, as a user runs it (its own process, from its bundle); its exit code. */
export function applyCli(runDir: string, file: string, extraArgs: string[] = []): Promise<number> {
  return new Promise((resolve) => {
    const child = killOnInterrupt(spawn(process.execPath, [...nodeArguments(REPO_ROOT, "infra/gitops/apply-cli.ts"), "--run-dir", runDir, "--topology", file, ...extraArgs], { cwd: REPO_ROOT, stdio: "ignore" }));
    child.once("close", (code) => resolve(code ?? 1));
  });
}

/** Kills HAProxy's process group and starts it again, then waits for every server UP: what a naive deploy does. */
async function naiveRestart(stack: LocalStack): Promise<void> {
  const spec = stack.plan.components.find((c) => c.kind === "haproxy")!;
  const pid = stack.processes.find((p) => p.spec.name === "haproxy")!.pid;
  await killProcessGroup(pid);
  const started = await startProcess(spec);
  started.child.unref();
  stack.processes.splice(stack.processes.findIndex((p) => p.spec.name === "haproxy"), 1, started);
  await recordRestart(stack.plan.runDir, "haproxy", started.pid);
  await pollUntil(async () => (serverStates(parseShowStat(await runtimeCommand({ path: stack.plan.sockets.admin }, "show stat"))).every((s) => s.status === "UP") ? true : undefined), { timeoutMs: 20_000, intervalMs: 50 });
}

async function runScenario(scenario: Scenario, scratch: string): Promise<BenchRow[]> {
  const input = structuredClone(seed) as any;
  scenario.base(input);
  const topology: Topology = parseTopology(await withFreePorts(input));
  const runDir = join(scratch, scenario.name.slice(1, 2));
  const stack = await startLocalStack(topology, { runDir });
  try {
    const wrk = startWrk(`http://127.0.0.1:${topology.frontends[0]!.binds[0]!.port}/`, CONNECTIONS);
    await new Promise((r) => setTimeout(r, 1000));
    const times: number[] = [];
    let failed = 0;
    for (let i = 0; i < APPLIES; i++) {
      const started = performance.now();
      if (scenario.change) {
        const next = structuredClone(topology) as any;
        scenario.change(next, i + 1);
        const file = join(runDir, `apply-${i}.json`);
        writeFileSync(file, JSON.stringify(next));
        if ((await applyCli(runDir, file, ["--report", join(runDir, "reports")])) !== 0) failed++;
      } else {
        await naiveRestart(stack);
      }
      times.push(performance.now() - started);
    }
    const result = await wrk.stop();
    return [
      { group: "apply", case: `${scenario.name}: non-2xx`, value: `${result.non2xx}`, note: `of ${result.requests} requests during ${APPLIES} ${scenario.change ? "applies" : "restarts"}${failed ? `; ${failed} applies failed` : ""}` },
      { group: "apply", case: `${scenario.name}: socket errors`, value: `${result.socketErrors}`, note: `wrk -c${CONNECTIONS}, keep-alive` },
      { group: "apply", case: `${scenario.name}: p99`, value: ms(result.p99Ms), note: `p50 ${ms(result.p50Ms)}` },
      { group: "apply", case: `${scenario.name}: to verified`, value: ms(median(times)), note: scenario.change ? "median; plan, apply, settle, verify by traffic" : "median; restart to every server UP, no verification" },
    ];
  } finally {
    await stack.stop();
  }
}

export async function applyBench(): Promise<BenchRow[]> {
  const scratch = mkdtempSync(join(tmpdir(), "lb-apply-bench-"));
  try {
    const rows: BenchRow[] = [];
    for (const scenario of SCENARIOS) rows.push(...(await runScenario(scenario, scratch)));
    return rows;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
