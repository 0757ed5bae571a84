// What a topology change does to each component of each target, derived from what runs rather than
// from a table of paths: each target's description of what it runs (the local stack's processes,
// the Docker stack's containers, the Kubernetes stack's objects) is computed for both topologies and
// compared, component by component. The topology paths behind an action are found the same way:
// each edited part of the topology is applied to the base alone, and what it changes is its doing.
import type { Topology } from "../model/schema.ts";
import { renderHaproxyConfig } from "../render/render.ts";
import { mapFiles } from "../render/routing.ts";
import { dockerTarget, localTarget } from "../render/targets.ts";
import { declareLocalStack } from "../runtime/declaration.ts";
import { declareDockerStack } from "../docker/declaration.ts";
import { HAPROXY_CONFIG_MAP, declareKubernetesStack, followedConfigKeys } from "../kubernetes/declaration.ts";
import { withRuntimeChanges, type TopologyEdit } from "./changes.ts";

export const TARGETS = ["local", "docker", "kubernetes"] as const;
export type Target = (typeof TARGETS)[number];

/**
 * none; runtime: HAProxy's runtime API, no reload; reload: a new haproxy.cfg and a hitless reload;
 * restart: the process starts again with its new settings (local); update: changed in place;
 * replace: destroyed and created again (a container, or Kubernetes pods rolled one by one);
 * create, destroy.
 */
export const COMPONENT_ACTIONS = ["none", "runtime", "reload", "restart", "update", "replace", "create", "destroy"] as const;
export type ComponentActionKind = (typeof COMPONENT_ACTIONS)[number];

export interface ComponentAction {
  target: Target;
  /** The process (local), container (docker) or object (kubernetes) name. */
  component: string;
  action: Exclude<ComponentActionKind, "none">;
  reason: string;
  /** The topology paths whose edit causes it. */
  paths: string[];
}

/** A run directory that stands for every machine's. */
const PLAN_RUN_DIR = "/run/lb";
const SOURCE = "the topology";
/** Webhook URLs are secrets from the environment: a plan compares where they come from, never their values. */
const PLACEHOLDER_ENV: NodeJS.ProcessEnv = new Proxy({}, { get: (_t, name) => (typeof name === "string" ? `https://from-environment.invalid/${name}` : undefined) });

/** One component as a target describes it: what is compared, and, for HAProxy, its config apart. */
interface Described {
  spec: string;
  /** What the target changes in place (a container's health check). */
  inPlace?: string;
  /** HAProxy's configuration and its map files: a change of them alone is a runtime change or a reload, not a restart. */
  haproxyConfig?: string;
  /** Route tables' map files a follower beside HAProxy puts in at runtime (the Kubernetes ConfigMap's). */
  followedMaps?: string;
}

type Description = Map<string, Described>;

const json = (value: unknown) => JSON.stringify(value);

const renders = new WeakMap<Topology, Map<string, string>>();

/** HAProxy's config for a topology on the local or docker target, rendered once per topology object (the plan asks several times). */
export function planConfig(topology: Topology, target: "local" | "docker", rendered?: string): string {
  let byTarget = renders.get(topology);
  if (!byTarget) renders.set(topology, (byTarget = new Map()));
  let config = byTarget.get(target);
  if (config === undefined) {
    config = rendered ?? renderHaproxyConfig(topology, target === "local" ? localTarget(PLAN_RUN_DIR) : dockerTarget(), { source: SOURCE });
    byTarget.set(target, config);
  }
  return config;
}

/** What HAProxy reads: its config, and the route tables' map files beside it. */
const haproxyFiles = (config: string, topology: Topology) => `${config}\n${json(mapFiles(topology))}`;

