// Every process the suite starts carries one marker in its environment (children inherit it): after
// the last file, any live process still carrying it was left behind by a test. It is named, killed,
// and the run fails. This sees HAProxy started by the sidecar tests as well as the stacks' processes.
import { randomUUID } from "node:crypto";
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

export default function setup(): () => void {
  const marker = randomUUID();
  process.env[LEAK_MARKER_VARIABLE] = marker;
  return () => {
    // vitest's own workers carry the marker too, and may still be closing.
    const left = processesWithEnvironment(LEAK_MARKER_VARIABLE, marker).filter((p) => !p.command.includes("/vitest/dist/workers/"));
    for (const p of left) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    if (left.length > 0) {
      throw new Error(`tests left ${left.length} processes running (now killed):\n${left.map((p) => `  ${p.pid}: ${p.command}`).join("\n")}`);
    }
  };
}
