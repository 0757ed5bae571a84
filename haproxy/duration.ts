// HAProxy's time format ("500ms", "5s", "1m"), the one duration grammar of the project: the model's
// timeouts and check intervals, the sidecar's poll interval, the bench's arithmetic all read it here.

const UNIT_MS = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export type DurationUnit = keyof typeof UNIT_MS;
export const DURATION_UNITS = Object.keys(UNIT_MS) as DurationUnit[];
const DURATION_PATTERN = /^([0-9]{1,10})(us|ms|s|m|h|d)$/;
/** HAProxy's timers are signed 32-bit milliseconds (about 24.8 days). */
export const MAX_DURATION_MS = 2_147_483_647;

/** Milliseconds in a duration string, or undefined if the text is not one (the unit is required). */
export function durationMs(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as DurationUnit];
}

/** Why `text` is not a usable duration (positive, at most HAProxy's limit), or undefined if it is. */
export function durationProblem(text: string): string | undefined {
  const ms = durationMs(text);
  if (ms === undefined || ms <= 0 || ms > MAX_DURATION_MS) {
    return `${JSON.stringify(text)} is not a duration: use a positive whole number with a unit (${DURATION_UNITS.join(", ")}), at most 24d, e.g. "500ms" or "5s"`;
  }
  return undefined;
}

/** Milliseconds in a usable duration; throws with durationProblem's message otherwise. */
export function parseDuration(text: string): number {
  const problem = durationProblem(text);
  if (problem !== undefined) throw new RangeError(problem);
  return durationMs(text)!;
}
