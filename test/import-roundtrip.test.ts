// Import reads what the stack writes: a topology rendered to haproxy.cfg and imported again is the
// same topology, every line accounted for and none refused, up to what a config cannot say (the
// services around HAProxy, how many instances the stack starts, names the config does not carry) and
// what import decides on purpose (an imported server is one the stack does not run): each such
// normalisation is a commented line of sayable(). For every example topology; as a property over the
// render property's generator, which draws every part of the model; and over a generator of its own
// that draws the combinations that generator leaves out (Lua, canaries without a pin, keyed limits...).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { diffJson } from "diff";
import { describe, it } from "vitest";
import { parseConfig } from "../haproxy/config-parser.ts";
import { compareRendered } from "../infra/import/equivalence.ts";
import { importConfig, refusals } from "../infra/import/import.ts";
import { TopologyInvalidError } from "../infra/errors.ts";
import { ANY_SUCCESS } from "../infra/model/checks.ts";
import { loadTopologyFile } from "../infra/model/load.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { runnableAddress, type Topology, type TopologyInput } from "../infra/model/schema.ts";
import { conditionTerms, expandCondition, type Condition } from "../infra/model/routing.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { dockerTarget } from "../infra/render/targets.ts";
import { TLS12_CIPHERS, TLS13_CIPHERSUITES } from "../infra/render/view.ts";
import { mapFiles } from "../infra/render/routing.ts";
import { REPO_ROOT } from "../infra/repo.ts";
import { durationArb, topologyArb } from "./support/arbitraries.ts";

/** The files the rendered config names: the route tables' maps the render writes beside it, the error pages where the repository keeps them. */
const renderedFiles = (topology: Topology) => ({
  read(path: string) {
    const map = mapFiles(topology).find((m) => m.path === path);
    if (map) return map.content;
    try {
      return readFileSync(join(REPO_ROOT, "templates", path), "utf8");
    } catch {
      return undefined;
    }
  },
});

/**
 * Rendered for the Docker target (servers keep their names and ports), then imported; and that config
 * beside what the imported topology renders, directive by directive: the differences.
 */
function roundTrip(topology: Topology): { back?: Topology; refused: string[]; differences: string[] } {
  const target = dockerTarget();
  const parsed = parseConfig([{ file: "haproxy.cfg", text: renderHaproxyConfig(topology, target) }]);
  const result = importConfig(parsed, topology.name, renderedFiles(topology));
  const refused = refusals(result.accounts);
  if (refused.length) return { refused, differences: [] };
  const back = parseTopology(result.topology);
  return { back, refused, differences: compareRendered(parsed, result, back, renderedFiles(topology), target).differences };
}

