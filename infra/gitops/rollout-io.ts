// npm run rollout's I/O on the local stack: HAProxy's runtime API for the weights (and the
// sidecar's expected distribution beside them), the stack's Prometheus for the analyses, the state
// file, and the promotion recorded as what runs.
import { join } from "node:path";
import { readStateFile, stateFileText } from "../../lib/state-file.ts";
import { ROLLOUT_STATE_FORMAT, rolloutStateFile } from "../../sidecar/rollouts.ts";
import { runtimeCommand } from "../../haproxy/runtime-api.ts";
import { writeFileAtomic } from "../files.ts";
import { groupSlotNames, type Backend, type Topology } from "../model/schema.ts";
import { PROMETHEUS_PATHS } from "../endpoints.ts";
import { LOCAL_ADDRESS, haproxySockets, localTarget } from "../render/targets.ts";
import { EXPECTED_DISTRIBUTION_FILE, HAPROXY_CONFIG_FILE, expectedDistributionText, readApplied, recordApplied, sha256 } from "../runtime/applied.ts";
import { declareLocalStack } from "../runtime/declaration.ts";
import { isAlive } from "../runtime/processes.ts";
import { runtimeAnswerProblem } from "../../haproxy/runtime-commands.ts";
import { acquireApplyLockWhenFree } from "./apply-lock.ts";
import { promotedTopology, type Weights } from "./rollout-policy.ts";
import { groupSlots } from "./scale.ts";
import type { RolloutIo } from "./rollout.ts";

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

/** A backend at a step's weights, as the expected distribution describes it (every slot of a group shares one weight). */
function weighed(backend: Backend, weights: Weights): Backend {
  const slotWeight = backend.discovery && weights[groupSlotNames(backend.discovery)[0]!];
  return {
    ...backend,
    canary: undefined,
    servers: backend.servers.map((s) => ({ ...s, weight: weights[s.name] ?? s.weight })),
    ...(backend.discovery && slotWeight !== undefined && { discovery: { ...backend.discovery, weight: slotWeight } }),
  };
}

/** How long a promotion waits for an apply or a scale in progress to finish. */
const PROMOTION_LOCK_WAIT_MS = 180_000;

/** The topology with `backend`'s discovered group at `instances` (what a scale recorded), when given. */
function withInstances(topology: Topology, backend: string, instances: number | undefined): Topology {
  if (instances === undefined) return topology;
  return { ...topology, backends: topology.backends.map((b) => (b.name === backend && b.discovery ? { ...b, discovery: { ...b.discovery, instances } } : b)) };
}

/** What the applied record says a promotion came from. */
const PROMOTION_SOURCE = "npm run rollout (the canary promoted)";

export function localRolloutIo(runDir: string, topology: Topology, backend: string, log: (line: string) => void): RolloutIo {
  const admin = haproxySockets(topology.global, localTarget(runDir)).admin;
  const prometheus = `http://${LOCAL_ADDRESS}:${topology.services.prometheus.port}`;
  const file = rolloutStateFile(runDir, backend);
  /** Each command through the admin socket, in order; the first HAProxy refuses ends it. */
  const runAll = async (commands: string[]) => {
    for (const command of commands) {
      const problem = runtimeAnswerProblem(command, await runtimeCommand({ path: admin }, command, { timeoutMs: 5000 }));
      if (problem) throw new Error(problem);
    }
  };
  const recordPromoted = async (promoted: Topology) => {
    const config = declareLocalStack(promoted, { runDir, sidecar: false, source: PROMOTION_SOURCE }).haproxyConfig;
    await writeFileAtomic(join(runDir, HAPROXY_CONFIG_FILE), config);
    await recordApplied(runDir, { appliedAt: new Date().toISOString(), source: PROMOTION_SOURCE, topology: promoted, haproxyConfigSha256: sha256(config) });
  };
  return {
    async setWeights(name, weights) {
      await runAll(Object.entries(weights).map(([server, weight]) => `set server ${name}/${server} weight ${weight}`));
      // The sidecar's distribution check and drift expect this step's shares, not the configured ones.
      const atStep = { ...topology, backends: topology.backends.map((b) => (b.name === name ? weighed(b, weights) : b)) };
      await writeFileAtomic(join(runDir, EXPECTED_DISTRIBUTION_FILE), expectedDistributionText(atStep));
    },
    setAdminState: (name, servers, state) => runAll(servers.map((server) => `set server ${name}/${server} state ${state}`)),
    async slotsInTraffic(name) {
      const group = topology.backends.find((b) => b.name === name)?.discovery;
      if (!group) return [];
      const stat = await runtimeCommand({ path: admin }, "show stat", { timeoutMs: 5000 });
      return groupSlots(stat, name, group).filter((slot) => slot.status.startsWith("UP")).map((slot) => slot.slot);
    },
    async recordPromotion(name) {
      // As apply's runtime path does: the file follows what the socket set, so that a later reload keeps it.
      // Under the apply lock, from what runs now: a scale during the rollout changed the group's instances.
      const lock = await acquireApplyLockWhenFree(runDir, log, PROMOTION_LOCK_WAIT_MS);
      try {
        const instances = (await readApplied(runDir))?.topology.backends.find((b) => b.name === name)?.discovery?.instances;
        await recordPromoted(promotedTopology(withInstances(topology, name, instances), name));
      } finally {
        await lock.release();
      }
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
