// The local stack's supervisor: a component that exits on its own is started again, after a backoff
// that doubles with each restart, until too many restarts in a window mark it failed (a component
// that cannot stay up is reported, not restarted forever). It watches the state file, not only its
// own children, so web servers that npm run apply started are supervised too.
//
// HAProxy is restarted whole (master and worker): HAProxy 2.6's master exits when its worker dies,
// and "master-worker no-exit-on-failure" does not change that in 2.6.12, because the master
// re-executes itself in wait mode without reading the configuration that holds the option
// (HAPROXY_MWORKER_WAIT_ONLY; test/supervision.test.ts holds this fact, bench/ measures the cost).
import { setTimeout as sleep } from "node:timers/promises";
import { pollUntil } from "../../lib/poll.ts";
import type { LocalComponent } from "./declaration.ts";
import { stopProcessGroup, type ManagedProcess } from "./processes.ts";
import { launchComponent, serving } from "./stack.ts";
import { describeExit, readState, recordProcess, stillRecordedProcess, updateProcess, updateState, type ExitRecord, type RecordedProcess } from "./state.ts";

export interface RestartPolicy {
  /** Delay before the first restart; each further restart within the window doubles it. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** Restarts allowed within `windowMs`; the next exit marks the component failed. */
  maxRestarts: number;
  windowMs: number;
  /** How long a restarted component has to serve again before it counts as another failure. */
  readyTimeoutMs: number;
}

/**
 * A first restart after 0.1 s (HAProxy down is an outage), then 0.2, 0.4, 0.8, 1.6 s; five restarts
 * in a minute mean the component cannot stay up, and restarting it harder would only hide that.
 */
export const RESTART_POLICY: RestartPolicy = { firstDelayMs: 100, maxDelayMs: 5000, maxRestarts: 5, windowMs: 60_000, readyTimeoutMs: 30_000 };

export type RestartDecision = { restart: true; delayMs: number; attempt: number } | { restart: false; reason: string };

/** Pure: what to do about an exit at `now`, given when the component was restarted before. */
export function decideRestart(restartTimes: readonly number[], now: number, policy: RestartPolicy): RestartDecision {
  const recent = restartTimes.filter((t) => now - t < policy.windowMs).length;
  if (recent >= policy.maxRestarts) return { restart: false, reason: `it exited after ${recent} restarts within ${policy.windowMs / 1000} s` };
  return { restart: true, delayMs: Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** recent), attempt: recent + 1 };
}

export interface SupervisorOptions {
  policy?: RestartPolicy;
  log?: (line: string) => void;
  /** How often the state file and the processes are looked at. */
  pollIntervalMs?: number;
}

