// What a change of the topology means for the load balancer, as data: a semantic diff of two
// resolved topologies (lists matched by name, never by position) and one pure function that
// classifies each change by what applying it takes. npm run plan, apply and drift all read these.
import type { Topology } from "../model/schema.ts";

export type ChangeKind = "add" | "remove" | "change";

/**
 * runtime: HAProxy 2.6's runtime API applies it, no reload; reload: a new haproxy.cfg and a
 * hitless reload; restart: another component (sidecar, Prometheus, Grafana, a web app) restarts;
 * none: it renders identically (set by the plan after rendering both sides).
 */
export type ChangeClass = "runtime" | "reload" | "restart" | "none";
export const CHANGE_CLASSES: readonly ChangeClass[] = ["runtime", "reload", "restart", "none"];

export interface TopologyChange {
  /** With names in place of list positions: "backends.flask_servers.servers.web-a.weight". */
  path: string;
  kind: ChangeKind;
  from?: unknown;
  to?: unknown;
  class: ChangeClass;
  /** What applying it takes, in HAProxy's words where it can be done at runtime. */
  detail: string;
}

/** How the items of a list are matched between two topologies: by this key, never by position. */
const LIST_KEYS: Partial<Record<string, (item: any) => string>> = {
  frontends: (f) => f.name,
  backends: (b) => b.name,
  servers: (s) => s.name,
  binds: (b) => `${b.address}:${b.port}`,
  errorPages: (p) => String(p.status),
  logs: (l) => l.target,
};
/** Lists of values whose order means nothing: compared as sets. */
const SET_LISTS = new Set(["allowlist", "retryOn"]);

type Segment = { field: string } | { item: string };
type RawChange = { at: Segment[]; kind: ChangeKind; from?: unknown; to?: unknown };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function diffValues(from: unknown, to: unknown, at: Segment[], field: string, out: RawChange[]): void {
  const keyOf = LIST_KEYS[field];
  // A named list that appears or disappears as a whole is its items appearing or disappearing.
  if (keyOf && (from === undefined || to === undefined) && Array.isArray(from ?? to)) return diffValues(from ?? [], to ?? [], at, field, out);
  if (from === undefined && to === undefined) return;
  if (from === undefined) return void out.push({ at, kind: "add", to });
  if (to === undefined) return void out.push({ at, kind: "remove", from });
  if (Array.isArray(from) && Array.isArray(to) && keyOf) {
    const before = new Map(from.map((x) => [keyOf(x), x]));
    const after = new Map(to.map((x) => [keyOf(x), x]));
    for (const [key, item] of before) diffValues(item, after.get(key), [...at, { item: key }], "", out);
    for (const [key, item] of after) if (!before.has(key)) diffValues(undefined, item, [...at, { item: key }], "", out);
    return;
  }
  if (Array.isArray(from) && Array.isArray(to) && SET_LISTS.has(field)) {
    if (!same([...from].sort(), [...to].sort())) out.push({ at, kind: "change", from, to });
    return;
  }
  if (isObject(from) && isObject(to)) {
    for (const key of new Set([...Object.keys(from), ...Object.keys(to)])) diffValues(from[key], to[key], [...at, { field: key }], key, out);
    return;
  }
  if (!same(from, to)) out.push({ at, kind: "change", from, to });
}

const pathOf = (at: Segment[]) => at.map((s) => ("field" in s ? s.field : s.item)).join(".");

/** Every difference from `base` to `head`, in the order of the topology, each classified. */
export function diffTopologies(base: Topology | undefined, head: Topology): TopologyChange[] {
  const raw: RawChange[] = [];
  diffValues(base ?? {}, head, [], "", raw);
  return raw.map((c) => ({ path: pathOf(c.at), kind: c.kind, ...(c.kind !== "add" ? { from: c.from } : {}), ...(c.kind !== "remove" ? { to: c.to } : {}), ...classifyChange(pathOf(c.at), c.kind, c.from, c.to) }));
}

// --- classification -------------------------------------------------------------------------------

interface Rule {
  /** A path pattern: "*" is one name, "**" any rest. */
  pattern: string;
  kinds: readonly ChangeKind[];
  classify: (names: string[], from: unknown, to: unknown, path: string) => { class: ChangeClass; detail: string };
}

const ANY: readonly ChangeKind[] = ["add", "remove", "change"];
const runtime = (detail: string) => ({ class: "runtime" as const, detail });
const reload = (detail: string) => ({ class: "reload" as const, detail });
const restart = (detail: string) => ({ class: "restart" as const, detail });

/**
 * The runtime API commands that set one server field to `value` (HAProxy 2.6), or undefined when the
 * field has none. On the local target every server is 127.0.0.1, so an address needs no command there.
 */
