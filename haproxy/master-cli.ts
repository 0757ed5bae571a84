// HAProxy's master CLI (haproxy -W -S): the workers it runs and whether its last reload took.
// "reload" answers nothing in 2.6, so a reload is confirmed by reading "show proc" before and after.
import { StatParseError } from "./errors.ts";

export interface ProcessRow {
  pid: number;
  /** How many reloads this process has lived through. */
  reloads: number;
  uptimeSeconds: number;
}

export interface ShowProc {
  master: ProcessRow & { failedReloads: number };
  workers: ProcessRow[];
  /** Workers of an earlier configuration, still finishing their connections (soft-stop). */
  oldWorkers: ProcessRow[];
}

/** "0d00h00m17s" → 17. */
export function parseUptime(text: string): number {
  const m = /^(\d+)d(\d+)h(\d+)m(\d+)s$/.exec(text);
  if (!m) throw new StatParseError(`"show proc": ${JSON.stringify(text)} is not an uptime`);
  return ((Number(m[1]) * 24 + Number(m[2])) * 60 + Number(m[3])) * 60 + Number(m[4]);
}

/** Parses the master CLI's "show proc" answer (HAProxy 2.6). */
export function parseShowProc(text: string): ShowProc {
  let section: "master" | "workers" | "old" | "other" = "master";
  let master: ShowProc["master"] | undefined;
  const workers: ProcessRow[] = [];
  const oldWorkers: ProcessRow[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#<PID>") || line.trim() === "") continue;
    if (line.startsWith("# ")) {
      section = line === "# workers" ? "workers" : line === "# old workers" ? "old" : "other";
      continue;
    }
    const m = /^(\d+)\s+(\S+)\s+(\d+)(?:\s+\[failed: (\d+)\])?\s+(\S+)/.exec(line);
    if (!m) throw new StatParseError(`"show proc" line is not a process: ${JSON.stringify(line.slice(0, 80))}`);
    const row = { pid: Number(m[1]), reloads: Number(m[3]), uptimeSeconds: parseUptime(m[5]!) };
    if (m[2] === "master") master = { ...row, failedReloads: Number(m[4] ?? 0) };
    else if (section === "workers") workers.push(row);
    else if (section === "old") oldWorkers.push(row);
  }
  if (!master) throw new StatParseError(`"show proc" answered without the master's line: got ${JSON.stringify(text.slice(0, 80))}`);
  return { master, workers, oldWorkers };
}

/** What a reload did, judged from "show proc" before and after it. */
export type ReloadOutcome = { took: true; newWorkers: number[] } | { took: false; reason: string };

export function judgeReload(before: ShowProc, after: ShowProc): ReloadOutcome {
  const previous = new Set(before.workers.map((w) => w.pid));
  const newWorkers = after.workers.map((w) => w.pid).filter((pid) => !previous.has(pid));
  if (after.master.reloads <= before.master.reloads) return { took: false, reason: "the master has not reloaded yet" };
  if (after.master.failedReloads > 0 && newWorkers.length === 0) return { took: false, reason: `the master's reload failed (failed: ${after.master.failedReloads}); the old worker still serves` };
  if (newWorkers.length === 0) return { took: false, reason: "no new worker yet" };
  return { took: true, newWorkers };
}
