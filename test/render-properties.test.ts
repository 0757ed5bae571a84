// Properties of the schema and renderer over random input (fast-check, bounded runs).
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import fc from "fast-check";
import { parseTopology } from "../infra/model/parse.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { checkHaproxyConfig } from "../infra/render/haproxy-check.ts";
import { localTarget, dockerTarget } from "../infra/render/targets.ts";
import { mapFiles } from "../infra/render/routing.ts";
import { TargetPlanError, TopologyInvalidError } from "../infra/errors.ts";
import { seedTopology } from "./support/topologies.ts";
import { nameArb, topologyArb } from "./support/arbitraries.ts";
import { certificateFiles } from "../infra/render/validate.ts";

const RUN_DIR = "/var/run/lb-property";


describe("random valid topologies", () => {
  it("always render configs that haproxy -c accepts without warnings", async () => {
    await fc.assert(
      fc.asyncProperty(topologyArb, fc.boolean(), async (input, docker) => {
        const topology = parseTopology(input);
        const target = docker ? dockerTarget() : localTarget(RUN_DIR);
        // The local syslog's socket is on HAProxy's host: a container target refuses it, naming the field.
        const localSocket = topology.global.logs.findIndex((l) => l.target.startsWith("/"));
        if (docker && localSocket >= 0) {
          assert.throws(() => renderHaproxyConfig(topology, target), (e: unknown) => e instanceof TargetPlanError && e.message.includes(`global.logs[${localSocket}].target`));
          return;
        }
        const config = renderHaproxyConfig(topology, target);
        const { warnings } = await checkHaproxyConfig(config, { maps: mapFiles(topology), placeholderCertificates: certificateFiles(topology) });
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
  ["health-check path", "/x", (t, v) => (t.backends[0].healthCheck.http.path = v)],
  ["cookie name", "safe", (t, v) => (t.backends[0].cookie.name = v)],
  ["server cookie", "safe", (t, v) => (t.backends[0].servers[0].cookie = v)],
  ["stats socket path", "/x", (t, v) => (t.global.statsSocket.path = v)],
  ["log target", "stdout", (t, v) => (t.global.logs[0].target = v)],
  ["error page file", "x.http", (t, v) => (t.frontends[0].errorPages[0].file = v)],
  ["TLS certificate", "x.pem", (t, v) => (t.frontends[0].binds[0].tlsCertificate = v)],
  ["timeout", "10s", (t, v) => (t.defaults.timeouts.server = v)],
  ["allowlist entry", "10.0.0.0/8", (t, v) => (t.frontends[0].allowlist = [v])],
  ["a route's header value", "v", (t, v) => (t.frontends[0].routes = [{ when: { header: { name: "X-A", equals: v } }, backend: "flask_servers" }])],
  ["a route's query prefix", "v", (t, v) => (t.frontends[0].routes = [{ when: { query: { name: "q", prefix: v } }, backend: "flask_servers" }])],
  ["a route's path regex", "^/v", (t, v) => (t.frontends[0].routes = [{ when: { pathRegex: v }, backend: "flask_servers" }])],
  ["a route's path prefix", "/p", (t, v) => (t.frontends[0].routes = [{ when: { pathPrefix: v }, backend: "flask_servers" }])],
  ["a route's host", "a.example.com", (t, v) => (t.frontends[0].routes = [{ when: { host: v }, backend: "flask_servers" }])],
  ["a response body", "ok", (t, v) => (t.frontends[0].routes = [{ when: { path: "/x" }, respond: { status: 200, body: v } }])],
  ["a redirect location", "/x", (t, v) => (t.frontends[0].routes = [{ when: { path: "/x" }, redirect: { location: v } }])],
  ["a header a rule sets", "v", (t, v) => (t.frontends[0].requestRules = [{ setHeader: { name: "X-Set", value: v } }])],
  ["a path replacement", "/v", (t, v) => (t.frontends[0].requestRules = [{ replacePath: { regex: "^/old(.*)", with: v } }])],
  ["a canary pin's header value", "v", (t, v) => {
    t.backends[0].servers.push({ name: "web-z", address: "web-z", port: 5009, cookie: "web-z" });
    t.backends[0].canary = { servers: ["web-z"], pin: { header: { name: "X-Canary", equals: v } } };
  }],
  ["a managed certificate's name", "shop.example.com", (t, v) => {
    t.frontends[0].binds.push({ port: 61443, tlsCertificate: "managed.pem" });
    t.certificates = [{ file: "managed.pem", names: [v], acme: { directoryUrl: "https://acme.example.com/dir" } }];
  }],
  ["a table entry's host", "a.example.com", (t, v) => ((t.frontends[0].routes = [{ table: "t" }]), (t.frontends[0].routeTables = [{ name: "t", entries: [{ host: v, backend: "flask_servers" }] }]))],
];

/**
 * The words of a config line as HAProxy reads them: whitespace splits them except inside double
 * quotes (where a backslash escapes the next character) and single quotes.
 */
function words(line: string): string[] {
  const out: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === undefined && /\s/.test(c)) {
      if (word !== undefined) out.push(word);
      word = undefined;
      continue;
    }
    word ??= "";
    if (c === "\\" && quote !== "'") word += line[++i] ?? "";
    else if ((c === '"' || c === "'") && (quote === undefined || quote === c)) quote = quote === undefined ? c : undefined;
    else word += c;
  }
  if (word !== undefined) out.push(word);
  return out;
}

/** The shape of a config: per line, its indentation, its keyword and how many words follow (a map file's lines too). */
const skeleton = (config: string) => config.split("\n").map((line) => `${/^\s*\S*/.exec(line)![0]} +${words(line).length - 1}`);

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
          for (const map of mapFiles(topology)) assert.ok(map.content.split("\n").filter(Boolean).every((l) => words(l).length === 2 && !l.includes("#")), `a map line of more than a key and a value: ${JSON.stringify(map.content)}`);
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
