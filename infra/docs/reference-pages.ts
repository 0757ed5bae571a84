// The reference pages other than the topology's, each a pure function of what the code declares:
// the CLIs' usage, the error classes, the metrics the sidecar exports, the alert rules. npm run docs
// writes them and a test holds the files to them.
import { type MetricDef } from "../../sidecar/metric-def.ts";
import { type MetricDescription } from "../../sidecar/catalogue.ts";
import { ALERTS, RECORDING_RULES, runbookAnchor, type AlertDefinition } from "../render/alert-rules.ts";
import { anchor } from "./anchor.ts";
import { type ErrorDescription } from "./error-catalogue.ts";

const GENERATED = (source: string) => `<!-- Generated from ${source} by \`npm run docs\`; edit the source, not this page. -->`;
const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\n/g, "<br>");
const code = (text: string): string => `\`${text.replace(/`/g, "'")}\``;

export interface CliUsage {
  /** The npm script: "start", "plan"... */
  script: string;
  /** What the command prints for --help. */
  usage: string;
}

/** The npm command that runs a script, as a reader types it. */
export const npmCommand = (script: string): string => (["start", "stop", "test"].includes(script) ? `npm ${script}` : `npm run ${script}`);

export function cliPage(usages: readonly CliUsage[]): string {
  const lines = [
    "# Command reference",
    "",
    GENERATED("each command's --help"),
    "",
    "Every command the repository offers, as `--help` prints it. Each refuses a flag it does not take with",
    "`error USAGE: ...` and exit code 2, and reports a failure as `error CODE: message` (see [error codes](errors.md)).",
    "",
    usages.map((u) => `[${npmCommand(u.script)}](#${anchor(npmCommand(u.script))})`).join(" · "),
    "",
  ];
  for (const u of usages) lines.push(`## ${npmCommand(u.script)}`, "", "```text", u.usage.trimEnd(), "```", "");
  return lines.join("\n");
}

export function errorsPage(errors: readonly ErrorDescription[]): string {
  const lines = [
    "# Error codes",
    "",
    GENERATED("the error classes in lib/, haproxy/, sidecar/, verification/ and infra/"),
    "",
    "Every failure the stack reports on purpose prints `error CODE: message` and exits non-zero; scripts",
    "can rely on the code, people on the message, which says what is wrong and what to do. Anything",
    "else (`unexpected error:` with a stack trace) is a bug: please report it.",
    "",
    "In the messages below, `…` stands for a value the error fills in (a file, a field, a port).",
    "",
    "| Code | Meaning | Message |",
    "| --- | --- | --- |",
  ];
  for (const e of errors) {
    const message = /^[…\s:]*$/.test(e.message) ? "*(the cause, in full, as the command found it)*" : code(e.message.replace(/\n/g, " "));
    lines.push(`| <a id="${anchor(e.code)}"></a>${code(e.code)} | ${cell(e.meaning)} | ${cell(message)} |`);
  }
  lines.push("");
  return lines.join("\n");
}

/** The level of HAProxy's exporter a metric belongs to, and the labels its series carry. */
export interface ExporterMetricGroup {
  title: string;
  labels: string;
  metrics: readonly MetricDef[];
}

export function metricsPage(exporter: readonly ExporterMetricGroup[], own: readonly MetricDescription[], nodePrefix: string): string {
  const lines = [
    "# Metrics",
    "",
    GENERATED("sidecar/promex-table.ts and the sidecar's registry"),
    "",
    "The sidecar serves two kinds of series on its `/metrics`:",
    "",
    "- **HAProxy's**, named and labelled exactly as HAProxy 2.6's built-in Prometheus exporter names them, so",
    "  dashboards and alerts written for that exporter work unchanged. The source column says which `show info`",
    "  field or `show stat` column each comes from. Status metrics carry a `state` label (one series per state,",
    "  the current one 1), response counters a `code` label (`1xx` … `5xx`, `other`).",
    "- **Its own** (`haproxy_sidecar_*`): its polling, the end-to-end assertions, distribution and drift, applies,",
    "  the local stack's components, certificates and rollouts.",
    "",
  ];
  for (const group of exporter) {
    lines.push(`## ${group.title}`, "", `Labels: ${group.labels}.`, "", "| Metric | Type | Source | Help |", "| --- | --- | --- | --- |");
    for (const m of group.metrics) lines.push(`| ${code(m.name)} | ${m.type} | ${code(m.source)}${m.unit === "ms" ? " (ms → s)" : ""} | ${cell(m.help)}${m.httpOnly ? " (HTTP proxies only)" : ""} |`);
    lines.push("");
  }
  const [process_, sidecar] = [own.filter((m) => m.name.startsWith(nodePrefix) && isNodeProcessMetric(m.name, nodePrefix)), own.filter((m) => !isNodeProcessMetric(m.name, nodePrefix))];
  lines.push("## The sidecar's own metrics", "", "| Metric | Type | Labels | Help |", "| --- | --- | --- | --- |");
  for (const m of sidecar) lines.push(`| ${code(m.name)} | ${m.type} | ${m.labels.map(code).join(", ")} | ${cell(m.help)} |`);
  lines.push("", "## The sidecar's process", "", `The Node.js runtime's usual metrics, prefixed \`${nodePrefix}\`: ${process_.map((m) => code(m.name.slice(nodePrefix.length))).join(", ")}.`, "");
  return lines.join("\n");
}

const isNodeProcessMetric = (name: string, prefix: string): boolean => name.startsWith(`${prefix}nodejs_`) || name.startsWith(`${prefix}process_`);

export function alertsPage(): string {
  const alerts = Object.entries(ALERTS) as [string, AlertDefinition][];
  const lines = [
    "# Alerts and their runbooks",
    "",
    GENERATED("infra/render/alert-rules.ts"),
    "",
    "Every alert the stack's Prometheus evaluates, with what it means, how to confirm it and what to do. Each",
    "alert's `runbook_url` annotation links its section here (`services.prometheus.runbookUrl` in the topology",
    "says where this page is published). `promtool test rules` fires and quiets every one of them in the tests.",
    "",
    "| Alert | Severity | For |",
    "| --- | --- | --- |",
    ...alerts.map(([name, a]) => `| [${name}](#${runbookAnchor(name)}) | ${a.severity} | ${a.for} |`),
    "",
  ];
  for (const [name, a] of alerts) {
    lines.push(
      `## ${name}`,
      "",
      `**${a.severity}**, after ${a.for === "0s" ? "the first evaluation that finds it" : `holding for ${a.for}`}. ${a.summary.replace(/\{\{[^}]*\}\}/g, "…")}.`,
      "",
      "```promql",
      a.expr,
      "```",
      "",
      `**What it means.** ${a.description.replace(/\{\{[^}]*\}\}/g, "…")}`,
      "",
      `**How to confirm.** ${a.confirm}`,
      "",
      `**What to do.** ${a.runbook}`,
      "",
    );
  }
  lines.push("## Recording rules", "", "Series recorded once, which the alerts and the dashboard read.", "", "| Series | Expression |", "| --- | --- |");
  for (const [series, expr] of Object.entries(RECORDING_RULES)) lines.push(`| ${code(series)} | ${code(expr)} |`);
  lines.push("");
  return lines.join("\n");
}
