// How long HAProxy's health checks take to reach a verdict, in one place: the failover and recovery
// judges, apply's settle, npm start's wait for UP and npm run scale's bound all derive from these.

/** One server's (or a discovered group's) check settings, in milliseconds. */
export interface CheckTiming {
  interMs: number;
  fall: number;
  rise: number;
  /** `timeout check`, or inter when the defaults set none (HAProxy's own fallback). */
  checkTimeoutMs: number;
}

/** A server that stops answering: fall checks fail, one inter apart, the last one after its timeout. */
export const downWithinMs = (t: CheckTiming) => t.interMs * t.fall + t.checkTimeoutMs;

/** A server that starts answering: the next check comes within one inter, then rise checks pass. */
export const upWithinMs = (t: Pick<CheckTiming, "interMs" | "rise">) => t.rise * t.interMs + t.interMs;

/** Until every check has a verdict on the current state, whichever way it goes. */
export const settleMs = (t: CheckTiming) => t.interMs * Math.max(t.fall, t.rise) + t.checkTimeoutMs;
