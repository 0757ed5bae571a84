// Canary rollouts as metrics: each backend's rollout state (rollout-BACKEND.json in the run
// directory, written by npm run rollout at every transition), whose format the sidecar owns
// because it exports it. Read at each scrape.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Gauge, type Registry } from "prom-client";
import { parseStateFile, type StateFileFormat } from "../lib/state-file.ts";

export type RolloutPhase = "running" | "paused" | "promoted" | "aborted";
export const ROLLOUT_PHASES: readonly RolloutPhase[] = ["running", "paused", "promoted", "aborted"];

const VERDICTS = ["pass", "fail", "inconclusive"] as const;

export interface RolloutState {
  backend: string;
  canary: string[];
  steps: number[];
  /** The step being run (an index into steps; steps.length once every step passed). */
  step: number;
  phase: RolloutPhase;
  /** Failed analyses so far. */
  failures: number;
  /** The process carrying it out; another run takes over only when it is gone. */
  pid: number;
  startedAt: string;
  updatedAt: string;
  /** Set by npm run rollout -- --abort while another process runs it. */
  abortRequested?: boolean;
  /** The weights the current step set (a discovered group's follow the slots in traffic). */
  weights?: Record<string, number>;
  /** Why it paused, aborted or was promoted. */
  reason?: string;
  history: { at: string; step: number; percent: number; verdict: (typeof VERDICTS)[number]; findings: string[] }[];
}

/** The state file of `backend`'s rollout, in the run directory. */
export const rolloutStateFile = (runDir: string, backend: string) => join(runDir, `rollout-${backend}.json`);

export const ROLLOUT_STATE_FORMAT: StateFileFormat<RolloutState> = {
  describes: "a canary rollout's state",
  version: 1,
  validate: (document) => {
    const ok = typeof document.backend === "string" && Array.isArray(document.canary) && Array.isArray(document.steps) && Number.isInteger(document.step) && ROLLOUT_PHASES.includes(document.phase as RolloutPhase) && Number.isInteger(document.pid) && typeof document.updatedAt === "string" && Array.isArray(document.history);
    if (!ok) throw new Error("needs backend, canary, steps, step, phase, pid, updatedAt and history");
    return document as unknown as RolloutState;
  },
  fix: "if no rollout runs (npm run rollout -- BACKEND --status says which pid), delete it: the next run starts the rollout from its first step",
};

/** Every rollout state in the run directory; one that cannot be read is said and left out. */
async function readRollouts(dir: string, log: (line: string) => void): Promise<RolloutState[]> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => /^rollout-.+\.json$/.test(f));
  const states: RolloutState[] = [];
  for (const file of files) {
    const text = await readFile(join(dir, file), "utf8").catch(() => undefined);
    if (text === undefined) continue;
    try {
      states.push(parseStateFile(join(dir, file), text, ROLLOUT_STATE_FORMAT));
    } catch (error) {
      log((error as Error).message);
    }
  }
  return states;
}

export function registerRolloutMetrics(registry: Registry, dir: string, log: (line: string) => void): void {
  new Gauge({
    name: "haproxy_sidecar_rollout_phase",
    help: "1 for the phase a backend's canary rollout is in (running, paused, promoted, aborted), 0 for the others",
    labelNames: ["backend", "phase"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await readRollouts(dir, log)) for (const phase of ROLLOUT_PHASES) this.set({ backend: r.backend, phase }, r.phase === phase ? 1 : 0);
    },
  });
  new Gauge({
    name: "haproxy_sidecar_rollout_canary_percent",
    help: "The canary's share of the backend's traffic at the rollout's current step, in percent",
    labelNames: ["backend"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await readRollouts(dir, log)) this.set({ backend: r.backend }, r.phase === "aborted" ? 0 : r.steps[Math.min(r.step, r.steps.length - 1)] ?? 0);
    },
  });
  new Gauge({
    name: "haproxy_sidecar_rollout_failed_analyses",
    help: "Analyses of the rollout's steps that failed",
    labelNames: ["backend"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await readRollouts(dir, log)) this.set({ backend: r.backend }, r.failures);
    },
  });
  new Gauge({
    name: "haproxy_sidecar_rollout_analyses",
    help: "The rollout's analyses so far by verdict (pass, fail, inconclusive)",
    labelNames: ["backend", "verdict"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await readRollouts(dir, log)) for (const verdict of VERDICTS) this.set({ backend: r.backend, verdict }, r.history.filter((h) => h.verdict === verdict).length);
    },
  });
  new Gauge({
    name: "haproxy_sidecar_rollout_transition_timestamp_seconds",
    help: "Unix time of the rollout's last transition (a step, a verdict, a pause, the end)",
    labelNames: ["backend"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await readRollouts(dir, log)) this.set({ backend: r.backend }, Math.floor(Date.parse(r.updatedAt) / 1000));
    },
  });
}
