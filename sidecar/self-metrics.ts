// The sidecar's own metrics (haproxy_sidecar_*), kept by prom-client: few series, so the
// library's registry is the right tool here, unlike for HAProxy's thousands.
import { readFile } from "node:fs/promises";
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { parseStateFile, type StateFileFormat } from "../lib/state-file.ts";
import { parseComponentStatuses, type ComponentStatus } from "./component-status.ts";
import type { DistributionState } from "./distribution-check.ts";
import { registerCertificateMetrics, type CertificateSources } from "./certificates.ts";
import { registerRolloutMetrics } from "./rollouts.ts";

/**
 * Reads the verdicts npm run verify left ({ results: [{ assertion, verdict }] }); [] when there are
 * none. A skipped assertion checked nothing: it is not exported as passed or failed.
 */
export async function readAssertionResults(file: string): Promise<{ assertion: string; passed: boolean }[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return []; // verify has not run yet
  }
  const parsed = JSON.parse(text) as { results?: unknown };
  if (!Array.isArray(parsed.results)) throw new Error(`${file} has no "results" list`);
  return parsed.results
    .filter((r): r is { assertion: string; verdict: "pass" | "fail" } => typeof r?.assertion === "string" && (r?.verdict === "pass" || r?.verdict === "fail"))
    .map(({ assertion, verdict }) => ({ assertion, passed: verdict === "pass" }));
}

/** What the sidecar exports of npm run apply's history: one JSON line per apply ({ time, outcome }). */
export interface ApplyHistory {
  last?: { timestampSeconds: number; success: boolean };
  /** Applies by outcome (applied, no-changes, rolled-back, rollback-failed). */
  counts: Map<string, number>;
  /** Lines that are not an apply record: skipped. */
  badLines: number;
}

/** One line of the apply history, as npm run apply and the apply agent append it (the rest of the line is for people). */
export interface ApplyHistoryLine {
  time: string;
  outcome: string;
  [detail: string]: unknown;
}

/** Each line of the history is a state document of its own: a line cut short by a crash spoils only itself. */
export const APPLY_HISTORY_LINE_FORMAT: StateFileFormat<ApplyHistoryLine> = {
  describes: "one line of the apply history",
  version: 1,
  validate: (document) => {
    if (typeof document.outcome !== "string" || typeof document.time !== "string" || Number.isNaN(Date.parse(document.time))) throw new Error("needs time and outcome");
    return document as ApplyHistoryLine;
  },
  fix: "the line is skipped and counted",
};

/** Pure: the history file's text → what the metrics say. "no-changes" counts as a success. */
export function parseApplyHistory(text: string): ApplyHistory {
  const history: ApplyHistory = { counts: new Map(), badLines: 0 };
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let record: ApplyHistoryLine;
    try {
      record = parseStateFile("apply history", line, APPLY_HISTORY_LINE_FORMAT);
    } catch {
      history.badLines++;
      continue;
    }
    const time = Date.parse(record.time);
    history.counts.set(record.outcome, (history.counts.get(record.outcome) ?? 0) + 1);
    history.last = { timestampSeconds: time / 1000, success: record.outcome === "applied" || record.outcome === "no-changes" };
  }
  return history;
}

/** prom-client's process and Node.js metrics, named as the sidecar's own. */
export const DEFAULT_METRICS_PREFIX = "haproxy_sidecar_";

export class SelfMetrics {
  readonly registry = new Registry();
  readonly pollSuccess = new Gauge({ name: "haproxy_sidecar_poll_success", help: "1 if the last poll of HAProxy's stats socket succeeded, 0 if not", registers: [this.registry] });
  readonly pollDuration = new Gauge({ name: "haproxy_sidecar_poll_duration_seconds", help: "Duration of the last poll: socket round trips, parsing and rendering", registers: [this.registry] });
  readonly lastSuccess = new Gauge({ name: "haproxy_sidecar_last_success_timestamp_seconds", help: "Unix time of the last successful poll (0 before the first)", registers: [this.registry] });
  readonly snapshotAge: Gauge;
  readonly parseErrors = new Counter({ name: "haproxy_sidecar_parse_errors_total", help: "Lines or cells of HAProxy's answers that could not be parsed and were skipped", registers: [this.registry] });
  readonly pollFailures = new Counter({ name: "haproxy_sidecar_poll_failures_total", help: "Failed polls, by error code", labelNames: ["code"], registers: [this.registry] });
  readonly polls = new Counter({ name: "haproxy_sidecar_polls_total", help: "Polls of HAProxy's stats socket, successful or not", registers: [this.registry] });
  readonly assertionPassed: Gauge<"assertion">;

