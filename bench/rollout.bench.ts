// Canary rollouts on the local stack, judged in its Prometheus: how long a faulty canary (20 % of
// its answers 500) runs before the abort and how many requests it served meanwhile (against its
// step's share of the traffic over interval × failureLimit), and a healthy one's promotion through
// five steps (against steps × interval, the least it can take).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDuration } from "../haproxy/duration.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { startLocalStack } from "../infra/runtime/stack.ts";
import { topology as canaryExample } from "../infra/topologies/canary.ts";
import { localRolloutIo } from "../infra/gitops/rollout-io.ts";
import { runRollout } from "../infra/gitops/rollout.ts";
import { backgroundTraffic, TrafficClient } from "../verification/traffic.ts";
import { ms, type BenchRow } from "./table.ts";
import { pollUntil } from "../lib/poll.ts";

const INTERVAL = "4s";

export async function rolloutBench(): Promise<BenchRow[]> {
  const scratch = mkdtempSync(join(tmpdir(), "lb-rollout-bench-"));
  const input = structuredClone(canaryExample) as any;
  input.global = { ...input.global, logs: [] };
  input.backends[0].canary = { ...input.backends[0].canary, steps: [5, 10, 25, 50, 100], interval: INTERVAL, analysis: { successRatio: 0.99, maxResponseMs: 500, minRequests: 10 } };
  input.services = { ...input.services, sidecar: { port: 9101, pollInterval: "1s" }, prometheus: { port: 9090, scrapeInterval: "1s", evaluationInterval: "1s" } };
  const topology = parseTopology(await withFreePorts(input));
  const stack = await startLocalStack(topology, { runDir: join(scratch, "run"), sidecar: true });
  const backend = topology.backends[0]!;
  const canaryPort = backend.servers.find((s) => s.name === "web-c")!.port!;
  const fault = (errors: number) => fetch(`http://127.0.0.1:${canaryPort}/fault?errors=${errors}`, { method: "POST" });
  const io = localRolloutIo(stack.plan.runDir, topology, backend.name, () => {});
  const underTraffic = async <T>(fn: () => Promise<T>) => {
    const client = new TrafficClient(`http://127.0.0.1:${topology.frontends[0]!.binds[0]!.port}/`, { connections: 2 });
    const traffic = backgroundTraffic(client, { concurrency: 2, maxMs: 120_000, maxRequests: 300_000 });
    try {
      const started = performance.now();
      const result = await fn();
      return { result, tookMs: performance.now() - started, samples: traffic.samples() };
    } finally {
      await traffic.stop();
      await client.close();
    }
  };
  try {
    // Prometheus has the canary's series before the clock starts: right after a start, no data is (rightly) inconclusive.
    const ready = await pollUntil(async () => ((await io.query(`sum(increase(haproxy_server_http_responses_total{proxy="${backend.name}",server="web-c"}[${INTERVAL}]))`).catch(() => undefined)) !== undefined ? true : undefined), { timeoutMs: 30_000, intervalMs: 500 });
    if (!ready) throw new Error("Prometheus had no series for web-c within 30 s");
    await fault(0.2);
    const faulty = await underTraffic(() => runRollout(backend, io));
    await fault(0);
    const served = faulty.samples.filter((s) => s.server === "web-c").length;
    const perSecond = faulty.samples.length / (faulty.tookMs / 1000);
    const bound = (backend.canary!.steps[0]! / 100) * perSecond * (parseDuration(INTERVAL) / 1000) * backend.canary!.failureLimit;
    const healthy = await underTraffic(() => runRollout(backend, io));
    const least = backend.canary!.steps.length * parseDuration(INTERVAL);
    return [
      { group: "rollout", case: "a faulty canary (20 % of its answers 500): from the rollout's start to the abort", value: ms(faulty.tookMs), note: `${faulty.result.phase}; interval ${INTERVAL}, failureLimit ${backend.canary!.failureLimit}, first step ${backend.canary!.steps[0]} %` },
      { group: "rollout", case: "requests the faulty canary served before the abort ÷ its step's share over interval × failureLimit", value: (served / bound).toFixed(2), note: `goal ≤ 1; ${served} of ${faulty.samples.length} requests (${Math.round(perSecond)}/s), bound ${Math.round(bound)}` },
      { group: "rollout", case: "a healthy canary promoted through five steps ÷ steps × interval", value: (healthy.tookMs / least).toFixed(2), note: `${healthy.result.phase} in ${ms(healthy.tookMs)}, least ${ms(least)}; ${healthy.samples.filter((s) => s.status !== 200).length} failed requests` },
    ];
  } finally {
    await stack.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}
