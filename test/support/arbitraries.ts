// Random valid topologies (fast-check): distinct names and ports, references that resolve. Shared by
// the renderer's and the planner's property tests.
import fc from "fast-check";
import { ANY_SUCCESS } from "../../infra/model/checks.ts";
import type { TopologyInput } from "../../infra/model/schema.ts";

export const nameArb = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,20}$/);
export const durationArb = fc.tuple(fc.integer({ min: 1, max: 5000 }), fc.constantFrom("ms", "s")).map(([n, u]) => `${n}${u}`);

/** Random valid topologies: distinct names and ports, references that resolve. */
export const topologyArb: fc.Arbitrary<TopologyInput> = fc
  .record({
    backendNames: fc.uniqueArray(nameArb, { minLength: 1, maxLength: 3 }),
    serverCounts: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 3, maxLength: 3 }),
    frontendNames: fc.uniqueArray(nameArb.filter((n) => n !== "monitoring"), { minLength: 1, maxLength: 2 }),
    balance: fc.constantFrom("roundrobin", "leastconn", "source", "uri", "first", "random", "url_param", "hdr"),
    consistent: fc.boolean(),
    // Routes and rules carrying any printable value: the renderer must keep each one argument.
    routing: fc.option(fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 24 }), { nil: undefined }),
    cookie: fc.boolean(),
    connectionMode: fc.option(fc.constantFrom("keep-alive" as const, "server-close" as const, "close" as const), { nil: undefined }),
    // HAProxy's log targets as configs write them: standard output, the local syslog's socket (the local target only), a syslog server over TCP.
    logs: fc.option(fc.subarray([
      { target: "stdout", format: "raw" as const },
      { target: "/dev/log", format: "rfc3164" as const, facility: "local2" as const },
      { target: "127.0.0.1:514", format: "rfc5424" as const, transport: "tcp" as const },
    ], { maxLength: 2 }), { nil: undefined }),
    healthCheck: fc.option(fc.record({ http: fc.record({ method: fc.constantFrom("GET", "HEAD", "OPTIONS"), path: fc.constantFrom("/", "/status", "/health?x=1"), expectStatus: fc.oneof(fc.integer({ min: 200, max: 399 }), fc.constant(ANY_SUCCESS)) }) }), { nil: undefined }),
    inter: durationArb,
    fall: fc.integer({ min: 1, max: 10 }),
    rise: fc.integer({ min: 1, max: 10 }),
    weight: fc.integer({ min: 1, max: 256 }),
    maxconn: fc.option(fc.integer({ min: 1, max: 10000 }), { nil: undefined }),
    retries: fc.integer({ min: 0, max: 10 }),
    retryOn: fc.subarray(["conn-failure", "empty-response", "response-timeout", "503"] as const),
    timeout: durationArb,
    rateLimit: fc.option(fc.integer({ min: 1, max: 100000 }), { nil: undefined }),
    // Connections per client counted as they open, on every frontend (TCP ones too), under a condition on the source.
    connectionLimit: fc.option(fc.record({ limit: fc.integer({ min: 1, max: 10000 }), window: durationArb, exempt: fc.boolean() }), { nil: undefined }),
    // A backend with no servers that answers itself (a route sends to it where routes exist).
    answer: fc.option(fc.oneof(
      fc.record({ status: fc.constantFrom(200, 410, 503), body: fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 24 }) }).map((respond) => ({ respond })),
      fc.constant({ respond: { status: 503, contentType: "text/html", bodyFile: "maintenance.html" } }),
      fc.constantFrom(301, 302, 308).map((code) => ({ redirect: { prefix: "https://www.example.com", code } })),
      fc.constantFrom(403, 404).map((status) => ({ deny: { status } })),
    ), { nil: undefined }),
    allowlist: fc.option(fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 32 })).map(([a, m]) => `${a}.0.0.0/${m}`), { minLength: 1, maxLength: 3 }), { nil: undefined }),
    basePort: fc.integer({ min: 1024, max: 50000 }),
    // Stick tables shared through peers (the local peer's port is drawn beside the services'), and the first backend sticking on the source.
    peers: fc.option(fc.record({
      name: fc.constantFrom(undefined, "edges"),
      localPeer: fc.constantFrom("lb1", "edge-1.example.com"),
      address: fc.constantFrom(undefined, "10.0.0.1", "::"),
      remotes: fc.uniqueArray(fc.record({ name: fc.constantFrom("lb2", "lb3", "edge-2.example.com"), address: fc.constantFrom("10.0.0.2", "fd00::2"), port: fc.integer({ min: 1024, max: 65535 }) }), { selector: (p) => p.name, maxLength: 2 }),
    }), { nil: undefined }),
    stickOnSource: fc.boolean(),
    // A canary on the first backend (its last server, or its discovered group), pinned by a header of any printable value.
    canary: fc.option(fc.record({ ofGroup: fc.boolean(), steps: fc.constantFrom([100], [10, 50, 100], [5, 10, 25, 50, 100]), onAbort: fc.constantFrom("move-sessions" as const, "keep-sessions" as const) }), { nil: undefined }),
    // A managed certificate served by a TLS bind of the first frontend (HTTP-01 answered on its plain bind).
    acme: fc.boolean(),
    // A TCP frontend and backend beside the HTTP ones: SNI routes, a check of any kind with any printable text.
    tcp: fc.option(
      fc.record({
        check: fc.oneof(
          fc.constant({ connect: true as const }),
          fc.record({ redis: fc.constant({}), primaryOnly: fc.boolean() }),
          fc.constant({ postgresql: { user: "check" } }),
          fc.constant({ mysql: { user: "check" } }),
          fc.constant({ tlsHello: true as const }),
          fc.constant({ ldap: true as const }),
          fc.record({ steps: fc.array(fc.oneof(
            fc.string({ unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), fc.constantFrom("\r", "\n", "\t")), minLength: 1, maxLength: 24 }).map((send) => ({ send })),
            fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 24 }).map((string) => ({ expect: { string } })),
            fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => ({ sendBinary: Buffer.from(b).toString("hex") })),
          ), { minLength: 1, maxLength: 6 }) }),
        ),
        sni: fc.uniqueArray(fc.stringMatching(/^(\*\.)?[a-z0-9]{1,10}\.example\.com$/), { minLength: 1, maxLength: 4 }),
        sendProxy: fc.constantFrom(undefined, "v1" as const, "v2" as const),
        acceptProxy: fc.boolean(),
        checkPort: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        tunnel: fc.option(durationArb, { nil: undefined }),
        agentSend: fc.option(fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 16 }), { nil: undefined }),
      }),
      { nil: undefined },
    ),
    // A discovered group on the first backend, beside its listed servers.
    discovery: fc.option(
      fc.record({
        record: fc.constantFrom("A", "AAAA", "SRV"),
        maxServers: fc.integer({ min: 1, max: 50 }),
        weight: fc.integer({ min: 0, max: 256 }),
        nameservers: fc.option(fc.constant("10.0.0.2:53").map((ns) => [ns]), { nil: undefined }),
        resolveEvery: durationArb,
        holdValid: durationArb,
        holdObsolete: fc.oneof(fc.constant("0s"), durationArb),
        holdDuringOutage: durationArb,
        acceptedPayloadSize: fc.integer({ min: 512, max: 65535 }),
      }),
      { nil: undefined },
    ),
  })
  .map((r) => ({
    name: "property",
    ...(r.logs && { global: { logs: r.logs } }),
    defaults: { timeouts: { connect: r.timeout, client: r.timeout, server: r.timeout }, retries: r.retries, retryOn: r.retryOn },
    ...(r.acme && { certificates: [{ file: "managed.pem", names: ["shop.example.com", "www.shop.example.com"], acme: { directoryUrl: "https://acme.example.com/directory", contact: ["ops@example.com"] } }] }),
    frontends: [...r.frontendNames.map((name, i) => ({
      name,
      binds: [{ port: r.basePort + i * 10, lastPort: r.basePort + i * 10 + 1 }, ...(r.acme && i === 0 ? [{ port: r.basePort + i * 10 + 5, tlsCertificate: "managed.pem" }] : [])],
      defaultBackend: r.backendNames[i % r.backendNames.length]!,
      rateLimit: r.rateLimit === undefined ? undefined : { requests: r.rateLimit },
      ...(r.connectionLimit && { rateLimits: [connectionLimit(r.connectionLimit)] }),
      allowlist: r.allowlist,
      ...(r.routing !== undefined && {
        routes: [
          ...(r.answer ? [{ when: { pathPrefix: "/gone" }, backend: ANSWERING_BACKEND }] : []),
          { when: { any: [{ header: { name: "X-Probe", equals: r.routing } }, { query: { name: "q", prefix: r.routing } }] }, backend: r.backendNames[0]! },
          { when: { pathPrefix: "/probe" }, respond: { status: 200, body: r.routing } },
          { when: { pathRegex: "^/r/[0-9]+$" }, redirect: { location: `/to/${encodeURIComponent(r.routing)}`, code: 302 } },
        ],
        requestRules: [{ setHeader: { name: "X-Set", value: r.routing } }, { when: { header: { name: "X-Probe", present: true } }, deleteHeader: "X-Probe" }],
        responseRules: [{ addHeader: { name: "X-Added", value: r.routing } }],
        logCaptures: { requestHeaders: [{ name: "X-Request-Id", length: 36 }, { name: "User-Agent", length: 64 }], responseHeaders: [{ name: "Content-Type", length: 32 }] },
        afterResponseRules: [{ deleteHeader: "Server" }, { when: { pathPrefix: "/probe" }, setHeader: { name: "Cache-Control", value: r.routing } }, { when: { method: "OPTIONS" }, setStatus: 204 }],
      }),
    })), ...tcpFrontends(r.tcp, r.basePort, r.connectionLimit)],
    backends: [...r.backendNames.map((name, b) => ({
      name,
      balance: r.balance,
      ...(r.balance === "url_param" && { balanceKey: "user" }),
      ...(r.balance === "hdr" && { balanceKey: "X-Tenant" }),
      ...(r.consistent && ["source", "uri", "url_param", "hdr"].includes(r.balance) && { hashType: "consistent" as const }),
      healthCheck: r.healthCheck,
      connectionMode: r.connectionMode,
      cookie: r.cookie ? { name: "SRV" } : undefined,
      ...(b === 0 && r.stickOnSource && { stickOnSource: { expire: "10m" } }),
      servers: Array.from({ length: r.serverCounts[b]! }, (_, s) => ({
        name: `s${s}`,
        address: `10.0.${b}.${s + 1}`,
        port: 8000 + s,
        inter: r.inter,
        fall: r.fall,
        rise: r.rise,
        weight: r.weight,
        maxconn: r.maxconn,
        cookie: r.cookie ? `c${s}` : undefined,
      })),
      canary: b === 0 && r.canary && r.canary.ofGroup && r.discovery && r.discovery.maxServers <= 100 && r.serverCounts[b]! >= 1
        ? { group: "grp", steps: [...r.canary.steps], interval: "10s", onAbort: r.canary.onAbort, pin: { header: { name: "X-Canary", equals: r.routing ?? "always" } } }
        : b === 0 && r.canary && r.serverCounts[b]! >= 2
        ? { servers: [`s${r.serverCounts[b]! - 1}`], steps: [...r.canary.steps], interval: "10s", onAbort: r.canary.onAbort, pin: { header: { name: "X-Canary", equals: r.routing ?? "always" } } }
        : undefined,
      discovery: b === 0 && r.discovery
        ? {
            name: "grp",
            dnsName: r.discovery.record === "SRV" ? "_http._tcp.app.example.internal" : "app.example.internal",
            record: r.discovery.record as "A" | "AAAA" | "SRV",
            port: r.discovery.record === "SRV" ? undefined : 9000,
            maxServers: r.discovery.maxServers,
            instances: Math.min(2, r.discovery.maxServers),
            weight: r.discovery.weight,
            resolver: { nameservers: r.discovery.nameservers, resolveEvery: r.discovery.resolveEvery, holdValid: r.discovery.holdValid, holdObsolete: r.discovery.holdObsolete, holdDuringOutage: r.discovery.holdDuringOutage, acceptedPayloadSize: r.discovery.acceptedPayloadSize },
          }
        : undefined,
    })), ...tcpBackends(r.tcp), ...(r.answer ? [{ name: ANSWERING_BACKEND, answer: r.answer, afterResponseRules: [{ setHeader: { name: "Cache-Control", value: "no-store" } }] }] : [])],
    monitoring: { port: r.basePort + 100 },
    ...(r.peers && { peers: { ...r.peers, port: r.basePort + 205 } }),
    // Every listener has its own ports, the services' too (their defaults could fall in a range above).
    services: { sidecar: { port: r.basePort + 200 }, prometheus: { port: r.basePort + 201 }, grafana: { port: r.basePort + 202 }, dns: { port: r.basePort + 203 }, alertmanager: { port: r.basePort + 204 } },
  }));

