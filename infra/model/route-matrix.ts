// The requests that show a frontend's routes work: for every route, one that it must take and near
// misses that it must not (the path one segment off, the header absent, another host...), each with
// what the resolver says must happen. Pure; verify sends them through the real HAProxy.
import { conditionHolds, resolveRequest, resolveRoute, type RouteOutcome, type RouteRequest } from "./route-resolver.ts";
import { HTTP_METHODS, asList, conditionTerms, expandCondition, tableEntryKey, type LeafCondition, type Literal } from "./routing.ts";
import type { Backend, Frontend } from "./schema.ts";

export interface RoutingCase {
  /** The route the case is about ("api", "routes.2", "tenants (table tenants)"). */
  route: string;
  /** match: the route must take it; near miss: one test of its condition fails, so it must not. */
  kind: "match" | "near miss";
  request: RouteRequest;
  expected: RouteOutcome;
}

export interface MatrixOptions {
  /** Whether the frontend has a TLS bind the requests can use. */
  tls: boolean;
  /** Client addresses this machine can send from (loopback). */
  sources: readonly string[];
  /** Entries probed per route table. */
  tableEntries?: number;
  /** Near misses per route. */
  nearMisses?: number;
  /** The topology's backends: a request sent to one that answers itself expects that answer. */
  backends?: readonly Pick<Backend, "name" | "answer">[];
}

/** The request every case starts from: it meets no condition of its own. */
const BASE: RouteRequest = { method: "GET", host: "verify.invalid", path: "/verify-probe", source: "127.0.0.1", tls: false, headers: [] };

/** Paths a regular expression is tried against when no other leaf offers one. */
const REGEX_PATHS = ["/", "/v1/", "/v2/", "/v1/x", "/api/", "/api/v1/x", "/static/x.css", "/x.js", "/users", "/a/b/users", "/index.php", "/.env", "/x.asp"];
const HEADER_TRIES = ["1", "2", "v1", "v2", "yes", "true", "probe"];

type Edit = (r: RouteRequest) => RouteRequest | undefined;

const setHeader = (r: RouteRequest, name: string, value: string | undefined): RouteRequest => ({
  ...r,
  headers: [...(r.headers ?? []).filter(([n]) => n.toLowerCase() !== name.toLowerCase()), ...(value === undefined ? [] : [[name, value] as const])],
});
const setQuery = (r: RouteRequest, name: string, value: string | undefined): RouteRequest => {
  const rest = (r.query ?? "").split("&").filter((p) => p !== "" && !p.startsWith(`${name}=`));
  const parts = value === undefined ? rest : [...rest, `${name}=${value}`];
  return { ...r, query: parts.length ? parts.join("&") : undefined };
};

/** A value the leaf's values-match accepts, or rejects (the first that does). */
function valueFor(m: NonNullable<LeafCondition["header"]>, accept: boolean): string | undefined {
  const tries = [...asList(m.equals), ...asList(m.prefix).map((p) => `${p}probe`), ...HEADER_TRIES];
  const fold = (s: string) => (m.ignoreCase ? s.toLowerCase() : s);
  const accepts = (v: string) => (m.present ? true : m.equals !== undefined ? asList(m.equals).some((e) => fold(e) === fold(v)) : m.prefix !== undefined ? asList(m.prefix).some((p) => fold(v).startsWith(fold(p))) : new RegExp(m.regex!, m.ignoreCase ? "i" : "").test(v));
  return tries.find((v) => accepts(v) === accept);
}

