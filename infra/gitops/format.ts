// A plan for people and for programs: terminal text, a pull-request comment, JSON (the contract).
import { hasChanges, type Plan } from "./plan.ts";
import { TARGETS, type ComponentAction } from "./component-actions.ts";
import type { ResourceAction } from "./terraform-diff.ts";
import type { TopologyChange } from "./changes.ts";
import type { RoutingEffect } from "./routing-effects.ts";
import { rolloutPreviewLine } from "./rollout-policy.ts";

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

/** One line per target, then one per synthesized stack: the first thing a reviewer reads. */
function targetLines(plan: Plan): string[] {
  return [
    ...TARGETS.map((t) => `  ${t.padEnd(11)} ${plan.targetSummaries[t]}`),
    ...(plan.stacks ?? []).map((s) => `  ${`${s.stack}:`.padEnd(11)} ${s.summary} (cdktf deploy)`),
  ];
}

const routingLine = (e: RoutingEffect) => `${e.frontend}: ${e.request}: ${e.before} → ${e.after}`;
const actionLine = (a: ComponentAction) => `${a.target}/${a.component}: ${a.action}, ${a.reason}${a.paths.length ? ` (${a.paths.join(", ")})` : ""}`;
const RESOURCE_SYMBOLS = { create: "+", update: "~", replace: "-/+", destroy: "-" } as const;
const resourceLine = (r: ResourceAction) => `${RESOURCE_SYMBOLS[r.action]} ${r.address}: ${r.action}, ${r.reason}`;

function formatText(plan: Plan): string {
  const lines = [plan.summary, ...(hasChanges(plan) ? targetLines(plan) : [])];
  if (plan.baseProblems) lines.push("", "The base topology is invalid, so every item shows as new:", ...plan.baseProblems.map((p) => `  ${p}`));
  if (plan.changes.length > 0) lines.push("", ...plan.changes.map(changeLine));
  if (plan.reloadForgets?.length) lines.push("", `${RELOAD_FORGETS}:`, ...plan.reloadForgets.map((f) => `  ${f}`));
  if (plan.routing?.length) lines.push("", "requests whose outcome changes:", ...plan.routing.map((e) => `  ${routingLine(e)}`));
  if (plan.rollouts?.length) lines.push("", "canary rollouts (after apply):", ...plan.rollouts.map((r) => `  ${rolloutPreviewLine(r)}`));
  if (plan.actions.length > 0) lines.push("", "actions:", ...plan.actions.map((a) => `  ${actionLine(a)}`));
  for (const stack of plan.stacks ?? []) if (stack.resources.length) lines.push("", `terraform, stack ${stack.stack}:`, ...stack.resources.map((r) => `  ${resourceLine(r)}`));
  for (const [name, diff] of Object.entries(plan.diffs)) lines.push("", `--- ${name} ---`, diff);
  return `${lines.join("\n")}\n`;
}

/** What the plan says above the stick tables a reload forgets. */
const RELOAD_FORGETS = "the reload starts these stick tables empty (no peers hand them to the new worker: set topology.peers to keep them)";

const cell = (text: string) => text.replaceAll("|", "\\|");

/** Backticks inside a code span or fence would end it early. */
const code = (text: string) => `\`${text.replaceAll("`", "'")}\``;

function formatMarkdown(plan: Plan): string {
  const lines = [PLAN_COMMENT_MARKER, `### ${plan.summary}`];
  if (plan.baseProblems) lines.push("", "> [!WARNING]", "> The base topology is invalid, so every item shows as new:", ...plan.baseProblems.map((p) => `> - ${code(p)}`));
  if (hasChanges(plan)) lines.push("", "| target | what happens |", "| --- | --- |", ...TARGETS.map((t) => `| ${t} | ${cell(plan.targetSummaries[t])} |`), ...(plan.stacks ?? []).map((s) => `| ${s.stack} (cdktf deploy) | ${cell(s.summary)} |`));
  if (plan.changes.length > 0) {
    lines.push("", ...plan.changes.map((c) => `- ${code(`${SYMBOLS[c.kind]} ${c.path}${c.kind === "change" ? `: ${show(c.from)} → ${show(c.to)}` : ""}`)} **${c.class}**: ${c.detail.replaceAll("|", "\\|")}`));
  }
  if (plan.reloadForgets?.length) lines.push("", "> [!CAUTION]", `> ${RELOAD_FORGETS}:`, ...plan.reloadForgets.map((f) => `> - ${code(f)}`));
  if (plan.routing?.length) lines.push("", "**Requests whose outcome changes**", "", ...plan.routing.map((e) => `- ${code(routingLine(e))}`));
  if (plan.rollouts?.length) lines.push("", "**Canary rollouts** (after apply)", "", ...plan.rollouts.map((r) => `- ${rolloutPreviewLine(r)}`));
  if (plan.actions.length > 0) lines.push("", "<details>", "<summary>actions, per target and component</summary>", "", ...plan.actions.map((a) => `- ${cell(actionLine(a))}`), "", "</details>");
  for (const stack of plan.stacks ?? []) {
    if (stack.resources.length) lines.push("", "<details>", `<summary>terraform, stack ${stack.stack}: ${stack.summary}</summary>`, "", ...stack.resources.map((r) => `- ${code(resourceLine(r))}`), "", "</details>");
  }
  for (const [name, diff] of Object.entries(plan.diffs)) {
    const fence = "`".repeat(Math.max(3, ...[...diff.matchAll(/`+/g)].map((m) => m[0].length + 1)));
    lines.push("", "<details>", `<summary>${name}</summary>`, "", `${fence}diff`, diff, fence, "", "</details>");
  }
  return `${lines.join("\n")}\n`;
}