/** Each target's description of what runs, keyed by component. */
const DESCRIBE: Record<Target, (t: Topology) => Description> = {
  local: (t) => {
    const plan = declareLocalStack(t, { runDir: PLAN_RUN_DIR, sidecar: true, source: SOURCE, env: PLACEHOLDER_ENV });
    // The declaration rendered the same config (same run directory, same source): the plan's other uses take it.
    planConfig(t, "local", plan.haproxyConfig);
    return new Map(
      plan.components.map((c) => [
        c.name,
        c.kind === "haproxy" ? { spec: json([c.command, c.args, c.env ?? {}]), haproxyConfig: haproxyFiles(plan.haproxyConfig, t) } : { spec: json([c.command, c.args, c.env ?? {}, c.ports, c.configFiles]) },
      ]),
    );
  },
  docker: (t) => {
    const plan = declareDockerStack(t, { source: SOURCE });
    // As the docker provider sees a container: the health check changes in place; depends_on only orders creation.
    return new Map(
      plan.containers.map(({ name, image, healthcheck, waitHealthy, dependsOn: _order, ...container }) => [
        name,
        { spec: json([image, container]), inPlace: json([healthcheck, waitHealthy]), ...(name === "haproxy" ? { haproxyConfig: haproxyFiles(planConfig(t, "docker"), t) } : {}) },
      ]),
    );
  },
  kubernetes: (t) => {
    const followed = new Set(followedConfigKeys(t));
    return new Map(
      declareKubernetesStack(t, { source: SOURCE }).objects.map(({ id, object }): [string, Described] => {
        if (id !== HAPROXY_CONFIG_MAP) return [id, { spec: json(object) }];
        const data = Object.entries((object as { data?: Record<string, string> }).data ?? {});
        return [id, { spec: json({ ...object, data: Object.fromEntries(data.filter(([key]) => !followed.has(key))) }), followedMaps: json(data.filter(([key]) => followed.has(key))) }];
      }),
    );
  },
};

function describe(target: Target, topology: Topology | undefined): Description {
  if (!topology) return new Map();
  try {
    return DESCRIBE[target](topology);
  } catch {
    return new Map(); // a base the current code cannot describe: everything shows as new
  }
}

/** What one component's two descriptions mean, before paths are attributed. */
function compare(target: Target, name: string, before: Described | undefined, after: Described | undefined, runtimeOnly: boolean): Omit<ComponentAction, "paths"> | undefined {
  if (!before && !after) return undefined;
  if (!before) return { target, component: name, action: "create", reason: target === "local" ? "a new process of the stack" : target === "docker" ? "a new container" : "a new object" };
  if (!after) return { target, component: name, action: "destroy", reason: target === "local" ? "no longer in the topology: stopped after HAProxy has drained it" : "no longer in the topology" };
  if (before.spec !== after.spec) {
    if (target === "local") return { target, component: name, action: "restart", reason: before.haproxyConfig !== undefined ? "its command line changes (needs npm stop, then npm start: a master cannot change it under itself)" : "starts again with its new command line, environment or files" };
    if (target === "docker") return { target, component: name, action: "replace", reason: "its container's definition changes" };
    return { target, component: name, action: name === "haproxy" ? "replace" : "update", reason: name === "haproxy" ? "a rolling update: its pods are replaced one at a time (the config hash in the pod template changes)" : "changed in place" };
  }
  if (before.inPlace !== after.inPlace) return { target, component: name, action: "update", reason: "its health check changes in place" };
  if (before.followedMaps !== after.followedMaps) return { target, component: name, action: "update", reason: "its route tables' map files change in place: the route-tables container in each HAProxy pod puts them into HAProxy at runtime, no pod rolls" };
  if (before.haproxyConfig !== after.haproxyConfig) {
    const how = target === "docker" ? "by the apply agent, " : "";
    return runtimeOnly
      ? { target, component: name, action: "runtime", reason: `${how}through the runtime API, no reload` }
      : { target, component: name, action: "reload", reason: `${how}a hitless reload: haproxy.cfg changes` };
  }
  return undefined;
}

/** The actions between two descriptions; paths are added by the caller. */
function actionsBetween(target: Target, before: Description, after: Description, runtimeOnly: boolean): Omit<ComponentAction, "paths">[] {
  const names = [...new Set([...before.keys(), ...after.keys()])];
  return names.flatMap((name) => compare(target, name, before.get(name), after.get(name), runtimeOnly) ?? []);
}

/**
 * The parts of a topology an edit is attributed to: a named item of a top-level list, a service, or
 * a top-level section. Applying one part of the head to the base shows what that part changes.
 */
function partOf(path: string, namesLongestFirst: readonly string[]): string {
  const first = path.split(".")[0]!;
  if (first !== "backends" && first !== "frontends" && first !== "services") return first;
  // A name may hold dots: the longest name of either side that the path goes through.
  const rest = path.slice(first.length + 1);
  const name = namesLongestFirst.find((n) => rest === n || rest.startsWith(`${n}.`)) ?? rest.split(".")[0]!;
  return `${first}.${name}`;
}