/** Longer than nameArb's names, so that they never collide with the HTTP ones. */
const TCP_FRONTEND = "tcp_frontend_for_props";
const TCP_BACKEND = "tcp_backend_for_properties";

interface TcpChoice {
  check: Record<string, unknown>;
  sni: string[];
  sendProxy: "v1" | "v2" | undefined;
  acceptProxy: boolean;
  checkPort: number | undefined;
  tunnel: string | undefined;
  agentSend: string | undefined;
}

/** Longer than nameArb's names. */
const ANSWERING_BACKEND = "answering_backend_for_properties";

const connectionLimit = (c: { limit: number; window: string; exempt: boolean }) => ({ name: "conns", key: "source" as const, count: "connections" as const, limit: c.limit, window: c.window, ...(c.exempt && { when: { not: { source: ["10.0.0.0/8", "fd00::/8"] } } }) });

function tcpFrontends(tcp: TcpChoice | undefined, basePort: number, limit?: { limit: number; window: string; exempt: boolean }) {
  if (!tcp) return [];
  return [{
    name: TCP_FRONTEND,
    mode: "tcp" as const,
    ...(limit && { rateLimits: [connectionLimit(limit)] }),
    binds: [{ port: basePort + 50, ...(tcp.acceptProxy && { acceptProxy: { from: ["10.0.0.0/8", "fd00::/8"] } }) }],
    routes: [{ when: { sni: tcp.sni }, backend: TCP_BACKEND }, { deny: {} }],
  }];
}

function tcpBackends(tcp: TcpChoice | undefined) {
  if (!tcp) return [];
  return [{
    name: TCP_BACKEND,
    mode: "tcp" as const,
    healthCheck: { ...tcp.check, ...(tcp.checkPort !== undefined && { port: tcp.checkPort }) },
    sendProxy: tcp.sendProxy,
    ...(tcp.agentSend !== undefined && { agent: { port: 9777, send: tcp.agentSend } }),
    timeouts: { tunnel: tcp.tunnel },
    shutdownSessionsOnDown: true,
    servers: [{ name: "t1", address: "10.9.0.1", port: 6379 }, { name: "t2", address: "10.9.0.2", port: 6379 }],
  }];
}
