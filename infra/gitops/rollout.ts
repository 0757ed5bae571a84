// A canary rollout, carried out: each step's weights through the runtime API (no reload), an
// interval, the analysis in Prometheus, then the next step, a pause (inconclusive), or the abort
// (weights back on the stable servers at once). Its state is a file, written at every transition,
// so that a crash of the command is resumed (or aborted) by the next run, which says which.
import { canaryServerNames, type Backend } from "../model/schema.ts";
import { parseDuration } from "../../haproxy/duration.ts";
import { RolloutBusyError } from "../errors.ts";
import type { RolloutPhase, RolloutState } from "../../sidecar/rollouts.ts";
import { analysisQueries, backendStepWeights, judgeAnalysis, stepWeights, type AnalysisMeasurement, type Weights } from "./rollout-policy.ts";

export type { RolloutPhase, RolloutState };

export interface RolloutIo {
  setWeights(backend: string, weights: Weights): Promise<void>;
  /** Puts servers in maintenance (their persistence cookies no longer honoured) or back to ready. */
  setAdminState(backend: string, servers: readonly string[], state: "maint" | "ready"): Promise<void>;
  /** The backend's discovered slots HAProxy sends traffic to now (UP). */
  slotsInTraffic(backend: string): Promise<string[]>;
  /** One number from Prometheus; undefined for no data; throws when Prometheus does not answer. */
  query(promql: string): Promise<number | undefined>;
  sleep(ms: number): Promise<void>;
  now(): Date;
  /** Records the promoted canary as what runs (the config file and the applied record), after its weights are set. */
  recordPromotion(backend: string): Promise<void>;
  readState(): Promise<RolloutState | undefined>;
  writeState(state: RolloutState): Promise<void>;
  /** Whether a process is alive (the state's holder). */
  alive(pid: number): boolean;
  pid: number;
  log(line: string): void;
}

/** How often the running command looks for an abort asked by another one (and at a group's slots in traffic). */
const ABORT_POLL_MS = 500;

/** Measures the canary over the interval; Prometheus not answering is no data (inconclusive), said so. */
async function measure(backend: Backend, io: RolloutIo, window: string): Promise<AnalysisMeasurement & { unreachable?: string }> {
  const q = analysisQueries(backend, window);
  try {
    const [requests, errors, slow, stableRequests, stableErrors] = await Promise.all([q.requests, q.errors, q.slow, q.stableRequests, q.stableErrors].map((x) => io.query(x)));
    const custom = await Promise.all(q.custom.map(async (c) => ({ ...c, value: await io.query(c.query) })));
    return { requests, errors, slow, stableRequests, stableErrors, custom };
  } catch (error) {
    return { custom: [], unreachable: (error as Error).message };
  }
}

/**
 * Runs (or resumes) the rollout of `backend`'s canary to its end: "promoted" or "aborted". A state
 * left by a process that died is resumed at its step; one that ended is started afresh.
 */