const byName = (list: unknown, name: string) => (Array.isArray(list) ? list.find((x: { name?: string }) => x?.name === name) : undefined);

/** The base with one part taken from the head (added, changed or removed). */
function withPart(base: Topology, head: Topology, part: string): Topology {
  const dot = part.indexOf(".");
  const [first, second] = (dot < 0 ? [part, undefined] : [part.slice(0, dot), part.slice(dot + 1)]) as [keyof Topology & string, string | undefined];
  const copy = { ...base } as Record<string, unknown>;
  if (second === undefined) {
    copy[first] = (head as Record<string, unknown>)[first];
  } else if (first === "services") {
    copy.services = { ...base.services, [second]: (head.services as Record<string, unknown>)[second] };
  } else {
    const [from, to] = [(base as Record<string, unknown>)[first] as unknown[], (head as Record<string, unknown>)[first] as unknown[]];
    const replacement = byName(to, second);
    const items = from.flatMap((x) => ((x as { name: string }).name === second ? (replacement ? [replacement] : []) : [x]));
    if (replacement && !byName(from, second)) items.push(replacement);
    copy[first] = items;
  }
  return copy as Topology;
}

/** Past this many edited parts, paths are not attributed one by one (each costs a description of every target). */
const MAX_ATTRIBUTED_PARTS = 12;

export interface ComponentActions {
  actions: ComponentAction[];
  /** Targets that cannot run the head topology, and why: no actions are planned for them. */
  problems: Partial<Record<Target, string>>;
}

/** Every component action of every target between `base` and `head`, each with the paths behind it. */
export function componentActions(base: Topology | undefined, head: Topology, changes: readonly TopologyEdit[]): ComponentActions {
  const names = [...new Set([base, head].flatMap((t) => (t ? [...t.backends, ...t.frontends].map((x) => x.name) : [])))].sort((a, b) => b.length - a.length);
  // Each change's part, found once: a table of thousands of entries makes as many changes.
  const pathsByPart = new Map<string, string[]>();
  for (const c of changes) {
    const part = partOf(c.path, names);
    const paths = pathsByPart.get(part);
    if (paths) paths.push(c.path);
    else pathsByPart.set(part, [c.path]);
  }
  const parts = [...pathsByPart.keys()];
  const pathsOf = (part: string) => pathsByPart.get(part) ?? [];
  const all: ComponentAction[] = [];
  const problems: ComponentActions["problems"] = {};
  const runtimeOnlyBase = base && withRuntimeChanges(base, head);
  for (const target of TARGETS) {
    let after: Description;
    let runtimeOnly: boolean;
    try {
      after = DESCRIBE[target](head);
      // Runtime only when the config the runtime changes alone would give is the new config, to the letter
      // (the targets whose HAProxy takes runtime changes: Kubernetes rolls its pods instead).
      runtimeOnly = runtimeOnlyBase !== undefined && target !== "kubernetes" && planConfig(runtimeOnlyBase, target) === planConfig(head, target);
    } catch (error) {
      // The target cannot run the head (a local syslog socket in a container, a unix socket server): said, not planned.
      problems[target] = (error as Error).message;
      continue;
    }
    const before = describe(target, base);
    const actions = actionsBetween(target, before, after, runtimeOnly);
    if (actions.length === 0) continue;
    const attributable = base !== undefined && parts.length > 1 && parts.length <= MAX_ATTRIBUTED_PARTS;
    const touched = new Map<string, Set<string>>();
    if (attributable) {
      for (const part of parts) {
        let alone: Description;
        try {
          alone = DESCRIBE[target](withPart(base, head, part));
        } catch {
          alone = after; // a part that cannot stand alone (a new backend and the frontend naming it): shared by all
        }
        for (const action of actionsBetween(target, before, alone, false)) {
          if (!touched.has(action.component)) touched.set(action.component, new Set());
          touched.get(action.component)!.add(part);
        }
      }
    }
    for (const action of actions) {
      const causes = attributable ? [...(touched.get(action.component) ?? parts)] : parts;
      all.push({ ...action, paths: causes.flatMap(pathsOf) });
    }
  }
  return { actions: all, problems };
}
