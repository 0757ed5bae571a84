// A plan is data: what a topology change does to the load balancer, computed from the two resolved
// topologies alone. npm run plan prints it, the PR comment is made from it, apply carries it out
// (a saved plan, to the letter), the apply agent applies the same object.
import { TargetPlanError } from "../errors.ts";
import { createTwoFilesPatch } from "diff";
import type { Topology } from "../model/schema.ts";
import { renderPrometheusConfig } from "../render/prometheus.ts";
import { dockerTarget } from "../render/targets.ts";
import { componentActions, planConfig, TARGETS, type ComponentAction, type ComponentActionKind, type Target } from "./component-actions.ts";
import { diffTopologies, runtimeApiCommands, type ChangeClass, type TopologyChange, type TopologyEdit } from "./changes.ts";
import type { StackDiff } from "./terraform-diff.ts";
import { ISSUER_COMPONENT } from "../runtime/declaration.ts";
import { mapFiles } from "../render/routing.ts";
import { routingEffects, type RoutingEffect } from "./routing-effects.ts";
import { rolloutPreviews, type RolloutPreview } from "./rollout-policy.ts";

export interface Plan {
  /** One line, Terraform's way: "Plan: 2 runtime changes, 1 reload, 0 restarts." (the local stack, which npm run apply changes). */
  summary: string;
  /** One line per target: what happens to its components. */
  targetSummaries: Record<Target, string>;
  changes: TopologyChange[];
  /** What each component of each target does, with its reason and the paths behind it. */
  actions: ComponentAction[];
  /** What Terraform would do to each resource of the synthesized stacks (npm run plan synthesizes both sides). */
  stacks?: StackDiff[];
  /** Example requests whose outcome the change moves, per frontend whose routing changes. */
  routing?: RoutingEffect[];
  /** The canary rollouts the change brings or alters: carried out by npm run rollout, step by step, after apply. */
  rollouts?: RolloutPreview[];
  /** Generated file → its unified diff; only files that change (the route tables' map files among them). */
  diffs: Record<string, string>;
  /** The base did not validate: the plan shows everything as new, and says why. */
  baseProblems?: string[];
  /** What a reload of HAProxy forgets (the stick tables, without peers to hand them over): said where the plan reloads. */
  reloadForgets?: string[];
}

/**
 * The stick tables a reload starts empty: those both sides keep (a table the change adds starts empty
 * anyway), when neither side hands them to the next worker (peers).
 */
export function reloadForgets(base: Topology | undefined, head: Topology): string[] {
  if (!base || base.peers || head.peers) return [];
  const kept = (pick: (t: Topology) => string[]) => {
    const before = new Set(pick(base));
    return pick(head).filter((x) => before.has(x));
  };
  return [
    ...kept((t) => t.frontends.filter((f) => f.rateLimit).map((f) => `frontends.${f.name}.rateLimit: every client's request rate`)),
    ...kept((t) => t.frontends.flatMap((f) => f.rateLimits.map((l) => `frontends.${f.name}.rateLimits.${l.name}: every key's count`))),
    ...kept((t) => t.backends.filter((b) => b.stickOnSource).map((b) => `backends.${b.name}.stickOnSource: the server each client sticks to`)),
  ];
}

const SOURCE = "the topology";

/** Every generated file a reviewer reads as text, each rendered alike; the stacks' objects are shown as actions instead. */
export const GENERATED_FILES: { name: string; file: string; render: (topology: Topology) => string }[] = [
  { name: "haproxy.cfg (target docker)", file: "haproxy.cfg", render: (t) => planConfig(t, "docker") },
  { name: "haproxy.cfg (target local)", file: "haproxy.cfg", render: (t) => planConfig(t, "local") },
  { name: "prometheus.yml", file: "prometheus.yml", render: (t) => renderPrometheusConfig(t, dockerTarget(), { sidecar: true, source: SOURCE }) },
];

