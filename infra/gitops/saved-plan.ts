// A saved plan, Terraform's way: what npm run plan (--format json, --out plan.json) or apply
// --dry-run --out writes, and what npm run apply -- --plan carries out to the letter. It names its
// base by hash, so a plan whose base no longer runs is refused with what moved, and it holds the
// head topology itself, so what is applied is what was reviewed.
import { readFile } from "node:fs/promises";
import { CodedError } from "../../lib/errors.ts";
import { parseStateFile, stateFileText, type StateFileFormat } from "../../lib/state-file.ts";
import type { Topology } from "../model/schema.ts";
import { topologyHash } from "../runtime/applied.ts";
import { diffTopologies } from "./changes.ts";
import type { Plan } from "./plan.ts";


export interface SavedPlan {
  /** What the plan was computed against: a git commit, or the stack running from a run directory. */
  base: { topologySha256: string | null; from: string; topology?: Topology };
  head: { topologySha256: string; source: string; topology: Topology };
  createdAt: string;
  plan: Plan;
}

export const SAVED_PLAN_FORMAT: StateFileFormat<SavedPlan> = {
  describes: "a saved plan",
  version: 1,
  validate: (document) => {
    const { base, head, plan } = document as Partial<SavedPlan>;
    if (!base || typeof base.from !== "string" || !(base.topologySha256 === null || typeof base.topologySha256 === "string")) throw new Error("base needs from and topologySha256");
    if (!head || typeof head.topologySha256 !== "string" || typeof head.topology !== "object") throw new Error("head needs topologySha256 and topology");
    if (!plan || !Array.isArray(plan.actions) || !Array.isArray(plan.changes)) throw new Error("plan needs actions and changes");
    if (topologyHash(head.topology) !== head.topologySha256) throw new Error("head.topology does not match head.topologySha256: the file was edited after it was planned");
    return document as unknown as SavedPlan;
  },
  fix: "plan again (npm run plan -- --out plan.json, or npm run apply -- --topology FILE --dry-run --out plan.json)",
};

export function savePlanText(plan: Plan, base: SavedPlan["base"], head: { topology: Topology; source: string }): string {
  const saved: SavedPlan = { base, head: { topologySha256: topologyHash(head.topology), source: head.source, topology: head.topology }, createdAt: new Date().toISOString(), plan };
  return stateFileText(SAVED_PLAN_FORMAT, saved);
}

export async function readSavedPlan(file: string): Promise<SavedPlan> {
  return parseStateFile(file, await readFile(file, "utf8"), SAVED_PLAN_FORMAT);
}

/** The plan's base is not what runs: applying it would not do what was reviewed. */
export class PlanStaleError extends CodedError {
  readonly code = "PLAN_STALE";
  constructor(file: string, moved: string) {
    super(`${file} was planned against another base than what runs now (${moved}): plan again against what runs, review, and apply that plan`);
  }
}

/** The same base and head give another plan here (another version of the stack computed it). */
export class PlanMismatchError extends CodedError {
  readonly code = "PLAN_MISMATCH";
  constructor(file: string, difference: string) {
    super(`${file} is not the plan this version computes for the same base and head (${difference}): plan again with this version`);
  }
}

export type SavedPlanVerdict = { apply: true } | { apply: false; reason: "already-applied" };

/**
 * Whether `saved` may be applied on top of `running`: its head already runs (nothing to do), its
 * base is what runs (yes, when this version plans the same), or neither (stale).
 */
export function judgeSavedPlan(file: string, saved: SavedPlan, running: Topology, replanned: Plan): SavedPlanVerdict {
  const runningHash = topologyHash(running);
  if (runningHash === saved.head.topologySha256) return { apply: false, reason: "already-applied" };
  if (runningHash !== saved.base.topologySha256) {
    const paths = saved.base.topology ? diffTopologies(saved.base.topology, running).map((c) => c.path) : [];
    throw new PlanStaleError(file, paths.length ? `changed since it was planned: ${paths.slice(0, 5).join(", ")}${paths.length > 5 ? `, and ${paths.length - 5} more` : ""}` : `planned against ${saved.base.from}`);
  }
  const key = (p: Plan) => JSON.stringify([p.changes, p.actions]);
  if (key(replanned) !== key(saved.plan)) throw new PlanMismatchError(file, `saved: ${saved.plan.summary} replanned: ${replanned.summary}`);
  return { apply: true };
}
