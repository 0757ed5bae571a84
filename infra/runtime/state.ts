// The run directory's stack.json: which processes the stack runs, how to start each again, and what
// the supervisor knows of them. Several processes update it (npm start's supervisor, npm run apply,
// npm run verify), so every change goes through updateState, under a lock.
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { readStateFile, stateFileText, type StateFileFormat } from "../../lib/state-file.ts";
import type { ComponentStatus } from "../../sidecar/component-status.ts";
import { createFileExclusive, writeFileAtomic } from "../files.ts";
import { StackStateLockedError } from "../errors.ts";
import { STACK_STATE_FILE, type LocalComponent } from "./declaration.ts";
import { isAlive, processExecutable, processStartTicks } from "./processes.ts";

/** How a process ended: an exit code or a signal; both null when it was not our child (unknown). */
export interface ExitRecord {
  code: number | null;
  signal: string | null;
  at: string;
}

/** "code 1", "signal SIGKILL", or "status unknown" for a process that was not our child. */
export function describeExit(exit: Pick<ExitRecord, "code" | "signal">): string {
  if (exit.signal !== null) return `signal ${exit.signal}`;
  if (exit.code !== null) return `code ${exit.code}`;
  return "status unknown";
}

/** A process the stack started, as npm stop and the supervisor find it again. */
export interface RecordedProcess extends ComponentStatus {
  pid: number;
  /** /proc start time: a pid and its start time name one process, a reused pid has another. */
  startTicks?: number;
  /** The program it runs (argv[0]): a second guard against a reused pid. */
  executable?: string;
  startedAt?: string;
  lastExit?: ExitRecord;
  /** How it was started, so that the supervisor can start it again as it was. */
  component?: LocalComponent;
}

export interface StackState {
  startedAt: string;
  /** The process that restarts components (npm start, foreground or detached). */
  supervisor?: { pid: number; startTicks?: number; executable?: string };
  processes: RecordedProcess[];
}

/** A fresh record of `component` running as `pid`; `previous` keeps its restart count and last exit. */
export function recordProcess(name: string, pid: number, component?: LocalComponent, previous?: RecordedProcess): RecordedProcess {
  return {
    name,
    state: "running",
    restarts: previous?.restarts ?? 0,
    pid,
    startTicks: processStartTicks(pid),
    executable: processExecutable(pid),
    startedAt: new Date().toISOString(),
    ...(previous?.lastExit && { lastExit: previous.lastExit }),
    ...((component ?? previous?.component) && { component: component ?? previous?.component }),
  };
}

/** Still the process that was recorded: alive, started when it did, running the same program (not a reused pid). */
export function stillRecordedProcess(p: { pid: number; startTicks?: number; executable?: string }): boolean {
  return (
    isAlive(p.pid) &&
    (p.startTicks === undefined || processStartTicks(p.pid) === p.startTicks) &&
    (p.executable === undefined || processExecutable(p.pid) === p.executable)
  );
}

const recordedPid = z.object({ pid: z.number().int().positive(), startTicks: z.number().optional(), executable: z.string().optional() });

/** What is checked on read: enough to find, stop and restart every process; the rest is carried as written. */
const stackStateSchema = z.object({
  startedAt: z.string(),
  supervisor: recordedPid.optional(),
  processes: z.array(recordedPid.extend({ name: z.string().min(1), state: z.string(), restarts: z.number() }).passthrough()),
});

export const STACK_STATE_FORMAT: StateFileFormat<StackState> = {
  describes: "the stack's record of its processes",
  version: 1,
  validate: (document) => {
    const checked = stackStateSchema.safeParse(document);
    if (!checked.success) throw new Error(checked.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; "));
    return document as unknown as StackState;
  },
  fix: "npm stop finds the stack's processes without it (each carries the run directory in its environment) and stops them; then npm start",
};

/** The recorded stack, or undefined when none is recorded; a file that cannot be read is a STATE_FILE_* error. */
export function readState(runDir: string): Promise<StackState | undefined> {
  return readStateFile(join(runDir, STACK_STATE_FILE), STACK_STATE_FORMAT);
}

/**
 * Read, change and write the state under the lock. `change` returns the new state, or null to
 * remove the file; the result is what was written (undefined when there was no state to change).
 */
export async function updateState(runDir: string, change: (state: StackState | undefined) => StackState | null | undefined): Promise<StackState | undefined> {
  const release = await lockState(runDir);
  try {
    const next = change(await readState(runDir));
    if (next === null) await rm(join(runDir, STACK_STATE_FILE), { force: true });
    else if (next !== undefined) await writeFileAtomic(join(runDir, STACK_STATE_FILE), stateFileText(STACK_STATE_FORMAT, next));
    return next ?? undefined;
  } finally {
    await release();
  }
}

/** Changes the record of component `name`, if there is one. */
export function updateProcess(runDir: string, name: string, change: (p: RecordedProcess) => RecordedProcess): Promise<StackState | undefined> {
  return updateState(runDir, (state) => state && { ...state, processes: state.processes.map((p) => (p.name === name ? change(p) : p)) });
}

const LOCK_WAIT_MS = 5000;

/** An exclusive lock file beside the state; one whose holder is gone is taken over. */
async function lockState(runDir: string): Promise<() => Promise<void>> {
  const path = join(runDir, `${STACK_STATE_FILE}.lock`);
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      // Written whole before it exists under its name: a lock file never lacks its holder's pid.
      await createFileExclusive(path, String(process.pid));
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw error; // no run directory
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number(await readFile(path, "utf8").catch(() => ""));
      // Not a pid (an older version's half-written lock): nobody can hold it.
      if (!(holder > 0) || !isAlive(holder)) {
        await rm(path, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new StackStateLockedError(path, holder);
      await sleep(10);
    }
  }
}
