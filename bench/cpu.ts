// CPU time spent by process groups, read from /proc: where a throughput difference goes, per request,
// with less noise than the throughput itself (a run's CPU time moves less than its requests per second).
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc's utime and stime (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User plus system CPU time, in seconds, of every live process in the given process groups (all their threads). */
export function groupCpuSeconds(pgids: ReadonlySet<number>): number {
  let ticks = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // gone since the listing
    }
    // Fields after "pid (comm)": state, ppid, pgrp ... utime (14th of the line), stime (15th).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (pgids.has(Number(fields[2]))) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / TICKS_PER_SECOND;
}
