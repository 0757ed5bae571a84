// One apply at a time per run directory: a lock file holding the holder's pid and the step it has
// reached. It appears whole or not at all (written aside, then linked into place), so a reader never
// sees a holder half-written; one whose process is gone is taken over, saying where it stopped.
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { CodedError } from "../../lib/errors.ts";
import { parseStateFile, stateFileText, type StateFileFormat } from "../../lib/state-file.ts";
import { createFileExclusive, writeFileAtomic } from "../files.ts";
import { isAlive } from "../runtime/processes.ts";

export const APPLY_LOCK_FILE = "apply.lock";

/** Another apply holds the run directory's apply lock: two applies at once would interleave their steps. */
export class ApplyLockedError extends CodedError {
  readonly code = "APPLY_LOCKED";
  constructor(readonly holder: number, readonly step: string) {
    super(`another apply (pid ${holder}) is running, at step "${step}": wait for it to finish, then run npm run apply again`);
  }
}

interface LockContent {
  pid: number;
  startedAt: string;
  step: string;
}

const LOCK_FORMAT: StateFileFormat<LockContent> = {
  describes: "the lock of the apply in progress",
  version: 1,
  validate: (document) => {
    if (!Number.isInteger(document.pid) || typeof document.startedAt !== "string" || typeof document.step !== "string") throw new Error("needs pid, startedAt and step");
    return document as unknown as LockContent;
  },
  fix: "no apply of this version wrote it; if no apply runs (pgrep -af apply), remove it and run again",
};

export interface ApplyLock {
  /** Records the step reached, so that a crash can be told apart from a finished apply. */
  step(step: string): Promise<void>;
  release(): Promise<void>;
}

export async function acquireApplyLock(runDir: string, log: (line: string) => void): Promise<ApplyLock> {
  const path = join(runDir, APPLY_LOCK_FILE);
  const content: LockContent = { pid: process.pid, startedAt: new Date().toISOString(), step: "locked" };
  const text = () => stateFileText(LOCK_FORMAT, content, { indent: 0 });
  try {
    await createFileExclusive(path, text()); // EEXIST: another apply holds it, or held it and died
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const holder = parseStateFile(path, await readFile(path, "utf8"), LOCK_FORMAT);
    if (isAlive(holder.pid)) throw new ApplyLockedError(holder.pid, holder.step);
    log(`a previous apply (pid ${holder.pid}, started ${holder.startedAt}) died at step "${holder.step}": taking its lock over; this apply starts from what HAProxy runs`);
    await writeFileAtomic(path, text());
  }
  return {
    step: async (step) => {
      content.step = step;
      await writeFileAtomic(path, text());
    },
    release: () => rm(path, { force: true }),
  };
}

/** The lock once the apply or scale holding it is done (each is bounded); ApplyLockedError after `timeoutMs`. */
export async function acquireApplyLockWhenFree(runDir: string, log: (line: string) => void, timeoutMs: number): Promise<ApplyLock> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await acquireApplyLock(runDir, log);
    } catch (error) {
      if (!(error instanceof ApplyLockedError) || Date.now() >= deadline) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
