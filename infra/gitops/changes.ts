// What changed between two topologies, as data: a semantic diff of two resolved topologies (lists
// matched by name, never by position), and what HAProxy's runtime API can do of it. What a change
// takes is not decided here by its path: the plan derives it from what each target runs.
import { isIP } from "node:net";
import { tableEntryKey } from "../model/routing.ts";
import { ENV_REFERENCE, type Topology } from "../model/schema.ts";
import { mapFileLines, tableMapPath } from "../render/routing.ts";

export type ChangeKind = "add" | "remove" | "change";

/**
 * What a change takes on the local stack, from the component actions it causes (the plan derives
 * it): runtime: HAProxy's runtime API, no reload; reload: a new haproxy.cfg and a hitless reload;
 * restart: another component of the local stack starts again, or starts or stops; none: nothing the
 * local stack runs reads it (other targets may still change: the plan's actions say).
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
  routeTables: (t) => t.name,
  // A managed certificate by the file it is installed as.
  certificates: (c) => c.file,
  // A table's entries by their key (what HAProxy's map holds), so that one entry's edit is one change.
  entries: (e) => (e.pathPrefix === undefined ? e.host.toLowerCase() : tableEntryKey({ key: "host+path" }, e)),
};
/** Lists of values whose order means nothing: compared as sets. */
const SET_LISTS = new Set(["allowlist", "retryOn"]);

type Segment = { field: string } | { item: string };
type RawChange = { at: Segment[]; kind: ChangeKind; from?: unknown; to?: unknown };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function diffValues(from: unknown, to: unknown, at: Segment[], field: string, out: RawChange[]): void {
  if (from === to) return; // the same value, or the same object (a part the plan took over whole)
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

/** A change before the plan says what it takes. */
export type TopologyEdit = Omit<TopologyChange, "class" | "detail">;

/** Every difference from `base` to `head`, in the order of the topology. */
export function diffTopologies(base: Topology | undefined, head: Topology): TopologyEdit[] {
  const raw: RawChange[] = [];
  diffValues(base ?? {}, head, [], "", raw);
  return raw.map((c) => ({ path: pathOf(c.at), kind: c.kind, ...(c.kind !== "add" ? { from: c.from } : {}), ...(c.kind !== "remove" ? { to: c.to } : {}) }));
}

// --- the runtime API ---------------------------------------------------------------------------------

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
      // An address from the environment is HAProxy's to read as it starts: a reload.
      if (ENV_REFERENCE.test(String(value))) return undefined;
      return [isIP(String(value)) !== 0 ? `set server ${server} addr ${value}` : `set server ${server} fqdn ${value}`];
  }
}

/** Whether the change is to a route table's entries: HAProxy's map, replaced through the runtime API. */
const isTableEntryChange = (c: RawChange) => {
  const [frontends, , tables, , entries] = c.at;
  return c.at.length >= 6 && frontends && "field" in frontends && frontends.field === "frontends" && tables && "field" in tables && tables.field === "routeTables" && entries && "field" in entries && entries.field === "entries";
};

/** Whether the runtime API can make this change (a server that exists on both sides, a table's entry). */
const runtimeCapable = (c: RawChange) => isTableEntryChange(c) || (runtimeApiCommands(pathOf(c.at), c.to, "docker") !== undefined && (c.kind === "change" || pathOf(c.at).endsWith(".maxconn")));

/** A route table whose entries change: its map file and its lines on each side. */
export interface TableReplacement {
  /** The map file as the config names it, which is also how the runtime API knows the map. */
  file: string;
  lines: string[];
  previous: string[];
}

/** The route tables on both sides whose entries differ: each is replaced whole, in one atomic commit. */
export function tableReplacements(base: Topology, head: Topology): TableReplacement[] {
  return head.frontends.flatMap((f) =>
    f.routeTables.flatMap((table) => {
      const before = base.frontends.find((b) => b.name === f.name)?.routeTables.find((t) => t.name === table.name);
      if (!before || before.key !== table.key) return [];
      const [lines, previous] = [mapFileLines(table), mapFileLines(before)];
      return same(lines, previous) ? [] : [{ file: tableMapPath(f.name, table.name), lines, previous }];
    }),
  );
}

/**
 * `base` with only the changes the runtime API can make applied: when it renders the head's config
 * to the letter, the whole change needs no reload.
 */
export function withRuntimeChanges(base: Topology, head: Topology): Topology {
  const raw: RawChange[] = [];
  diffValues(base, head, [], "", raw);
  const copy = structuredClone(base) as unknown as Topology;
  // A table on both sides takes the head's entries whole (one step, however many entries changed).
  for (const frontend of copy.frontends) {
    for (const table of frontend.routeTables) {
      const after = head.frontends.find((f) => f.name === frontend.name)?.routeTables.find((t) => t.name === table.name);
      if (after) table.entries = after.entries;
    }
  }
  for (const change of raw.filter((c) => runtimeCapable(c) && !isTableEntryChange(c))) {
    let node: unknown = copy;
    let field = "";
    for (const segment of change.at.slice(0, -1)) {
      node = "field" in segment ? (node as Record<string, unknown>)[(field = segment.field)] : (node as unknown[]).find((x) => LIST_KEYS[field]!(x) === segment.item);
    }
    const last = change.at.at(-1) as { field: string };
    if (change.to === undefined) delete (node as Record<string, unknown>)[last.field];
    else (node as Record<string, unknown>)[last.field] = change.to;
  }
  return copy;
}
