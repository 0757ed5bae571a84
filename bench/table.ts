// Bench results are rows of one table, printed at the end of npm run bench.
import { formatTable } from "../lib/text-table.ts";
export interface BenchRow {
  group: string;
  case: string;
  value: string;
  note?: string;
}

/** The bench's one table: values right-aligned, a note for what each number means. */
export function formatBenchTable(rows: BenchRow[]): string {
  return formatTable([["group", "case", "value", "note"], ...rows.map((r) => [r.group, r.case, r.value, r.note ?? ""])], { alignRight: [2], gap: " | " });
}

/** The middle value (the upper one of the two middles for an even count). */
export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Median of `runs` timings of `fn`, in milliseconds. */
export async function medianMs(runs: number, fn: () => unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return median(times);
}

export const ms = (n: number) => `${n < 10 ? n.toFixed(2) : n.toFixed(0)} ms`;
