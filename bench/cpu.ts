// CPU time spent by process groups, read from /proc: where a throughput difference goes, per request,
// with less noise than the throughput itself (a run's CPU time moves less than its requests per second).
import { readdirSync } from "node:fs";
import { statFields } from "../infra/runtime/processes.ts";

/** Clock ticks per second of /proc's utime and stime (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User plus system CPU time, in seconds, of every live process in the given process groups (all their threads). */
export function groupCpuSeconds(pgids: ReadonlySet<number>): number {
  let ticks = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    // From the state on: pgrp is the 3rd, utime the 12th, stime the 13th (undefined: gone since the listing).
    const fields = statFields(`/proc/${entry}/stat`);
    if (fields && pgids.has(Number(fields[2]))) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / TICKS_PER_SECOND;
}