/** What a config says of a topology: without the services around HAProxy, each proxy's mode resolved, servers as imported ones. */
function sayable(original: Topology): unknown {
  // An empty object says nothing (timeouts: {}), as an absent one: both are left out.
  const topology = JSON.parse(JSON.stringify(JSON.parse(JSON.stringify(original)), (_key, value) => (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0 ? undefined : value))) as Topology;
  // The certificates the stack manages (names, ACME server, renewal) are said to the issuer, not to HAProxy.
  const { services: _services, name: _name, certificates: _certificates, ...rest } = topology;
  const mode = (m: string | undefined) => m ?? topology.defaults.mode;
  // Where a TLS bind exists the config states the ciphers: the model's defaults where the topology said none.
  const tls = topology.frontends.some((f) => f.binds.some((b) => b.tlsCertificate !== undefined)) ? { ciphers: TLS12_CIPHERS, ciphersuites: TLS13_CIPHERSUITES, ...topology.global.tls } : topology.global.tls;
  // No retry-on line is HAProxy's own conn-failure: an empty list says the same.
  const retryOn = topology.defaults.retryOn.length ? topology.defaults.retryOn : ["conn-failure"];
  return {
    ...rest,
    defaults: { ...topology.defaults, retryOn },
    global: { ...topology.global, tls },
    // A route's name is the plan's and verify's word for it, and a compound named condition is written
    // out in each route that uses it: the config carries neither, so conditions compare by what they test.
    frontends: topology.frontends.map(({ conditions, ...f }) => {
      const tested = (when: Condition | undefined) => (when === undefined ? undefined : disjunctiveForm(expandCondition(when, conditions)));
      const withTests = <T extends { when?: Condition }>({ when, ...item }: T) => ({ ...item, ...(when && { when: tested(when) }) });
      // A table's entries are looked up by key: their order is the map file's, longest first, not the topology's.
      const routeTables = f.routeTables.map((t) => ({ ...t, entries: [...t.entries].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))) }));
      // X-Forwarded-For is on in an HTTP frontend unless the topology says otherwise.
      const forwardfor = mode(f.mode) === "http" ? { forwardfor: f.forwardfor ?? true } : {};
      // Settings that add no header say nothing a config could.
      const { forwardedHeaders, securityHeaders, ...said } = f;
      const headers = {
        ...(forwardedHeaders && Object.values(forwardedHeaders).some(Boolean) && { forwardedHeaders }),
        ...(securityHeaders && (securityHeaders.noSniff || securityHeaders.frameOptions !== "off" || securityHeaders.referrerPolicy !== "off" || securityHeaders.contentSecurityPolicy) && { securityHeaders }),
      };
      return { ...said, ...headers, ...forwardfor, routeTables, mode: mode(f.mode), routes: f.routes.map(({ name: _route, ...route }) => withTests(route)), requestRules: f.requestRules.map(withTests), responseRules: f.responseRules.map(withTests) };
    }),
    backends: topology.backends.map(({ healthCheck, canary, ...b }) => ({
      ...b,
      // Of a canary, HAProxy is told its servers, its pin and its response-time bound; the steps are the rollout's.
      ...(canary && { canary: { servers: canary.servers, group: canary.group, pin: canary.pin && disjunctiveForm(canary.pin), maxResponseMs: canary.analysis.maxResponseMs } }),
      // A plain connect is what HAProxy checks when a config names no check: the same config either way.
      ...(healthCheck && JSON.stringify(healthCheck) !== JSON.stringify({ connect: true, tls: false, primaryOnly: false }) && { healthCheck }),
      mode: mode(b.mode),
      // A canary's server has weight 0 in the config until a rollout: its own weight is not said there.
      servers: b.servers.map((s) => ({ ...s, external: true, ...(canary?.servers?.includes(s.name) && { weight: 1 }) })),
      ...(b.discovery && { discovery: { ...b.discovery, instances: 0, ...(canary?.group !== undefined && { weight: 1 }) } }),
    })),
  };
}

/** A condition as what it tests: any of these conjunctions, each all of its (possibly negated) tests, in a stable order. */
function disjunctiveForm(condition: Condition): string[][] {
  // One value or a list of it says the same (a condition's values are "one or more").
  const canonical = (value: unknown): unknown => (Array.isArray(value) ? (value.length === 1 ? canonical(value[0]) : value.map(canonical).sort()) : value !== null && typeof value === "object" ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, canonical(v)])) : value);
  return conditionTerms(condition)
    .map((conjunction) => conjunction.map((literal) => JSON.stringify(canonical(literal))).sort())
    .sort((a, b) => a.join().localeCompare(b.join()));
}

describe("the example topologies, rendered and imported", () => {
  for (const file of ["infra/topology.ts", "infra/topologies/discovery.ts", "infra/topologies/data.ts", "infra/topologies/edge.ts", "infra/topologies/acme.ts", "infra/topologies/canary.ts", "infra/topologies/canary-group.ts"]) {
    it(`${file}: every line mapped or decided, and the same topology back`, async () => {
      const topology = await loadTopologyFile(join(REPO_ROOT, file));
      // The local syslog's socket is the local target's alone (the Docker render refuses it; the corpus imports "log /dev/log").
  fc.pre(!topology.global.logs.some((l) => l.target.startsWith("/")));
  const { back, refused, differences } = roundTrip(topology);
      assert.deepEqual(refused, []);
      assert.deepEqual(differences, []);
      // DEBUG_ROUNDTRIP=1 prints the difference as JSON lines, easier to read than the assertion's.
      if (process.env.DEBUG_ROUNDTRIP) for (const part of diffJson(sayable(topology) as object, sayable(back!) as object)) if (part.added || part.removed) console.log(part.added ? "+" : "-", part.value);
      assert.deepEqual(sayable(back!), sayable(topology));
    });
  }
});

/** Where servers are, as configs write it: the last three only for servers the stack does not run (external). */
const hostArb = fc.constantFrom("app-1", "app-2", "10.0.0.5", "db.internal", "fd00::5", "my_service_1", "${APP_HOST}");

