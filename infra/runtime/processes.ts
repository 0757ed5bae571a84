// Child processes of the local stack: each in its own process group (so a terminal's Ctrl-C
// reaches only the runtime, which then stops them in order), output appended to a log file.
import { spawn, type ChildProcess } from "node:child_process";
import { stopOnInterrupt } from "../../lib/interrupt.ts";
import { pollUntil } from "../../lib/poll.ts";
import { accessSync, constants, openSync, closeSync, readFileSync, readdirSync, existsSync } from "node:fs";
import { delimiter, join } from "node:path";

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  logFile: string;
}

export interface ManagedProcess {
  spec: ProcessSpec;
  pid: number;
  /** Set once the process has exited. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  exited: Promise<void>;
  child: ChildProcess;
}

export function startProcess(spec: ProcessSpec): Promise<ManagedProcess> {
  return new Promise((resolve, reject) => {
    const log = openSync(spec.logFile, "a");
    let child: ChildProcess;
    try {
      child = spawn(spec.command, spec.args, {
        cwd: spec.cwd,
        env: { ...process.env, ...spec.env },
        stdio: ["ignore", log, log],
        detached: true,
      });
    } finally {
      closeSync(log);
    }
    child.once("error", reject);
    child.once("spawn", () => {
      // An interrupted command that handles interrupts stops the group it started (a worker may outlive its leader).
      const forget = stopOnInterrupt(() => stopProcessGroup(child.pid!, 2000));
      const managed: ManagedProcess = {
        spec,
        pid: child.pid!,
        exit: undefined,
        child,
        exited: new Promise((done) =>
          child.once("exit", (code, signal) => {
            managed.exit = { code, signal };
            if (!groupAlive(child.pid!)) forget();
            done();
          }),
        ),
      };
      resolve(managed);
    });
  });
}

/**
 * The fields of a /proc stat file after "pid (comm)", from the state (field 3) on; undefined when it
 * is gone. comm may hold spaces and parentheses, so the fields are read after the last ")".
 */
export function statFields(path: string): string[] | undefined {
  try {
    const stat = readFileSync(path, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** State and process group of a pid from /proc ("Z" is a zombie: exited, not yet reaped); undefined if gone. */
function procStat(pid: number | string): { state: string; pgrp: number } | undefined {
  const fields = statFields(`/proc/${pid}/stat`);
  return fields && { state: fields[0]!, pgrp: Number(fields[2]) };
}

/** The program a process runs (argv[0]): unchanged by HAProxy's re-exec on reload, unlike its arguments. */
export function processExecutable(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] || undefined;
  } catch {
    return undefined;
  }
}

/**
 * When a process started, in clock ticks since boot (/proc/PID/stat field 22); undefined when it is
 * gone. A pid and its start time name one process: a pid reused later has another start time.
 */
export function processStartTicks(pid: number): number | undefined {
  const fields = statFields(`/proc/${pid}/stat`);
  return fields && Number(fields[19]);
}

/** The states of a process's threads ("R", "S", "Z"...); [] when it is gone. */
function threadStates(pid: number): string[] {
  try {
    // A thread that exits between the listing and the read has no state: it is left out.
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => statFields(`/proc/${pid}/task/${tid}/stat`)?.[0] ?? []);
  } catch {
    return [];
  }
}

/**
 * Whether a process still runs. A zombie whose threads are all gone does not: it holds no port or
 * file, it only waits for its parent (or an init that may be slow to reap) to collect its status.
 */
export function isAlive(pid: number): boolean {
  if (existsSync("/proc/self/stat")) {
    const stat = procStat(pid);
    if (stat === undefined) return false;
    if (stat.state !== "Z") return true;
    // A leader that is a zombie while its other threads still exit (HAProxy runs one per core) still
    // holds its files, listening sockets included, until the last thread is gone.
    return threadStates(pid).some((state) => state !== "Z");
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The environment variable every process of a local stack carries, set to its run directory: a trace
 * of the stack that no state file can lose (children inherit it: HAProxy's and gunicorn's workers).
 */
export const RUN_DIR_MARKER = "LB_RUN_DIR";

/** A process group that carries the marker, and its leader's parent. */
export interface MarkedGroup {
  pgid: number;
  startTicks: number;
  parent: number;
}

/** The process groups whose processes carry RUN_DIR_MARKER=runDir, oldest first (start order). */
export function markedProcessGroups(runDir: string): MarkedGroup[] {
  const needle = `${RUN_DIR_MARKER}=${runDir}`;
  const groups = new Map<number, MarkedGroup>();
  for (const entry of existsSync("/proc/self/environ") ? readdirSync("/proc") : []) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${entry}/environ`, "utf8");
    } catch {
      continue; // gone, or another user's
    }
    if (!environ.split("\0").includes(needle)) continue;
    const fields = statFields(`/proc/${entry}/stat`);
    if (!fields || fields[0] === "Z") continue;
    const [parent, pgid, startTicks] = [Number(fields[1]), Number(fields[2]), Number(fields[19])];
    const known = groups.get(pgid);
    if (!known || startTicks < known.startTicks) groups.set(pgid, { pgid, startTicks, parent: pgid === Number(entry) ? parent : (known?.parent ?? parent) });
  }
  return [...groups.values()].sort((a, b) => a.startTicks - b.startTicks);
}

/** The command line of a process, its arguments joined by spaces; "" when it is gone. */
export function processCommandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

/**
 * Stops a process group: SIGTERM, then SIGKILL if it is still there after `graceMs`.
 * Works on pids from an earlier run too (npm stop), where there is no ChildProcess to wait on.
 */
export async function stopProcessGroup(pid: number, graceMs = 10_000): Promise<void> {
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        process.kill(pid, signal);
      } catch {
        /* already gone */
      }
    }
  };
  // The group, not just its leader: a worker may outlive its master.
  const running = () => isAlive(pid) || groupAlive(pid);
  if (!running()) return;
  signalGroup("SIGTERM");
  if (await gone(running, graceMs)) return;
  signalGroup("SIGKILL");
  await gone(running, KILL_WAIT_MS);
}

/** How long a SIGKILLed group may take to disappear (the kernel's, not the process's, time). */
const KILL_WAIT_MS = 10_000;

const gone = async (running: () => boolean, timeoutMs: number) =>
  (await pollUntil(() => (running() ? undefined : true), { timeoutMs, intervalMs: 20 })) === true;

/** Kills a process group at once (SIGKILL: a crash, not a shutdown) and waits until it is gone. */
export async function killProcessGroup(pid: number): Promise<void> {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    /* already gone */
  }
  await gone(() => isAlive(pid) || groupAlive(pid), KILL_WAIT_MS);
}

/** Whether any process of the group led by `pgid` remains (a worker that outlived its master). */
export function groupAlive(pgid: number): boolean {
  if (existsSync("/proc/self/stat")) {
    return readdirSync("/proc").some((entry) => {
      if (!/^\d+$/.test(entry)) return false;
      const stat = procStat(entry);
      return stat !== undefined && stat.pgrp === pgid && stat.state !== "Z";
    });
  }
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The last `count` lines of a log file, for error messages. */
export function lastLines(file: string, count = 15): string[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "");
  return lines.slice(-count);
}

/** The full path of `command` as the shell would find it on PATH; undefined when it is not there. */
export function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return join(dir, command);
    } catch {
      /* not here */
    }
  }
  return undefined;
}
