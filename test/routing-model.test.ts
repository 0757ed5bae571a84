// Routing in the model: what a route may say, and what its author reads when it is wrong; then how
// the routes become HAProxy's words (first match made explicit), checked by haproxy -c.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { ShowMapGarbledError } from "../haproxy/errors.ts";
import { parseShowMap } from "../haproxy/show-map.ts";
import { REPO_ROOT } from "../infra/repo.ts";
import { describe, it } from "vitest";
import { topologyProblems } from "./support/topologies.ts";
import { HaproxyConfigRejectedError, LuaScriptMissingError } from "../infra/errors.ts";
import { readLuaScripts } from "../infra/render/lua.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { resolveRoute } from "../infra/model/route-resolver.ts";
import { routingMatrix } from "../infra/model/route-matrix.ts";
import { makePlan } from "../infra/gitops/plan.ts";
import { conditionTerms, tableEntryKey, type Condition } from "../infra/model/routing.ts";
import { checkHaproxyConfig } from "../infra/render/haproxy-check.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { mapFileLines, mapFiles } from "../infra/render/routing.ts";
import { localTarget } from "../infra/render/targets.ts";

/** A frontend with routes, over three backends; `edit` changes the frontend. */
function routed(edit: (frontend: any) => void = () => {}): any {
  const frontend: any = {
    name: "edge",
    binds: [{ port: 8080 }],
    defaultBackend: "site",
    conditions: { internal: { source: ["10.0.0.0/8", "fd00::/8"] } },
    routes: [
      { name: "api-v2", when: { all: [{ pathPrefix: "/api" }, { header: { name: "X-Api-Version", equals: "2" } }] }, backend: "api_v2" },
      { name: "api", when: { pathPrefix: "/api" }, backend: "api_v1" },
      { name: "admin", when: { all: [{ pathPrefix: "/admin" }, { not: { condition: "internal" } }] }, deny: {} },
      { name: "tenants", table: "tenants" },
    ],
    routeTables: [{ name: "tenants", entries: [{ host: "a.example.com", backend: "api_v1" }, { host: "b.example.com", backend: "api_v2" }] }],
  };
  edit(frontend);
  return {
    name: "routing",
    frontends: [frontend],
    backends: ["site", "api_v1", "api_v2"].map((name, i) => ({ name, servers: [{ name: `s${i + 1}`, address: "10.0.0.1", port: 8001 + i }] })),
  };
}

const problemsOf = topologyProblems;

