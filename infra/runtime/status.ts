// npm run status, and what npm start says about a stack it finds: each component's state as the
// supervisor recorded it, checked against the processes that actually run.
import { formatTable } from "../../lib/text-table.ts";
import type { ComponentState } from "../../sidecar/component-status.ts";
import { describeExit, stillRecordedProcess, type ExitRecord, type StackState } from "./state.ts";

/** "gone": recorded as running, but its process is not there (and no supervisor noticed). */
export type ObservedState = ComponentState | "gone";

export interface ComponentView {
  name: string;
  state: ObservedState;
  pid: number;
  startedAt?: string;
  restarts: number;
  lastExit?: ExitRecord;
}

export interface StackView {
  supervisor: { pid: number; alive: boolean } | undefined;
  components: ComponentView[];
}

/** Pure but for `isRunning`, which looks at the machine (and is passed in by tests). */
export function observeStack(state: StackState, isRunning: (p: { pid: number; startTicks?: number }) => boolean = stillRecordedProcess): StackView {
  return {
    supervisor: state.supervisor && { pid: state.supervisor.pid, alive: isRunning(state.supervisor) },
    components: state.processes.map((p) => ({
      name: p.name,
      state: (p.state ?? "running") === "running" && !isRunning(p) ? "gone" : (p.state ?? "running"),
      pid: p.pid,
      startedAt: p.startedAt,
      restarts: p.restarts ?? 0,
      lastExit: p.lastExit,
    })),
  };
}

export const healthy = (view: StackView): boolean => view.supervisor?.alive === true && view.components.every((c) => c.state === "running");

/** "3 s", "4 min 12 s", "2 h 5 min". */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function formatStatus(view: StackView, now: number): string {
  const supervisor = view.supervisor
    ? `supervisor: pid ${view.supervisor.pid}, ${view.supervisor.alive ? "running" : "GONE (nothing restarts crashed components)"}`
    : "supervisor: none (started without one: nothing restarts crashed components)";
  const rows = view.components.map((c) => [
    c.name,
    c.state,
    c.state === "running" ? String(c.pid) : "-",
    c.state === "running" && c.startedAt ? formatAge(now - Date.parse(c.startedAt)) : "-",
    String(c.restarts),
    c.lastExit ? `${describeExit(c.lastExit)}, ${formatAge(now - Date.parse(c.lastExit.at))} ago` : "-",
  ]);
  return [supervisor, "", formatTable([["component", "state", "pid", "uptime", "restarts", "last exit"], ...rows])].join("\n");
}
