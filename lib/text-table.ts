// Plain-text tables for terminals: npm start's components, verify's verdicts, the bench's results.

export interface TableOptions {
  /** Columns (by index) aligned to the right, such as numbers. */
  alignRight?: readonly number[];
  /** Separator between columns. */
  gap?: string;
}

/** The first row is the header; a rule of dashes goes under it. Trailing spaces are trimmed. */
export function formatTable(rows: readonly (readonly string[])[], options: TableOptions = {}): string {
  const gap = options.gap ?? "  ";
  const columns = Math.max(0, ...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(0, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (row: readonly string[]) =>
    widths
      .map((w, i) => (options.alignRight?.includes(i) ? (row[i] ?? "").padStart(w) : (row[i] ?? "").padEnd(w)))
      .join(gap)
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join(gap.replace(/[^ ]/g, "+").replace(/ /g, "-"));
  const [header, ...body] = rows;
  return header === undefined ? "" : [line(header), rule, ...body.map(line)].join("\n");
}
