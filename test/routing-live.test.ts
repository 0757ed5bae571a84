// Routing on the real local stack: requests reach the backend the resolver names (by the server that
// answers), and route-table entries added, changed and removed by npm run apply are served at once
// with no new HAProxy worker, the map file written in the same step, and kept by a later reload.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { execFileSync } from "node:child_process";
import http from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseShowProc } from "../haproxy/master-cli.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { resolveRoute } from "../infra/model/route-resolver.ts";
import { startTestStack, type TestStack } from "./support/stack.ts";
import { runCli } from "./support/run-cli.ts";

/** The seed's flask_servers (web-a, web-b) and an "api" backend (web-c), routed by path, host and a table. */
function routedSeed(t: any): void {
  t.global.hardStopAfter = "5s";
  t.backends.push({
    name: "api",
    healthCheck: { http: { method: "GET", path: "/status", expectStatus: 200 } },
    servers: [{ name: "web-c", address: "web-c", port: 5003, inter: "500ms", fall: 2, rise: 2 }],
    requestRules: [{ addPrefix: "/v1" }],
    responseRules: [{ addHeader: { name: "X-Backend", value: "api" } }],
  });
  t.userlists = [{ name: "admins", users: [{ name: "alice", passwordHashFromEnv: "LB_TEST_ADMIN_HASH" }] }];
  t.lua = { scripts: [{ file: "example.lua" }] };
  Object.assign(t.frontends[0], {
    requestRules: [
      { when: { pathPrefix: "/api" }, stripPrefix: "/api" },
      { setHeader: { name: "X-Edge", value: TRICKY } },
      { deleteHeader: "X-Debug" },
      { when: { path: "/moved-internally" }, setPath: "/new-home" },
      { when: { pathPrefix: "/internal" }, setHost: "internal.example.com" },
      { when: { path: "/lua-tag" }, lua: "tag_request" },
    ],
    responseRules: [{ when: { pathSuffix: ".css" }, setHeader: { name: "Cache-Control", value: "max-age=3600" } }, { when: { path: "/teapot" }, setStatus: 418 }],
    afterResponseRules: [{ setHeader: { name: "X-Answered-By", value: "edge" } }, { when: { pathPrefix: "/limited" }, setHeader: { name: "Cache-Control", value: "no-store" } }],
    forwardedHeaders: {},
    securityHeaders: {},
    rateLimits: [
      { name: "per-path", key: "path", limit: 3, window: "10s", when: { pathPrefix: "/limited" } },
      { name: "per-tenant", key: { header: "X-Tenant" }, limit: 2, window: "10s", when: { header: { name: "X-Tenant", present: true } } },
    ],
    routes: [
      { name: "admin", when: { pathPrefix: "/admin" }, backend: "api", auth: { userlist: "admins", realm: "Admin area" } },
      { name: "lua", when: { path: "/lua-hello" }, service: "hello" },
      { name: "api", when: { pathPrefix: "/api" }, backend: "api" },
      { name: "moved", when: { host: "old.example.com" }, redirect: { prefix: "https://new.example.com", code: 301 } },
      { name: "lb-health", when: { all: [{ path: "/lb-health" }, { method: ["GET", "HEAD"] }] }, respond: { status: 200, body: "ok" } },
      { name: "tenants", table: "tenants" },
      // Lua decides these: a fetch (the tenant in the path), a converter (a header's first label).
      { name: "lua-tenant", when: { all: [{ pathPrefix: "/t" }, { lua: { fetch: "tenant_of_path", equals: "acme" } }] }, backend: "api" },
      { name: "lua-origin", when: { all: [{ header: { name: "X-Origin", present: true } }, { header: { name: "X-Origin", luaConverter: "first_label", equals: "beta" } }] }, backend: "api" },
    ],
    routeTables: [{ name: "tenants", entries: [{ host: "a.example.com", backend: "api" }] }],
  });
}

/** A header value with every character HAProxy's config reads specially. */
const TRICKY = `a"b$c\\d'e #f %[src]`;

const SERVED_BY: Record<string, string> = { "web-a": "flask_servers", "web-b": "flask_servers", "web-c": "api" };

