// Starting the real local stack for a test: free ports, a fresh run directory, and cleanup that
// proves nothing was left behind.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTopology } from "../../infra/model/parse.ts";
import { pollUntil } from "../../lib/poll.ts";
import type { Topology, TopologyInput } from "../../infra/model/schema.ts";
import { withFreePorts } from "../../infra/runtime/ports.ts";
import { groupAlive } from "../../infra/runtime/processes.ts";
import { recordedProcesses, startLocalStack, type LocalStack } from "../../infra/runtime/stack.ts";
import { seedTopology } from "./topologies.ts";

export interface TestStack {
  stack: LocalStack;
  topology: Topology;
  runDir: string;
  /** Stops the stack, checks that no process it started remains, removes the run directory. */
  cleanup: () => Promise<void>;
}

export function makeRunDir(): string {
  return mkdtempSync(join(tmpdir(), "lb-stack-"));
}

/** A fresh run directory with the default topology (edited, on free ports) as topology.json in it. */
export async function runDirWithTopology(edit: (t: any) => void = () => {}): Promise<{ runDir: string; file: string }> {
  const runDir = makeRunDir();
  const file = join(runDir, "topology.json");
  const input = seedTopology() as any;
  edit(input);
  writeFileSync(file, JSON.stringify(await withFreePorts(input)));
  return { runDir, file };
}

export async function startTestStack(edit: (t: any) => void = () => {}, options: { sidecar?: boolean; certsDir?: string } = {}): Promise<TestStack> {
  const input = seedTopology() as any;
  input.services = { ...input.services, prometheus: { port: 9090, scrapeInterval: "1s" }, sidecar: { port: 9101, pollInterval: "1s" } };
  edit(input);
  return startTopologyStack(parseTopology(await withFreePorts(input as TopologyInput)), options);
}

/** The local stack for a topology already on free ports, in a fresh run directory, with the same cleanup. */
export async function startTopologyStack(topology: Topology, options: { sidecar?: boolean; certsDir?: string } = {}): Promise<TestStack> {
  const runDir = makeRunDir();
  const stack = await startLocalStack(topology, { runDir, sidecar: options.sidecar ?? false, certsDir: options.certsDir });
  return {
    stack,
    topology,
    runDir,
    cleanup: async () => {
      // The state file too: a server that verify killed and restarted has a pid only there.
      const pids = [...new Set([...stack.processes.map((p) => p.pid), ...((await recordedProcesses(runDir)) ?? []).map((p) => p.pid)])];
      await stack.stop();
      assertNoProcessLeft(pids, runDir);
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}

/** No process of these process groups, nor any naming the run directory, is alive. */
export function assertNoProcessLeft(groupLeaders: number[], runDir: string): void {
  for (const pgid of groupLeaders) {
    assert.equal(groupAlive(pgid), false, `process group ${pgid} is still alive`);
  }
  assert.deepEqual(processesMentioning(runDir), [], `processes still mention ${runDir}`);
}

/** Live processes whose command line contains `text` (zombies excluded). */
export function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (/^\d+ \(.*\) Z /.test(stat)) continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(text) && Number(pid) !== process.pid) found.push(`${pid}: ${cmdline}`);
    } catch {
      /* exited meanwhile */
    }
  }
  return found;
}

export async function getJson(url: string): Promise<any> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return response.json();
}

/** Polls `check` until it returns true or `timeoutMs` passes; whether it did. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 200): Promise<boolean> {
  return (await pollUntil(async () => ((await check()) ? true : undefined), { timeoutMs, intervalMs })) === true;
}