describe("routing in the model: refused at load with the field's path", () => {
  const table: [string, (f: any) => void, string[]][] = [
    ["a route to a missing backend", (f) => (f.routes[1].backend = "api_v3"), [
      'frontends.edge.routes.api.backend: "api_v3" is not a backend; known: site, api_v1, api_v2',
    ]],
    ["a route with two actions", (f) => (f.routes[1].deny = {}), [
      "frontends.edge.routes.api: a route does exactly one of backend, redirect, respond, deny, tarpit, table, service (found backend and deny)",
    ]],
    ["a condition with two kinds", (f) => (f.routes[1].when = { pathPrefix: "/api", method: "GET" }), [
      "frontends.edge.routes.api.when: a condition has exactly one kind, found pathPrefix and method: combine them with all or any",
    ]],
    ["a regular expression that does not compile", (f) => (f.routes[1].when = { pathRegex: "^/api/(v[0-9]+" }), [
      'frontends.edge.routes.api.when.pathRegex: "^/api/(v[0-9]+" is not a regular expression: /^/api/(v[0-9]+/: Unterminated group',
    ]],
    ["a header name that is not one", (f) => (f.routes[0].when.all[1].header.name = "X Api"), [
      'frontends.edge.routes.api-v2.when.all[1].header.name: "X Api" is not a header name: use 1 to 64 letters, digits or "-"',
    ]],
    ["a header value with a line break", (f) => (f.routes[0].when.all[1].header.equals = "2\n    use_backend evil"), [
      'frontends.edge.routes.api-v2.when.all[1].header.equals: "2\\n    use_backend evil" is not usable as a header value: use printable ASCII, no line breaks or control characters',
    ]],
    ["a directive smuggled into a path", (f) => (f.routes[1].when = { pathPrefix: "/api\n    use_backend evil" }), [
      'frontends.edge.routes.api.when.pathPrefix: "/api\\n    use_backend evil" is not a path to match: start with "/" and use no spaces, quotes, "?" or "#"',
    ]],
    ["a route after one that takes the same requests", (f) => f.routes.splice(2, 0, { when: { pathPrefix: "/api" }, respond: { status: 404 } }), [
      'frontends.edge.routes[2]: this route can never match: route 1 ("api") takes the same requests first; remove it or move it before route 1',
    ]],
    ["a route after one that takes every request", (f) => f.routes.splice(1, 0, { backend: "site" }), [
      'frontends.edge.routes.api: this route can never match: route 1 takes every request first; remove it or move it before route 1',
      'frontends.edge.routes.admin: this route can never match: route 1 takes every request first; remove it or move it before route 1',
      'frontends.edge.routes.tenants: this route can never match: route 1 takes every request first; remove it or move it before route 1',
    ]],
    ["two table entries with the same key (hosts compare without case)", (f) => f.routeTables[0].entries.push({ host: "A.example.com", backend: "site" }), [
      'frontends.edge.routeTables.tenants.entries[2].host: "A.example.com" is already an entry of table "tenants" (entry 0): give each key once',
    ]],
    ["a path prefix in a table keyed by host", (f) => (f.routeTables[0].entries[0].pathPrefix = "/x"), [
      'frontends.edge.routeTables.tenants.entries[0].pathPrefix: table "tenants" is keyed by host alone: remove pathPrefix, or set the table\'s key to "host+path"',
    ]],
    ["a table entry to a missing backend", (f) => (f.routeTables[0].entries[0].backend = "gone"), [
      'frontends.edge.routeTables.tenants.entries[0].backend: "gone" is not a backend; known: site, api_v1, api_v2',
    ]],
    ["a table no route looks up", (f) => f.routes.pop(), [
      'frontends.edge.routeTables.tenants.name: no route looks table "tenants" up: add a route { table: "tenants" } where it should take its turn',
    ]],
    ["a route to a missing table", (f) => (f.routes[3].table = "tenant"), [
      'frontends.edge.routeTables.tenants.name: no route looks table "tenants" up: add a route { table: "tenants" } where it should take its turn',
      'frontends.edge.routes.tenants.table: "tenant" is not one of this frontend\'s route tables; known: tenants',
    ]],
    ["an unknown named condition", (f) => (f.routes[2].when.all[1].not.condition = "intern"), [
      'frontends.edge.routes.admin.when: "intern" is not one of this frontend\'s conditions; known: internal',
    ]],
    ["named conditions that refer to each other", (f) => (f.conditions = { a: { any: [{ condition: "b" }, { method: "GET" }] }, b: { not: { condition: "a" } } }), [
      'frontends.edge.conditions.a: condition "a" refers to itself (through b): a condition cannot depend on its own answer',
      'frontends.edge.conditions.b: condition "b" refers to itself (through a): a condition cannot depend on its own answer',
      'frontends.edge.routes.admin.when: "internal" is not one of this frontend\'s conditions; known: a, b',
    ]],
    ["no default backend and routes that leave requests", (f) => delete f.defaultBackend, [
      "frontends.edge.defaultBackend: requests that no route takes have nowhere to go: add defaultBackend, or end the routes with one that has no when",
    ]],
    ["a deny status HAProxy has no message for", (f) => (f.routes[2].deny = { status: 451 }), [
      "frontends.edge.routes.admin.deny.status: 451 is not a status HAProxy can refuse with: use one of 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504",
    ]],
    ["a redirect with both a location and a scheme", (f) => (f.routes[1] = { when: { host: "old.example.com" }, redirect: { location: "https://new.example.com/", scheme: "https" } }), [
      "frontends.edge.routes[1].redirect: a redirect needs exactly one of location, prefix, scheme (found location, scheme)",
    ]],
    ["a wildcard in the middle of a host", (f) => (f.routes[1].when = { host: "api.*.example.com" }), [
      'frontends.edge.routes.api.when.host: "api.*.example.com" is not a host to match: use a host name ("api.example.com") or "*.example.com" (no port, no scheme)',
    ]],
    ["a network that is not one", (f) => (f.conditions.internal.source = ["10.0.0.0/33", "fd00::/129"]), [
      'frontends.edge.conditions.internal.source[0]: "10.0.0.0/33" is not an address or network: use e.g. "10.0.0.0/8", "192.168.1.10" or "2001:db8::/32"',
      'frontends.edge.conditions.internal.source[1]: "fd00::/129" is not an address or network: use e.g. "10.0.0.0/8", "192.168.1.10" or "2001:db8::/32"',
    ]],
    ["a condition that multiplies past what HAProxy can read", (f) => (f.routes[1].when = { all: Array.from({ length: 7 }, (_, i) => ({ any: [{ path: `/a${i}` }, { path: `/b${i}` }] })) }), [
      "frontends.edge.routes.api.when: this condition becomes more than 64 alternatives in HAProxy's terms (all of several any's multiply): split it into several routes",
    ]],
    ["a status set on the request, a path rewritten on the response", (f) => ((f.requestRules = [{ setStatus: 503 }]), (f.responseRules = [{ stripPrefix: "/api" }])), [
      "frontends.edge.requestRules[0].setStatus: setStatus changes a response's part: move the rule to responseRules",
      "frontends.edge.responseRules[0].stripPrefix: stripPrefix changes a request's part: move the rule to requestRules",
    ]],
    ["a path rewritten, and a Lua action, on every answer (HAProxy 2.6's http-after-response does headers and the status)", (f) => (f.afterResponseRules = [{ setPath: "/x" }, { lua: "tag" }]), [
      "frontends.edge.afterResponseRules[0].setPath: setPath is not an action HAProxy 2.6 runs on every answer (http-after-response: headers and the status only): move the rule to requestRules",
      "frontends.edge.afterResponseRules[1].lua: lua is not an action HAProxy 2.6 runs on every answer (http-after-response: headers and the status only): move the rule to responseRules",
    ]],
    ["a rule with two actions", (f) => (f.requestRules = [{ setHeader: { name: "X-A", value: "1" }, deleteHeader: "X-B" }]), [
      "frontends.edge.requestRules[0]: a rule does exactly one of setHeader, addHeader, deleteHeader, setPath, replacePath, stripPrefix, addPrefix, setHost, setStatus, lua (found setHeader and deleteHeader)",
    ]],
    ["three keyed rate limits (HAProxy tracks three counters, rateLimit takes one)", (f) => (f.rateLimits = ["a", "b", "c"].map((name) => ({ name, key: "path", limit: 10 }))), [
      "frontends.edge.rateLimits: HAProxy tracks 3 counters per request and rateLimit takes one: give at most 2 rateLimits",
    ]],
    ["a rate limit under a condition that does not exist", (f) => (f.rateLimits = [{ name: "a", key: { header: "X-Tenant" }, limit: 10, when: { condition: "tenants" } }]), [
      `frontends.edge.rateLimits.a.when: "tenants" is not one of this frontend's conditions; known: internal`,
    ]],
    ["a connection-rate limit keyed or conditioned on what a connection has not sent yet", (f) => (f.rateLimits = [{ name: "flood", key: "path", count: "connections", limit: 10, when: { any: [{ condition: "internal" }, { header: { name: "X-Bot", present: true } }] } }]), [
      'frontends.edge.rateLimits.flood.key: a connection is counted as it opens, before any request is read: key it by "source"',
      "frontends.edge.rateLimits.flood.when: header: a connection is counted before anything is read from it: test only source or destinationPort",
    ]],
    ["a login from a userlist that does not exist", (f) => (f.routes[1].auth = { userlist: "staff", realm: "Staff" }), [
      'frontends.edge.routes.api.auth.userlist: "staff" is not a userlist; known: (none): add one to userlists',
    ]],
  ];
  for (const [name, edit, expected] of table) it(name, () => assert.deepEqual(problemsOf(routed(edit)), expected));

  it("a backend that answers itself: no servers and nothing about them, HTTP only; valid alone", () => {
    const answering = (edit: (b: any) => void) => {
      const input = routed();
      input.backends.push({ name: "maintenance", answer: { respond: { status: 503, body: "back soon" } } });
      edit(input.backends.at(-1));
      return problemsOf(input);
    };
    assert.deepEqual(answering(() => {}), []);
    assert.deepEqual(answering((b) => Object.assign(b, { servers: [{ name: "s", address: "10.0.0.1", port: 80 }], slowStart: "10s", responseRules: [{ setStatus: 200 }] })), [
      'backends.maintenance.answer: backend "maintenance" answers every request itself, so its servers would get none: remove answer, or the servers',
      'backends.maintenance.slowStart: backend "maintenance" has no servers (it answers itself): remove slowStart',
      'backends.maintenance.responseRules: backend "maintenance" answers every request itself, so its responseRules would change nothing: remove them (a frontend\'s rules run before it; afterResponseRules change its answer)',
    ]);
    // Its answer is HAProxy's own: rules on every answer change it.
    assert.deepEqual(answering((b) => (b.afterResponseRules = [{ setHeader: { name: "Cache-Control", value: "no-store" } }])), []);
    assert.deepEqual(answering((b) => Object.assign(b, { mode: "tcp" })).filter((p) => p.startsWith("backends.maintenance.answer")), [
      'backends.maintenance.answer: an answer of the backend\'s own needs HTTP, but the backend is in mode tcp: remove it or use mode "http"',
    ]);
    assert.deepEqual(answering((b) => (b.answer = { deny: {}, redirect: { scheme: "https" } })), ["backends.maintenance.answer: an answer is exactly one of redirect, respond, deny, tarpit (found redirect and deny)"]);
  });

  it("a backend's rule cannot name a frontend's condition", () => {
    const input = routed();
    input.backends[1].requestRules = [{ when: { condition: "internal" }, addPrefix: "/v1" }];
    assert.deepEqual(problemsOf(input), ['backends.api_v1.requestRules[0].when: "internal": a backend has no named conditions; write the condition out']);
  });

  it("a password hash is never in the topology: a userlist names the environment variable that holds it", () => {
    const input = routed();
    input.userlists = [{ name: "admins", users: [{ name: "alice", password: "s3cret" }] }];
    assert.deepEqual(problemsOf(input), ["userlists.admins.users.alice.passwordHashFromEnv: Invalid input: expected string, received undefined", 'userlists.admins.users.alice: Unrecognized key: "password": remove it or check its spelling']);
  });

  it("the example frontend itself is valid", () => assert.deepEqual(problemsOf(routed()), []));
  it("a TCP frontend's routes test what a connection shows (no request), and only send or refuse", () => {
    const input = routed();
    input.defaults = { mode: "tcp", httplog: false };
    const why = "a TCP frontend sees no HTTP request: use sni, alpn, source or destinationPort, or mode http";
    assert.deepEqual(problemsOf(input), [
      `frontends.edge.routes.api-v2.when: pathPrefix, header: ${why}`,
      `frontends.edge.routes.api.when: pathPrefix: ${why}`,
      `frontends.edge.routes.admin.when: pathPrefix: ${why}`,
      "frontends.edge.routes.tenants.table: table needs HTTP: a TCP frontend's routes send to a backend or deny",
      "frontends.edge.routeTables: route tables look up the Host header: a TCP frontend has none; use routes with sni",
    ]);
  });
  it("a TCP frontend limits connections per client, and refuses a limit on requests", () => {
    const input = routed((f) => {
      f.routes = [{ when: { destinationPort: 5433 }, backend: "api_v1" }];
      f.routeTables = [];
      f.rateLimits = [{ name: "flood", key: "source", count: "connections", limit: 50, when: { condition: "internal" } }, { name: "calls", key: "source", limit: 50 }];
    });
    input.defaults = { mode: "tcp", httplog: false };
    assert.deepEqual(problemsOf(input), ['frontends.edge.rateLimits.calls.count: a rate limit counting requests (a TCP frontend counts "connections") needs HTTP, but the frontend is in mode tcp: remove it or use mode "http"']);
  });
  it("an HTTP frontend terminates TLS itself: it matches the host, not the ClientHello", () => {
    const input = routed((f) => f.routes.unshift({ when: { sni: "db.example.com" }, backend: "site" }));
    assert.deepEqual(problemsOf(input), ["frontends.edge.routes[0].when: sni: an HTTP frontend terminates TLS itself: match the host instead, or use mode tcp to pass TLS through"]);
  });
});

