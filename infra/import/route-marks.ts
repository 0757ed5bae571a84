// The stack's own way of writing routes, read back: HAProxy runs every http-request rule before any
// use_backend, so the renderer makes first-match explicit. Each route marks the request as its own
// ("set-var(txn.route) int(N) if !route_taken CONDITION", one line per alternative of its condition),
// and each action then runs only for the route that took it ("... if { var(txn.route) -m int N }").
// A config written that way becomes the routes it was rendered from, in their order.
import type { Location } from "../../haproxy/config-parser.ts";
import { conditionOf, joinAclLines } from "./conditions.ts";
import type { Context, Outcome } from "./context.ts";
import { terminalRoute } from "./answers.ts";
import { GENERATED_ACL_NAME } from "../render/acls.ts";

/** The ACL the marks test: "an earlier route took the request". */
export const ROUTE_TAKEN = "route_taken";
const TOOK = /^(.*) if \{ var\(txn\.route\) -m int (\d+) \}$/;
const MARK = /^set-var\(txn\.route\) int\((\d+)\)(?: if !route_taken((?: \S+)*))?$/;

/** acl route_taken var(txn.route) -m found: the frontend writes its routes the stack's way. */
export function routeTakenAcl(args: string[], ctx: Context): Outcome | undefined {
  if (args.join(" ") !== `${ROUTE_TAKEN} var(txn.route) -m found`) return undefined;
  ctx.routeMarks = { at: ctx.at!, routes: new Map() };
  return { decided: "the routes below are written the stack's way (each marks the request it takes, first match wins)" };
}

/** A mark (set-var(txn.route) int(N) if !route_taken ...): an alternative of route N's condition. */
export function routeMark(rule: string, ctx: Context): Outcome | undefined {
  const m = MARK.exec(rule);
  if (!m) return undefined;
  if (!ctx.routeMarks) return { refused: `a route mark without "acl ${ROUTE_TAKEN} var(txn.route) -m found" above it` };
  const index = Number(m[1]);
  const terms = (m[2] ?? "").trim().split(" ").filter(Boolean);
  const parsed = terms.length ? conditionOf(["if", ...terms], ctx, "frontend") : {};
  if ("refused" in parsed) return parsed;
  const route = ctx.routeMarks.routes.get(index) ?? { alternatives: [], at: ctx.at! };
  route.alternatives.push(parsed.when);
  ctx.routeMarks.routes.set(index, route);
  return { field: `frontends.${ctx.frontend!.name}.routes[${index}].when` };
}

/** An action for the route that took the request: a refusal, a redirect, an answer, or its backend. */
export function routeAction(rule: string, kind: "http-request" | "tcp-request" | "use_backend", ctx: Context): Outcome | undefined {
  const m = TOOK.exec(rule);
  if (!m || !ctx.routeMarks) return undefined;
  const [, head, n] = m;
  const route = ctx.routeMarks.routes.get(Number(n));
  if (!route) return { refused: `no route ${n} is marked above` };
  if (route.action) return { refused: `route ${n} has an action already` };
  const [action, ...params] = head!.split(" ");
  const taken =
    kind === "use_backend" ? (params.length === 0 ? { backend: action } : undefined)
    : kind === "tcp-request" ? (head === "content reject" ? { deny: {} } : undefined)
    : ["deny", "tarpit", "redirect", "return"].includes(action!) ? terminalRoute(action!, params)
    : undefined;
  if (taken === undefined || "refused" in taken) return taken && "refused" in taken ? { refused: String(taken.refused) } : { refused: `${kind} ${head} for a route is not in the model yet` };
  route.action = taken;
  return { field: `frontends.${ctx.frontend!.name}.routes[${n}]` };
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
    const alternatives = route.alternatives;
    const when = alternatives.some((a) => a === undefined) ? undefined : joinAclLines((alternatives as Record<string, unknown>[]).map((a) => inlineGenerated(a, ctx.acls)));
    routes.push({ ...(when && { when }), ...route.action });
  }
  return routes;
}

/** A condition with the ACLs the renderer named for itself (host_1, path_prefix_4...) replaced by what they test; the user's names stay. */
function inlineGenerated(condition: unknown, acls: Map<string, Record<string, unknown>[]>): Record<string, unknown> {
  const c = condition as Record<string, unknown>;
  if (typeof c.condition === "string" && GENERATED_ACL_NAME.test(c.condition) && acls.has(c.condition)) return joinAclLines(acls.get(c.condition)!);
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => inlineGenerated(x, acls)) : k === "not" ? inlineGenerated(v, acls) : v]));
}
