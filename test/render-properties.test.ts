// Properties of the schema and renderer over random input (fast-check, bounded runs).
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import fc from "fast-check";
import { parseTopology } from "../infra/model/parse.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { checkHaproxyConfig } from "../infra/render/haproxy-check.ts";
import { localTarget, dockerTarget } from "../infra/render/targets.ts";
import { TopologyInvalidError } from "../infra/errors.ts";
import type { TopologyInput } from "../infra/model/schema.ts";
import { seedTopology } from "./support/topologies.ts";

const RUN_DIR = "/var/run/lb-property";

const nameArb = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,20}$/);
const durationArb = fc.tuple(fc.integer({ min: 1, max: 5000 }), fc.constantFrom("ms", "s")).map(([n, u]) => `${n}${u}`);

/** Random valid topologies: distinct names and ports, references that resolve. */
const topologyArb: fc.Arbitrary<TopologyInput> = fc
  .record({
    backendNames: fc.uniqueArray(nameArb, { minLength: 1, maxLength: 3 }),
    serverCounts: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 3, maxLength: 3 }),
    frontendNames: fc.uniqueArray(nameArb.filter((n) => n !== "monitoring"), { minLength: 1, maxLength: 2 }),
    balance: fc.constantFrom("roundrobin", "leastconn", "source", "uri", "first"),
    cookie: fc.boolean(),
    healthCheck: fc.option(fc.record({ method: fc.constantFrom("GET", "HEAD", "OPTIONS"), path: fc.constantFrom("/", "/status", "/health?x=1"), expectStatus: fc.integer({ min: 200, max: 399 }) }), { nil: undefined }),
    inter: durationArb,
    fall: fc.integer({ min: 1, max: 10 }),
    rise: fc.integer({ min: 1, max: 10 }),
    weight: fc.integer({ min: 1, max: 256 }),
    maxconn: fc.option(fc.integer({ min: 1, max: 10000 }), { nil: undefined }),
    retries: fc.integer({ min: 0, max: 10 }),
    retryOn: fc.subarray(["conn-failure", "empty-response", "response-timeout", "503"] as const),
    timeout: durationArb,
    rateLimit: fc.option(fc.integer({ min: 1, max: 100000 }), { nil: undefined }),
    allowlist: fc.option(fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 32 })).map(([a, m]) => `${a}.0.0.0/${m}`), { minLength: 1, maxLength: 3 }), { nil: undefined }),
    basePort: fc.integer({ min: 1024, max: 50000 }),
  })
  .map((r) => ({
    name: "property",
    defaults: { timeouts: { connect: r.timeout, client: r.timeout, server: r.timeout }, retries: r.retries, retryOn: r.retryOn },
    frontends: r.frontendNames.map((name, i) => ({
      name,
      binds: [{ port: r.basePort + i * 10, lastPort: r.basePort + i * 10 + 1 }],
      defaultBackend: r.backendNames[i % r.backendNames.length]!,
      rateLimit: r.rateLimit === undefined ? undefined : { requests: r.rateLimit },
      allowlist: r.allowlist,
    })),
    backends: r.backendNames.map((name, b) => ({
      name,
      balance: r.balance,
      healthCheck: r.healthCheck,
      cookie: r.cookie ? { name: "SRV" } : undefined,
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
    })),
    monitoring: { port: r.basePort + 100 },
    // Every listener has its own ports, the services' too (their defaults could fall in a range above).
    services: { sidecar: { port: r.basePort + 200 }, prometheus: { port: r.basePort + 201 }, grafana: { port: r.basePort + 202 } },
  }));

describe("random valid topologies", () => {
  it("always render configs that haproxy -c accepts without warnings", async () => {
    await fc.assert(
      fc.asyncProperty(topologyArb, fc.boolean(), async (input, docker) => {
        const config = renderHaproxyConfig(parseTopology(input), docker ? dockerTarget() : localTarget(RUN_DIR));
        const { warnings } = await checkHaproxyConfig(config);
        assert.deepEqual(warnings, []);
      }),
      { numRuns: 100 },
    );
  });
});