describe("conditions in HAProxy's terms (no parentheses: any of all)", () => {
  const leaf = (path: string): Condition => ({ path });
  const text = (c: Condition) => conditionTerms(c).map((t) => t.map((l) => `${l.negated ? "!" : ""}${l.leaf.path}`).join(" ")).join(" || ");
  const cases: [string, Condition, string][] = [
    ["a leaf", leaf("/a"), "/a"],
    ["all", { all: [leaf("/a"), leaf("/b")] }, "/a /b"],
    ["any", { any: [leaf("/a"), leaf("/b")] }, "/a || /b"],
    ["all of any: multiplied out", { all: [{ any: [leaf("/a"), leaf("/b")] }, leaf("/c")] }, "/a /c || /b /c"],
    ["not of all: De Morgan", { not: { all: [leaf("/a"), leaf("/b")] } }, "!/a || !/b"],
    ["not of any: De Morgan", { not: { any: [leaf("/a"), leaf("/b")] } }, "!/a !/b"],
    ["not not", { not: { not: leaf("/a") } }, "/a"],
  ];
  for (const [name, condition, expected] of cases) it(name, () => assert.equal(text(condition), expected));
});

describe("route tables as map files", () => {
  it("host+path keys end in '/' so that a prefix matches on segment boundaries, longest first", () => {
    const table = { name: "t", key: "host+path" as const, entries: [{ host: "A.example.com", pathPrefix: "/", backend: "x" }, { host: "a.example.com", pathPrefix: "/api/v2", backend: "y" }, { host: "a.example.com", pathPrefix: "/api/", backend: "z" }] };
    assert.deepEqual(mapFileLines(table), ["a.example.com/api/v2/ y", "a.example.com/api/ z", "a.example.com/ x"]);
    assert.equal(tableEntryKey({ key: "host" }, { host: "B.Example.com" }), "b.example.com");
  });

  it("the resolver takes the longest prefix, never a longer name's (/docs/v2 is not /docs/v20)", () => {
    const topology = parseTopology(routed((f) => (f.routeTables[0] = { name: "tenants", key: "host+path", entries: [{ host: "a.example.com", pathPrefix: "/docs/v2", backend: "api_v2" }, { host: "a.example.com", backend: "api_v1" }] })));
    const backendFor = (path: string) => {
      const outcome = resolveRoute(topology.frontends[0]!, { method: "GET", host: "a.example.com", path, source: "192.0.2.1", tls: false });
      return outcome.kind === "backend" ? outcome.backend : outcome.kind;
    };
    assert.deepEqual(["/docs/v2", "/docs/v2/intro", "/docs/v20", "/"].map(backendFor), ["api_v2", "api_v2", "api_v1", "api_v1"]);
  });
});