/** How to make a request meet a leaf (`meet`) or fail it: undefined when this machine cannot. */
function leafEdit(leaf: LeafCondition, meet: boolean, options: MatrixOptions): Edit {
  if (leaf.host !== undefined) {
    const host = asList(leaf.host)[0]!;
    return (r) => ({ ...r, host: meet ? host.replace(/^\*\./, "probe.") : "verify.invalid" });
  }
  if (leaf.path !== undefined) return (r) => ({ ...r, path: meet ? asList(leaf.path)[0]! : `${asList(leaf.path)[0]!}-not` });
  if (leaf.pathPrefix !== undefined) {
    const prefix = asList(leaf.pathPrefix)[0]!;
    // The near miss that matters: a longer name ("/apis" for "/api"), not a segment below it.
    return (r) => ({ ...r, path: meet ? `${prefix.replace(/\/$/, "")}/probe` : `${prefix.replace(/\/$/, "")}s` });
  }
  if (leaf.pathBegins !== undefined) return (r) => ({ ...r, path: meet ? `${asList(leaf.pathBegins)[0]!}probe` : "/verify-probe" });
  if (leaf.pathSuffix !== undefined) return (r) => ({ ...r, path: meet ? `/probe${asList(leaf.pathSuffix)[0]!}` : "/probe" });
  if (leaf.pathRegex !== undefined) {
    const regex = new RegExp(leaf.pathRegex);
    const path = [...REGEX_PATHS, "/verify-probe"].find((p) => regex.test(p) === meet);
    return (r) => (path === undefined ? undefined : { ...r, path });
  }
  if (leaf.method !== undefined) {
    const methods = asList(leaf.method) as string[];
    const method = meet ? methods[0] : HTTP_METHODS.filter((m) => m !== "CONNECT" && m !== "TRACE").find((m) => !methods.includes(m));
    return (r) => (method === undefined ? undefined : { ...r, method });
  }
  if (leaf.header !== undefined) {
    const m = leaf.header;
    return (r) => setHeader(r, m.name, meet ? valueFor(m, true) : undefined);
  }
  if (leaf.query !== undefined) {
    const m = leaf.query;
    return (r) => setQuery(r, m.name, meet ? valueFor(m, true) : undefined);
  }
  if (leaf.source !== undefined) {
    const source = options.sources.find((s) => conditionHolds({ source: leaf.source }, { ...BASE, source: s }) === meet);
    return (r) => (source === undefined ? undefined : { ...r, source });
  }
  if (leaf.tls !== undefined) {
    const tls = meet ? leaf.tls : !leaf.tls;
    return (r) => (tls && !options.tls ? undefined : { ...r, tls });
  }
  // A TCP connection's ClientHello and port.
  if (leaf.sni !== undefined) {
    const name = asList(leaf.sni)[0]!;
    return (r) => ({ ...r, sni: meet ? name.replace(/^\*\./, "probe.") : "verify.invalid" });
  }
  if (leaf.alpn !== undefined) return (r) => ({ ...r, alpn: meet ? [asList(leaf.alpn)[0]!] : ["verify-probe"] });
  if (leaf.destinationPort !== undefined) {
    const ports = asList(leaf.destinationPort);
    const other = [ports[0]! + 1, ports[0]! - 1].find((p) => p >= 1 && p <= 65535 && !ports.includes(p));
    return (r) => (meet ? { ...r, destinationPort: ports[0]! } : other === undefined ? undefined : { ...r, destinationPort: other });
  }
  return () => undefined;
}

/** Applies the literals in turn; undefined when one cannot be made here. */
function build(literals: readonly Literal[], options: MatrixOptions, start: RouteRequest = BASE): RouteRequest | undefined {
  let request: RouteRequest | undefined = start;
  for (const l of literals) request = request && leafEdit(l.leaf, !l.negated, options)(request);
  return request;
}

/** Every route's match and near misses, with the resolver's outcome for each; deterministic. */
export function routingMatrix(frontend: Frontend, options: MatrixOptions): RoutingCase[] {
  const cases: RoutingCase[] = [];
  const seen = new Set<string>();
  const add = (route: string, kind: RoutingCase["kind"], request: RouteRequest | undefined) => {
    if (!request) return false;
    const key = `${route} ${JSON.stringify(request)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    cases.push({ route, kind, request, expected: resolveRequest(frontend, options.backends ?? [], request) });
    return true;
  };
  frontend.routes.forEach((route, index) => {
    const name = route.name ?? `routes.${index}`;
    const terms = route.when ? conditionTerms(expandCondition(route.when, frontend.conditions)) : [[]];
    const takes = (r: RouteRequest) => {
      const decided = resolveRoute(frontend, r).route;
      return decided === name || decided.startsWith(`${name} (table `);
    };
    // The first conjunction that, met, the route takes (an earlier route may take some first).
    const starts = route.table !== undefined ? tableRequests(frontend, route.table, options.tableEntries ?? 3) : [BASE];
    for (const start of starts) {
      const conjunction = terms.find((t) => {
        const r = build(t, options, start);
        return r !== undefined && takes(r);
      });
      if (!conjunction) continue;
      const match = build(conjunction, options, start)!;
      add(name, "match", match);
      // Near misses: one test of the conjunction turned around at a time (or the table's key unknown).
      const misses = conjunction.map((l, i) => build([...conjunction.slice(0, i), { ...l, negated: !l.negated }, ...conjunction.slice(i + 1)], options, start));
      if (route.table !== undefined) misses.push(build(conjunction, options, { ...start, host: "unknown.invalid" }));
      let added = 0;
      for (const miss of misses) if (added < (options.nearMisses ?? 3) && miss && !takes(miss) && add(name, "near miss", miss)) added++;
    }
  });
  return cases;
}

/** A request for each of the first `count` entries of a table: its host, under its path prefix. */
function tableRequests(frontend: Frontend, tableName: string, count: number): RouteRequest[] {
  const table = frontend.routeTables.find((t) => t.name === tableName);
  if (!table) return [];
  return table.entries.slice(0, count).map((e) => ({ ...BASE, host: e.host, path: table.key === "host" ? "/verify-probe" : `${tableEntryKey(table, e).slice(e.host.length)}verify-probe` }));
}
