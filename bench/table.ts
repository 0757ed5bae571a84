// Bench results are rows of one table, printed at the end of npm run bench.
export interface BenchRow {
  group: string;
  case: string;
  value: string;
  note?: string;
}

export function formatTable(rows: BenchRow[]): string {
  const header: BenchRow = { group: "group", case: "case", value: "value", note: "note" };
  const all = [header, ...rows];
  const width = (key: keyof BenchRow) => Math.max(...all.map((r) => (r[key] ?? "").length));
  const widths = { group: width("group"), case: width("case"), value: width("value") };
  const line = (r: BenchRow) =>
    `${r.group.padEnd(widths.group)} | ${r.case.padEnd(widths.case)} | ${r.value.padStart(widths.value)} | ${r.note ?? ""}`.trimEnd();
  return [line(header), `${"-".repeat(widths.group)}-+-${"-".repeat(widths.case)}-+-${"-".repeat(widths.value)}-+------`, ...rows.map(line)].join("\n");
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
