// Which action a frontend takes for a request, straight from the topology: a pure function, written
// apart from the renderer (it reads the condition tree, never the ACLs), so that sending the same
// requests through the real HAProxy and through this tests one against the other.
import { BlockList, isIP } from "node:net";
import { answerKind, asList, expandCondition, routeAction, tableEntryKey, type BackendAnswer, type Condition, type Route } from "./routing.ts";
import type { Backend, Frontend } from "./schema.ts";

export interface RouteRequest {
  method: string;
  /** The Host header as sent (with a port or not); absent: no Host header. */
  host?: string;
  /** The path, without the query string. */
  path: string;
  /** The query string, without "?". */
  query?: string;
  /** Header lines other than Host, in order, as sent. */
  headers?: readonly (readonly [string, string])[];
  /** The client's address. */
  source: string;
  tls: boolean;
  /** A TCP connection's TLS ClientHello: the server name it asks for, the protocols it offers. */
  sni?: string;
  alpn?: readonly string[];
  /** The port the client connected to. */
  destinationPort?: number;
}

/** What the frontend does with a request; `route` names the rule that decided ("routes.2", a route's name, "defaultBackend"...). */
export type RouteOutcome =
  | { kind: "backend"; backend: string; route: string }
  | { kind: "redirect"; status: number; location: string; route: string }
  | { kind: "respond"; status: number; contentType?: string; body?: string; bodyFile?: string; route: string }
  | { kind: "deny"; status: number; route: string }
  | { kind: "tarpit"; status: number; route: string }
  /** A Lua service answers: what it says is the script's, not the topology's. */
  | { kind: "service"; service: string; route: string }
  /** The route asks for a login the request does not carry: 401 with the realm. */
  | { kind: "auth"; status: 401; realm: string; route: string }
  /** No route took it and there is no default backend: HAProxy answers 503. */
  | { kind: "unrouted"; route: string }
  /** Whether `route` takes it is a Lua script's to say (a fetch or a converter in its condition): not the resolver's. */
  | { kind: "undecided"; route: string; by: string };

/** The Host header as routes compare it: up to its first ":" (no port), lower-case (HOST_KEY in the renderer). */
export const routeHost = (host: string | undefined) => host?.split(":")[0]!.toLowerCase();

const headerValues = (request: RouteRequest, name: string) =>
  (request.headers ?? []).filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v.trim());

/**
 * The values of every `name=` parameter of the query string, undecoded: an ACL on url_param tries
 * each. A bare "name" without "=" is no parameter to HAProxy (measured).
 */
function queryParams(query: string | undefined, name: string): string[] {
  return (query ?? "").split("&").flatMap((part) => (part.startsWith(`${name}=`) ? [part.slice(name.length + 1)] : []));
}

function inNetworks(address: string, networks: readonly string[]): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const list = new BlockList();
  for (const network of networks) {
    const [net, bits] = network.split("/");
    const type = isIP(net!) === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) list.addAddress(net!, type);
    else list.addSubnet(net!, Number(bits), type);
  }
  return list.check(address, family === 6 ? "ipv6" : "ipv4");
}

function valueMatches(values: string[], m: NonNullable<Condition["header"]>): boolean {
  const fold = (s: string) => (m.ignoreCase ? s.toLowerCase() : s);
  if (m.present) return values.length > 0;
  if (m.equals !== undefined) return values.some((v) => asList(m.equals).some((e) => fold(v) === fold(e)));
  if (m.prefix !== undefined) return values.some((v) => asList(m.prefix).some((p) => fold(v).startsWith(fold(p))));
  const regex = new RegExp(m.regex!, m.ignoreCase ? "i" : "");
  return values.some((v) => regex.test(v));
}

/** Whether a lower-case name is one of `patterns` ("*.example.com": exactly one label in front of ".example.com"). */
function nameMatches(name: string | undefined, patterns: readonly string[]): boolean {
  if (name === undefined) return false;
  return patterns.some((h) => {
    const want = h.toLowerCase();
    if (!want.startsWith("*.")) return name === want;
    const label = name.slice(0, name.length - want.length + 1);
    return name.endsWith(want.slice(1)) && label.length > 0 && !label.includes(".");
  });
}

