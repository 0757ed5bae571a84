// What `cdktf deploy` (Terraform) would do to each resource of a synthesized stack, found by comparing
// the two cdk.tf.json files: create, update in place, replace (an attribute the provider cannot
// change in place), destroy. A replaced resource's computed attributes (a rebuilt image's image_id)
// are unknown until it exists again, so what refers to them changes too, as Terraform plans it.
import { CodedError } from "../../lib/errors.ts";

export type ResourceActionKind = "create" | "update" | "replace" | "destroy";

export interface ResourceAction {
  /** Terraform's address: "docker_container.container-apply-agent". */
  address: string;
  action: ResourceActionKind;
  /** Why, naming the attributes. */
  reason: string;
  attributes: string[];
}

export interface StackDiff {
  /** The stack's name in cdktf.out/stacks. */
  stack: string;
  /** Terraform's own words: "Plan: 0 to add, 1 to change, 1 to replace, 0 to destroy." */
  summary: string;
  resources: ResourceAction[];
}

/**
 * Per resource type: the top-level attributes the provider changes in place; every other one forces
 * a replacement. Read from the providers' schemas (kreuzwerker/docker 3.6: attributes without
 * ForceNew; hashicorp/kubernetes: everything but metadata.name and metadata.namespace, a Secret's
 * type, a Service's cluster IPs, load balancer class and health-check node port, a Deployment's
 * selector (each read in the provider's source), and a disruption budget's selector (from its
 * documentation).
 * A type missing here is refused, so that an attribute's meaning is never guessed.
 */
interface TypeRule {
  inPlace: readonly string[] | "all";
  /** Nested paths that force a replacement where inPlace is "all". */
  forceNew?: readonly string[];
}

const META_FORCE_NEW = ["metadata.name", "metadata.namespace"] as const;

export const RESOURCE_RULES: Record<string, TypeRule> = {
  docker_container: { inPlace: ["must_run", "restart", "max_retry_count", "tmpfs", "wait", "wait_timeout", "healthcheck", "memory", "memory_swap", "cpu_shares", "cpu_set", "destroy_grace_seconds", "rm", "start", "attach", "logs", "remove_volumes", "depends_on", "//"] },
  docker_image: { inPlace: ["keep_locally", "depends_on", "//"] },
  docker_network: { inPlace: ["depends_on", "//"] },
  docker_volume: { inPlace: ["depends_on", "//"] },
  kubernetes_namespace_v1: { inPlace: "all", forceNew: META_FORCE_NEW },
  kubernetes_config_map_v1: { inPlace: "all", forceNew: META_FORCE_NEW },
  kubernetes_secret_v1: { inPlace: "all", forceNew: [...META_FORCE_NEW, "type"] },
  kubernetes_service_v1: { inPlace: "all", forceNew: [...META_FORCE_NEW, "spec.cluster_ip", "spec.cluster_ips", "spec.load_balancer_class", "spec.health_check_node_port"] },
  kubernetes_deployment_v1: { inPlace: "all", forceNew: [...META_FORCE_NEW, "spec.selector"] },
  kubernetes_pod_disruption_budget_v1: { inPlace: "all", forceNew: [...META_FORCE_NEW, "spec.selector"] },
  kubernetes_horizontal_pod_autoscaler_v2: { inPlace: "all", forceNew: META_FORCE_NEW },
};

/** Computed attributes a replaced resource gets anew: a reference to them is unknown at plan time. */
const COMPUTED = /\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.(id|image_id|uid|resource_version)\}/g;

type Resources = Record<string, Record<string, Record<string, unknown>>>;
export interface SynthesizedStack {
  resource?: Resources;
}

const json = (v: unknown) => JSON.stringify(v ?? null);

/** The paths (dotted, lists of one block unwrapped) at which two values differ. */
function differingPaths(a: unknown, b: unknown, at: string, out: string[]): void {
  const unwrap = (v: unknown) => (Array.isArray(v) && v.length === 1 && v[0] !== null && typeof v[0] === "object" ? v[0] : v);
  const [x, y] = [unwrap(a), unwrap(b)];
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObj(x) && isObj(y)) {
    for (const key of new Set([...Object.keys(x), ...Object.keys(y)])) differingPaths(x[key], y[key], at ? `${at}.${key}` : key, out);
    return;
  }
  if (json(x) !== json(y)) out.push(at);
}