/** Random topologies of the model's core, with routes: what import reads back today. */
const coreTopologyArb: fc.Arbitrary<TopologyInput> = fc
  .record({
    maxconn: fc.integer({ min: 100, max: 100_000 }),
    nbthread: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
    closeSpreadTime: fc.oneof(fc.constant("infinite"), durationArb),
    hardStopAfter: durationArb,
    idleCloseOnResponse: fc.boolean(),
    maxRequestBodyBytes: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100_000_000 })),
    retries: fc.integer({ min: 0, max: 5 }),
    redispatch: fc.boolean(),
    timeouts: fc.record({ connect: durationArb, client: durationArb, server: durationArb, queue: fc.option(durationArb, { nil: undefined }) }),
    forwardfor: fc.boolean(),
    errorPages: fc.subarray([{ status: 429, file: "429.http" }, { status: 503, file: "503.http" }, { status: 403, file: "403.http" }]),
    rateLimit: fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }),
    frontendMaxconn: fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }),
    balance: fc.constantFrom("roundrobin", "leastconn", "source", "first", "random"),
    check: fc.option(fc.record({ path: fc.constantFrom("/", "/status", "/healthz"), expectStatus: fc.constantFrom<number | typeof ANY_SUCCESS>(200, 204, ANY_SUCCESS), expectBody: fc.option(fc.constantFrom("ok", "ready"), { nil: undefined }), host: fc.option(fc.constantFrom("app.internal", "www.example.com:8080"), { nil: undefined }) }), { nil: undefined }),
    cookie: fc.option(fc.record({ name: fc.constantFrom("SERVERID", "lb"), sameSite: fc.constantFrom("Strict", "Lax", "None"), secure: fc.boolean() }), { nil: undefined }),
    servers: fc.array(
      fc.record({ host: hostArb, port: fc.integer({ min: 1024, max: 65535 }), weight: fc.integer({ min: 0, max: 256 }), inter: durationArb, fall: fc.integer({ min: 1, max: 5 }), rise: fc.integer({ min: 1, max: 5 }), backup: fc.boolean(), maxconn: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }), disabled: fc.boolean() }),
      { minLength: 1, maxLength: 4 },
    ),
    group: fc.option(fc.record({ maxServers: fc.integer({ min: 2, max: 50 }), record: fc.constantFrom("A", "SRV") }), { nil: undefined }),
    tcp: fc.option(fc.constantFrom({ redis: {} }, { tlsHello: true as const }, { connect: true as const }), { nil: undefined }),
    proxied: fc.option(fc.constantFrom(["10.0.0.0/24"], ["10.0.0.5", "192.168.1.0/24"]), { nil: undefined }),
    monitoringPort: fc.integer({ min: 8400, max: 8499 }),
    forwardedHeaders: fc.option(fc.record({ proto: fc.boolean(), host: fc.boolean(), port: fc.boolean() }), { nil: undefined }),
    securityHeaders: fc.option(fc.record({ noSniff: fc.boolean(), frameOptions: fc.constantFrom("DENY", "SAMEORIGIN", "off"), referrerPolicy: fc.constantFrom("no-referrer", "off") }), { nil: undefined }),
    requestRules: fc.subarray([{ setHeader: { name: "X-Env", value: "prod" } }, { deleteHeader: "X-Debug" }, { when: { header: { name: "X-Probe", present: true as const } }, deleteHeader: "X-Probe" }, { addPrefix: "/v1" }, { when: { any: [{ pathPrefix: "/api" }, { method: "POST" }] }, stripPrefix: "/api" }]),
    responseRules: fc.subarray([{ setHeader: { name: "Cache-Control", value: "no-store" } }, { when: { pathPrefix: "/static" }, setHeader: { name: "Cache-Control", value: "max-age=60" } }]),
    backendRules: fc.subarray([{ when: { path: "/old" }, setPath: "/new" }, { setHeader: { name: "X-Backend", value: "app" } }]),
    table: fc.option(fc.constantFrom("host", "host+path"), { nil: undefined }),
    lua: fc.option(fc.boolean(), { nil: undefined }),
    keyedLimits: fc.subarray([
      { name: "api-keys", key: { header: "X-Api-Key" }, count: "requests" as const, limit: 50, window: "10s" },
      { name: "errors", key: "path" as const, count: "errors" as const, limit: 5, window: "1m", when: { pathPrefix: "/api" } },
      { name: "conns", key: "source" as const, count: "connections" as const, limit: 20, window: "10s", when: { not: { source: "10.0.0.0/8" } } },
    ], { maxLength: 2 }),
    allowlist: fc.option(fc.constantFrom(["127.0.0.0/8"], ["10.0.0.0/8", "192.168.0.0/16"]), { nil: undefined }),
    agent: fc.option(fc.record({ port: fc.integer({ min: 1024, max: 9999 }), send: fc.option(fc.constantFrom("status", "ready please"), { nil: undefined }) }), { nil: undefined }),
    canary: fc.option(fc.record({ pinned: fc.boolean(), maxResponseMs: fc.integer({ min: 50, max: 2000 }) }), { nil: undefined }),
    routes: fc.array(
      fc.record({
        when: fc.option(fc.oneof(
          fc.record({ path: fc.constantFrom("/login", "/healthz") }),
          fc.record({ pathPrefix: fc.constantFrom("/api", "/static", "/admin") }),
          fc.record({ host: fc.constantFrom("shop.example.com", "*.old.example.com") }),
          fc.record({ method: fc.constantFrom("POST", ["PUT", "DELETE"]) }),
          fc.record({ header: fc.record({ name: fc.constantFrom("X-Canary", "X-Api-Version"), equals: fc.constantFrom("1", "always") }) }),
          fc.record({ all: fc.constant([{ pathPrefix: "/api" }, { method: "POST" }]) }),
          fc.record({ query: fc.constantFrom({ name: "version", prefix: "beta-" }, { name: "debug", present: true as const }, { name: "q", equals: ["1", "2"] }) }),
          fc.record({ header: fc.constant({ name: "X-Debug", present: true as const }) }),
        ), { nil: undefined }),
        action: fc.oneof(
          fc.constant({ backend: "other" }),
          fc.record({ redirect: fc.record({ prefix: fc.constant("https://www.example.com"), code: fc.constantFrom(301, 302) }) }),
          fc.record({ redirect: fc.record({ location: fc.constantFrom("/to/100%", "/a%20b") }) }),
          fc.record({ respond: fc.record({ status: fc.constantFrom(200, 410), body: fc.constantFrom("ok", "gone for good", "100% gone") }) }),
          fc.constant({ respond: { status: 503, contentType: "text/html", bodyFile: "maintenance.html" } }),
          fc.record({ deny: fc.record({ status: fc.constantFrom(403, 404) }) }),
        ),
      }),
      { maxLength: 4 },
    ),
  })
  .map((r): TopologyInput => {
    const sameSiteOk = r.cookie === undefined || r.cookie.sameSite !== "None" || r.cookie.secure;
    return {
      name: "roundtrip",
      ...(r.lua !== undefined && { lua: { scripts: [{ file: "example.lua", perThread: r.lua }] } }),
      global: { maxconn: r.maxconn, ...(r.nbthread && { nbthread: r.nbthread }), closeSpreadTime: r.closeSpreadTime, hardStopAfter: r.hardStopAfter },
      defaults: { timeouts: { ...r.timeouts, check: "2s", httpRequest: "5s" }, retries: r.retries, redispatch: r.redispatch, idleCloseOnResponse: r.idleCloseOnResponse, maxRequestBodyBytes: r.maxRequestBodyBytes, retryOn: ["conn-failure", "empty-response"] },
      frontends: [
        {
          name: "web",
          binds: [{ port: 20000, lastPort: 20001 }],
          defaultBackend: "app",
          forwardfor: r.forwardfor,
          errorPages: r.errorPages,
          ...(r.rateLimit && { rateLimit: { requests: r.rateLimit } }),
          // Routes after a route that takes every request would never be reached: the model refuses them.
          routes: [
            ...(r.table ? [{ table: "sites" }] : []),
            // A Lua service answers a path; a Lua action tags every request (templates/lua/example.lua registers both).
            ...(r.lua !== undefined ? [{ when: { path: "/hello" }, service: "hello" }] : []),
            ...r.routes.slice(0, r.routes.findIndex((route) => route.when === undefined) + 1 || undefined).map((route) => ({ ...(route.when && { when: route.when }), ...route.action })),
          ],
          ...(r.table && {
            routeTables: [{ name: "sites", key: r.table as "host", entries: [{ host: "a.example.com", backend: "other" }, { host: "b.example.com", ...(r.table === "host+path" && { pathPrefix: "/shop" }), backend: "app" }] }],
          }),
          ...(r.forwardedHeaders && { forwardedHeaders: r.forwardedHeaders }),
          ...(r.securityHeaders && { securityHeaders: r.securityHeaders as { frameOptions: "DENY" } }),
          requestRules: [...r.requestRules, ...(r.lua !== undefined ? [{ lua: "tag_request" }] : [])],
          responseRules: r.responseRules,
          ...(r.frontendMaxconn && { maxconn: r.frontendMaxconn }),
          ...(r.allowlist && { allowlist: [...r.allowlist] }),
          rateLimits: r.keyedLimits,
        },
        ...(r.tcp ? [{ name: "tcp_in", mode: "tcp" as const, binds: [{ port: 21000, ...(r.proxied && { acceptProxy: { from: [...r.proxied] } }) }], defaultBackend: "tcp_pool" }] : []),
      ],
      backends: [
        {
          name: "app",
          balance: r.balance as "roundrobin",
          ...(r.check && { healthCheck: { http: { method: "GET", path: r.check.path, expectStatus: r.check.expectStatus, ...(r.check.expectBody && { expectBody: r.check.expectBody }), ...(r.check.host && { host: r.check.host }) } } }),
          ...(r.agent && { agent: { port: r.agent.port, ...(r.agent.send && { send: r.agent.send }) } }),
          requestRules: r.backendRules,
          ...(r.cookie && sameSiteOk && { cookie: { name: r.cookie.name, sameSite: r.cookie.sameSite, secure: r.cookie.secure } }),
          // The last of several servers is a canary: without a pin, the servers at weight 0 are what tells it from the others.
          ...(r.canary && r.servers.length > 1 && { canary: { servers: [`s${r.servers.length - 1}`], ...(r.canary.pinned && { pin: { header: { name: "X-Canary", equals: "always" } } }), analysis: { maxResponseMs: r.canary.maxResponseMs } } }),
          servers: r.servers.map((s, i) => ({
            name: `s${i}`,
            address: s.host,
            ...(!runnableAddress(s.host) && { external: true }),
            port: s.port,
            weight: r.canary && !r.canary.pinned ? Math.max(1, s.weight) : s.weight,
            inter: s.inter,
            fall: s.fall,
            rise: s.rise,
            // The first server is active: a backend of only backups or disabled servers is refused by the model.
            backup: i > 0 && s.backup,
            disabled: i > 0 && s.disabled,
            ...(s.maxconn && { maxconn: s.maxconn }),
            ...(r.cookie && sameSiteOk && { cookie: `c${i}` }),
          })),
          ...(r.group && {
            discovery: { name: "grp", dnsName: r.group.record === "SRV" ? "_http._tcp.app.internal" : "app.internal", record: r.group.record as "A", ...(r.group.record === "A" && { port: 9000 }), maxServers: r.group.maxServers },
          }),
        },
        { name: "other", servers: [{ name: "o0", address: "other-1", port: 8080 }] },
        ...(r.tcp ? [{ name: "tcp_pool", mode: "tcp" as const, healthCheck: r.tcp, servers: [{ name: "t0", address: "db.internal", port: 6379 }] }] : []),
      ],
      monitoring: { port: r.monitoringPort, metricsPath: "/metrics" },
    };
  });