export function runtimeApiCommands(path: string, value: unknown, target: "local" | "docker"): string[] | undefined {
  const m = /^backends\.([^.]+)\.servers\.([^.]+)\.(weight|disabled|address|maxconn)$/.exec(path);
  if (!m) return undefined;
  const server = `${m[1]}/${m[2]}`;
  switch (m[3]) {
    case "weight":
      return [`set server ${server} weight ${value}`];
    case "disabled":
      return [`set server ${server} state ${value ? "maint" : "ready"}`];
    case "maxconn":
      return [`set maxconn server ${server} ${value ?? 0}`];
    default:
      if (target === "local") return [];
      return [/^[0-9.]+$/.test(String(value)) ? `set server ${server} addr ${value}` : `set server ${server} fqdn ${value}`];
  }
}

const runtimeDetail = (path: string, to: unknown) => runtime(`${runtimeApiCommands(path, to, "docker")!.join("; ")}${to === undefined ? " (0: no limit)" : ""}`);

/** First match wins; a path no rule names is a reload (it lives in haproxy.cfg). */
const RULES: Rule[] = [
  { pattern: "backends.*.servers.*.weight", kinds: ["change"], classify: (_n, _f, to, path) => runtimeDetail(path, to) },
  { pattern: "backends.*.servers.*.disabled", kinds: ["change"], classify: (_n, _f, to, path) => runtimeDetail(path, to) },
  { pattern: "backends.*.servers.*.address", kinds: ["change"], classify: (_n, _f, to, path) => runtimeDetail(path, to) },
  {
    pattern: "backends.*.servers.*.port", kinds: ["change"],
    classify: ([b, s], _f, to) => restart(`the web app ${s} listens on ${to}: it restarts there; HAProxy follows at runtime (set server ${b}/${s} addr ... port ${to})`),
  },
  { pattern: "backends.*.servers.*.maxconn", kinds: ANY, classify: (_n, _f, to, path) => runtimeDetail(path, to) },
  {
    pattern: "backends.*.servers.*", kinds: ["add"],
    // HAProxy 2.6's "add server" needs a dynamic algorithm and refuses "cookie", and a server added
    // at runtime is lost at the next reload unless the file has it too: a reload says it honestly.
    classify: ([b, s], _f, to) =>
      reload(
        (to as { cookie?: string })?.cookie !== undefined
          ? `new server ${b}/${s}: reloaded (HAProxy 2.6's "add server" refuses the "cookie" keyword this backend's persistence needs)`
          : `new server ${b}/${s}: reloaded ("add server" could add it under a dynamic algorithm, but only the file survives the next reload: one reload keeps both in step)`,
      ),
  },
  {
    pattern: "backends.*.servers.*", kinds: ["remove"],
    classify: ([b, s]) => reload(`server ${b}/${s} leaves haproxy.cfg; the reload drains it (the old worker finishes its connections)`),
  },
  {
    pattern: "backends.*.discovery.instances", kinds: ["change"],
    classify: ([b], from, to) => restart(`${from} → ${to} instances of ${b}'s discovered group: HAProxy's config does not change, DNS tells it (the local stack starts or stops instances and its name server's records follow, as npm run scale does; the Docker stack adds or removes containers behind the alias)`),
  },
  {
    pattern: "backends.*.discovery.maxServers", kinds: ["change"],
    classify: ([b], from, to) => reload(`${b}'s slots for discovered servers: ${from} → ${to} (server-template): a reload, after which the new worker resolves the group again`),
  },
  { pattern: "services.dns.**", kinds: ANY, classify: () => restart("the local stack's name server restarts on its new port (HAProxy's resolvers follow with a reload)") },
  { pattern: "services.sidecar.**", kinds: ANY, classify: () => restart("the sidecar restarts with its new settings") },
  { pattern: "services.prometheus.**", kinds: ANY, classify: () => restart("Prometheus restarts with its new configuration") },
  { pattern: "services.grafana.**", kinds: ANY, classify: () => restart("Grafana restarts") },
  { pattern: "name", kinds: ANY, classify: () => restart("the stack is named after the topology: the docker stack's containers, network and volumes are replaced") },
  { pattern: "global.masterSocket", kinds: ANY, classify: () => restart("HAProxy's master socket is a command-line option: HAProxy restarts") },
];

function matches(pattern: string, path: string): string[] | undefined {
  const p = pattern.split(".");
  const segments = path.split(".");
  const names: string[] = [];
  for (let i = 0; i < p.length; i++) {
    if (p[i] === "**") return names;
    if (i >= segments.length) return undefined;
    if (p[i] === "*") names.push(segments[i]!);
    else if (p[i] !== segments[i]) return undefined;
  }
  return p.length === segments.length ? names : undefined;
}

/** What applying one change takes: the class and the command or action, from the table above. */
export function classifyChange(path: string, kind: ChangeKind, from: unknown, to: unknown): { class: ChangeClass; detail: string } {
  for (const rule of RULES) {
    if (!rule.kinds.includes(kind)) continue;
    const names = matches(rule.pattern, path);
    if (names) return rule.classify(names, from, to, path);
  }
  return reload("haproxy.cfg changes: a hitless reload (the new worker takes the listening sockets over)");
}