function forcesReplacement(rule: TypeRule, path: string): boolean {
  if (rule.inPlace === "all") return (rule.forceNew ?? []).some((p) => path === p || path.startsWith(`${p}.`));
  return !rule.inPlace.includes(path.split(".")[0]!);
}

/** A synthesized resource type the plan has no replace rules for: its Terraform action cannot be predicted, so the plan refuses to guess. */
export class UnknownResourceTypeError extends CodedError {
  readonly code = "PLAN_RESOURCE_TYPE_UNKNOWN";
  constructor(type: string) {
    super(`the synthesized stack has a resource of type ${type}, which the plan does not know how Terraform changes: add it to RESOURCE_RULES with the provider's schema`);
  }
}

/** What Terraform would do to each resource going from `base` to `head` (either may be empty). */
export function diffStacks(stack: string, base: SynthesizedStack | undefined, head: SynthesizedStack): StackDiff {
  const flatten = (s: SynthesizedStack | undefined) =>
    new Map(Object.entries(s?.resource ?? {}).flatMap(([type, byName]) => Object.entries(byName).map(([name, body]) => [`${type}.${name}`, body] as const)));
  const [before, after] = [flatten(base), flatten(head)];
  for (const address of [...before.keys(), ...after.keys()]) {
    const type = address.split(".")[0]!;
    if (!RESOURCE_RULES[type]) throw new UnknownResourceTypeError(type);
  }
  const actions = new Map<string, ResourceAction>();
  for (const [address, body] of after) {
    const old = before.get(address);
    if (!old) {
      actions.set(address, { address, action: "create", reason: "new in the stack", attributes: [] });
      continue;
    }
    const paths: string[] = [];
    // depends_on only orders creation, and "//" is cdktf's metadata: Terraform plans no change for either.
    const [{ depends_on: _a, "//": _b, ...was }, { depends_on: _c, "//": _d, ...is }] = [old, body];
    differingPaths(was, is, "", paths);
    if (paths.length === 0) continue;
    const rule = RESOURCE_RULES[address.split(".")[0]!]!;
    const forcing = paths.filter((p) => forcesReplacement(rule, p));
    actions.set(address, forcing.length
      ? { address, action: "replace", reason: `${forcing.join(", ")} cannot change in place`, attributes: paths }
      : { address, action: "update", reason: `${paths.join(", ")} changed in place`, attributes: paths });
  }
  for (const address of before.keys()) if (!after.has(address)) actions.set(address, { address, action: "destroy", reason: "no longer in the stack", attributes: [] });

  // A replaced (or new) resource's computed attributes are unknown until it exists: what refers to them changes with it.
  for (let changed = true; changed; ) {
    changed = false;
    for (const [address, body] of after) {
      const current = actions.get(address);
      if (current?.action === "replace" || current?.action === "create") continue;
      const text = json(body);
      for (const [, type, name, attribute] of text.matchAll(COMPUTED)) {
        const referred = actions.get(`${type}.${name}`);
        if (referred?.action !== "replace") continue;
        const paths: string[] = [];
        findReference(body, `\${${type}.${name}.${attribute}}`, "", paths);
        const rule = RESOURCE_RULES[address.split(".")[0]!]!;
        const replace = paths.some((p) => forcesReplacement(rule, p));
        actions.set(address, { address, action: replace ? "replace" : "update", reason: `${paths.join(", ")} refers to ${type}.${name}.${attribute}, which is new once ${type}.${name} is replaced`, attributes: paths });
        changed = true;
        break;
      }
    }
  }
  const resources = [...actions.values()].sort((a, b) => a.address.localeCompare(b.address));
  const count = (kind: ResourceActionKind) => resources.filter((r) => r.action === kind).length;
  return { stack, summary: `Plan: ${count("create")} to add, ${count("update")} to change, ${count("replace")} to replace, ${count("destroy")} to destroy.`, resources };
}

function findReference(value: unknown, reference: string, at: string, out: string[]): void {
  if (typeof value === "string") {
    if (value.includes(reference)) out.push(at);
  } else if (Array.isArray(value)) {
    value.forEach((v) => findReference(v, reference, at, out));
  } else if (value !== null && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) findReference(v, reference, at ? `${at}.${key}` : key, out);
  }
}
