// npm run rollout -- BACKEND [--topology FILE] [--run-dir DIR] [--status | --abort] [--json]
// A backend's canary on the running local stack, step by step: weights through HAProxy's runtime
// API, each step judged in the stack's Prometheus; promoted (exit 0) or aborted (exit 1).
import { join, resolve } from "node:path";
import { parseCliArgs, runMain } from "../../lib/cli.ts";
import { UsageError } from "../../lib/errors.ts";
import { readStateFile, stateFileText } from "../../lib/state-file.ts";
import { ROLLOUT_STATE_FORMAT, rolloutStateFile } from "../../sidecar/rollouts.ts";
import { runtimeCommand } from "../../haproxy/runtime-api.ts";
import { RolloutNotPossibleError, StackNotRunningError } from "../errors.ts";
import { writeFileAtomic } from "../files.ts";
import { loadTopologyFile } from "../model/load.ts";
import type { Topology } from "../model/schema.ts";
import { PROMETHEUS_PATHS } from "../endpoints.ts";
import { LOCAL_ADDRESS, haproxySockets, localTarget } from "../render/targets.ts";
import { EXPECTED_DISTRIBUTION_FILE, HAPROXY_CONFIG_FILE, expectedDistributionText, readApplied, recordApplied, sha256 } from "../runtime/applied.ts";
import { declareLocalStack } from "../runtime/declaration.ts";
import { promotedTopology } from "./rollout-policy.ts";
import { isAlive } from "../runtime/processes.ts";
import { REPO_ROOT } from "../repo.ts";
import { abortRollout, runRollout, type RolloutIo, type RolloutState } from "./rollout.ts";
import { runtimeAnswerProblem } from "./apply.ts";


const USAGE = `usage: npm run rollout -- BACKEND [--topology FILE] [--run-dir DIR] [--status | --abort] [--json]

  BACKEND          a backend whose topology declares a canary
  --topology FILE  the topology with the canary (default: the one the stack runs)
  --run-dir DIR    the running local stack (default .run)
  --status         the rollout's state: its step, phase, failures and each analysis
  --abort          every weight back on the stable servers at once (the running command stops)
  --json           print the state as JSON

Exit status: 0 promoted (or --status, --abort done), 1 aborted.`;

/** One number from the stack's Prometheus (the first series' value); undefined for no data. */
async function prometheusQuery(baseUrl: string, promql: string): Promise<number | undefined> {
  const response = await fetch(`${baseUrl}${PROMETHEUS_PATHS.queryApi}?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`Prometheus answered HTTP ${response.status} to ${promql}`);
  const body = (await response.json()) as { data?: { resultType?: string; result?: unknown } };
  const result = body.data?.result;
  const raw = body.data?.resultType === "scalar" ? (result as [number, string])[1] : ((result as { value: [number, string] }[] | undefined)?.[0]?.value[1]);
  const value = raw === undefined ? Number.NaN : Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

/** What the applied record says a promotion came from. */
const PROMOTION_SOURCE = "npm run rollout (the canary promoted)";

export function localRolloutIo(runDir: string, topology: Topology, backend: string, log: (line: string) => void): RolloutIo {
  const admin = haproxySockets(topology.global, localTarget(runDir)).admin;
  const prometheus = `http://${LOCAL_ADDRESS}:${topology.services.prometheus.port}`;
  const file = rolloutStateFile(runDir, backend);
  return {
    async setWeights(name, weights) {
      for (const [server, weight] of Object.entries(weights)) {
        const command = `set server ${name}/${server} weight ${weight}`;
        const problem = runtimeAnswerProblem(command, await runtimeCommand({ path: admin }, command, { timeoutMs: 5000 }));
        if (problem) throw new Error(problem);
      }
      // The sidecar's distribution check and drift expect this step's shares, not the configured ones.
      const atStep = { ...topology, backends: topology.backends.map((b) => (b.name === name ? { ...b, canary: undefined, servers: b.servers.map((s) => ({ ...s, weight: weights[s.name] ?? s.weight })) } : b)) };
      await writeFileAtomic(join(runDir, EXPECTED_DISTRIBUTION_FILE), expectedDistributionText(atStep));
    },
    async recordPromotion(name) {
      // As apply's runtime path does: the file follows what the socket set, so that a later reload keeps it.
      const promoted = promotedTopology(topology, name);
      const config = declareLocalStack(promoted, { runDir, sidecar: false, source: PROMOTION_SOURCE }).haproxyConfig;
      await writeFileAtomic(join(runDir, HAPROXY_CONFIG_FILE), config);
      await recordApplied(runDir, { appliedAt: new Date().toISOString(), source: PROMOTION_SOURCE, topology: promoted, haproxyConfigSha256: sha256(config) });
    },
    query: (promql) => prometheusQuery(prometheus, promql),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    now: () => new Date(),
    readState: () => readStateFile(file, ROLLOUT_STATE_FORMAT),
    writeState: (state) => writeFileAtomic(file, stateFileText(ROLLOUT_STATE_FORMAT, state)),
    alive: isAlive,
    pid: process.pid,
    log,
  };
}

export function describeRollout(state: RolloutState): string {
  const lines = [`${state.backend}: ${state.phase}${state.reason ? ` (${state.reason})` : ""}; step ${Math.min(state.step + 1, state.steps.length)} of ${state.steps.length} (${state.steps.join(", ")} %), ${state.failures} failed analyses, pid ${state.pid}, started ${state.startedAt}`];
  for (const h of state.history) lines.push(`  ${h.at} step ${h.step + 1} (${h.percent} %): ${h.verdict}: ${h.findings.join("; ")}`);
  return `${lines.join("\n")}\n`;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs(argv, { topology: { type: "string" }, "run-dir": { type: "string", default: join(REPO_ROOT, ".run") }, status: { type: "boolean", default: false }, abort: { type: "boolean", default: false }, json: { type: "boolean", default: false } }, USAGE, true);
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length) throw new UsageError(`give one backend\n${USAGE}`);
  if (values.status && values.abort) throw new UsageError(`--status and --abort exclude each other\n${USAGE}`);
  const runDir = resolve(values["run-dir"]);
  const applied = await readApplied(runDir);
  if (!applied) throw new StackNotRunningError(runDir, "npm run rollout works on the local stack");
  const topology = values.topology ? await loadTopologyFile(resolve(values.topology)) : applied.topology;
  const backend = topology.backends.find((b) => b.name === name);
  if (!backend) throw new UsageError(`${JSON.stringify(name)} is not a backend of the topology: use one of ${topology.backends.map((b) => b.name).join(", ")}`);
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} rollout: ${line}\n`);
  const io = localRolloutIo(runDir, topology, name, log);
  const print = (state: RolloutState | undefined, none: string) => process.stdout.write(values.json ? `${JSON.stringify(state ?? null, null, 2)}\n` : state ? describeRollout(state) : `${none}\n`);
  if (values.status) {
    print(await io.readState(), `${name}: no rollout has run`);
    return 0;
  }
  if (!backend.canary) throw new RolloutNotPossibleError(`backends.${name} has no canary: declare one (servers, steps, interval, analysis) to roll it out`);
  if (values.abort) {
    print(await abortRollout(backend, io), `${name}: no rollout in progress`);
    return 0;
  }
  const state = await runRollout(backend, io);
  print(state, "");
  return state.phase === "promoted" ? 0 : 1;
}

runMain(main);