/** Whether `request` meets `condition` (named conditions written out); throws where a Lua script decides (see conditionDecision). */
export function conditionHolds(condition: Condition, request: RouteRequest): boolean {
  const decision = conditionDecision(condition, request);
  if (typeof decision === "string") throw new Error(`${decision} decides this condition: the resolver cannot run Lua`);
  return decision;
}

/**
 * Whether `request` meets `condition`, or the Lua fetch or converter ("lua.NAME") that decides it.
 * all and any decide without Lua where another part settles them (a false part of all, a true part of any).
 */
export function conditionDecision(condition: Condition, request: RouteRequest): boolean | string {
  if (condition.all || condition.any) {
    const settles = Boolean(condition.any);
    const parts = (condition.all ?? condition.any)!.map((c) => conditionDecision(c, request));
    return parts.includes(settles) ? settles : parts.find((p) => typeof p === "string") ?? !settles;
  }
  if (condition.not) {
    const inner = conditionDecision(condition.not, request);
    return typeof inner === "string" ? inner : !inner;
  }
  const luaName = condition.lua?.fetch ?? (condition.header ?? condition.query)?.luaConverter;
  if (luaName !== undefined) return `lua.${luaName}`;
  return leafHolds(condition, request);
}

function leafHolds(condition: Condition, request: RouteRequest): boolean {
  const host = routeHost(request.host);
  const path = request.path;
  if (condition.host !== undefined) return nameMatches(host, asList(condition.host));
  if (condition.sni !== undefined) return nameMatches(request.sni?.toLowerCase(), asList(condition.sni));
  if (condition.alpn !== undefined) return asList(condition.alpn).some((p) => request.alpn?.includes(p) === true);
  if (condition.destinationPort !== undefined) return request.destinationPort !== undefined && asList(condition.destinationPort).includes(request.destinationPort);
  if (condition.path !== undefined) return asList(condition.path).includes(path);
  if (condition.pathPrefix !== undefined) return asList(condition.pathPrefix).some((p) => (p.endsWith("/") ? path.startsWith(p) : path === p || path.startsWith(`${p}/`)));
  if (condition.pathBegins !== undefined) return asList(condition.pathBegins).some((p) => path.startsWith(p));
  if (condition.pathSuffix !== undefined) return asList(condition.pathSuffix).some((s) => path.endsWith(s));
  if (condition.pathRegex !== undefined) return new RegExp(condition.pathRegex).test(path);
  if (condition.method !== undefined) return (asList(condition.method) as string[]).includes(request.method);
  if (condition.source !== undefined) return inNetworks(request.source, asList(condition.source));
  if (condition.tls !== undefined) return request.tls === condition.tls;
  if (condition.header !== undefined) return valueMatches(headerValues(request, condition.header.name), condition.header);
  if (condition.query !== undefined) return valueMatches(queryParams(request.query, condition.query.name), condition.query);
  throw new Error(`a condition of no known kind: ${JSON.stringify(condition)}`);
}

/** Each table's entries by key, built once per table (a table may hold tens of thousands). */
const tableIndexes = new WeakMap<Frontend["routeTables"][number], Map<string, string>>();
function tableIndex(table: Frontend["routeTables"][number]): Map<string, string> {
  let index = tableIndexes.get(table);
  if (!index) {
    index = new Map();
    // The first entry of a key wins, as the map file's first line does.
    for (const e of table.entries) {
      const key = tableEntryKey(table, e);
      if (!index.has(key)) index.set(key, e.backend);
    }
    tableIndexes.set(table, index);
  }
  return index;
}

/**
 * The backend a route table names for the request, or undefined: for host+path, the longest key that
 * begins the request's host, path and a "/" (keys end in "/", so only prefixes up to a "/" can match).
 */
function tableBackend(table: Frontend["routeTables"][number], request: RouteRequest): string | undefined {
  const host = routeHost(request.host);
  if (host === undefined) return undefined;
  const index = tableIndex(table);
  if (table.key === "host") return index.get(host);
  const lookup = `${host}${request.path}/`;
  for (let end = lookup.length; end > 0; end = lookup.lastIndexOf("/", end - 2) + 1) {
    const backend = index.get(lookup.slice(0, end));
    if (backend !== undefined) return backend;
  }
  return undefined;
}

