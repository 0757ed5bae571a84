// The distribution check's I/O edge: re-reads the expected-distribution file when it changes (an
// apply rewrites it), keeps the window of polls, and holds the latest judgement for /metrics.
import { stat, readFile } from "node:fs/promises";
import type { StatRow } from "../haproxy/show-stat.ts";
import {
  findDrift,
  judgeDistribution,
  primaryCounts,
  parseExpectedDistribution,
  SampleWindow,
  serverSamples,
  type DistributionJudgement,
  type DriftItem,
  type ExpectedDistribution,
  type PrimaryCount,
} from "./distribution.ts";

export interface DistributionState {
  judgement?: DistributionJudgement;
  drift: DriftItem[];
  primaries: PrimaryCount[];
}

export class DistributionCheck {
  private readonly window: SampleWindow;
  private expected: ExpectedDistribution | undefined;
  /** mtime and size of the file last read, so an unchanged file is not parsed at every poll. */
  private seen = "";
  private lastProblem: string | undefined;
  private state: DistributionState = { drift: [], primaries: [] };

  constructor(private readonly options: { expectedFile: string; windowMs: number; log: (line: string) => void }) {
    this.window = new SampleWindow(options.windowMs);
  }

  latest(): DistributionState {
    return this.state;
  }

  /** Called with every successful poll's rows. Never throws: a bad file is logged once and judged as absent. */
  async observe(atMs: number, rows: readonly StatRow[]): Promise<void> {
    await this.reloadExpected();
    const samples = serverSamples(rows);
    this.window.add(atMs, samples);
    const span = this.window.span();
    if (!this.expected) {
      this.state = { drift: [], primaries: [] };
      return;
    }
    this.state = {
      judgement: span && judgeDistribution(span.oldest, span.newest, this.expected),
      drift: findDrift(samples, this.expected),
      primaries: primaryCounts(samples, this.expected),
    };
  }

  private async reloadExpected(): Promise<void> {
    const { expectedFile, log } = this.options;
    try {
      const info = await stat(expectedFile);
      const seen = `${info.mtimeMs}:${info.size}`;
      if (seen === this.seen) return;
      this.expected = parseExpectedDistribution(await readFile(expectedFile, "utf8"), expectedFile);
      this.seen = seen;
      if (this.lastProblem !== undefined) log(`read ${expectedFile} again: the distribution check resumes`);
      this.lastProblem = undefined;
    } catch (error) {
      const problem = (error as NodeJS.ErrnoException).code === "ENOENT" ? `${expectedFile} does not exist (yet)` : (error as Error).message;
      if (problem !== this.lastProblem) log(`distribution check paused: ${problem}`);
      this.lastProblem = problem;
      this.expected = undefined;
      this.seen = "";
    }
  }
}