describe("rendered routes", () => {
  it("the example frontend renders to exactly these rules, and HAProxy accepts them", async () => {
    const topology = parseTopology(routed());
    const config = renderHaproxyConfig(topology, localTarget("/run/lb"));
    const routing = config.split("\n").filter((l) => /^    (acl|http-request set-var|http-request deny deny_status 403 if \{ var|use_backend|default_backend)/.test(l));
    assert.deepEqual(routing, [
      "    acl route_taken var(txn.route) -m found",
      "    acl in_table_tenants var(txn.table_tenants) -m found",
      "    acl internal src -- \"10.0.0.0/8\" \"fd00::/8\"",
      "    acl path_prefix_1 path -m str -- \"/api\"",
      "    acl path_prefix_1 path -m beg -- \"/api/\"",
      "    acl header_2 req.fhdr(X-Api-Version) -m str -- \"2\"",
      "    acl path_prefix_3 path -m str -- \"/admin\"",
      "    acl path_prefix_3 path -m beg -- \"/admin/\"",
      "    http-request set-var(txn.table_tenants) req.hdr(host),field(1,:),lower,map(maps/edge.tenants.map)",
      "    http-request set-var(txn.route) int(0) if !route_taken path_prefix_1 header_2",
      "    http-request set-var(txn.route) int(1) if !route_taken path_prefix_1",
      "    http-request set-var(txn.route) int(2) if !route_taken path_prefix_3 !internal",
      "    http-request set-var(txn.route) int(3) if !route_taken in_table_tenants",
      "    http-request deny deny_status 403 if { var(txn.route) -m int 2 }",
      "    use_backend api_v2 if { var(txn.route) -m int 0 }",
      "    use_backend api_v1 if { var(txn.route) -m int 1 }",
      "    use_backend %[var(txn.table_tenants)] if { var(txn.route) -m int 3 }",
      "    default_backend site",
    ]);
    assert.deepEqual(mapFiles(topology), [{ path: "maps/edge.tenants.map", content: "a.example.com api_v1\nb.example.com api_v2\n" }]);
    await checkHaproxyConfig(config, { maps: mapFiles(topology) });
  });

  it("a user's condition named like a rule's own ACL is renamed, never merged with it", () => {
    const topology = parseTopology(routed((f) => ((f.conditions = { route_taken: { method: "POST" }, allowlisted: { method: "PUT" } }), (f.allowlist = ["10.0.0.0/8"]), (f.routes[2].when = { any: [{ condition: "route_taken" }, { condition: "allowlisted" }] }))));
    const acls = renderHaproxyConfig(topology, localTarget("/run/lb")).split("\n").filter((l) => /^    acl (route_taken|allowlisted)/.test(l));
    assert.deepEqual(acls, ["    acl route_taken var(txn.route) -m found", "    acl route_taken_1 method POST", "    acl allowlisted_2 method PUT", "    acl allowlisted src 10.0.0.0/8"]);
  });

  it("any printable route value stays inside its quotes (\\, \", $, #, ', % included): haproxy -c accepts every one, and nothing leaks out", async () => {
    const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 30 });
    await fc.assert(
      fc.asyncProperty(printable, printable, async (value, body) => {
        const input = routed((f) => {
          f.routes[0].when.all[1].header.equals = value;
          f.routes.splice(3, 0, { when: { header: { name: "X-Probe", prefix: value, ignoreCase: true } }, respond: { status: 200, body } });
        });
        // Every printable value is accepted: quoting, not refusing, keeps it one argument.
        const topology = parseTopology(input);
        const config = renderHaproxyConfig(topology, localTarget("/run/lb"));
        // The value appears only inside single quotes, on the lines that carry it.
        assert.equal(config.split("\n").filter((l) => /^\s*(use_backend|default_backend|server|backend|frontend)\s/.test(l)).length, 3 + 3 + 2 + 1 + 3);
        await checkHaproxyConfig(config, { maps: mapFiles(topology) });
      }),
      { numRuns: 25 },
    );
  });
});

