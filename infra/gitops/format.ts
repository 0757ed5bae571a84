// A plan for people and for programs: terminal text, a pull-request comment, JSON (the contract).
import type { Plan } from "./plan.ts";
import type { TopologyChange } from "./changes.ts";

export const PLAN_FORMATS = ["text", "markdown", "json"] as const;
export type PlanFormat = (typeof PLAN_FORMATS)[number];

/** The hidden marker a workflow looks for to update its one sticky comment instead of adding more. */
export const PLAN_COMMENT_MARKER = "<!-- gitops-haproxy-stack:plan -->";

const SYMBOLS = { add: "+", remove: "-", change: "~" } as const;

const show = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));

/** "~ backends.b.servers.web-a.weight: 1 → 3   (runtime: set server b/web-a weight 3)" */
export function changeLine(change: TopologyChange): string {
  const values = change.kind === "change" ? `: ${show(change.from)} → ${show(change.to)}` : "";
  return `${SYMBOLS[change.kind]} ${change.path}${values}   (${change.class}: ${change.detail})`;
}

export function formatPlan(plan: Plan, format: PlanFormat): string {
  if (format === "json") return `${JSON.stringify(plan, null, 2)}\n`;
  if (format === "markdown") return formatMarkdown(plan);
  return formatText(plan);
}

function formatText(plan: Plan): string {
  const lines = [plan.summary];
  if (plan.baseProblems) lines.push("", "The base topology is invalid, so every item shows as new:", ...plan.baseProblems.map((p) => `  ${p}`));
  if (plan.changes.length > 0) lines.push("", ...plan.changes.map(changeLine));
  for (const [name, diff] of Object.entries(plan.diffs)) lines.push("", `--- ${name} ---`, diff);
  return `${lines.join("\n")}\n`;
}

/** Backticks inside a code span or fence would end it early. */
const code = (text: string) => `\`${text.replaceAll("`", "'")}\``;

function formatMarkdown(plan: Plan): string {
  const lines = [PLAN_COMMENT_MARKER, `### ${plan.summary}`];
  if (plan.baseProblems) lines.push("", "> [!WARNING]", "> The base topology is invalid, so every item shows as new:", ...plan.baseProblems.map((p) => `> - ${code(p)}`));
  if (plan.changes.length > 0) {
    lines.push("", ...plan.changes.map((c) => `- ${code(`${SYMBOLS[c.kind]} ${c.path}${c.kind === "change" ? `: ${show(c.from)} → ${show(c.to)}` : ""}`)} **${c.class}**: ${c.detail.replaceAll("|", "\\|")}`));
  }
  for (const [name, diff] of Object.entries(plan.diffs)) {
    const fence = "`".repeat(Math.max(3, ...[...diff.matchAll(/`+/g)].map((m) => m[0].length + 1)));
    lines.push("", "<details>", `<summary>${name}</summary>`, "", `${fence}diff`, diff, fence, "", "</details>");
  }
  return `${lines.join("\n")}\n`;
}
