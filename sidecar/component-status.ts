// What the local runtime's supervisor says about each component of the stack, as the sidecar reads
// it from the runtime's state file (stack.json). The sidecar owns this shape: the runtime writes
// records that extend it, so the two cannot drift apart unnoticed by the compiler.

/**
 * running: the recorded process serves (or is being started); restarting: it exited and the
 * supervisor restarts it after a backoff; failed: it exited too often and the supervisor gave up;
 * stopped: stopped on purpose (npm run verify's failover test, an apply that replaces it).
 */
export const COMPONENT_STATES = ["running", "restarting", "failed", "stopped"] as const;
export type ComponentState = (typeof COMPONENT_STATES)[number];

export interface ComponentStatus {
  name: string;
  state: ComponentState;
  /** Restarts by the supervisor since the stack started. */
  restarts: number;
}

/**
 * Pure: the state file's text → each component's status. Records written before supervision
 * existed have no state or restart count: they count as running, never restarted. Throws on a file
 * that is not such a document, naming what is wrong.
 */
export function parseComponentStatuses(text: string): ComponentStatus[] {
  const document = JSON.parse(text) as { processes?: unknown };
  if (!Array.isArray(document.processes)) throw new Error('no "processes" list');
  return document.processes.map((entry: unknown, index: number) => {
    const record = entry as { name?: unknown; state?: unknown; restarts?: unknown };
    if (typeof record?.name !== "string") throw new Error(`processes[${index}] has no name`);
    const state = record.state ?? "running";
    if (!COMPONENT_STATES.includes(state as ComponentState)) throw new Error(`processes[${index}] (${record.name}) has an unknown state ${JSON.stringify(state)}`);
    const restarts = record.restarts ?? 0;
    if (typeof restarts !== "number" || !Number.isInteger(restarts) || restarts < 0) throw new Error(`processes[${index}] (${record.name}) has a bad restart count ${JSON.stringify(restarts)}`);
    return { name: record.name, state: state as ComponentState, restarts };
  });
}