describe("routing on the real local stack", () => {
  let running: TestStack;
  let port: number;
  const file = (name: string) => join(running.runDir, name);
  const workers = async () => parseShowProc(await runtimeCommand({ path: running.stack.plan.sockets.master }, "show proc")).workers.map((w) => w.pid);
  const apply = (topologyFile: string, ...args: string[]) => runCli("infra/gitops/apply-cli.ts", ["--run-dir", running.runDir, "--topology", topologyFile, ...args], { timeoutMs: 120_000 });
  const withEntries = (name: string, entries: { host: string; backend: string }[], edit: (t: any) => void = () => {}) => {
    const t = structuredClone(running.topology) as any;
    t.frontends[0].routeTables[0].entries = entries;
    edit(t);
    writeFileSync(file(name), JSON.stringify(t));
    return file(name);
  };
  /** One request with its own Host header (fetch may not set one). */
  const send = (method: string, host: string, target: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, method, path: target, headers: { ...headers, host }, agent: false, timeout: 5000 }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (c) => (body += c)).on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      req.on("timeout", () => req.destroy(new Error("no answer in 5 s"))).on("error", reject).end();
    });
  /** Which backend answered a request for `host` (by the server that did), or the status. */
  const backendFor = async (host: string, path = "/") => {
    const response = await send("GET", host, path);
    const server = response.headers["x-served-by"] as string | undefined;
    return server ? SERVED_BY[server] : `status ${response.status}`;
  };

  beforeAll(async () => {
    // HAProxy reads the login's hash from its environment as it starts.
    // From a file, as a secret mounted beside the stack would give it: npm start reads it into HAProxy's environment.
    const hashFile = join(mkdtempSync(join(tmpdir(), "lb-login-")), "admin.hash");
    writeFileSync(hashFile, execFileSync("openssl", ["passwd", "-6", "s3cret"], { encoding: "utf8" }));
    process.env.LB_TEST_ADMIN_HASH_FILE = hashFile;
    running = await startTestStack(routedSeed);
    port = running.topology.frontends[0]!.binds[0]!.port;
  });
  afterAll(async () => {
    await running?.cleanup();
    delete process.env.LB_TEST_ADMIN_HASH;
    delete process.env.LB_TEST_ADMIN_HASH_FILE;
  });

  it("requests go where the resolver says: path prefix, host redirect, an answer of its own, the table, the default", async () => {
    const frontend = running.topology.frontends[0]!;
    const cases: [string, string, string][] = [
      ["GET", "www.example.com", "/api/users"],
      ["GET", "www.example.com", "/apis"],
      ["GET", "old.example.com", "/x?y=1"],
      ["GET", "www.example.com", "/lb-health"],
      ["POST", "www.example.com", "/lb-health"],
      ["GET", "A.Example.com:8080", "/"],
      ["GET", "b.example.com", "/"],
    ];
    for (const [method, host, target] of cases) {
      const [path, query] = target.split("?") as [string, string | undefined];
      const expected = resolveRoute(frontend, { method, host, path, query, source: "127.0.0.1", tls: false, headers: [] });
      const response = await send(method, host, target);
      const served = response.headers["x-served-by"] as string | undefined;
      const seen = served ? `backend ${SERVED_BY[served]}` : response.status >= 300 && response.status < 400 ? `redirect ${response.status} ${response.headers.location}` : `respond ${response.status} ${response.body}`;
      const want = expected.kind === "backend" ? `backend ${expected.backend}` : expected.kind === "redirect" ? `redirect ${expected.status} ${expected.location}` : expected.kind === "respond" ? `respond ${expected.status} ${expected.body}` : expected.kind;
      assert.equal(seen, want, `${method} ${host}${target}`);
    }
  });

  it("conditions a Lua fetch and a Lua converter decide, on the real HAProxy", async () => {
    const backendOf = async (path: string, headers: Record<string, string> = {}) => {
      const served = (await send("GET", "www.example.com", path, headers)).headers["x-served-by"] as string | undefined;
      return served ? SERVED_BY[served] : "none";
    };
    assert.deepEqual(
      [await backendOf("/t/acme/orders"), await backendOf("/t/globex/orders"), await backendOf("/", { "X-Origin": "BETA.example.com:443" }), await backendOf("/", { "X-Origin": "www.example.com" })],
      ["api", "flask_servers", "api", "flask_servers"],
    );
  });

  it("rules: the path stripped by the frontend and prefixed by the backend, headers set and removed, forwarded and security headers", async () => {
    const api = await send("GET", "www.example.com:8080", "/api/users?x=1", { "X-Debug": "1" });
    assert.equal(api.status, 200);
    const echoed = JSON.parse(api.body) as { path: string; query: string; headers: [string, string][] };
    const header = (name: string) => echoed.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
    assert.deepEqual([echoed.path, echoed.query], ["/v1/users", "x=1"]);
    assert.deepEqual([header("X-Edge"), header("X-Debug"), header("X-Forwarded-Proto"), header("X-Forwarded-Host"), header("X-Forwarded-Port")], [TRICKY, undefined, "http", "www.example.com:8080", String(port)]);
    assert.deepEqual([api.headers["x-backend"], api.headers["x-frame-options"], api.headers["x-content-type-options"], api.headers["referrer-policy"]], ["api", "DENY", "nosniff", "strict-origin-when-cross-origin"]);
    // The backend's cookie persistence (nocache) adds "private" to an answer that sets its cookie.
    assert.match(String((await send("GET", "www.example.com", "/static/app.css")).headers["cache-control"]), /^max-age=3600(, private)?$/);
    assert.equal((await send("GET", "www.example.com", "/static/app.js")).headers["cache-control"], undefined);
    const echoedOf = async (target: string) => JSON.parse((await send("GET", "www.example.com", target)).body) as { path: string; headers: [string, string][] };
    assert.equal((await echoedOf("/moved-internally")).path, "/new-home");
    assert.equal((await echoedOf("/internal/x")).headers.find(([n]) => n.toLowerCase() === "host")?.[1], "internal.example.com");
    // Lua, by name: a service that answers, an action that marks the request.
    const hello = await send("GET", "www.example.com", "/lua-hello");
    assert.deepEqual([hello.status, hello.body, hello.headers["x-served-by"]], [200, "hello from lua\n", undefined]);
    assert.equal((await echoedOf("/lua-tag")).headers.find(([n]) => n.toLowerCase() === "x-lua")?.[1], "tagged");
    const teapot = await send("GET", "www.example.com", "/teapot");
    assert.deepEqual([teapot.status, typeof teapot.headers["x-served-by"]], [418, "string"], "the server's 200, answered as 418");
    // HAProxy's own answers carry the security headers too.
    assert.equal((await send("GET", "www.example.com", "/lb-health")).headers["x-frame-options"], "DENY");
  });

  it("rules on every answer: HAProxy's own (its answer, a redirect, a login's 401, a 429) carry them as the servers' do; response rules only the servers'", async () => {
    const answers = {
      server: await send("GET", "www.example.com", "/"),
      own: await send("GET", "www.example.com", "/lb-health"),
      redirect: await send("GET", "old.example.com", "/app.css"),
      login: await send("GET", "www.example.com", "/admin/"),
    };
    assert.deepEqual(Object.values(answers).map((a) => [a.status, a.headers["x-answered-by"]]), [[200, "edge"], [200, "edge"], [301, "edge"], [401, "edge"]]);
    assert.equal(answers.redirect.headers["cache-control"], undefined, "a response rule (.css) does not touch HAProxy's own answer");
    // A condition is decided before anything answers: the limit's 429 meets it as the served requests do.
    const limited: [number, unknown][] = [];
    for (let i = 0; i < 5; i++) {
      const a = await send("GET", "www.example.com", "/limited/every-answer");
      limited.push([a.status, a.headers["cache-control"]]);
    }
    assert.deepEqual(limited.map(([status]) => status), [200, 200, 200, 429, 429]);
    assert.ok(limited.every(([, cacheControl]) => typeof cacheControl === "string" && cacheControl.startsWith("no-store")), JSON.stringify(limited));
    assert.equal(answers.server.headers["cache-control"], undefined, "not on a path outside the condition");
    // Refused before any rule's mark (a body over defaults.maxRequestBodyBytes): the condition was decided already.
    const tooLarge = await send("POST", "www.example.com", "/limited/upload", { "Content-Length": "20000000" });
    assert.deepEqual([tooLarge.status, tooLarge.headers["x-answered-by"], tooLarge.headers["cache-control"]], [413, "edge", "no-store"]);
  });

  it("rate limits keyed by the path and by a header: past the limit 429 with Retry-After, other keys served", async () => {
    const statuses = async (target: string, headers: Record<string, string> = {}, n = 1) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await send("GET", "www.example.com", target, headers)).status);
      return out;
    };
    assert.deepEqual(await statuses("/limited/a", {}, 5), [200, 200, 200, 429, 429]);
    const refused = await send("GET", "www.example.com", "/limited/a");
    assert.deepEqual([refused.status, refused.headers["retry-after"]], [429, "10"]);
    assert.deepEqual(await statuses("/limited/b"), [200], "another path has its own count");
    assert.deepEqual(await statuses("/", { "X-Tenant": "acme" }, 4), [200, 200, 429, 429]);
    assert.deepEqual(await statuses("/", { "X-Tenant": "globex" }), [200], "another tenant has its own count");
    assert.deepEqual(await statuses("/", {}, 3), [200, 200, 200], "requests without the header are not limited");
  });

  it("a route behind a login: 401 with the realm without one or with a wrong one, the backend with the right one", async () => {
    const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`alice:${password}`).toString("base64")}` });
    const none = await send("GET", "www.example.com", "/admin/users");
    assert.equal(none.status, 401);
    assert.match(String(none.headers["www-authenticate"]), /Basic realm="Admin area"/);
    assert.equal((await send("GET", "www.example.com", "/admin/users", basic("wrong"))).status, 401);
    const right = await send("GET", "www.example.com", "/admin/users", basic("s3cret"));
    assert.deepEqual([right.status, right.headers["x-served-by"]], [200, "web-c"]);
  });

  it("a table entry added and one changed by apply: at runtime (the same worker), served at once, the map file written", async () => {
    const before = await workers();
    const result = await apply(withEntries("entries.json", [{ host: "a.example.com", backend: "flask_servers" }, { host: "b.example.com", backend: "api" }]));
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /^Plan: 2 runtime changes, 0 reloads, 0 restarts\.$/m);
    assert.match(result.stdout, /applied at runtime \(no reload\)/);
    // Verified by traffic: the routing matrix (every route's match and near misses, the new entries among them).
    assert.match(result.stdout, /^routing\s+PASS\s+\d+ requests \(\d+ matches, \d+ near misses\) over 7 routes/m);
    assert.deepEqual(await workers(), before, "a table entry must not start a new worker");
    assert.deepEqual([await backendFor("a.example.com"), await backendFor("b.example.com")], ["flask_servers", "api"]);
    assert.equal(readFileSync(file("maps/http_front.tenants.map"), "utf8"), "a.example.com flask_servers\nb.example.com api\n");
    const shown = await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show map maps/http_front.tenants.map");
    assert.deepEqual(shown.trim().split("\n").map((l) => l.split(" ").slice(1).join(" ")).sort(), ["a.example.com flask_servers", "b.example.com api"]);
  });

  it("an entry removed at runtime, then a reload-class change: every entry still served as the topology says", async () => {
    const removed = await apply(withEntries("removed.json", [{ host: "b.example.com", backend: "api" }]));
    assert.equal(removed.code, 0, `${removed.stdout}\n${removed.stderr}`);
    assert.match(removed.stdout, /^Plan: 1 runtime change, 0 reloads, 0 restarts\.$/m);
    assert.deepEqual([await backendFor("a.example.com"), await backendFor("b.example.com")], ["flask_servers", "api"], "a.example.com falls back to the default backend");

    const before = await workers();
    const reloaded = await apply(withEntries("reload.json", [{ host: "b.example.com", backend: "api" }], (t) => (t.defaults.timeouts.client = "11s")));
    assert.equal(reloaded.code, 0, `${reloaded.stdout}\n${reloaded.stderr}`);
    assert.match(reloaded.stdout, /applied by a hitless reload/);
    assert.notDeepEqual(await workers(), before, "the timeout takes a new worker");
    assert.deepEqual([await backendFor("a.example.com"), await backendFor("b.example.com")], ["flask_servers", "api"]);
  });

  it("an entry changed behind the topology's back (the runtime API): npm run drift shows it, with the runtime fix", async () => {
    const current = file("reload.json");
    const admin = { path: running.stack.plan.sockets.admin };
    assert.equal((await runCli("infra/gitops/drift-cli.ts", ["--run-dir", running.runDir, "--topology", current])).code, 0, "in sync before");
    assert.equal((await runtimeCommand(admin, "add map maps/http_front.tenants.map rogue.example.com api")).trim(), "");
    assert.equal((await runtimeCommand(admin, "set map maps/http_front.tenants.map b.example.com flask_servers")).trim(), "");
    const drift = await runCli("infra/gitops/drift-cli.ts", ["--run-dir", running.runDir, "--topology", current]);
    assert.equal(drift.code, 2, drift.stdout + drift.stderr);
    assert.match(drift.stdout, /^~ frontends\.http_front\.routeTables\.tenants\.entries\.b\.example\.com\.backend: flask_servers → api   \(runtime: set map maps\/http_front\.tenants\.map b\.example\.com api\)$/m);
    assert.match(drift.stdout, /^- frontends\.http_front\.routeTables\.tenants\.entries\.rogue\.example\.com   \(runtime: del map maps\/http_front\.tenants\.map rogue\.example\.com\)$/m);
    // The fixes the report names, run as they are: in sync again.
    for (const fix of ["set map maps/http_front.tenants.map b.example.com api", "del map maps/http_front.tenants.map rogue.example.com"]) assert.equal((await runtimeCommand(admin, fix)).trim(), "");
    assert.equal((await runCli("infra/gitops/drift-cli.ts", ["--run-dir", running.runDir, "--topology", current])).code, 0, "in sync after the fixes");
  });
});