describe("the routing matrix verify sends", () => {
  it("every route of the example gets a request it takes, and near misses it must not take, each labelled by the resolver", () => {
    const frontend = parseTopology(routed()).frontends[0]!;
    const cases = routingMatrix(frontend, { tls: false, sources: ["127.0.0.1", "127.0.0.2"] });
    const lines = cases.map((c) => `${c.route} ${c.kind}: ${c.request.method} ${c.request.host}${c.request.path} ${JSON.stringify(c.request.headers)} → ${c.expected.kind === "backend" ? c.expected.backend : c.expected.kind} (${c.expected.route})`);
    assert.deepEqual(lines, [
      'api-v2 match: GET verify.invalid/api/probe [["X-Api-Version","2"]] → api_v2 (api-v2)',
      'api-v2 near miss: GET verify.invalid/apis [["X-Api-Version","2"]] → site (defaultBackend)',
      "api-v2 near miss: GET verify.invalid/api/probe [] → api_v1 (api)",
      "api match: GET verify.invalid/api/probe [] → api_v1 (api)",
      "api near miss: GET verify.invalid/apis [] → site (defaultBackend)",
      "admin match: GET verify.invalid/admin/probe [] → deny (admin)",
      "admin near miss: GET verify.invalid/admins [] → site (defaultBackend)",
      "tenants match: GET a.example.com/verify-probe [] → api_v1 (tenants (table tenants))",
      "tenants near miss: GET unknown.invalid/verify-probe [] → site (defaultBackend)",
      "tenants match: GET b.example.com/verify-probe [] → api_v2 (tenants (table tenants))",
    ]);
  });

  it("a source this machine cannot send from leaves the case out rather than guess", () => {
    const frontend = parseTopology(routed((f) => (f.conditions.internal = { source: "10.0.0.0/8" }))).frontends[0]!;
    // "not internal" is met from 127.0.0.1, but its near miss (from inside 10/8) cannot be sent from here.
    const admin = routingMatrix(frontend, { tls: false, sources: ["127.0.0.1"] }).filter((c) => c.route === "admin");
    assert.deepEqual(admin.map((c) => `${c.kind} ${c.request.path} ${c.request.source}`), ["match /admin/probe 127.0.0.1", "near miss /admins 127.0.0.1"]);
  });
});

