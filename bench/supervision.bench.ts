// What a crash costs under the supervisor: requests lost and time until the frontend serves again
// when HAProxy's worker, its master or a gunicorn is SIGKILLed under steady traffic. The worker case
// is measured with HAProxy 2.6's default (the master exits, the supervisor restarts HAProxy) and
// with "master-worker no-exit-on-failure" loaded by a reload, the alternative the design weighed.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTopology } from "../infra/model/parse.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { startLocalStack } from "../infra/runtime/stack.ts";
import { readState } from "../infra/runtime/state.ts";
import { RESTART_POLICY, Supervisor } from "../infra/runtime/supervisor.ts";
import { HAPROXY_CONFIG_FILE } from "../infra/runtime/applied.ts";
import { topology as seed } from "../infra/topology.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { parseShowProc } from "../haproxy/master-cli.ts";
import { pollUntil } from "../lib/poll.ts";
import { TrafficClient } from "../verification/traffic.ts";
import { median, type BenchRow } from "./table.ts";

const CLIENTS = 8;
/** Each client sends a request every 20 ms: 400 requests/s in all, so losses count time, not retries. */
const PACE_MS = 20;
const RUNS = 3;

interface Outcome {
  lost: number;
  sent: number;
  servingAgainMs: number | undefined;
}

export async function supervisionBench(): Promise<BenchRow[]> {
  const topology = parseTopology(await withFreePorts(structuredClone(seed) as any));
  const runDir = mkdtempSync(join(tmpdir(), "lb-supervision-bench-"));
  const stack = await startLocalStack(topology, { runDir });
  // Each kill is measured as a first crash (the first backoff): the runs are 5 s apart, the window 1 s.
  const supervisor = new Supervisor(runDir, stack.processes, { policy: { ...RESTART_POLICY, windowMs: 1000 } });
  await supervisor.start();
  const masterSocket = stack.plan.sockets.master;
  const configFile = join(runDir, HAPROXY_CONFIG_FILE);
  const originalConfig = readFileSync(configFile, "utf8");
  const frontend = stack.plan.links.find((l) => l.label === "frontend")!.urls[0]!;
  const recordedPid = async (name: string) => (await readState(runDir))!.processes.find((p) => p.name === name)!.pid;
  const workerPid = async () => parseShowProc(await runtimeCommand({ path: masterSocket }, "show proc")).workers[0]!.pid;
  /** Loads a configuration through the master CLI (a reload) and waits for its new worker. */
  const reloadWith = async (config: string) => {
    const before = await workerPid();
    writeFileSync(configFile, config);
    await runtimeCommand({ path: masterSocket }, "reload").catch(() => "");
    await pollUntil(async () => ((await workerPid()) !== before ? true : undefined), { timeoutMs: 10_000, intervalMs: 50 });
  };

  const cases: { label: string; note: string; pid: () => Promise<number>; before?: () => Promise<void>; after?: () => Promise<void> }[] = [
    { label: "HAProxy worker SIGKILL, default: the supervisor restarts HAProxy", note: "the master exits with its worker (exit-on-failure)", pid: workerPid },
    {
      label: "HAProxy worker SIGKILL, master-worker no-exit-on-failure",
      note: "2.6.12's master exits all the same (wait mode does not read the option): the same restart",
      pid: workerPid,
      before: () => reloadWith(originalConfig.replace(/^global\n/m, "global\n    master-worker no-exit-on-failure\n")),
      after: () => reloadWith(originalConfig),
    },
    { label: "HAProxy master SIGKILL", note: "its worker exits with it; the supervisor restarts HAProxy", pid: () => recordedPid("haproxy") },
    { label: "web-a gunicorn SIGKILL", note: "HAProxy retries and redispatches; the supervisor restarts it", pid: () => recordedPid("web-a") },
  ];

  const rows: BenchRow[] = [];
  try {
    for (const c of cases) {
      const outcomes: Outcome[] = [];
      for (let run = 0; run < RUNS; run++) {
        await c.before?.();
        outcomes.push(await killUnderTraffic(frontend, c.pid));
        await c.after?.();
        await sleep(1000); // let the checks settle before the next kill
      }
      const lost = outcomes.map((o) => o.lost);
      const back = outcomes.map((o) => o.servingAgainMs ?? Number.POSITIVE_INFINITY);
      rows.push({ group: "supervision", case: `${c.label}: requests lost`, value: `${median(lost)}`, note: `runs ${lost.join(", ")} of ~${outcomes[0]!.sent} sent (${CLIENTS} clients at ${1000 / PACE_MS}/s each); ${c.note}` });
      rows.push({ group: "supervision", case: `${c.label}: serving again after`, value: `${median(back)} ms`, note: `runs ${back.join(", ")} ms after the kill` });
    }
  } finally {
    await supervisor.stop();
    await stack.stop();
    rmSync(runDir, { recursive: true, force: true });
  }
  return rows;
}

/** Steady paced traffic for 1 s, a SIGKILL, and traffic until 4 s after it. */
async function killUnderTraffic(frontend: string, pid: () => Promise<number>): Promise<Outcome> {
  const client = new TrafficClient(frontend, { connections: CLIENTS, timeoutMs: 2000 });
  const samples: { sentAt: number; ok: boolean }[] = [];
  const started = performance.now();
  const now = () => performance.now() - started;
  let killedAt = Number.POSITIVE_INFINITY;
  const worker = async () => {
    while (now() < killedAt + 4000 && now() < 20_000) {
      const sentAt = now();
      const reply = await client.get();
      samples.push({ sentAt, ok: reply.status === 200 });
      await sleep(Math.max(0, PACE_MS - (now() - sentAt)));
    }
  };
  const workers = Promise.all(Array.from({ length: CLIENTS }, worker));
  await sleep(1000);
  const victim = await pid();
  killedAt = now();
  process.kill(victim, "SIGKILL");
  await workers;
  await client.close();
  const failures = samples.filter((s) => !s.ok);
  const lastFailure = Math.max(killedAt, ...failures.map((s) => s.sentAt));
  const firstGoodAfter = samples.filter((s) => s.ok && s.sentAt > lastFailure).map((s) => s.sentAt).sort((a, b) => a - b)[0];
  return {
    lost: failures.length,
    sent: samples.length,
    servingAgainMs: failures.length === 0 ? 0 : firstGoodAfter === undefined ? undefined : Math.round(firstGoodAfter - killedAt),
  };
}
