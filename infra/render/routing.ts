// A frontend's routes in HAProxy's words. HAProxy runs every http-request rule before any
// use_backend, whatever their order in the file, so first-match is made explicit: each route in
// turn marks the request as its own (txn.route) when it meets the condition and no earlier route
// took it, and each action then runs only for the route that took the request.
import { asList, conditionTerms, expandCondition, routeAction, tableEntryKey, type Condition, type LeafCondition, type Route, type RouteTable, type Terms } from "../model/routing.ts";
import type { Frontend, Topology } from "../model/schema.ts";

/** The directory, beside haproxy.cfg, that holds the route tables' map files. */
export const MAP_DIR = "maps";

export interface RoutingView {
  /** "name criterion" for each acl line, in order (an ACL with several lines matches if any does). */
  acls: string[];
  /** The http-request rules: the first-match marks, then the actions that answer by themselves. */
  requestRules: string[];
  /** use_backend lines, without the keyword. */
  useBackends: string[];
}

/** A map file: its path relative to the config's directory, and its lines. */
export interface MapFile {
  path: string;
  content: string;
}

/** The ACL that says a table holds the request's key (a table's name is unique in its frontend). */
const tableHeldAcl = (table: string) => `in_table_${table}`;

/** The variable that holds which route took the request. */
const ROUTE_VAR = "txn.route";
/** The variable the host+path tables' key is built from (concat takes a variable, not a fetch). */
const PATH_VAR = "txn.route_path";
/** The Host header as routes compare it: lower-case, without a port. */
export const HOST_KEY = "req.hdr(host),lower,regsub(:[0-9]+$,)";

/** A value as one single-quoted argument; the model has refused the quote itself. */
const quote = (value: string) => `'${value}'`;
/** A value in a log-format argument (a redirect's location): "%" starts an expression there. */
const quoteLogFormat = (value: string) => quote(value.replaceAll("%", "%%"));
const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The map file a route table is kept in. */
export const tableMapPath = (frontend: string, table: string) => `${MAP_DIR}/${frontend}.${table}.map`;

/** How a table's key is looked up: the host, or host + path + "/" matched by longest prefix. */
function tableLookup(frontend: string, table: RouteTable): string {
  const file = tableMapPath(frontend, table.name);
  return table.key === "host" ? `${HOST_KEY},map(${file})` : `${HOST_KEY},concat(,${PATH_VAR},/),map_beg(${file})`;
}

