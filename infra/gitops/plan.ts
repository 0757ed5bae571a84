// A plan is data: what a topology change does to the load balancer, computed from the two resolved
// topologies alone. npm run plan prints it, the PR comment is made from it, apply executes it.
import { createHash } from "node:crypto";
import { createTwoFilesPatch } from "diff";
import type { Topology } from "../model/schema.ts";
import { renderHaproxyConfig } from "../render/render.ts";
import { renderPrometheusConfig } from "../render/prometheus.ts";
import { dockerTarget, localTarget } from "../render/targets.ts";
import { planDockerStack } from "../docker/plan.ts";
import { planKubernetesStack } from "../kubernetes/plan.ts";
import { diffTopologies, type ChangeClass, type TopologyChange } from "./changes.ts";

export interface Plan {
  /** One line, Terraform's way: "Plan: 2 runtime changes, 1 reload, 0 restarts." */
  summary: string;
  changes: TopologyChange[];
  /** Generated file → its unified diff; only files that change. */
  diffs: Record<string, string>;
  /** The base did not validate: the plan shows everything as new, and says why. */
  baseProblems?: string[];
}

/** A run directory that stands for every machine's, so that the local diff shows no machine path. */
const PLAN_RUN_DIR = "/run/lb";
const SOURCE = "the topology";

/** Every file generated from the topology that a reviewer should see change, each rendered alike. */
export const GENERATED_FILES: { name: string; file: string; render: (topology: Topology) => string }[] = [
  { name: "haproxy.cfg (target docker)", file: "haproxy.cfg", render: (t) => renderHaproxyConfig(t, dockerTarget(), { source: SOURCE }) },
  { name: "haproxy.cfg (target local)", file: "haproxy.cfg", render: (t) => renderHaproxyConfig(t, localTarget(PLAN_RUN_DIR), { source: SOURCE }) },
  { name: "prometheus.yml", file: "prometheus.yml", render: (t) => renderPrometheusConfig(t, dockerTarget(), { sidecar: true, source: SOURCE }) },
  { name: "docker stack containers (CDKTF)", file: "containers.json", render: (t) => `${JSON.stringify(dockerContainers(t), null, 2)}\n` },
  { name: "kubernetes stack objects (CDKTF)", file: "kubernetes.json", render: (t) => `${JSON.stringify(kubernetesObjects(t), null, 2)}\n` },
];

/**
 * The Kubernetes stack's objects, a ConfigMap's files as content hashes (their text has its own
 * diff): a changed config shows as the HAProxy pods' config-hash annotation, i.e. a rollout.
 */
function kubernetesObjects(topology: Topology) {
  const digest = (text: string) => `sha256 ${createHash("sha256").update(text).digest("hex").slice(0, 12)}`;
  return planKubernetesStack(topology, { source: SOURCE }).objects.map(({ id, object }) =>
    object.kind === "ConfigMap" ? { id, ...object, data: Object.fromEntries(Object.entries(object.data ?? {}).map(([key, text]) => [key, digest(text)])) } : { id, ...object },
  );
}

/**
 * What the CDKTF stack declares per container, uploads as their paths and content hashes (their text
 * has its own diff): a changed hash is a container Terraform replaces.
 */
function dockerContainers(topology: Topology) {
  return planDockerStack(topology, { source: SOURCE }).containers.map(({ name, uploads, image, ...container }) => ({
    name,
    image: image.name,
    ...container,
    uploads: uploads.map((u) => `${u.path} (sha256 ${createHash("sha256").update(u.content).digest("hex").slice(0, 12)})`),
  }));
}

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

function renderOrEmpty(render: (t: Topology) => string, topology: Topology | undefined): string {
  if (!topology) return "";
  try {
    return render(topology);
  } catch {
    return ""; // an old base the current renderer cannot take: everything shows as new
  }
}

export interface PlanOptions {
  baseProblems?: string[];
  /** Only these generated files (by name); every one by default. */
  files?: readonly string[];
}

export function makePlan(base: Topology | undefined, head: Topology, options: PlanOptions = {}): Plan {
  const diffs: Record<string, string> = {};
  for (const file of GENERATED_FILES.filter((f) => !options.files || options.files.includes(f.name))) {
    const diff = unifiedDiff(file.file, renderOrEmpty(file.render, base), file.render(head));
    if (diff !== undefined) diffs[file.name] = diff;
  }
  // The local config is shown only where it says more than the docker one: addresses and paths differ by design.
  const [docker, local] = [diffs["haproxy.cfg (target docker)"], diffs["haproxy.cfg (target local)"]];
  if (local !== undefined && docker !== undefined && changedBeyondAddresses(local) === changedBeyondAddresses(docker)) delete diffs["haproxy.cfg (target local)"];

  let changes = diffTopologies(base, head);
  // Nothing any component reads changed: a change that renders identically is no change to apply.
  if (Object.keys(diffs).length === 0) changes = changes.map((c) => ({ ...c, class: "none", detail: "renders identically: nothing to apply" }));
  return { summary: summarize(changes), changes, diffs, ...(options.baseProblems ? { baseProblems: options.baseProblems } : {}) };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export function summarize(changes: readonly TopologyChange[]): string {
  const count = (c: ChangeClass) => changes.filter((x) => x.class === c).length;
  if (changes.every((c) => c.class === "none")) {
    return changes.length === 0 ? "No changes. The load balancer matches the topology." : `No changes to apply: ${plural(changes.length, "edit")} that render identically.`;
  }
  // One reload applies every reload-class change; restarts are counted per change.
  return `Plan: ${plural(count("runtime"), "runtime change")}, ${count("reload") > 0 ? `1 reload (${plural(count("reload"), "change")})` : "0 reloads"}, ${plural(count("restart"), "restart")}.`;
}

/** Whether applying the plan would touch anything. */
export const hasChanges = (plan: Plan) => plan.changes.some((c) => c.class !== "none");