/** A config diff's changed lines with addresses and target-only lines left out: what is more than addresses. */
const changedBeyondAddresses = (diff: string) =>
  diff
    .split("\n")
    .filter((l) => /^[-+](?![-+]{2} )/.test(l) && !/stats socket|resolvers|nameserver|default-server init-addr|^[-+]# Generated/.test(l))
    .map((l) => l.replace(/(server \S+ |bind )[^\s:]+:/g, "$1*:"))
    .join("\n");

function unifiedDiff(name: string, before: string, after: string): string | undefined {
  if (before === after) return undefined;
  const patch = createTwoFilesPatch(`a/${name}`, `b/${name}`, before, after, undefined, undefined, { context: 3 });
  return patch.replace(/^=+\n/m, "").trimEnd();
}

/** Past this many changed lines a map file's diff is summed up: nobody reads 20,000 lines, and computing them costs seconds. */
const MAP_DIFF_LINES = 200;

/** A map file's diff: unified when it is short, else the counts and the first lines removed and added. */
function mapDiff(name: string, before: string, after: string): string | undefined {
  if (before === after) return undefined;
  const [old, now] = [new Set(before.split("\n").filter(Boolean)), new Set(after.split("\n").filter(Boolean))];
  const removed = [...old].filter((l) => !now.has(l));
  const added = [...now].filter((l) => !old.has(l));
  if (removed.length + added.length <= MAP_DIFF_LINES) return unifiedDiff(name, before, after);
  const sample = 10;
  return [`--- a/${name}`, `+++ b/${name}`, `@@ ${removed.length} lines removed, ${added.length} added (the first ${sample} of each) @@`, ...removed.slice(0, sample).map((l) => `-${l}`), ...added.slice(0, sample).map((l) => `+${l}`)].join("\n");
}

function renderOrEmpty(render: (t: Topology) => string, topology: Topology | undefined): string {
  if (!topology) return "";
  try {
    return render(topology);
  } catch {
    return ""; // an old base the current renderer cannot take: everything shows as new
  }
}

/** The file as a target renders it, or undefined when that target cannot run the topology (a unix socket server in a container). */
function renderForTarget(render: (t: Topology) => string, topology: Topology): string | undefined {
  try {
    return render(topology);
  } catch (error) {
    if (error instanceof TargetPlanError) return undefined;
    throw error;
  }
}

export interface PlanOptions {
  baseProblems?: string[];
  /** Only these generated files (by name); every one by default. */
  files?: readonly string[];
  /** What Terraform would do to the synthesized stacks, when the caller synthesized both sides. */
  stacks?: StackDiff[];
}

export function makePlan(base: Topology | undefined, head: Topology, options: PlanOptions = {}): Plan {
  const diffs: Record<string, string> = {};
  for (const file of GENERATED_FILES.filter((f) => !options.files || options.files.includes(f.name))) {
    const rendered = renderForTarget(file.render, head);
    if (rendered === undefined) continue; // the target cannot run this topology: its summary says why
    const diff = unifiedDiff(file.file, renderOrEmpty(file.render, base), rendered);
    if (diff !== undefined) diffs[file.name] = diff;
  }
  // The local config is shown only where it says more than the docker one: addresses and paths differ by design.
  const [docker, local] = [diffs["haproxy.cfg (target docker)"], diffs["haproxy.cfg (target local)"]];
  if (local !== undefined && docker !== undefined && changedBeyondAddresses(local) === changedBeyondAddresses(docker)) delete diffs["haproxy.cfg (target local)"];

  // The route tables' map files, which HAProxy reads beside the config.
  const maps = (t: Topology | undefined) => new Map((t ? mapFiles(t) : []).map((m) => [m.path, m.content]));
  const [mapsBefore, mapsAfter] = [maps(base), maps(head)];
  for (const path of new Set([...mapsBefore.keys(), ...mapsAfter.keys()])) {
    const diff = mapDiff(path, mapsBefore.get(path) ?? "", mapsAfter.get(path) ?? "");
    if (diff !== undefined) diffs[path] = diff;
  }

  const edits = diffTopologies(base, head);
  const routing = base ? routingEffects(base, head) : [];
  const rollouts = rolloutPreviews(base, head);
  const { actions, problems } = componentActions(base, head, edits);
  const actionsByPath = new Map<string, ComponentAction[]>();
  for (const action of actions) {
    for (const path of action.paths) {
      const mine = actionsByPath.get(path);
      if (mine) mine.push(action);
      else actionsByPath.set(path, [action]);
    }
  }
  const changes = edits.map((edit) => classify(edit, actionsByPath.get(edit.path) ?? []));
  const reloads = actions.some((a) => a.component === "haproxy" && a.action === "reload");
  const forgets = reloads ? reloadForgets(base, head) : [];
  return {
    summary: summarize(changes, actions),
    targetSummaries: Object.fromEntries(TARGETS.map((t) => [t, problems[t] ? `cannot run this topology: ${problems[t]}` : summarizeTarget(actions.filter((a) => a.target === t))])) as Record<Target, string>,
    changes,
    actions,
    ...(options.stacks ? { stacks: options.stacks } : {}),
    ...(routing.length ? { routing } : {}),
    ...(rollouts.length ? { rollouts } : {}),
    diffs,
    ...(options.baseProblems ? { baseProblems: options.baseProblems } : {}),
    ...(forgets.length ? { reloadForgets: forgets } : {}),
  };
}

/** "local: reload haproxy; docker: replace apply-agent": where a change shows, target by target. */
function effects(actions: readonly ComponentAction[]): string {
  return TARGETS.flatMap((target) => {
    const here = actions.filter((a) => a.target === target);
    return here.length ? [`${target}: ${here.map((a) => `${a.action} ${a.component}`).join(", ")}`] : [];
  }).join("; ");
}

/** What one edit takes on the local stack, from the component actions it is behind (`mine`). */
function classify(edit: TopologyEdit, mine: readonly ComponentAction[]): TopologyChange {
  const local = mine.filter((a) => a.target === "local");
  const haproxy = local.find((a) => a.component === "haproxy");
  // Said only where a change is not a runtime one: a table of thousands of entries makes as many runtime edits.
  const elsewhere = () => effects(mine);
  let result: { class: ChangeClass; detail: string };
  if (haproxy?.action === "runtime") {
    if (/\.routeTables\..+\.entries\b/.test(edit.path)) result = { class: "runtime", detail: "its table's map replaced whole through the runtime API (prepare, add, commit map), the map file written" };
    else {
      const commands = runtimeApiCommands(edit.path, edit.to, "docker");
      result = { class: "runtime", detail: `${commands?.length ? commands.join("; ") : "no command on the local stack"}${edit.to === undefined && edit.path.endsWith(".maxconn") ? " (0: no limit)" : ""}` };
    }
  } else if (haproxy) {
    result = { class: haproxy.action === "reload" ? "reload" : "restart", detail: `${haproxy.reason} (${elsewhere()})` };
  } else if (local.length && local.every((a) => a.component === ISSUER_COMPONENT && a.action !== "destroy")) {
    // The issuer (re)starts with the new settings, and its first pass installs what they ask for through the runtime API.
    result = { class: "runtime", detail: `the certificate issuer ${local[0]!.action === "create" ? "starts" : "restarts"} and obtains the certificate these settings ask for, installed with set ssl cert and commit ssl cert (no reload), the file written (${elsewhere()})` };
  } else if (local.length) {
    result = { class: "restart", detail: `${local.map((a) => `${a.component} ${a.action === "restart" ? "restarts" : a.action === "create" ? "starts" : "stops"}`).join(", ")} (${elsewhere()})` };
  } else {
    result = { class: "none", detail: mine.length ? `nothing the local stack runs reads it (${elsewhere()})` : "renders identically: nothing to apply" };
  }
  return { ...edit, ...result };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** The local stack's line, which npm run apply carries out: runtime changes, one reload, restarts (and starts and stops). */
export function summarize(changes: readonly TopologyChange[], actions: readonly ComponentAction[]): string {
  if (actions.length === 0) {
    return changes.length === 0 ? "No changes. The load balancer matches the topology." : `No changes to apply: ${plural(changes.length, "edit")} that render identically.`;
  }
  const local = actions.filter((a) => a.target === "local");
  if (local.length === 0) return `Plan: nothing changes on the local stack; ${plural(actions.length, "action")} on the other targets.`;
  const count = (kind: ComponentActionKind) => local.filter((a) => a.action === kind && a.component !== "haproxy").length;
  const haproxy = local.find((a) => a.component === "haproxy");
  const runtime = changes.filter((c) => c.class === "runtime").length;
  const reloads = haproxy?.action === "reload" ? `1 reload (${plural(changes.filter((c) => c.class === "reload").length, "change")})` : "0 reloads";
  const restarts = count("restart") + (haproxy?.action === "restart" ? 1 : 0);
  const startsStops = [count("create") && `${count("create")} started`, count("destroy") && `${count("destroy")} stopped`].filter(Boolean);
  return `Plan: ${plural(runtime, "runtime change")}, ${reloads}, ${plural(restarts, "restart")}${startsStops.length ? `, ${startsStops.join(", ")}` : ""}.`;
}

function summarizeTarget(actions: readonly ComponentAction[]): string {
  if (actions.length === 0) return "no changes";
  const kinds = [...new Set(actions.map((a) => a.action))];
  return kinds.map((k) => `${k} ${actions.filter((a) => a.action === k).map((a) => a.component).join(", ")}`).join("; ");
}

/** Whether applying the plan would touch anything, on any target. */
export const hasChanges = (plan: Plan) => plan.actions.length > 0 || (plan.stacks ?? []).some((s) => s.resources.length > 0);

/** The local stack's part of the plan: what npm run apply does. */
export const localActions = (plan: Plan) => plan.actions.filter((a) => a.target === "local");