describe("the plan of a routing change", () => {
  const plan = (edit: (f: any) => void) => makePlan(parseTopology(routed()), parseTopology(routed(edit)));

  it("a table entry added: a runtime change, the map file's diff, and the requests it moves", () => {
    const p = plan((f) => f.routeTables[0].entries.push({ host: "c.example.com", backend: "api_v2" }));
    assert.equal(p.summary, "Plan: 1 runtime change, 0 reloads, 0 restarts.");
    assert.deepEqual(p.changes.map((c) => `${c.kind} ${c.path} ${c.class}`), ["add frontends.edge.routeTables.tenants.entries.c.example.com runtime"]);
    assert.match(p.diffs["maps/edge.tenants.map"]!, /^\+c\.example\.com api_v2$/m);
    assert.equal(p.diffs["haproxy.cfg (target docker)"], undefined, "haproxy.cfg does not change");
    assert.deepEqual(p.routing, [{ frontend: "edge", request: "GET c.example.com/verify-probe", before: "backend site", after: "backend api_v2" }]);
  });

  it("a route's backend changed: a reload, and each request the route takes moves", () => {
    const p = plan((f) => (f.routes[1].backend = "site"));
    assert.equal(p.summary, "Plan: 0 runtime changes, 1 reload (1 change), 0 restarts.");
    assert.deepEqual(p.routing?.map((e) => `${e.request}: ${e.before} → ${e.after}`), ["GET verify.invalid/api/probe: backend api_v1 → backend site"]);
  });

  it("a route added in front: what it now takes, and nothing else", () => {
    const p = plan((f) => f.routes.unshift({ name: "maintenance", when: { all: [{ pathPrefix: "/api" }, { method: "DELETE" }] }, respond: { status: 503, body: "read-only" } }));
    assert.deepEqual(p.routing?.map((e) => `${e.request}: ${e.before} → ${e.after}`), ["DELETE verify.invalid/api/probe: backend api_v1 → answer 503"]);
  });

  it("an edit that moves no request shows no routing effect", () => assert.equal(plan((f) => (f.routes[1].name = "api-v1")).routing, undefined));
});