/**
 * The round trip of one random draw. A draw may combine what the model refuses (routes that shadow one
 * another, a canary beside two keyed limits: too many stick counters): such a draw says nothing here.
 */
function roundTripsWhole(input: TopologyInput): void {
  let topology: Topology;
  try {
    topology = parseTopology(input);
  } catch (error) {
    fc.pre(!(error instanceof TopologyInvalidError && error.problems.every((p) => /can never match|stick counter/.test(p.message))));
    throw error;
  }
  // The local syslog's socket is the local target's alone (the Docker render refuses it; the corpus imports "log /dev/log").
  fc.pre(!topology.global.logs.some((l) => l.target.startsWith("/")));
  const { back, refused, differences } = roundTrip(topology);
  assert.deepEqual(refused, []);
  assert.deepEqual(differences, []);
  assert.deepEqual(sayable(back!), sayable(topology));
}

describe("any topology of the model's core, rendered and imported", () => {
  it("is the same topology, with no line refused", () => {
    fc.assert(fc.property(coreTopologyArb, roundTripsWhole), { numRuns: 300 });
  });
});

describe("any topology the render property draws (every part of the model), rendered and imported", () => {
  it("imports with no line refused, and is the same topology", () => {
    fc.assert(fc.property(topologyArb, roundTripsWhole), { numRuns: 200 });
  });
});
