// One apply, start to end, wherever it runs (npm run apply on the local stack, the apply agent beside
// HAProxy): the lock, what runs now, the engine, the record of the new state, the history line.
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stateFileText } from "../../lib/state-file.ts";
import { APPLY_HISTORY_LINE_FORMAT } from "../../sidecar/self-metrics.ts";
import { StackNotRunningError } from "../errors.ts";
import type { Topology } from "../model/schema.ts";
import { APPLIED_FILE, APPLY_HISTORY_FILE, readApplied, recordApplied, sha256, type AppliedState } from "../runtime/applied.ts";
import { acquireApplyLock } from "./apply-lock.ts";
import { applyTopology, type ApplyIO, type ApplyResult, type Side } from "./apply.ts";
import type { Plan } from "./plan.ts";
import { judgeSavedPlan, type SavedPlan } from "./saved-plan.ts";

/** 0 applied or nothing to do; 1 failed and rolled back; 3 the rollback failed too (a human is needed). */
export const APPLY_EXIT_CODES: Record<ApplyResult["outcome"], number> = { applied: 0, "no-changes": 0, "rolled-back": 1, "rollback-failed": 3 };

/** Test seam: an apply that pauses after this step, so a test can kill it there. */
const PAUSE_AFTER = process.env.APPLY_PAUSE_AFTER;

/** Records the step in the lock; pauses there when the test seam asks. */
export async function checkpoint(record: (step: string) => Promise<void>, step: string, log: (line: string) => void): Promise<void> {
  await record(step);
  if (step === PAUSE_AFTER) {
    log(`APPLY_PAUSE_AFTER=${step}: pausing (a test's seam)`);
    await sleep(120_000);
  }
}

export interface ApplyRun {
  /** Where applied.json, the lock and the history live (the run directory, or HAProxy's volume). */
  stateDir: string;
  head: Side;
  verify: boolean;
  log: (line: string) => void;
  /** The engine's edges, made once what runs is known (under the lock). */
  io: (applied: AppliedState, step: (step: string) => Promise<void>) => Promise<ApplyIO>;
  /** A saved plan to carry out exactly, checked under the lock against what runs. */
  saved?: { file: string; plan: SavedPlan };
  /** The head's checks, still running: awaited before the first change (ApplyOptions.validated). */
  validated?: Promise<void>;
}

export async function runApply(run: ApplyRun): Promise<ApplyResult> {
  const lock = await acquireApplyLock(run.stateDir, run.log);
  try {
    const applied = await readApplied(run.stateDir);
    if (!applied) throw new StackNotRunningError(run.stateDir, `no ${APPLIED_FILE} there`);
    const io = await run.io(applied, lock.step);
    let plan: Plan | undefined;
    if (run.saved) {
      const verdict = judgeSavedPlan(run.saved.file, run.saved.plan, applied.topology, io.plan(applied.topology, run.head.topology));
      if (!verdict.apply) {
        run.log(`${run.saved.file}: its head already runs: nothing to do`);
        return { outcome: "no-changes", plan: run.saved.plan.plan, verification: [] };
      }
      plan = run.saved.plan.plan;
    }
    const started = Date.now();
    const result = await applyTopology(io, { base: { topology: applied.topology, source: applied.source }, head: run.head, verify: run.verify, plan, validated: run.validated });
    if (result.outcome === "applied") {
      await recordApplied(run.stateDir, { appliedAt: new Date().toISOString(), source: run.head.source, topology: run.head.topology, haproxyConfigSha256: sha256(io.render(run.head)) });
      await lock.step("recorded");
    }
    await appendHistory(run.stateDir, applied.topology, run.head.topology, result, Date.now() - started);
    return result;
  } finally {
    await lock.release();
  }
}

function appendHistory(stateDir: string, base: Topology, head: Topology, result: ApplyResult, durationMs: number): Promise<void> {
  const line = {
    time: new Date().toISOString(),
    base: sha256(JSON.stringify(base)).slice(0, 16),
    new: sha256(JSON.stringify(head)).slice(0, 16),
    classes: [...new Set(result.plan.changes.map((c) => c.class))],
    outcome: result.outcome,
    method: result.method,
    durationMs,
  };
  return appendFile(join(stateDir, APPLY_HISTORY_FILE), stateFileText(APPLY_HISTORY_LINE_FORMAT, line, { indent: 0 }));
}
