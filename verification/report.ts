// Verdicts for people: a terminal table, and an HTML page whose chart (inline SVG, no scripts, no
// network) shows requests per second per server over time with the DOWN/UP moments marked.
import { allPassed, failedRequest, type AssertionResult, type TrafficSample, type Verdict } from "./judge.ts";
import type { TimelineEvent } from "./run.ts";

const VERDICT_LABELS: Record<Verdict, string> = { pass: "PASS", fail: "FAIL", skip: "SKIP" };

/** One record per assertion on two lines: what was expected, then (→) what was measured. */
export function renderTable(results: AssertionResult[]): string {
  const rows = [["assertion", "verdict", "expected", "measured"], ...results.map((r) => [r.assertion, VERDICT_LABELS[r.verdict], r.expected, r.measured])];
  const widths = [0, 1].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `${r[0]!.padEnd(widths[0]!)}  ${r[1]!.padEnd(widths[1]!)}  ${r[2]}\n${" ".repeat(widths[0]! + widths[1]! + 4)}${r === rows[0] ? r[3] : `→ ${r[3]}`}`;
  return rows.map(line).join("\n");
}

export interface Series {
  name: string;
  color: string;
  /** Requests per second, one value per bucket. */
  values: number[];
}

/** Colors of the chart's series, in order; failed requests are always red. */
export const SERIES_COLORS = ["#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];
export const FAILED_COLOR = "#d62728";
const BUCKET_MS = 250;

/** Samples → one series per server (sorted by name) plus one of failed requests. */
export function seriesOf(samples: readonly TrafficSample[]): { series: Series[]; bucketMs: number } {
  const end = Math.max(0, ...samples.map((s) => s.t));
  // Only whole buckets: a partial last one would show a drop that did not happen.
  const buckets = Math.max(1, Math.floor(end / BUCKET_MS));
  const servers = [...new Set(samples.filter((s) => s.server && !s.error && (s.status ?? 0) < 500).map((s) => s.server!))].sort();
  const perSecond = (keep: (s: TrafficSample) => boolean) => {
    const values = new Array<number>(buckets).fill(0);
    for (const s of samples) {
      const bucket = Math.floor(s.t / BUCKET_MS);
      if (bucket < buckets && keep(s)) values[bucket]! += 1000 / BUCKET_MS;
    }
    return values;
  };
  return {
    bucketMs: BUCKET_MS,
    series: [
      ...servers.map((name, i) => ({ name, color: SERIES_COLORS[i % SERIES_COLORS.length]!, values: perSecond((s) => s.server === name && !failedRequest(s)) })),
      { name: "failed", color: FAILED_COLOR, values: perSecond(failedRequest) },
    ],
  };
}

const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

export function renderChartSvg(samples: readonly TrafficSample[], events: readonly TimelineEvent[]): string {
  const { series, bucketMs } = seriesOf(samples);
  const [width, height, left, bottom, top, right] = [900, 360, 60, 40, 20, 20];
  const buckets = series[0]?.values.length ?? 1;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (bucket: number) => left + (bucket / Math.max(1, buckets - 1)) * (width - left - right);
  const xAt = (ms: number) => x(ms / bucketMs);
  const y = (value: number) => height - bottom - (value / max) * (height - bottom - top);
  const lines = series.map(
    (s) => `<path class="series" data-series="${escapeHtml(s.name)}" fill="none" stroke="${s.color}" stroke-width="2.5" d="${s.values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join("")}"/>`,
  );
  const ticks = Array.from({ length: 5 }, (_, i) => (max * i) / 4);
  const seconds = Math.ceil((buckets * bucketMs) / 1000);
  const markers = events.map(
    (e, i) => `<g class="event"><line x1="${xAt(e.t).toFixed(1)}" x2="${xAt(e.t).toFixed(1)}" y1="${top}" y2="${height - bottom}" stroke="#333" stroke-dasharray="4 3"/><text x="${(xAt(e.t) + 4).toFixed(1)}" y="${top + 14 + (i % 4) * 14}" font-size="12">${escapeHtml(e.label)}</text></g>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="requests per second per server">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...ticks.map((v) => `<g><line x1="${left}" x2="${width - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/><text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" font-size="11" text-anchor="end">${Math.round(v)}</text></g>`),
    ...Array.from({ length: seconds + 1 }, (_, s) => (s % Math.max(1, Math.ceil(seconds / 12)) === 0 ? `<text x="${xAt(s * 1000).toFixed(1)}" y="${height - bottom + 16}" font-size="11" text-anchor="middle">${s}s</text>` : "")),
    `<text x="${left}" y="${height - 6}" font-size="12">time since the traffic started</text>`,
    `<text x="14" y="${top + (height - top - bottom) / 2}" font-size="12" transform="rotate(-90 14 ${top + (height - top - bottom) / 2})" text-anchor="middle">requests / s</text>`,
    ...lines,
    ...markers,
    `</svg>`,
  ].join("\n");
}

export interface ReportInput {
  topology: string;
  generatedAt: string;
  results: AssertionResult[];
  samples: readonly TrafficSample[];
  events: readonly TimelineEvent[];
}

export function renderHtmlReport(input: ReportInput): string {
  const passed = allPassed(input.results);
  const { series } = seriesOf(input.samples);
  const rows = input.results
    .map((r) => `<tr class="${r.verdict}"><td>${r.assertion}</td><td>${VERDICT_LABELS[r.verdict]}</td><td>${escapeHtml(r.expected)}</td><td>${escapeHtml(r.measured)}</td></tr>`)
    .join("\n");
  const chart = input.samples.length
    ? `<h2>Requests per second per server, during failover and recovery</h2>
<div class="legend">${series.map((s) => `<span><i style="background:${s.color}"></i>${escapeHtml(s.name)}</span>`).join(" ")}</div>
<div id="chart">${renderChartSvg(input.samples, input.events)}</div>`
    : "<p>No failover or recovery traffic in this run (run it with failover or recovery for the chart).</p>";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>verify: ${escapeHtml(input.topology)} — ${passed ? "PASS" : "FAIL"}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 2em; }
td, th { border: 1px solid #ccc; padding: 6px 10px; text-align: left; vertical-align: top; }
tr.pass td:nth-child(2) { background: #d4f4d4; } tr.fail td:nth-child(2) { background: #f8d0d0; } tr.skip td:nth-child(2) { background: #eee; }
.legend span { margin-right: 1.5em; } .legend i { display: inline-block; width: 14px; height: 14px; margin-right: 6px; vertical-align: -2px; }
</style></head>
<body>
<h1>${passed ? "PASS" : "FAIL"}: end-to-end assertions for topology “${escapeHtml(input.topology)}”</h1>
<p>Generated ${escapeHtml(input.generatedAt)} by <code>npm run verify</code>.</p>
<table><thead><tr><th>assertion</th><th>verdict</th><th>expected</th><th>measured</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${chart}
</body></html>
`;
}
