// The stack's own way of writing routes, read back: HAProxy runs every http-request rule before any
// use_backend, so the renderer makes first-match explicit. Each route marks the request as its own
// ("set-var(txn.route) int(N) if !route_taken CONDITION", one line per alternative of its condition),
// and each action then runs only for the route that took it ("... if { var(txn.route) -m int N }").
// A config written that way becomes the routes it was rendered from, in their order.
import type { Location } from "../../haproxy/config-parser.ts";
import { conditionOf, joinAclLines } from "./conditions.ts";
import { type Context, isRefusal, type Outcome, type Refusal } from "./context.ts";
import { terminalRoute } from "./answers.ts";
import { GENERATED_ACL_NAME } from "../render/acls.ts";

/** The ACL the marks test: "an earlier route took the request". */
export const ROUTE_TAKEN = "route_taken";
const MARK = /^set-var\(txn\.route\) int\((\d+)\)(?: if !route_taken((?: \S+)*))?$/;

/** acl route_taken var(txn.route) -m found: the frontend writes its routes the stack's way. */
export function routeTakenAcl(args: string[], ctx: Context): Outcome | undefined {
  if (args.join(" ") !== `${ROUTE_TAKEN} var(txn.route) -m found`) return undefined;
  ctx.routeMarks = { at: ctx.at!, routes: new Map() };
  return { decided: "the routes below are written the stack's way (each marks the request it takes, first match wins)" };
}

/** acl in_table_T var(txn.table_T) -m found: "table T holds the request's key", which a table route tests. */
export function tableHeldAcl(args: string[], ctx: Context): Outcome | undefined {
  const m = /^in_table_(\S+) var\(txn\.table_\1\) -m found$/.exec(args.join(" "));
  if (!m || !ctx.routeMarks) return undefined;
  return { decided: `the table route's own test: table ${m[1]} holds the request's key` };
}

/**
 * set-var(txn.table_T) HOST,map(FILE) (or HOST,concat(,txn.route_path,/),map_beg(FILE), with set-var(txn.route_path) path
 * before it): route table T, its entries the map file's lines.
 */
export function tableLookup(rule: string, ctx: Context): Outcome | undefined {
  if (rule === "set-var(txn.route_path) path" && ctx.routeMarks) return { decided: "the key a host+path table is looked up by (host, path and \"/\")" };
  const m = /^set-var\(txn\.table_(\S+)\) req\.hdr\(host\),field\(1,:\),lower(,concat\(,txn\.route_path,\/\),map_beg|,map)\((\S+)\)$/.exec(rule);
  if (!m || !ctx.routeMarks || !ctx.frontend) return undefined;
  const [, name, lookup, file] = m;
  const text = ctx.files.read(file!);
  if (text === undefined) return { refused: `the map ${file} is not found (beside the config or where the config says): give it to import` };
  const byPath = lookup!.includes("map_beg");
  const entries: Record<string, unknown>[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    const [key, backend, ...extra] = line.split(/\s+/);
    const slash = key!.indexOf("/");
    if (!backend || extra.length || (byPath && slash < 0)) return { refused: `${file}:${i + 1}: ${JSON.stringify(raw)} is not "${byPath ? "HOST/PATH/" : "HOST"} BACKEND"` };
    const pathPrefix = byPath ? key!.slice(slash).replace(/\/$/, "") : "";
    entries.push(byPath ? { host: key!.slice(0, slash), ...(pathPrefix && { pathPrefix }), backend } : { host: key, backend });
  }
  // The stack writes the longest keys first; the model keeps a table's entries in no particular order.
  entries.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  const tables = (ctx.frontend.routeTables ??= []) as unknown[];
  tables.push({ name, key: byPath ? "host+path" : "host", entries });
  return { field: `frontends.${ctx.frontend.name}.routeTables.${name} (${entries.length} entries from ${file})` };
}

/** A mark (set-var(txn.route) int(N) if !route_taken ...): an alternative of route N's condition. */
export function routeMark(rule: string, ctx: Context): Outcome | undefined {
  const m = MARK.exec(rule);
  if (!m) return undefined;
  if (!ctx.routeMarks) return { refused: `a route mark without "acl ${ROUTE_TAKEN} var(txn.route) -m found" above it` };
  const index = Number(m[1]);
  const words = (m[2] ?? "").trim().split(" ").filter(Boolean);
  // A table route first tests that its table holds the request's key.
  const table = /^in_table_(\S+)$/.exec(words[0] ?? "")?.[1];
  const terms = table === undefined ? words : words.slice(1);
  const parsed = markCondition(terms, ctx);
  if ("refused" in parsed) return parsed;
  const route = ctx.routeMarks.routes.get(index) ?? { alternatives: [], at: ctx.at! };
  route.alternatives.push(parsed.when);
  if (table !== undefined) route.table = table;
  ctx.routeMarks.routes.set(index, route);
  return { field: `frontends.${ctx.frontend!.name}.routes[${index}].when` };
}