/** Every string the user controls: a value that is safe there, and how to put a value there. */
const STRING_FIELDS: [field: string, safe: string, set: (t: any, v: string) => void][] = [
  ["topology name", "safe", (t, v) => (t.name = v)],
  ["frontend name", "safe", (t, v) => (t.frontends[0].name = v)],
  ["backend name", "safe", (t, v) => { t.backends[0].name = v; t.frontends[0].defaultBackend = v; }],
  ["server name", "safe", (t, v) => (t.backends[0].servers[0].name = v)],
  ["server address", "safe", (t, v) => (t.backends[0].servers[0].address = v)],
  ["bind address", "safe", (t, v) => (t.frontends[0].binds[0].address = v)],
  ["health-check path", "/x", (t, v) => (t.backends[0].healthCheck.path = v)],
  ["cookie name", "safe", (t, v) => (t.backends[0].cookie.name = v)],
  ["server cookie", "safe", (t, v) => (t.backends[0].servers[0].cookie = v)],
  ["stats socket path", "/x", (t, v) => (t.global.statsSocket.path = v)],
  ["log target", "stdout", (t, v) => (t.global.logs[0].target = v)],
  ["error page file", "x.http", (t, v) => (t.frontends[0].errorPages[0].file = v)],
  ["TLS certificate", "x.pem", (t, v) => (t.frontends[0].binds[0].tlsCertificate = v)],
  ["timeout", "10s", (t, v) => (t.defaults.timeouts.server = v)],
  ["allowlist entry", "10.0.0.0/8", (t, v) => (t.frontends[0].allowlist = [v])],
];

/** The shape of a config: per line, its indentation, its keyword and how many words follow. */
const skeleton = (config: string) =>
  config.split("\n").map((line) => `${/^\s*\S*/.exec(line)![0]} +${line.trim().split(/\s+/).length - 1}`);

describe("no string field can change the structure of the output", () => {
  const hostile = fc.oneof(
    fc.string({ unit: "binary", maxLength: 30 }),
    fc.constantFrom("a\nserver x 1.2.3.4:80", "a # comment", "a b", "web-a\r", "x;y", "a\tb", "\u2028", "/p\n", "%[src]", "a'b", '"q"'),
    fc.tuple(nameArb, fc.constantFrom("\n", "#", " ", "\r", "\t", "\0", "\\"), nameArb).map(([a, c, b]) => a + c + b),
  );
  for (const [field, safe, set] of STRING_FIELDS) {
    it(field, () => {
      const baseline = seedTopology() as any;
      set(baseline, safe);
      const expected = skeleton(renderHaproxyConfig(parseTopology(baseline), localTarget(RUN_DIR)));
      fc.assert(
        fc.property(hostile, (value) => {
          const input = seedTopology() as any;
          set(input, value);
          let topology;
          try {
            topology = parseTopology(input);
          } catch (error) {
            if (error instanceof TopologyInvalidError) return;
            throw error;
          }
          assert.deepEqual(skeleton(renderHaproxyConfig(topology, localTarget(RUN_DIR))), expected, `accepted ${JSON.stringify(value)}`);
        }),
        { numRuns: 300 },
      );
    });
  }
});

describe("parseTopology on arbitrary input", () => {
  it("throws nothing but TopologyInvalidError", () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withMap: true, withSet: true }), (value) => {
        try {
          parseTopology(value);
        } catch (error) {
          assert.ok(error instanceof TopologyInvalidError, String(error));
        }
      }),
      { numRuns: 500 },
    );
  });

  it("throws nothing but TopologyInvalidError for damaged copies of the default", () => {
    const paths = ["frontends", "backends", "global", "defaults", "monitoring"];
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.anything(), (key, value) => {
        const input = seedTopology() as any;
        input[key] = value;
        try {
          parseTopology(input);
        } catch (error) {
          assert.ok(error instanceof TopologyInvalidError, String(error));
        }
      }),
      { numRuns: 500 },
    );
  });
});