export class Supervisor {
  private readonly policy: RestartPolicy;
  private readonly log: (line: string) => void;
  /** Processes this supervisor started: their exit status is known. */
  private readonly children = new Map<number, ManagedProcess>();
  private readonly restartTimes = new Map<string, number[]>();
  private readonly handling = new Map<string, Promise<void>>();
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly runDir: string,
    started: ManagedProcess[],
    options: SupervisorOptions = {},
  ) {
    this.policy = options.policy ?? RESTART_POLICY;
    this.log = options.log ?? (() => {});
    for (const p of started) this.children.set(p.pid, p);
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
  }

  private readonly pollIntervalMs: number;
  private lastProblem: string | undefined;

  private sayOnce(problem: string): void {
    if (problem !== this.lastProblem) this.log(`cannot supervise: ${problem}`);
    this.lastProblem = problem;
  }

  /** Records this process as the stack's supervisor and starts watching. */
  async start(): Promise<void> {
    await updateState(this.runDir, (state) => state && { ...state, supervisor: recordProcess("supervisor", process.pid) });
    // A record that cannot be read is said once per problem, and looked at again next time.
    this.timer = setInterval(() => void this.look().catch((error) => this.sayOnce((error as Error).message)), this.pollIntervalMs);
  }

  /** Stops watching; restarts under way finish recording what they started (npm stop then stops it). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.stopping.abort();
    await Promise.allSettled(this.handling.values());
  }

  /** Gives failed components another chance (npm start on a stack with failed components). */
  async retryFailed(): Promise<string[]> {
    const failed = ((await readState(this.runDir))?.processes ?? []).filter((p) => p.state === "failed" && !this.handling.has(p.name));
    for (const gone of failed) {
      this.restartTimes.delete(gone.name);
      this.log(`${gone.name}: restarting it after it was marked failed`);
      if (!(await this.updateIfUnchanged(gone, "failed", (p) => ({ ...p, state: "restarting" })))) continue;
      const restarted = gone.component ? this.restart(gone, gone.component, gone.lastExit ?? { code: null, signal: null, at: new Date().toISOString() }) : Promise.resolve();
      this.track(gone.name, restarted);
    }
    return failed.map((p) => p.name);
  }

  private async look(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    const state = await readState(this.runDir);
    for (const p of state?.processes ?? []) {
      if (p.state !== "running" || this.handling.has(p.name) || stillRecordedProcess(p)) continue;
      this.track(p.name, this.handleExit(p));
    }
  }

  /** One piece of work per component at a time; stop() waits for them. */
  private track(name: string, work: Promise<void>): void {
    const handled = work.catch((error) => this.log(`${name}: supervising failed: ${(error as Error).message}`));
    this.handling.set(name, handled.finally(() => this.handling.delete(name)));
  }

  private async handleExit(gone: RecordedProcess): Promise<void> {
    const exit = await this.exitOf(gone.pid);
    const decision = decideRestart(this.restartTimes.get(gone.name) ?? [], Date.now(), this.policy);
    const component = gone.component;
    if (!decision.restart || component === undefined) {
      const reason = decision.restart ? "its state file entry does not say how to start it" : decision.reason;
      this.log(`${gone.name} (pid ${gone.pid}) exited (${describeExit(exit)}); marked failed: ${reason}. npm run status shows it; npm start retries it`);
      await this.updateIfUnchanged(gone, "running", (p) => ({ ...p, state: "failed", lastExit: exit }));
      return;
    }
    this.log(`${gone.name} (pid ${gone.pid}) exited (${describeExit(exit)}); restarting in ${decision.delayMs} ms (restart ${decision.attempt} of at most ${this.policy.maxRestarts} in ${this.policy.windowMs / 1000} s)`);
    if (!(await this.updateIfUnchanged(gone, "running", (p) => ({ ...p, state: "restarting", lastExit: exit })))) return;
    try {
      await sleep(decision.delayMs, undefined, { signal: this.stopping.signal });
    } catch {
      return; // stopping: npm stop stops what is recorded
    }
    await this.restart(gone, component, exit);
  }

  private async restart(gone: RecordedProcess, component: LocalComponent, exit: ExitRecord): Promise<void> {
    const current = (await readState(this.runDir))?.processes.find((p) => p.name === gone.name);
    if (current?.pid !== gone.pid || current.state !== "restarting") return; // held, removed or replaced meanwhile
    // What is left of the old process group (an orphaned HAProxy or gunicorn worker) holds its ports.
    await stopProcessGroup(gone.pid, 2000);
    const began = Date.now();
    let managed: ManagedProcess;
    try {
      managed = await launchComponent(component);
    } catch (error) {
      this.log(`${gone.name}: cannot start ${component.command}: ${(error as Error).message}; marked failed`);
      await updateProcess(this.runDir, gone.name, (p) => ({ ...p, state: "failed" }));
      return;
    }
    managed.child.unref();
    this.children.set(managed.pid, managed);
    this.restartTimes.set(gone.name, [...(this.restartTimes.get(gone.name) ?? []), began]);
    await updateProcess(this.runDir, gone.name, (p) => ({ ...recordProcess(p.name, managed.pid, component, p), restarts: p.restarts + 1, lastExit: exit }));
    const back = await pollUntil(async () => (managed.exit || this.stopping.signal.aborted ? false : (await serving(component)) || undefined), {
      timeoutMs: this.policy.readyTimeoutMs,
      intervalMs: 50,
    });
    if (back === true) {
      this.log(`${gone.name} is back as pid ${managed.pid}, serving ${Date.now() - began} ms after it was started again`);
    } else if (!managed.exit && !this.stopping.signal.aborted) {
      // Hung: end it, and the next look counts it as another exit.
      this.log(`${gone.name} (pid ${managed.pid}) did not serve within ${this.policy.readyTimeoutMs / 1000} s; stopping it`);
      await stopProcessGroup(managed.pid, 2000);
    }
  }

  /** The exit status of a child of ours (waiting briefly for its exit event); unknown otherwise. */
  private async exitOf(pid: number): Promise<ExitRecord> {
    const child = this.children.get(pid);
    if (child) await Promise.race([child.exited, sleep(1000)]);
    this.children.delete(pid);
    return { code: child?.exit?.code ?? null, signal: child?.exit?.signal ?? null, at: new Date().toISOString() };
  }

  /** Changes the record only if it still names the same process in the same state; whether it did. */
  private async updateIfUnchanged(gone: RecordedProcess, expected: RecordedProcess["state"], change: (p: RecordedProcess) => RecordedProcess): Promise<boolean> {
    let changed = false;
    await updateState(this.runDir, (state) => {
      if (!state) return undefined;
      const processes = state.processes.map((p) => {
        if (p.name !== gone.name || p.pid !== gone.pid || p.state !== expected) return p;
        changed = true;
        return change(p);
      });
      return changed ? { ...state, processes } : undefined;
    });
    return changed;
  }
}