/** The words that end an action of route N: "if { var(txn.route) -m int N }". */
const tookRoute = (words: readonly string[], at: number): number | undefined => {
  const tail = words.slice(at, at + 7);
  return tail.length === 7 && tail.join(" ").startsWith("if { var(txn.route) -m int ") && tail[6] === "}" && /^\d+$/.test(tail[5]!) ? Number(tail[5]) : undefined;
};

/**
 * An action for the route that took the request (its words as the config gives them, quotes resolved):
 * a login first, then a refusal, a redirect, an answer, or its backend.
 */
export function routeAction(words: readonly string[], kind: "http-request" | "tcp-request" | "use_backend", ctx: Context): Outcome | undefined {
  if (!ctx.routeMarks) return undefined;
  const frontend = `frontends.${ctx.frontend!.name}`;
  // auth realm REALM if { var(txn.route) -m int N } !{ http_auth(LIST) }
  const login = words[0] === "auth" && words[1] === "realm" ? tookRoute(words, 3) : undefined;
  const userlist = /^http_auth\((\S+)\)$/.exec(words[11] ?? "")?.[1];
  if (login !== undefined && words[10] === "!{" && userlist && words[12] === "}" && words.length === 13) {
    const route = ctx.routeMarks.routes.get(login);
    if (!route) return { refused: `no route ${login} is marked above` };
    route.auth = { userlist, realm: words[2] };
    return { field: `${frontend}.routes[${login}].auth` };
  }
  const index = tookRoute(words, words.length - 7);
  if (index === undefined) return undefined;
  const route = ctx.routeMarks.routes.get(index);
  if (!route) return { refused: `no route ${index} is marked above` };
  if (route.action) return { refused: `route ${index} has an action already` };
  const taken = actionOf(words.slice(0, -7), kind, route.table);
  if (taken === undefined) return { refused: `${kind} ${words.slice(0, -7).join(" ")} for a route is not in the model yet` };
  if (isRefusal(taken)) return taken;
  route.action = taken;
  return { field: `${frontend}.routes[${index}]` };
}

/** What a route does, from its action's words: its backend (its table's, for a table route), a refusal, a redirect or an answer. */
function actionOf(head: readonly string[], kind: "http-request" | "tcp-request" | "use_backend", table: string | undefined): Record<string, unknown> | Refusal | undefined {
  const [action, ...params] = head;
  if (kind === "use_backend") return params.length ? undefined : table !== undefined && action === `%[var(txn.table_${table})]` ? { table } : { backend: action };
  if (kind === "tcp-request") return head.join(" ") === "content reject" ? { deny: {} } : undefined;
  return ["deny", "tarpit", "redirect", "return", "use-service"].includes(action!) ? terminalRoute(action!, params) : undefined;
}

/** The routes the marks and actions make, in their order; a mark without an action is refused at its line. */
export function settleRouteMarks(ctx: Context, refuseLine: (at: Location, why: string) => void): Record<string, unknown>[] {
  if (!ctx.routeMarks) return [];
  const indexes = [...ctx.routeMarks.routes.keys()].sort((a, b) => a - b);
  const routes: Record<string, unknown>[] = [];
  for (const index of indexes) {
    const route = ctx.routeMarks.routes.get(index)!;
    if (!route.action) {
      refuseLine(route.at, `route ${index} is marked but nothing acts on it (no line "... if { var(txn.route) -m int ${index} }")`);
      continue;
    }
    const when = conditionOfMarks(route.alternatives, ctx.acls);
    routes.push({ ...(when && { when }), ...route.action, ...(route.auth && { auth: route.auth }) });
  }
  return routes;
}

/** A mark's condition, from the words after "if" (none: the mark is set for every request). */
export const markCondition = (words: readonly string[], ctx: Context): { when?: Record<string, unknown>; why?: string } | { refused: string } =>
  words.length ? conditionOf(["if", ...words], ctx, ctx.frontend ? "frontend" : "backend") : {};

/**
 * The condition several marks make (one per alternative): any of them, the renderer's own ACL names (or,
 * with everyName, every name) put back; undefined when one mark is set for every request.
 */
export function conditionOfMarks(alternatives: readonly (Record<string, unknown> | undefined)[], acls: Context["acls"], everyName = false): Record<string, unknown> | undefined {
  if (alternatives.some((a) => a === undefined)) return undefined;
  return joinAclLines((alternatives as Record<string, unknown>[]).map((a) => inlineGenerated(a, acls, everyName)));
}

/** A condition with the ACLs the renderer named for itself (host_1, path_prefix_4...), or every name, replaced by what they test. */
function inlineGenerated(condition: unknown, acls: Map<string, Record<string, unknown>[]>, everyName = false): Record<string, unknown> {
  const c = condition as Record<string, unknown>;
  if (typeof c.condition === "string" && (everyName || GENERATED_ACL_NAME.test(c.condition)) && acls.has(c.condition)) return joinAclLines(acls.get(c.condition)!);
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => inlineGenerated(x, acls, everyName)) : k === "not" ? inlineGenerated(v, acls, everyName) : v]));
}