  readonly lastApplySuccess: Gauge;
  readonly lastApplyTimestamp: Gauge;
  readonly applies: Counter<"result">;
  readonly componentUp: Gauge<"component">;
  readonly componentRestarts: Counter<"component">;

  /**
   * `assertionsFile`: where npm run verify writes its results; `applyHistoryFile`: where npm run
   * apply appends a line per apply; `componentsFile`: the local runtime's state file, where its
   * supervisor records each component's state and restarts. All are read at each scrape.
   */
  constructor(
    options: {
      now?: () => number;
      assertionsFile?: string;
      applyHistoryFile?: string;
      componentsFile?: string;
      /** The continuous distribution check's latest judgement. */
      distribution?: () => DistributionState;
      /** The certificates HAProxy serves, and the issuer's record of its renewals. */
      certificates?: CertificateSources;
      /** Where npm run rollout keeps each backend's rollout state (the run directory). */
      rolloutsDir?: string;
      log?: (line: string) => void;
    } = {},
  ) {
    const now = options.now ?? Date.now;
    const { assertionsFile, applyHistoryFile, componentsFile, distribution, log = () => {} } = options;
    if (distribution) this.registerDistribution(distribution);
    if (options.certificates) registerCertificateMetrics(this.registry, options.certificates);
    if (options.rolloutsDir) registerRolloutMetrics(this.registry, options.rolloutsDir, log);
    const components = async (): Promise<ComponentStatus[]> => {
      if (!componentsFile) return [];
      let text: string;
      try {
        text = await readFile(componentsFile, "utf8");
      } catch {
        return []; // no stack (yet, or any more)
      }
      try {
        return parseComponentStatuses(text);
      } catch (error) {
        log(`cannot read the component states in ${componentsFile}: ${(error as Error).message}`);
        return [];
      }
    };
    this.componentUp = new Gauge({
      name: "haproxy_sidecar_component_up",
      help: "1 if the supervisor records the stack's component as running, 0 if it is restarting, failed or stopped",
      labelNames: ["component"],
      registers: [this.registry],
      async collect() {
        const read = await components();
        this.reset();
        for (const c of read) this.set({ component: c.name }, c.state === "running" ? 1 : 0);
      },
    });
    // A counter, kept in the state file: read (reset, then the recorded count), not incremented, here.
    this.componentRestarts = new Counter({
      name: "haproxy_sidecar_component_restarts_total",
      help: "Restarts of the stack's component by its supervisor since the stack started",
      labelNames: ["component"],
      registers: [this.registry],
      async collect() {
        const read = await components();
        this.reset();
        for (const c of read) this.inc({ component: c.name }, c.restarts);
      },
    });
    const history = async () => {
      if (!applyHistoryFile) return undefined;
      const text = await readFile(applyHistoryFile, "utf8").catch(() => "");
      return parseApplyHistory(text);
    };
    this.lastApplySuccess = new Gauge({
      name: "haproxy_sidecar_last_apply_success",
      help: "1 if the last npm run apply succeeded (or had nothing to do), 0 if it failed and rolled back (NaN before the first)",
      registers: [this.registry],
      async collect() {
        const last = (await history())?.last;
        this.set(last ? (last.success ? 1 : 0) : Number.NaN);
      },
    });
    this.lastApplyTimestamp = new Gauge({
      name: "haproxy_sidecar_last_apply_timestamp_seconds",
      help: "Unix time of the last npm run apply (NaN before the first)",
      registers: [this.registry],
      async collect() {
        this.set((await history())?.last?.timestampSeconds ?? Number.NaN);
      },
    });
    // A counter, kept in the history file: read (reset, then the recorded count), not incremented, here.
    this.applies = new Counter({
      name: "haproxy_sidecar_applies_total",
      help: "npm run apply runs, by result (applied, no-changes, rolled-back, rollback-failed)",
      labelNames: ["result"],
      registers: [this.registry],
      async collect() {
        const read = await history();
        this.reset();
        for (const [result, count] of read?.counts ?? []) this.inc({ result }, count);
      },
    });
    this.assertionPassed = new Gauge({
      name: "haproxy_sidecar_assertion_passed",
      help: "1 if the last run of an end-to-end assertion (npm run verify) passed, 0 if it failed",
      labelNames: ["assertion"],
      registers: [this.registry],
      async collect() {
        if (!assertionsFile) return;
        try {
          const results = await readAssertionResults(assertionsFile);
          this.reset();
          for (const r of results) this.set({ assertion: r.assertion }, r.passed ? 1 : 0);
        } catch (error) {
          log(`cannot read the assertion results in ${assertionsFile}: ${(error as Error).message}`);
        }
      },
    });
    const lastSuccess = this.lastSuccess;
    this.snapshotAge = new Gauge({
      name: "haproxy_sidecar_snapshot_age_seconds",
      help: "Age of the HAProxy metrics served; grows while polling fails (NaN before the first success)",
      registers: [this.registry],
      async collect() {
        const last = (await lastSuccess.get()).values[0]?.value ?? 0;
        this.set(last > 0 ? now() / 1000 - last : Number.NaN);
      },
    });
    this.pollSuccess.set(0);
    collectDefaultMetrics({ register: this.registry, prefix: DEFAULT_METRICS_PREFIX });
    // prom-client resets its event-loop histogram at each scrape; a scrape that comes before the next
    // sample reads the empty histogram's minimum, 9223372036.85 s. The other lag families stay.
    this.registry.removeSingleMetric(`${DEFAULT_METRICS_PREFIX}nodejs_eventloop_lag_min_seconds`);
    // Gauges that prom-client names _total (promtool check metrics refuses them): counts of handles in use, not counters.
    for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) this.registry.removeSingleMetric(`${DEFAULT_METRICS_PREFIX}${name}`);
  }

  /** The distribution check's series: shares, skew and drift, each set afresh from the latest judgement. */
  private registerDistribution(latest: () => DistributionState): void {
    const registers = [this.registry];
    new Gauge({
      name: "haproxy_sidecar_server_share_observed",
      help: "The server's share of its backend's requests over the distribution window, from HAProxy's counters",
      labelNames: ["proxy", "server"],
      registers,
      collect() {
        this.reset();
        for (const s of latest().judgement?.shares ?? []) this.set({ proxy: s.proxy, server: s.server }, s.observed);
      },
    });
    new Gauge({
      name: "haproxy_sidecar_server_share_expected",
      help: "The share the server's weight and state imply (only where the backend's algorithm shares by weight)",
      labelNames: ["proxy", "server"],
      registers,
      collect() {
        this.reset();
        for (const s of latest().judgement?.shares ?? []) if (s.expected !== undefined) this.set({ proxy: s.proxy, server: s.server }, s.expected);
      },
    });
    new Gauge({
      name: "haproxy_sidecar_backend_distribution_skew",
      help: "Largest difference between a server's observed and expected share in the backend (absent when it cannot be judged)",
      labelNames: ["proxy"],
      registers,
      collect() {
        this.reset();
        for (const b of latest().judgement?.backends ?? []) if (b.skew !== undefined) this.set({ proxy: b.proxy }, b.skew);
      },
    });
    new Gauge({
      name: "haproxy_sidecar_backend_window_requests",
      help: "Requests the backend's servers took in the distribution window",
      labelNames: ["proxy"],
      registers,
      collect() {
        this.reset();
        for (const b of latest().judgement?.backends ?? []) this.set({ proxy: b.proxy }, b.requests);
      },
    });
    new Gauge({
      name: "haproxy_sidecar_backend_primaries",
      help: "Servers UP in a backend whose check passes on the primary only (a Redis master, a Patroni leader): 1 is healthy, 0 or more is an outage or a split brain",
      labelNames: ["proxy"],
      registers,
      collect() {
        this.reset();
        for (const p of latest().primaries) this.set({ proxy: p.proxy }, p.up);
      },
    });
    new Gauge({
      name: "haproxy_sidecar_topology_drift",
      help: "1 for each server where the running HAProxy differs from the topology (reason: missing, unexpected, weight, state)",
      labelNames: ["proxy", "server", "reason"],
      registers,
      collect() {
        this.reset();
        for (const d of latest().drift) this.set({ proxy: d.proxy, server: d.server, reason: d.reason }, 1);
      },
    });
  }
}
