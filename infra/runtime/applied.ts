// What the running stack was started (or last applied) with, kept in the run directory: the resolved
// topology and the hash of the haproxy.cfg HAProxy loaded. The base of npm run apply's plan, and
// what npm run drift compares the running HAProxy and the file on disk with.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Topology } from "../model/schema.ts";
import { writeFileAtomic } from "../files.ts";

export const APPLIED_FILE = "applied.json";
/** One JSON line per npm run apply, in the run directory; the sidecar exports the last and the counts. */
export const APPLY_HISTORY_FILE = "apply-history.jsonl";
/** The config HAProxy reads, in the run directory. */
export const HAPROXY_CONFIG_FILE = "haproxy.cfg";
/** The config that worked before the last reload apply, beside it. */
export const LAST_GOOD_CONFIG_FILE = "haproxy.cfg.last-good";

export interface AppliedState {
  appliedAt: string;
  /** What the topology came from, for people. */
  source: string;
  topology: Topology;
  /** sha256 of the haproxy.cfg HAProxy loaded. */
  haproxyConfigSha256: string;
}

export const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

export function recordApplied(runDir: string, state: AppliedState): Promise<void> {
  return writeFileAtomic(join(runDir, APPLIED_FILE), `${JSON.stringify(state, null, 2)}\n`);
}

/** The recorded state, or undefined when none was recorded (no stack, or one started before this existed). */
export async function readApplied(runDir: string): Promise<AppliedState | undefined> {
  try {
    return JSON.parse(await readFile(join(runDir, APPLIED_FILE), "utf8")) as AppliedState;
  } catch {
    return undefined;
  }
}
