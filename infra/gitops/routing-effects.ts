// What a routing change does to requests: example requests (each route's matches and near misses, on
// either side) resolved against both topologies, and those whose outcome changes. Pure; the plan
// shows them so that a reviewer reads effects, not only edits.
import { resolveRequest, type RouteOutcome, type RouteRequest } from "../model/route-resolver.ts";
import { routingMatrix } from "../model/route-matrix.ts";
import { proxyMode, type Frontend, type Topology } from "../model/schema.ts";

export interface RoutingEffect {
  frontend: string;
  /** "GET api.example.com/v2/users [X-Api-Version: 2]" */
  request: string;
  before: string;
  after: string;
}

/** The parts of a frontend that decide where a request goes. */
const routingOf = (f: Frontend) => JSON.stringify([f.routes, f.routeTables, f.conditions, f.defaultBackend, f.allowlist, f.httpsRedirect]);

/** Sources that examples may come from: any address works, the stack is not asked. */
const SOURCES = ["127.0.0.1", "10.0.0.1", "192.168.0.1", "203.0.113.1"];

/** `connection`: a TCP frontend's, which HAProxy refuses by closing it (no status). */
export const describeOutcome = (o: RouteOutcome, connection = false): string => {
  if (connection && o.kind === "deny") return "refused";
  switch (o.kind) {
    case "backend":
      return `backend ${o.backend}`;
    case "redirect":
      return `redirect ${o.status} to ${o.location}`;
    case "respond":
      return `answer ${o.status}`;
    case "unrouted":
      return "503 (no route, no default backend)";
    case "auth":
      return `401 (login for ${o.realm})`;
    case "service":
      return `Lua service ${o.service}`;
    case "undecided":
      return `as ${o.by} decides (route ${o.route})`;
    default:
      return `${o.kind} ${o.status}`;
  }
};

export const describeRequest = (r: RouteRequest): string =>
  r.sni !== undefined || r.alpn !== undefined || r.destinationPort !== undefined
    ? ["a connection", r.sni !== undefined ? `for ${r.sni}` : undefined, r.alpn ? `offering ${r.alpn.join(", ")}` : undefined, r.destinationPort !== undefined ? `to port ${r.destinationPort}` : undefined, r.source !== "127.0.0.1" ? `from ${r.source}` : undefined].filter(Boolean).join(" ")
    : `${r.method} ${r.tls ? "https://" : ""}${r.host ?? ""}${r.path}${r.query !== undefined ? `?${r.query}` : ""}${r.headers?.length ? ` [${r.headers.map(([n, v]) => `${n}: ${v}`).join(", ")}]` : ""}${r.source !== "127.0.0.1" ? ` from ${r.source}` : ""}`;

/** Up to `limit` example requests per frontend whose outcome differs between `base` and `head`. */
export function routingEffects(base: Topology, head: Topology, limit = 20): RoutingEffect[] {
  return head.frontends.flatMap((after) => {
    const before = base.frontends.find((f) => f.name === after.name);
    if (!before || routingOf(before) === routingOf(after)) return [];
    const options = { tls: true, sources: SOURCES, tableEntries: 10 };
    const requests = new Map<string, RouteRequest>();
    for (const c of [...routingMatrix(before, options), ...routingMatrix(after, options)]) requests.set(describeRequest(c.request), c.request);
    const effects: RoutingEffect[] = [];
    for (const [text, request] of requests) {
      const tcp = proxyMode(after, head.defaults) === "tcp";
      const [was, becomes] = [describeOutcome(resolveRequest(before, base.backends, request), tcp), describeOutcome(resolveRequest(after, head.backends, request), tcp)];
      if (was !== becomes && effects.length < limit) effects.push({ frontend: after.name, request: text, before: was, after: becomes });
    }
    return effects;
  });
}