/** The lines of a table's map file: longest keys first (the order a reader expects the most specific in). */
export function mapFileLines(table: RouteTable): string[] {
  return table.entries
    .map((e) => ({ key: tableEntryKey(table, e), backend: e.backend }))
    .sort((a, b) => b.key.length - a.key.length || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((e) => `${e.key} ${e.backend}`);
}

/** Every route table's map file: what the config names, to be written beside it. */
export function mapFiles(topology: Pick<Topology, "frontends">): MapFile[] {
  return topology.frontends.flatMap((f) => f.routeTables.map((t) => ({ path: tableMapPath(f.name, t.name), content: mapFileLines(t).map((l) => `${l}\n`).join("") })));
}

/** The acl lines of one leaf condition (several lines for one ACL: any of them matches). */
function leafCriteria(leaf: LeafCondition): string[] {
  // "--" ends the flags: a pattern that starts with "-" is a pattern, quoted or not (haproxy -c refuses it otherwise).
  const list = (values: string[], transform: (v: string) => string = (v) => v) => `-- ${values.map((v) => quote(transform(v))).join(" ")}`;
  if (leaf.host !== undefined) {
    const hosts = asList(leaf.host).map((h) => h.toLowerCase());
    const exact = hosts.filter((h) => !h.startsWith("*."));
    const wildcard = hosts.filter((h) => h.startsWith("*."));
    return [
      ...(exact.length ? [`${HOST_KEY} -m str ${list(exact)}`] : []),
      ...(wildcard.length ? [`${HOST_KEY} -m reg ${list(wildcard, (h) => `^[^.]+${escapeRegex(h.slice(1))}$`)}`] : []),
    ];
  }
  if (leaf.path !== undefined) return [`path -m str ${list(asList(leaf.path))}`];
  if (leaf.pathPrefix !== undefined) {
    const prefixes = asList(leaf.pathPrefix);
    // "/api" takes "/api" itself and everything under "/api/"; "/api/" only what is under it.
    const whole = prefixes.filter((p) => !p.endsWith("/"));
    return [...(whole.length ? [`path -m str ${list(whole)}`] : []), `path -m beg ${list(prefixes, (p) => (p.endsWith("/") ? p : `${p}/`))}`];
  }
  if (leaf.pathBegins !== undefined) return [`path -m beg ${list(asList(leaf.pathBegins))}`];
  if (leaf.pathSuffix !== undefined) return [`path -m end ${list(asList(leaf.pathSuffix))}`];
  if (leaf.pathRegex !== undefined) return [`path -m reg ${list([leaf.pathRegex])}`];
  if (leaf.method !== undefined) return [`method ${asList(leaf.method).join(" ")}`];
  if (leaf.source !== undefined) return [`src ${list(asList(leaf.source))}`];
  if (leaf.tls !== undefined) return ["ssl_fc"];
  const value = leaf.header ?? leaf.query;
  if (value !== undefined) {
    // The whole value of each occurrence (req.fhdr), not its comma-separated parts (req.hdr).
    const fetch = leaf.header ? `req.fhdr(${value.name})` : `url_param(${value.name})`;
    const i = value.ignoreCase ? "-i " : "";
    if (value.present) return [leaf.header ? `req.fhdr_cnt(${value.name}) gt 0` : `${fetch} -m found`];
    if (value.equals !== undefined) return [`${fetch} ${i}-m str ${list(asList(value.equals))}`];
    if (value.prefix !== undefined) return [`${fetch} ${i}-m beg ${list(asList(value.prefix))}`];
    return [`${fetch} ${i}-m reg ${list([value.regex!])}`];
  }
  throw new Error(`a condition of no known kind: ${JSON.stringify(leaf)}`);
}

const ACL_PREFIX: Record<string, string> = { host: "host", path: "path", pathPrefix: "path_prefix", pathBegins: "path_begins", pathSuffix: "path_suffix", pathRegex: "path_regex", method: "method", header: "header", query: "query", source: "source", tls: "tls" };

/** Names each distinct leaf once per frontend; a named condition that is one leaf keeps its name. */
class AclNames {
  readonly lines: string[] = [];
  private readonly byLeaf = new Map<string, string>();
  private readonly taken: Set<string>;
  private count = 0;

  /** `reserved`: ACL names the frontend already uses (its allowlist's). */
  constructor(named: Readonly<Record<string, Condition>>, reserved: readonly string[]) {
    this.taken = new Set([...Object.keys(named), ...reserved]);
    for (const [name, condition] of Object.entries(named)) {
      if (isLeaf(condition)) this.define(condition, reserved.includes(name) ? this.freshName(name) : name);
    }
  }

  nameOf(condition: LeafCondition): string {
    // "tls: false" is the negation of the one ssl_fc ACL.
    const leaf = condition.tls === false ? { tls: true } : condition;
    return this.byLeaf.get(leafKey(leaf)) ?? this.define(leaf, this.freshName(ACL_PREFIX[Object.keys(leaf).find((k) => k in ACL_PREFIX)!]!));
  }

  /** kind_N, never a name the frontend's conditions or rules use already. */
  private freshName(kind: string): string {
    let name: string;
    do name = `${kind}_${++this.count}`;
    while (this.taken.has(name));
    this.taken.add(name);
    return name;
  }

  private define(leaf: LeafCondition, name: string): string {
    const key = leafKey(leaf);
    const existing = this.byLeaf.get(key);
    if (existing) return existing;
    this.byLeaf.set(key, name);
    for (const criterion of leafCriteria(leaf)) this.lines.push(`${name} ${criterion}`);
    return name;
  }
}

const isLeaf = (c: Condition) => c.all === undefined && c.any === undefined && c.not === undefined && c.condition === undefined;
/** Leaves that test the same thing share an ACL; the order of a list's values does not make another. */
const leafKey = (leaf: LeafCondition) => JSON.stringify(leaf, (_k, v) => (Array.isArray(v) ? [...v].sort() : v));

/** HAProxy's words for one conjunction ("a !b"): the leaves' ACL names, negated where they are. */
function conjunctionText(conjunction: Terms[number], acls: AclNames): string[] {
  return conjunction.map((l) => `${l.negated !== (l.leaf.tls === false) ? "!" : ""}${acls.nameOf(l.leaf)}`);
}

/** The anonymous ACL an action runs under: this route took the request. */
const took = (index: number) => `{ var(${ROUTE_VAR}) -m int ${index} }`;

function actionRule(route: Route, index: number, frontend: string, tables: readonly RouteTable[]): { requestRule?: string; useBackend?: string } {
  const when = `if ${took(index)}`;
  switch (routeAction(route)) {
    case "backend":
      return { useBackend: `${route.backend} ${when}` };
    case "table":
      return { useBackend: `%[${tableLookup(frontend, tables.find((t) => t.name === route.table)!)}] ${when}` };
    case "redirect": {
      const r = route.redirect!;
      const target = r.location !== undefined ? `location ${quoteLogFormat(r.location)}` : r.prefix !== undefined ? `prefix ${quoteLogFormat(r.prefix)}` : `scheme ${r.scheme}`;
      return { requestRule: `redirect ${target} code ${r.code}${r.dropQuery ? " drop-query" : ""} ${when}` };
    }
    case "respond": {
      const r = route.respond!;
      const body = r.body !== undefined ? ` content-type ${quote(r.contentType)} string ${quote(r.body)}` : "";
      return { requestRule: `return status ${r.status}${body} ${when}` };
    }
    case "deny":
      return { requestRule: `deny deny_status ${route.deny!.status} ${when}` };
    case "tarpit":
      return { requestRule: `tarpit deny_status ${route.tarpit!.status} ${when}` };
  }
}

/** The ACL that says an earlier route took the request. */
const ROUTE_TAKEN_ACL = "route_taken";

/**
 * `reservedAcls`: the ACL names the frontend's other rules define. Each conjunction of a route's
 * condition gets a line of its own: HAProxy reads at most 64 words on a line, and "||" chains of a
 * nested condition reach that quickly.
 */
export function routingView(frontend: Frontend, reservedAcls: readonly string[]): RoutingView {
  const acls = new AclNames(frontend.conditions, [...reservedAcls, ROUTE_TAKEN_ACL, ...frontend.routeTables.map((t) => tableHeldAcl(t.name))]);
  const definitions: string[] = [];
  const marks: string[] = [];
  const actions: string[] = [];
  const useBackends: string[] = [];
  if (frontend.routes.length > 0) definitions.push(`${ROUTE_TAKEN_ACL} var(${ROUTE_VAR}) -m found`);
  if (frontend.routeTables.some((t) => t.key === "host+path")) marks.push(`set-var(${PATH_VAR}) path`);
  for (const table of frontend.routeTables) definitions.push(`${tableHeldAcl(table.name)} ${tableLookup(frontend.name, table)} -m found`);
  frontend.routes.forEach((route, index) => {
    const held = route.table !== undefined ? [tableHeldAcl(route.table)] : [];
    const terms: Terms = route.when ? conditionTerms(expandCondition(route.when, frontend.conditions)) : [[]];
    for (const conjunction of terms) marks.push(`set-var(${ROUTE_VAR}) int(${index}) if ${["!" + ROUTE_TAKEN_ACL, ...held, ...conjunctionText(conjunction, acls)].join(" ")}`);
    const { requestRule, useBackend } = actionRule(route, index, frontend.name, frontend.routeTables);
    if (requestRule) actions.push(requestRule);
    if (useBackend) useBackends.push(useBackend);
  });
  return { acls: [...definitions, ...acls.lines], requestRules: [...marks, ...actions], useBackends };
}
