// One apply at a time per run directory: a lock file holding the holder's pid and the step it has
// reached. A lock whose process is gone is taken over, saying where the previous apply stopped.
import { open, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CodedError } from "../../lib/errors.ts";
import { isAlive } from "../runtime/processes.ts";

export const APPLY_LOCK_FILE = "apply.lock";

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

export interface ApplyLock {
  /** Records the step reached, so that a crash can be told apart from a finished apply. */
  step(step: string): Promise<void>;
  release(): Promise<void>;
}

export async function acquireApplyLock(runDir: string, log: (line: string) => void): Promise<ApplyLock> {
  const path = join(runDir, APPLY_LOCK_FILE);
  const content: LockContent = { pid: process.pid, startedAt: new Date().toISOString(), step: "locked" };
  const text = () => `${JSON.stringify(content)}\n`;
  const write = () => writeFile(path, text());
  try {
    const handle = await open(path, "wx"); // fails if another apply holds it
    await handle.writeFile(text());
    await handle.close();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const holder = JSON.parse(await readFile(path, "utf8").catch(() => "{}")) as Partial<LockContent>;
    if (typeof holder.pid === "number" && isAlive(holder.pid)) throw new ApplyLockedError(holder.pid, holder.step ?? "unknown");
    log(`a previous apply (pid ${holder.pid ?? "unknown"}, started ${holder.startedAt ?? "?"}) died at step "${holder.step ?? "unknown"}": taking its lock over; this apply starts from what HAProxy runs`);
    await write();
  }
  return {
    step: async (step) => {
      content.step = step;
      await write();
    },
    release: () => rm(path, { force: true }),
  };
}
