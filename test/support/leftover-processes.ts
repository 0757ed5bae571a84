// Processes a test left running: every process the suite starts inherits LB_TEST_RUN=<uuid> from
// vitest's environment (test/support/global-setup.ts sets it), so a live process still carrying it
// after the last file was left behind. HAProxy started by the sidecar tests is seen too.
import { readdirSync, readFileSync } from "node:fs";

export const LEAK_MARKER_VARIABLE = "LB_TEST_RUN";

/** Live processes (zombies excluded) whose environment holds `NAME=value`, with their command lines. */
export function processesWithEnvironment(name: string, value: string): { pid: number; command: string }[] {
  const wanted = `${name}=${value}`;
  const found: { pid: number; command: string }[] = [];
  for (const entry of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      if (/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, "utf8"))) continue;
      if (!readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(wanted)) continue;
      found.push({ pid, command: readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim() });
    } catch {
      /* exited meanwhile, or not ours to read */
    }
  }
  return found;
}

/** The processes this run's tests left behind (vitest's own workers excluded), killed with SIGKILL. */
export function killLeftoverProcesses(): { pid: number; command: string }[] {
  const marker = process.env[LEAK_MARKER_VARIABLE];
  if (!marker) return [];
  const left = processesWithEnvironment(LEAK_MARKER_VARIABLE, marker).filter((p) => !p.command.includes("/vitest/dist/workers/"));
  for (const p of left) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  return left;
}
