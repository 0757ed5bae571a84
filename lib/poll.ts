// Waiting for something to become true, bounded: the one poll-until-deadline loop of the project.
import { setTimeout as sleep } from "node:timers/promises";

export interface PollOptions {
  timeoutMs: number;
  intervalMs?: number;
}

/**
 * Calls `probe` until it returns a value other than undefined (that value is returned), or until
 * `timeoutMs` has passed (undefined is returned). A probe that throws counts as "not yet".
 * The probe always runs at least once, even with a timeout of 0.
 */
export async function pollUntil<T>(probe: () => Promise<T | undefined> | T | undefined, options: PollOptions): Promise<T | undefined> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch {
      /* not yet */
    }
    if (Date.now() >= deadline) return undefined;
    await sleep(options.intervalMs ?? 100);
  }
}