export async function runRollout(backend: Backend, io: RolloutIo): Promise<RolloutState> {
  const canary = backend.canary!;
  const canaryNames = canaryServerNames(backend);
  const described = canary.group !== undefined ? `group ${canary.group}` : canaryNames.join(", ");
  const found = await io.readState();
  if (found && (found.phase === "running" || found.phase === "paused") && found.pid !== io.pid && io.alive(found.pid)) throw new RolloutBusyError(backend.name, found.pid, found.step, found.steps);
  const now = () => io.now().toISOString();
  let state: RolloutState;
  if (found && (found.phase === "running" || found.phase === "paused") && sameCanary(found, backend)) {
    state = { ...found, pid: io.pid, phase: "running", updatedAt: now() };
    io.log(`resuming the rollout of ${backend.name} at step ${state.step + 1} of ${state.steps.length} (${state.steps[state.step]} %): the process that ran it (pid ${found.pid}) is gone`);
  } else {
    state = { backend: backend.name, canary: canaryNames, steps: [...canary.steps], step: 0, phase: "running", failures: 0, pid: io.pid, startedAt: now(), updatedAt: now(), history: [] };
    io.log(`rollout of ${backend.name}: canary ${described}, steps ${canary.steps.join(", ")} %, every ${canary.interval}`);
    // An earlier abort may have left the canary in maintenance (onAbort: move-sessions).
    await io.setAdminState(backend.name, canaryNames, "ready");
  }
  const save = async (change: Partial<RolloutState>) => {
    state = { ...state, ...change, updatedAt: now() };
    await io.writeState(state);
  };
  // The slots of a discovered group in traffic when the weights were last set: they follow its changes.
  let inTraffic: string[] = [];
  const slotsNow = async () => (backend.discovery ? (await io.slotsInTraffic(backend.name)).sort() : []);
  const setWeights = async (percent: number, slots: string[]) => {
    const weights = backendStepWeights(backend, percent, slots);
    await io.setWeights(backend.name, weights);
    inTraffic = slots;
    return weights;
  };
  const abort = async (reason: string) => {
    const weights = await setWeights(0, []);
    const moved = canary.onAbort === "move-sessions";
    if (moved) await io.setAdminState(backend.name, canaryNames, "maint");
    await save({ phase: "aborted", reason, weights });
    io.log(`aborted: ${reason}; every weight back on the stable servers${moved ? ", the canary in maintenance (sessions pinned to it move to the stable servers)" : ""}`);
    return state;
  };
  await save({});
  const intervalMs = parseDuration(canary.interval);
  /** Waits an interval, or less when an abort is asked for; true when one was. */
  const wait = async () => {
    for (let waited = 0; waited < intervalMs; waited += ABORT_POLL_MS) {
      await io.sleep(Math.min(ABORT_POLL_MS, intervalMs - waited));
      if ((await io.readState())?.abortRequested) return true;
      const slots = await slotsNow();
      if (slots.join() !== inTraffic.join()) {
        const percent = state.steps[state.step]!;
        await save({ weights: await setWeights(percent, slots) });
        io.log(`${backend.discovery!.name} has ${slots.length} slots in traffic now: the weights follow (the canary keeps ${percent} %)`);
      }
    }
    return false;
  };

  // A step's weights are set when it starts (or is resumed); a step judged again keeps them, and a pause stays a pause.
  let starting = true;
  while (state.step < state.steps.length) {
    const percent = state.steps[state.step]!;
    if (starting) {
      await save({ phase: "running", weights: await setWeights(percent, await slotsNow()) });
      io.log(`step ${state.step + 1} of ${state.steps.length}: the canary takes ${percent} %`);
    }
    if (await wait()) return abort("asked for (npm run rollout -- --abort)");
    const measured = await measure(backend, io, canary.interval);
    const judged = measured.unreachable ? { verdict: "inconclusive" as const, findings: [`Prometheus did not answer: ${measured.unreachable}`] } : judgeAnalysis(canary.analysis, measured);
    await save({ history: [...state.history, { at: now(), step: state.step, percent, verdict: judged.verdict, findings: judged.findings }] });
    io.log(`step ${state.step + 1} (${percent} %): ${judged.verdict}: ${judged.findings.join("; ")}`);
    starting = judged.verdict === "pass";
    if (judged.verdict === "pass") {
      await save({ step: state.step + 1, reason: undefined });
    } else if (judged.verdict === "inconclusive") {
      // Never promoted blind: the step holds its weights and is judged again after another interval.
      await save({ phase: "paused", reason: judged.findings.join("; ") });
    } else {
      await save({ phase: "running", failures: state.failures + 1 });
      if (state.failures >= canary.failureLimit) return abort(`${state.failures} failed analyses (limit ${canary.failureLimit}): ${judged.findings.join("; ")}`);
    }
  }
  const weights = await setWeights(100, []);
  await io.recordPromotion(backend.name);
  await save({ phase: "promoted", reason: `every step passed: the canary (${described}) takes the traffic`, weights });
  io.log(`promoted: ${described} take${canary.group !== undefined ? "s" : ""} all of ${backend.name}'s traffic`);
  return state;
}

const sameCanary = (state: RolloutState, backend: Backend) => JSON.stringify([state.canary, state.steps]) === JSON.stringify([canaryServerNames(backend), backend.canary!.steps]);

/**
 * npm run rollout -- --abort: asks the running command to abort (it does within half a second), or
 * aborts a rollout whose command is gone by itself. undefined when there is nothing to abort.
 */
export async function abortRollout(backend: Backend, io: RolloutIo): Promise<RolloutState | undefined> {
  const found = await io.readState();
  if (!found || found.phase === "promoted" || found.phase === "aborted") return undefined;
  if (found.pid !== io.pid && io.alive(found.pid)) {
    await io.writeState({ ...found, abortRequested: true, updatedAt: io.now().toISOString() });
    return { ...found, abortRequested: true };
  }
  await io.setWeights(backend.name, backend.canary ? backendStepWeights(backend, 0, []) : stepWeights(backend.servers, found.canary, 0));
  if ((backend.canary?.onAbort ?? "move-sessions") === "move-sessions") await io.setAdminState(backend.name, backend.canary ? canaryServerNames(backend) : found.canary, "maint");
  const aborted: RolloutState = { ...found, phase: "aborted", reason: "asked for (npm run rollout -- --abort); its command was gone", updatedAt: io.now().toISOString() };
  await io.writeState(aborted);
  return aborted;
}
