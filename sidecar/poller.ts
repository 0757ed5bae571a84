// Polls HAProxy on an interval and keeps the last good exposition; scrapes read the cache and never
// wait on the socket. A failed poll keeps the old snapshot (marked stale by the self-metrics).
import { CodedError } from "../lib/errors.ts";
import { renderHaproxyExposition } from "./exposition.ts";
import { CompressedExposition } from "./compressed-exposition.ts";
import { parseShowInfo, parseShowStat, type StatRow } from "../haproxy/show-stat.ts";
import type { SelfMetrics } from "./self-metrics.ts";

/** Sends one runtime API command and returns the answer; the I/O edge, passed in. */
export type RuntimeApi = (command: string) => Promise<string>;

export interface PollerOptions {
  api: RuntimeApi;
  metrics: SelfMetrics;
  intervalMs: number;
  log: (line: string) => void;
  now?: () => number;
  /** Given every successful poll's rows (the distribution check); awaited before the next poll. */
  observe?: (atMs: number, rows: readonly StatRow[]) => Promise<void>;
}

/** HAProxy's answers of the last good poll, kept as text: a filtered scrape renders from them. */
export interface RawSnapshot {
  info: string;
  stat: string;
}

export class StatsPoller {
  /** The last good exposition, compressed; undefined before the first success. */
  private snapshot: CompressedExposition | undefined;
  private raw: RawSnapshot | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** The code of the failure last logged, so that a socket down for an hour logs once, not 1,800 times. */
  private lastFailure: string | undefined;
  private readonly now: () => number;

  constructor(private readonly options: PollerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The HAProxy part of /metrics: the last good exposition (empty before the first success). */
  exposition(): CompressedExposition {
    return this.snapshot ?? new CompressedExposition();
  }

  /** The last good poll's answers (a few MB at 10,000 servers), for scrapes that filter. */
  answers(): RawSnapshot | undefined {
    return this.raw;
  }

  /** One poll: both commands, parse, render, swap the cache. Never throws. */
  async pollOnce(): Promise<boolean> {
    const { api, metrics, log } = this.options;
    const started = performance.now();
    metrics.polls.inc();
    try {
      const [infoText, statText] = await Promise.all([api("show info"), api("show stat")]);
      // From here to the swap nothing awaits, so no scrape can see a half-built snapshot.
      const info = parseShowInfo(infoText);
      const stat = parseShowStat(statText);
      const compressed = new CompressedExposition();
      const exposition = renderHaproxyExposition({ info: info.info, stat }, (piece) => compressed.append(piece));
      compressed.flush();
      const problems = [...info.problems.map((p) => `show info line ${p.line}: ${p.reason}`), ...stat.problems.map((p) => `show stat line ${p.line}: ${p.reason}`)];
      if (exposition.badCells > 0) problems.push(`${exposition.badCells} cells of show stat are not numbers (exported as NaN)`);
      if (problems.length > 0) {
        metrics.parseErrors.inc(stat.problems.length + info.problems.length + exposition.badCells);
        log(`skipped what could not be parsed: ${problems.slice(0, 5).join("; ")}${problems.length > 5 ? `; and ${problems.length - 5} more` : ""}`);
      }
      this.snapshot = compressed;
      this.raw = { info: infoText, stat: statText };
      await this.options.observe?.(this.now(), stat.rows);
      metrics.pollSuccess.set(1);
      metrics.lastSuccess.set(this.now() / 1000);
      if (this.lastFailure !== undefined) log("HAProxy answers again: metrics are fresh");
      this.lastFailure = undefined;
      return true;
    } catch (error) {
      const code = error instanceof CodedError ? error.code : "UNEXPECTED";
      metrics.pollSuccess.set(0);
      metrics.pollFailures.inc({ code });
      if (code !== this.lastFailure) {
        log(`poll failed (${code}): ${(error as Error).message}${this.snapshot ? "; serving the last good snapshot, marked stale" : ""}`);
      }
      this.lastFailure = code;
      return false;
    } finally {
      metrics.pollDuration.set((performance.now() - started) / 1000);
    }
  }

  /** Polls now and then every interval; a slow poll delays the next instead of overlapping it. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = async () => {
      await this.pollOnce();
      if (this.running) this.timer = setTimeout(loop, this.options.intervalMs);
    };
    void loop();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }
}