const routeName = (route: Route, index: number) => route.name ?? `routes.${index}`;

function redirectLocation(r: NonNullable<Route["redirect"]>, request: RouteRequest): string {
  if (r.location !== undefined) return r.location;
  const uri = `${request.path}${request.query !== undefined && !r.dropQuery ? `?${request.query}` : ""}`;
  if (r.prefix !== undefined) return `${r.prefix}${uri}`;
  return `${r.scheme}://${request.host ?? ""}${uri}`;
}

/**
 * What `frontend` does with `request`: its allowlist and HTTPS redirect first (as the config orders
 * them), then the first route that takes it, else the default backend. The rate limit, which depends
 * on the requests before, is not modelled.
 */
export function resolveRoute(frontend: Frontend, request: RouteRequest, tlsPort?: number): RouteOutcome {
  if (frontend.allowlist && !inNetworks(request.source, frontend.allowlist)) return { kind: "deny", status: 403, route: "allowlist" };
  if (frontend.httpsRedirect && !request.tls && tlsPort !== undefined) {
    const uri = `${request.path}${request.query !== undefined ? `?${request.query}` : ""}`;
    return { kind: "redirect", status: 301, location: `https://${request.host?.replace(/:[0-9]+$/, "") ?? ""}${tlsPort === 443 ? "" : `:${tlsPort}`}${uri}`, route: "httpsRedirect" };
  }
  for (const [index, route] of frontend.routes.entries()) {
    const name = routeName(route, index);
    const decision = route.when ? conditionDecision(expandCondition(route.when, frontend.conditions), request) : true;
    if (typeof decision === "string") return { kind: "undecided", route: name, by: decision };
    if (!decision) continue;
    // A login is asked before the action; one that is sent is taken as valid (the resolver knows no passwords).
    if (route.auth && !(request.headers ?? []).some(([n]) => n.toLowerCase() === "authorization") && !(route.table !== undefined && tableBackend(frontend.routeTables.find((t) => t.name === route.table)!, request) === undefined)) {
      return { kind: "auth", status: 401, realm: route.auth.realm, route: name };
    }
    switch (routeAction(route)) {
      case "backend":
        return { kind: "backend", backend: route.backend!, route: name };
      case "table": {
        const backend = tableBackend(frontend.routeTables.find((t) => t.name === route.table)!, request);
        if (backend === undefined) continue;
        return { kind: "backend", backend, route: `${name} (table ${route.table})` };
      }
      case "service":
        return { kind: "service", service: route.service!, route: name };
      default:
        return answerOutcome(route, request, name);
    }
  }
  return frontend.defaultBackend !== undefined ? { kind: "backend", backend: frontend.defaultBackend, route: "defaultBackend" } : { kind: "unrouted", route: "no route" };
}

/** An answer HAProxy gives itself, for this request. */
function answerOutcome(answer: BackendAnswer, request: RouteRequest, route: string): RouteOutcome {
  switch (answerKind(answer)) {
    case "redirect":
      return { kind: "redirect", status: answer.redirect!.code, location: redirectLocation(answer.redirect!, request), route };
    case "respond": {
      const { status, contentType, body, bodyFile } = answer.respond!;
      return { kind: "respond", status, ...(body !== undefined && { contentType, body }), ...(bodyFile !== undefined && { contentType, bodyFile }), route };
    }
    case "deny":
      return { kind: "deny", status: answer.deny!.status, route };
    case "tarpit":
      return { kind: "tarpit", status: answer.tarpit!.status, route };
  }
}

/**
 * What becomes of `request`: what `frontend` does with it, followed into the backend it sends it to
 * where that backend has no servers and answers itself. The answer is decided on the request as it
 * came: a frontend rule that rewrites the path changes what a prefix or scheme redirect's Location
 * carries in HAProxy.
 */
export function resolveRequest(frontend: Frontend, backends: readonly Pick<Backend, "name" | "answer">[], request: RouteRequest, tlsPort?: number): RouteOutcome {
  const outcome = resolveRoute(frontend, request, tlsPort);
  if (outcome.kind !== "backend") return outcome;
  const answer = backends.find((b) => b.name === outcome.backend)?.answer;
  return answer ? answerOutcome(answer, request, `${outcome.route} (backend ${outcome.backend} answers)`) : outcome;
}
