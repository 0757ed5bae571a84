// Import reads what the stack writes: a topology rendered to haproxy.cfg and imported again is the
// same topology, every line accounted for and none refused, up to what a config cannot say (the
// services around HAProxy, how many instances the stack starts) and what import decides on purpose
// (an imported server is one the stack does not run). For the example topologies, and as a property
// over random topologies of the model's core (proxies, servers, checks, persistence, limits, error
// pages, discovered groups, the monitoring listener).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, it } from "vitest";
import { parseConfig } from "../haproxy/config-parser.ts";
import { importConfig, refusals } from "../infra/import/import.ts";
import { TopologyInvalidError } from "../infra/errors.ts";
import { loadTopologyFile } from "../infra/model/load.ts";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology, TopologyInput } from "../infra/model/schema.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { dockerTarget } from "../infra/render/targets.ts";
import { REPO_ROOT } from "../infra/repo.ts";
import { durationArb } from "./support/arbitraries.ts";

/** The files the rendered config names (error pages), where the repository keeps them. */
const templates = {
  read(path: string) {
    try {
      return readFileSync(join(REPO_ROOT, "templates", path), "utf8");
    } catch {
      return undefined;
    }
  },
};

/** Rendered for the Docker target (servers keep their names and ports), then imported. */
function roundTrip(topology: Topology): { back?: Topology; refused: string[] } {
  const config = renderHaproxyConfig(topology, dockerTarget());
  const result = importConfig(parseConfig([{ file: "haproxy.cfg", text: config }]), topology.name, templates);
  const refused = refusals(result.accounts);
  return refused.length ? { refused } : { back: parseTopology(result.topology), refused };
}

/** What a config says of a topology: without the services around HAProxy, each proxy's mode resolved, servers as imported ones. */
function sayable(original: Topology): unknown {
  const topology = JSON.parse(JSON.stringify(original)) as Topology;
  const { services: _services, name: _name, ...rest } = topology;
  const mode = (m: string | undefined) => m ?? topology.defaults.mode;
  return {
    ...rest,
    // A route's name is the plan's and verify's word for it: the config does not carry it.
    frontends: topology.frontends.map((f) => ({ ...f, mode: mode(f.mode), routes: f.routes.map(({ name: _route, ...route }) => route) })),
    backends: topology.backends.map(({ healthCheck, ...b }) => ({
      ...b,
      // A plain connect is what HAProxy checks when a config names no check: the same config either way.
      ...(healthCheck && JSON.stringify(healthCheck) !== JSON.stringify({ connect: true, tls: false, primaryOnly: false }) && { healthCheck }),
      mode: mode(b.mode),
      servers: b.servers.map((s) => ({ ...s, external: true })),
      ...(b.discovery && { discovery: { ...b.discovery, instances: 0 } }),
    })),
  };
}

describe("the example topologies, rendered and imported", () => {
  for (const file of ["infra/topology.ts", "infra/topologies/discovery.ts", "infra/topologies/data.ts"]) {
    it(`${file}: every line mapped or decided, and the same topology back`, async () => {
      const topology = await loadTopologyFile(join(REPO_ROOT, file));
      const { back, refused } = roundTrip(topology);
      assert.deepEqual(refused, []);
      assert.deepEqual(sayable(back!), sayable(topology));
    });
  }
});

const hostArb = fc.constantFrom("app-1", "app-2", "10.0.0.5", "db.internal");

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
    check: fc.option(fc.record({ path: fc.constantFrom("/", "/status", "/healthz"), expectStatus: fc.constantFrom(200, 204) }), { nil: undefined }),
    cookie: fc.option(fc.record({ name: fc.constantFrom("SERVERID", "lb"), sameSite: fc.constantFrom("Strict", "Lax", "None"), secure: fc.boolean() }), { nil: undefined }),
    servers: fc.array(
      fc.record({ host: hostArb, port: fc.integer({ min: 1024, max: 65535 }), weight: fc.integer({ min: 0, max: 256 }), inter: durationArb, fall: fc.integer({ min: 1, max: 5 }), rise: fc.integer({ min: 1, max: 5 }), backup: fc.boolean(), maxconn: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }), disabled: fc.boolean() }),
      { minLength: 1, maxLength: 4 },
    ),
    group: fc.option(fc.record({ maxServers: fc.integer({ min: 2, max: 50 }), record: fc.constantFrom("A", "SRV") }), { nil: undefined }),
    tcp: fc.option(fc.constantFrom({ redis: {} }, { tlsHello: true as const }, { connect: true as const }), { nil: undefined }),
    monitoringPort: fc.integer({ min: 8400, max: 8499 }),
    routes: fc.array(
      fc.record({
        when: fc.option(fc.oneof(
          fc.record({ path: fc.constantFrom("/login", "/healthz") }),
          fc.record({ pathPrefix: fc.constantFrom("/api", "/static", "/admin") }),
          fc.record({ host: fc.constantFrom("shop.example.com", "*.old.example.com") }),
          fc.record({ method: fc.constantFrom("POST", ["PUT", "DELETE"]) }),
          fc.record({ header: fc.record({ name: fc.constantFrom("X-Canary", "X-Api-Version"), equals: fc.constantFrom("1", "always") }) }),
          fc.record({ all: fc.constant([{ pathPrefix: "/api" }, { method: "POST" }]) }),
        ), { nil: undefined }),
        action: fc.oneof(
          fc.constant({ backend: "other" }),
          fc.record({ redirect: fc.record({ prefix: fc.constant("https://www.example.com"), code: fc.constantFrom(301, 302) }) }),
          fc.record({ respond: fc.record({ status: fc.constantFrom(200, 410), body: fc.constantFrom("ok", "gone") }) }),
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
          routes: r.routes.slice(0, r.routes.findIndex((route) => route.when === undefined) + 1 || undefined).map((route) => ({ ...(route.when && { when: route.when }), ...route.action })),
          ...(r.frontendMaxconn && { maxconn: r.frontendMaxconn }),
        },
        ...(r.tcp ? [{ name: "tcp_in", mode: "tcp" as const, binds: [{ port: 21000 }], defaultBackend: "tcp_pool" }] : []),
      ],
      backends: [
        {
          name: "app",
          balance: r.balance as "roundrobin",
          ...(r.check && { healthCheck: { http: { method: "GET", path: r.check.path, expectStatus: r.check.expectStatus } } }),
          ...(r.cookie && sameSiteOk && { cookie: { name: r.cookie.name, sameSite: r.cookie.sameSite, secure: r.cookie.secure } }),
          servers: r.servers.map((s, i) => ({
            name: `s${i}`,
            address: s.host,
            port: s.port,
            weight: s.weight,
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

describe("any topology of the model's core, rendered and imported", () => {
  it("is the same topology, with no line refused", () => {
    fc.assert(
      fc.property(coreTopologyArb, (input) => {
        // Random routes may shadow one another, which the model refuses: such a draw says nothing here.
        let topology: Topology;
        try {
          topology = parseTopology(input);
        } catch (error) {
          fc.pre(!(error instanceof TopologyInvalidError && error.problems.every((p) => p.message.includes("can never match"))));
          throw error;
        }
        const { back, refused } = roundTrip(topology);
        assert.deepEqual(refused, []);
        assert.deepEqual(sayable(back!), sayable(topology));
      }),
      { numRuns: 300 },
    );
  });
});