describe("show map, as HAProxy 2.6 answers it (fixtures captured from haproxy 2.6.12; capture.sh captures the unknown map)", () => {
  const fixture = (name: string) => readFileSync(join(REPO_ROOT, "test/fixtures/haproxy-2.6", `show-map-${name}`), "utf8");
  it("entries: key and value", () => {
    assert.deepEqual(parseShowMap(fixture("two-entries.txt"), "maps/x.map"), [{ key: "m.example.com", value: "be_a" }, { key: "api.example.com/v2/", value: "be_b" }]);
  });
  it("an empty map: no entries", () => assert.deepEqual(parseShowMap(fixture("empty.txt"), "maps/x.map"), []));
  it("an unknown map: a typed error naming the map and what to check", () => {
    assert.throws(() => parseShowMap(fixture("unknown.txt"), "maps/x.map"), (error: unknown) => error instanceof ShowMapGarbledError && error.code === "SHOW_MAP_GARBLED" && /"show map maps\/x\.map" answered "Unknown map identifier/.test(error.message));
  });
});

describe("Lua, by name", () => {
  const withLua = (edit: (f: any) => void, scripts = [{ file: "example.lua" }]) => {
    const input = routed(edit);
    input.lua = { scripts };
    return parseTopology(input);
  };

  it("a service and an action the script registers: lua-load beside the config, use-service and the action by name; HAProxy accepts them", async () => {
    const topology = withLua((f) => {
      f.routes.splice(0, 0, { name: "hello", when: { path: "/hello" }, service: "hello" });
      f.requestRules = [{ lua: "tag_request" }];
    });
    const config = renderHaproxyConfig(topology, localTarget("/run/lb"));
    assert.match(config, /^    default-path config\n    lua-load lua\/example\.lua$/m);
    assert.match(config, /^    http-request use-service lua\.hello if \{ var\(txn\.route\) -m int 0 \}$/m);
    assert.match(config, /^    http-request lua\.tag_request$/m);
    await checkHaproxyConfig(config, { maps: mapFiles(topology) });
  });

  it("a fetch and a converter in conditions: the ACL reads lua.NAME (with its arguments, after the header); HAProxy accepts them", async () => {
    const topology = withLua((f) => {
      f.routes.splice(0, 0, { name: "tenant", when: { lua: { fetch: "tenant_of_path", args: ["t", "x.y"], equals: "acme" } }, backend: "api_v2" });
      f.routes.splice(1, 0, { name: "beta", when: { header: { name: "X-Origin", luaConverter: "first_label", prefix: "beta" } }, backend: "api_v2" });
    });
    const config = renderHaproxyConfig(topology, localTarget("/run/lb"));
    assert.match(config, /^    acl lua_\d+ lua\.tenant_of_path\(t,x\.y\) -m str -- "acme"$/m);
    assert.match(config, /^    acl header_\d+ req\.fhdr\(X-Origin\),lua\.first_label -m beg -- "beta"$/m);
    await checkHaproxyConfig(config, { maps: mapFiles(topology) });
  });

  it("a fetch no script registers: haproxy -c refuses it", async () => {
    const topology = withLua((f) => f.routes.splice(0, 0, { when: { lua: { fetch: "nope", present: true } }, backend: "api_v2" }));
    await assert.rejects(checkHaproxyConfig(renderHaproxyConfig(topology, localTarget("/run/lb")), { maps: mapFiles(topology) }), (error: unknown) => error instanceof HaproxyConfigRejectedError && /lua\.nope/.test(error.message));
  });

  it("the resolver leaves to Lua what only Lua can say, and decides what another part settles", () => {
    const topology = withLua((f) => {
      f.routes.splice(0, 0, { name: "tenant", when: { all: [{ pathPrefix: "/t" }, { lua: { fetch: "tenant_of_path", equals: "acme" } }] }, backend: "api_v2" });
    });
    const outcome = (path: string) => resolveRoute(topology.frontends[0]!, { method: "GET", host: "a.example.com", path, source: "192.0.2.1", tls: false });
    assert.deepEqual(outcome("/t/acme"), { kind: "undecided", route: "tenant", by: "lua.tenant_of_path" });
    assert.deepEqual(outcome("/api/users").route, "api", "a path outside /t settles all without Lua");
  });

  it("refused: a converter on a presence test, a converter on a fetch, an argument that is more than a word", () => {
    assert.deepEqual(problemsOf(routed((f) => f.routes.splice(0, 0, { when: { any: [{ header: { name: "X-A", present: true, luaConverter: "first_label" } }, { lua: { fetch: "f", args: ["a b"], equals: "x", luaConverter: "first_label" } }] }, backend: "api_v2" }))), [
      "frontends.edge.routes[0].when.any[0].header.luaConverter: present asks whether the value is there, which no converter changes: remove luaConverter, or compare its result",
      'frontends.edge.routes[0].when.any[1].lua.args[0]: "a b" is not a Lua fetch argument: use 1 to 64 letters, digits or "_.:/-"',
      "frontends.edge.routes[0].when.any[1].lua.luaConverter: a Lua fetch computes the value itself: do the conversion in the fetch",
    ]);
  });

  it("a name no script registers: haproxy -c refuses it, naming the line", async () => {
    const topology = withLua((f) => f.routes.splice(0, 0, { when: { path: "/hello" }, service: "nope" }));
    await assert.rejects(checkHaproxyConfig(renderHaproxyConfig(topology, localTarget("/run/lb")), { maps: mapFiles(topology) }), (error: unknown) => error instanceof HaproxyConfigRejectedError && /'lua\.nope' unknown service name/.test(error.message));
  });

  it("a script that is not in templates/lua/: refused with its field", () => {
    assert.throws(() => readLuaScripts(withLua(() => {}, [{ file: "missing.lua" }])), (error: unknown) => error instanceof LuaScriptMissingError && error.code === "LUA_SCRIPT_MISSING" && error.message.startsWith("lua.scripts[0].file: "));
  });

  it("a Lua name that could carry more than a name is refused", () => {
    assert.deepEqual(problemsOf(routed((f) => f.routes.splice(0, 0, { when: { path: "/x" }, service: "hello if TRUE" }))), ['frontends.edge.routes[0].service: "hello if TRUE" is not a Lua name: use 1 to 64 lower-case letters, digits or "_", starting with a letter or "_"']);
  });
});
