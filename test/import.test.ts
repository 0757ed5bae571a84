// npm run import: an existing haproxy.cfg becomes a topology, every line accounted for, or is refused
// line by line (FILE:LINE: directive: why); what it imports validates and renders to a config the real
// HAProxy accepts. Fixtures in test/fixtures/import/ are written in the shapes real deployments use.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { parseConfig } from "../haproxy/config-parser.ts";
import { ConfigSyntaxError } from "../haproxy/errors.ts";
import { ImportRefusedError } from "../infra/errors.ts";
import { accountingReport, importConfig, refusals } from "../infra/import/import.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { dockerTarget, localTarget } from "../infra/render/targets.ts";
import { validateImported } from "../infra/import/validate.ts";
import { compareRendered } from "../infra/import/equivalence.ts";
import { haproxyObjections } from "../infra/import/original-check.ts";
import { configAlerts } from "../haproxy/check-alerts.ts";
import { resolveRoute } from "../infra/model/route-resolver.ts";
import { loadTopologyFile } from "../infra/model/load.ts";
import { checkEveryTarget } from "../infra/render/validate.ts";
import { REPO_ROOT, runCli } from "./support/run-cli.ts";
import { topologyProblems } from "./support/topologies.ts";

const FIXTURES = join(REPO_ROOT, "test/fixtures/import");
const read = (name: string, edit: (text: string) => string = (t) => t) => ({ file: name, text: edit(readFileSync(join(FIXTURES, name), "utf8")) });
const imported = (files: { file: string; text: string } | { file: string; text: string }[], name?: string) => importConfig(parseConfig(Array.isArray(files) ? files : [files]), name);

describe("the seed's own config", () => {
  it("is refused on its one bug: default_backend names no backend, with the line, the backends that exist and nothing written", () => {
    const result = imported(read("seed.cfg"));
    assert.deepEqual(refusals(result.accounts), []);
    assert.throws(() => validateImported(result), (e: unknown) => {
      assert.ok(e instanceof ImportRefusedError);
      assert.deepEqual(e.lines, ['seed.cfg:16: default_backend backend_servers: "backend_servers" is not a backend; known: flask_servers']);
      return true;
    });
  });

  it("fixed, imports whole: every line mapped or decided, the cookie's SameSite said as a normalisation, and haproxy -c accepts the render", async () => {
    const result = imported(read("seed.cfg", (t) => t.replace("default_backend backend_servers", "default_backend flask_servers")));
    assert.equal(result.accounts.length, 21);
    assert.deepEqual(result.accounts.filter((a) => a.outcome !== "mapped").map((a) => `${a.at.line} ${a.outcome}`), ["7 decided", "23 normalised"]);
    const topology = validateImported(result);
    assert.deepEqual(topology.backends[0]!.servers.map((s) => [s.name, s.address, s.port, s.check, s.fall, s.rise, s.cookie, s.external]), [
      ["web-a", "web-a", 5001, true, 1, 5, "web-a", true],
      ["web-b", "web-b", 5002, true, 1, 5, "web-b", true],
    ]);
    assert.deepEqual(topology.frontends[0]!.binds, [{ address: "*", dualStack: false, port: 60000, lastPort: 60001, http2: true, strictSni: false }]);
    await checkEveryTarget(topology);
    // Its servers named by host get the stack's init-addr (a name that does not resolve leaves its server DOWN): decided, no difference.
    const parsed = parseConfig([read("seed.cfg", (t) => t.replace("default_backend backend_servers", "default_backend flask_servers"))]);
    assert.deepEqual(compareRendered(parsed, result, topology, { read: () => undefined }).differences, []);
  });
});

describe("an edge with host and path routing, TLS, persistence and a TCP listen section", () => {
  it("imports: ACLs become named conditions, use_backend lines routes in order, listen a frontend and a backend, what the stack decides said so", async () => {
    const result = imported(read("shop-edge.cfg"));
    assert.deepEqual(refusals(result.accounts), []);
    const topology = validateImported(result);
    const edge = topology.frontends.find((f) => f.name === "shop_edge")!;
    assert.deepEqual(edge.conditions, { is_api: { any: [{ host: "api.shop.example" }, { pathBegins: "/api/" }] }, from_office: { source: "10.20.0.0/16" }, is_admin: { pathBegins: "/admin" } });
    const to = (host: string, path: string, source = "192.0.2.1") => {
      const o = resolveRoute(edge, { method: "GET", host, path, source, tls: false });
      return o.kind === "backend" ? o.backend : o.kind;
    };
    assert.deepEqual([to("api.shop.example", "/"), to("www.shop.example", "/api/orders"), to("www.shop.example", "/admin", "10.20.1.1"), to("www.shop.example", "/admin"), to("www.shop.example", "/")], ["api", "api", "admin", "static", "static"]);
    assert.deepEqual(topology.backends.find((b) => b.name === "admin")!.servers.map((s) => [s.name, s.address ?? s.unixSocket, s.port, s.backup]), [["admin-1", "10.0.1.21", 8080, false], ["admin-local", "/run/admin/app.sock", undefined, true]]);
    assert.deepEqual(topology.frontends.find((f) => f.name === "reporting_db")!.defaultBackend, "reporting_db");
    assert.deepEqual(topology.backends.find((b) => b.name === "reporting_db")!.healthCheck, { postgresql: { user: "haproxy" }, tls: false, primaryOnly: false });
    const decided = result.accounts.filter((a) => a.outcome === "decided").map((a) => a.directive.split(" ")[0]);
    assert.deepEqual(decided, ["daemon", "user", "group", "pidfile", "stats", "log"]);
    const normalised = result.accounts.filter((a) => a.outcome === "normalised").map((a) => `${a.at.line}: ${a.why}`);
    assert.deepEqual(normalised, [
      "19: 5000 (milliseconds, as HAProxy reads a bare number) written 5000ms",
      "29: the model compares the Host header without its port (HAProxy compared the whole header)",
      "52: HAProxy sets no SameSite attribute here; the model adds SameSite=Lax unless told otherwise",
    ]);
    await checkEveryTarget(topology);
  });

  it("refuses what the model cannot hold yet, each line as FILE:LINE: directive: why, and never drops one", () => {
    const result = imported(read("shop-edge.cfg", (t) => t.replace("    option forwardfor\n", "    option forwardfor\n    http-request set-var(txn.edge) str(shop)\n    acl api_v2 hdr_sub(user-agent) curl\n").replace("backend admin\n", "backend admin\n    stick-table type ip size 1m expire 10m\n")));
    assert.deepEqual(refusals(result.accounts), [
      "shop-edge.cfg:28: http-request set-var(txn.edge) str(shop): http-request set-var(txn.edge) is not in the model yet",
      "shop-edge.cfg:29: acl api_v2 hdr_sub(user-agent) curl: the ACL criterion hdr_sub(user-agent) is not in the model yet",
      "shop-edge.cfg:48: stick-table type ip size 1m expire 10m: a stick table nothing tracks into (no stick on src here): a table that counts for rate limits belongs to a frontend's rateLimit",
    ]);
    const lines = readFileSync(join(FIXTURES, "shop-edge.cfg"), "utf8").split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#")).length;
    assert.equal(result.accounts.length, lines + 3, "every line that is not blank or a comment has its account");
  });
});

describe("http-request and http-response rules, anonymous ACLs", () => {
  const edge = () => imported(read("rules-edge.cfg"));
  it("rules-edge.cfg imports whole: refusals, redirects and answers become routes ahead of the use_backend ones, rewrites become rules in order", async () => {
    const result = edge();
    assert.deepEqual(refusals(result.accounts), []);
    const topology = validateImported(result);
    const www = topology.frontends[0]!;
    assert.deepEqual(www.routes.map((r) => Object.keys(r).filter((k) => k !== "when").join()), ["deny", "deny", "redirect", "redirect", "respond", "backend", "backend"]);
    assert.deepEqual(www.routes[0]!.when, { any: [{ pathSuffix: ".php" }, { pathBegins: "/wp-admin" }] });
    assert.deepEqual(www.routes[6]!.when, { not: { all: [{ method: ["GET", "HEAD"] }, { not: { pathBegins: "/static/" } }] } });
    assert.deepEqual(www.requestRules.map((r) => r.setHeader?.name ?? r.deleteHeader), ["X-Forwarded-Proto", "X-Debug"]);
    assert.deepEqual(topology.backends.find((b) => b.name === "api")!.requestRules, [
      { when: { pathBegins: "/api/v1/" }, setHeader: { name: "X-Api-Version", value: "1" } },
      { replacePath: { regex: "^/api/(.*)", with: "/\\1" } },
    ]);
    await checkEveryTarget(topology);
  });
  const refusedLine = (cfg: string) => refusals(imported({ file: "r.cfg", text: cfg }).accounts);
  it("a response rule whose condition tests the source (which HAProxy reads in a response rule) is imported", () => {
    const result = imported({ file: "r.cfg", text: "defaults\n    mode http\nfrontend f\n    bind :80\n    http-response set-header X-Office 1 if { src 10.20.0.0/16 }\n    http-after-response set-header X-Office 1 if { src 10.20.0.0/16 }\n    default_backend b\nbackend b\n    server a 10.0.0.1:80\n" });
    assert.deepEqual(refusals(result.accounts), []);
    const frontend = validateImported(result).frontends[0]!;
    assert.deepEqual([frontend.responseRules, frontend.afterResponseRules], [[{ when: { source: "10.20.0.0/16" }, setHeader: { name: "X-Office", value: "1" } }], [{ when: { source: "10.20.0.0/16" }, setHeader: { name: "X-Office", value: "1" } }]]);
  });
  it("a response rule whose condition tests the request's path, method or headers is refused: HAProxy never matches those there (haproxy -c: 'will never match'), hdr() reads the response's", () => {
    for (const [rule, kinds] of [
      ["http-response set-header X-Seen 1 if { hdr(x-status) -i ok }", "header"],
      ["http-after-response set-header Cache-Control no-store if { path_beg /api/ }", "pathBegins"],
      ["http-after-response del-header Server unless { method GET }", "method"],
    ]) {
      const refused = refusals(imported({ file: "r.cfg", text: `defaults\n    mode http\nfrontend f\n    bind :80\n    ${rule}\n    default_backend b\nbackend b\n    server a 10.0.0.1:80\n` }).accounts);
      assert.equal(refused.length, 1, rule);
      assert.match(refused[0]!, new RegExp(`^r\\.cfg:5: .*: its condition tests ${kinds}, which an http-(after-)?response rule does not read from the request: HAProxy never matches`), rule);
    }
  });
  it("captures into the log: request and response headers become logCaptures in order; a cookie capture is refused saying what to capture", () => {
    const result = imported({ file: "r.cfg", text: "defaults\n    mode http\nlisten app\n    bind :80\n    capture request header X-Request-Id len 36\n    capture response header Content-Type len 32\n    capture request header Host len 64\n    capture cookie SESSIONID len 32\n    server a 10.0.0.1:80\n" });
    assert.deepEqual(refusals(result.accounts), ["r.cfg:8: capture cookie SESSIONID len 32: capture cookie is not in the model: capture the Cookie or Set-Cookie header (frontends.logCaptures)"]);
    const topology = validateImported({ ...result, accounts: result.accounts.filter((a) => a.outcome !== "refused") });
    assert.deepEqual(topology.frontends[0]!.logCaptures, { requestHeaders: [{ name: "X-Request-Id", length: 36 }, { name: "Host", length: 64 }], responseHeaders: [{ name: "Content-Type", length: 32 }] });
  });
  it("http-after-response: headers and the status on every answer become afterResponseRules; what HAProxy 2.6 runs there but the model lacks is refused", () => {
    const result = imported({ file: "r.cfg", text: "defaults\n    mode http\nfrontend f\n    bind :80\n    http-after-response del-header Server\n    http-after-response add-header Via lb1\n    http-after-response set-status 503 if { src 10.9.0.0/16 }\n    http-after-response replace-header Set-Cookie (.*) \\1;\\ Secure\n    default_backend b\nbackend b\n    http-after-response set-header X-Pool b\n    server a 10.0.0.1:80\n" });
    assert.deepEqual(refusals(result.accounts), ["r.cfg:8: http-after-response replace-header Set-Cookie (.*) \\1;\\ Secure: http-after-response replace-header is not in the model yet"]);
    const topology = validateImported({ ...result, accounts: result.accounts.filter((a) => a.outcome !== "refused") });
    assert.deepEqual(topology.frontends[0]!.afterResponseRules, [{ deleteHeader: "Server" }, { addHeader: { name: "Via", value: "lb1" } }, { when: { source: "10.9.0.0/16" }, setStatus: 503 }]);
    assert.deepEqual(topology.backends[0]!.afterResponseRules, [{ setHeader: { name: "X-Pool", value: "b" } }]);
  });
  const cases: [string, string, string[]][] = [
    ["a condition that reads what an earlier rule rewrote", "backend api\n    http-request replace-path ^/api/(.*) /\\1\n    http-request set-header X-V 1 if { path_beg /v1/ }\n    server a 10.0.0.1:80\n", ["r.cfg:3: http-request set-header X-V 1 if { path_beg /v1/ }: its condition reads the path, which r.cfg:2 (http-request replace-path ^/api/(.*) /\\1) rewrites before it; the model decides conditions on the request as it came: test what the request had before the rewrite"]],
    ["a use_backend that reads a header a rule set", "frontend f\n    bind :80\n    http-request set-header Host internal.example\n    use_backend b if { hdr(host) -i internal.example }\n    default_backend b\nbackend b\n    server a 10.0.0.1:80\n", ["r.cfg:4: use_backend b if { hdr(host) -i internal.example }: its condition reads the host header, which r.cfg:3 (http-request set-header Host internal.example) rewrites before it; the model decides conditions on the request as it came: test what the request had before the rewrite"]],
    ["a header value that is an expression", "frontend f\n    bind :80\n    http-request set-header X-Client %[src]\n    default_backend b\nbackend b\n    server a 10.0.0.1:80\n", ['r.cfg:3: http-request set-header X-Client %[src]: "%[src]" is an expression (log-format): the model writes a header value as it is']],
    ["a response rule on the response's status", "frontend f\n    bind :80\n    http-response set-header X-Err 1 if { status 500 }\n    default_backend b\nbackend b\n    server a 10.0.0.1:80\n", ["r.cfg:3: http-response set-header X-Err 1 if { status 500 }: the ACL criterion status is not in the model yet"]],
    ["a conditional refusal in a backend", "backend b\n    http-request deny if { path_beg /admin }\n    server a 10.0.0.1:80\n", ["r.cfg:2: http-request deny if { path_beg /admin }: a conditional http-request deny in a backend is not in the model: make it a route of the frontends that use this backend (an unconditional one is the backend's answer)"]],
    ["an anonymous ACL left open", "frontend f\n    bind :80\n    use_backend b if { path_beg /x\n    default_backend b\nbackend b\n    server a 10.0.0.1:80\n", ["r.cfg:3: use_backend b if { path_beg /x: an anonymous ACL ({ ...) is not closed"]],
  ];
  for (const [name, cfg, expected] of cases) it(`refused: ${name}`, () => assert.deepEqual(refusedLine(cfg), expected));
});

describe("ACL match methods (-m) and several lines of one name", () => {
  const conditionOf = (...acls: string[]) => {
    const cfg = `defaults\n    mode http\nfrontend f\n    bind :80\n${acls.map((line) => `    acl a ${line}\n`).join("")}    use_backend b if a\n    default_backend b\nbackend b\n    server s 10.0.0.1:80\n`;
    const result = imported({ file: "m.cfg", text: cfg });
    assert.deepEqual(refusals(result.accounts), []);
    return (validateImported(result).frontends[0]!.conditions as Record<string, unknown>).a;
  };
  const cases: [string, string[], unknown][] = [
    ["path -m str", ["path -m str /login"], { path: "/login" }],
    ["path -m beg", ["path -m beg /static/"], { pathBegins: "/static/" }],
    ["path -m end, several", ["path -m end .css .js"], { pathSuffix: [".css", ".js"] }],
    ["path -m reg", ["path -m reg ^/v[0-9]+/"], { pathRegex: "^/v[0-9]+/" }],
    ["hdr(X) -m beg", ["hdr(X-Token) -m beg Bearer"], { header: { name: "X-Token", prefix: "Bearer", ignoreCase: false } }],
    ["req.hdr(X) -m found", ["req.hdr(X-Debug) -m found"], { header: { name: "X-Debug", present: true, ignoreCase: false } }],
    ["a header's whole value (req.fhdr), with --", ["req.fhdr(X-Api-Version) -m str -- 2"], { header: { name: "X-Api-Version", equals: "2", ignoreCase: false } }],
    ["the Host without its port, and one label in front", ['req.hdr(host),field(1,:),lower -m str -- "old.example.com"', 'req.hdr(host),field(1,:),lower -m reg -- "^[^.]+\\.old\\.example\\.com$"'], { host: ["old.example.com", "*.old.example.com"] }],
    ["a path and its subtree: a path prefix", ["path -m str -- /api", "path -m beg -- /api/"], { pathPrefix: "/api" }],
    ["two lines of one kind: one list", ["src 10.0.0.0/8", "src 192.168.0.0/16"], { source: ["10.0.0.0/8", "192.168.0.0/16"] }],
    ["two lines of two kinds: any", ["path /a", "method POST"], { any: [{ path: "/a" }, { method: "POST" }] }],
  ];
  for (const [name, acls, expected] of cases) it(name, () => assert.deepEqual(conditionOf(...acls), expected));

  const refusedLine = (acl: string) => refusals(imported({ file: "m.cfg", text: `defaults\n    mode http\nfrontend f\n    bind :80\n    acl a ${acl}\n    use_backend b if a\n    default_backend b\nbackend b\n    server s 10.0.0.1:80\n` }).accounts);
  it("a match method the model has no counterpart for is refused, naming it", () => {
    assert.deepEqual(refusedLine("path -m sub admin")[0], "m.cfg:5: acl a path -m sub admin: path -m sub is not in the model (it matches paths and headers exactly, by prefix, suffix or regular expression)");
    assert.deepEqual(refusedLine('req.hdr(host),field(1,:),lower -m reg -- "^api[0-9]\\.example\\.com$"')[0], 'm.cfg:5: acl a req.hdr(host),field(1,:),lower -m reg -- "^api[0-9]\\.example\\.com$": req.hdr(host),field(1,:),lower -m reg: the model matches names exactly or by one label in front ("*.example.com")');
  });
});

describe("the PROXY protocol on a bind", () => {
  const cfg = (reject: string) => `defaults\n    mode tcp\nfrontend smtp\n    bind :2525 accept-proxy\n${reject}    default_backend mail\nbackend mail\n    server m1 10.0.0.9:25\n`;
  it("accept-proxy with the line that refuses every other sender: the bind's acceptProxy.from", () => {
    const result = imported({ file: "p.cfg", text: cfg("    tcp-request connection reject if { dst_port 2525 } !{ src 10.0.0.0/24 10.0.1.5 }\n") });
    assert.deepEqual(refusals(result.accounts), []);
    assert.deepEqual(validateImported(result).frontends[0]!.binds[0]!.acceptProxy, { from: ["10.0.0.0/24", "10.0.1.5"] });
  });
  it("accept-proxy alone (any client may claim any address): refused at the bind, saying what to add", () => {
    assert.deepEqual(refusals(imported({ file: "p.cfg", text: cfg("") }).accounts), [
      "p.cfg:4: bind :2525 accept-proxy: accept-proxy takes the client's address from whoever connects: say which load balancers may send it (tcp-request connection reject if { dst_port 2525 } !{ src NETWORKS }): the model's acceptProxy.from",
    ]);
  });
});

describe("what HAProxy does when a config says nothing stays so; what the stack adds is said", () => {
  it("no body limit, retries on connection failures only, no redispatch: as HAProxy; the timeouts and production settings the stack adds are listed", async () => {
    const result = imported({ file: "bare.cfg", text: "defaults\n    mode http\n    timeout client 30s\nfrontend f\n    bind :80\n    default_backend b\nbackend b\n    server a 10.0.0.1:80\n" });
    const topology = validateImported(result);
    assert.deepEqual([topology.defaults.maxRequestBodyBytes, topology.defaults.retryOn, topology.defaults.redispatch], [0, ["conn-failure"], false]);
    const config = renderHaproxyConfig(topology, localTarget("/run/lb"));
    assert.doesNotMatch(config, /deny_status 413|^\s+option redispatch/m);
    assert.deepEqual(result.additions.filter((a) => a.startsWith("defaults.timeouts")).map((a) => a.split(" ")[0]), ["defaults.timeouts.connect", "defaults.timeouts.server", "defaults.timeouts.httpRequest"]);
    assert.match(accountingReport(result.accounts, result.additions), /\n## Added by the stack \(not in the original\)\n\n- defaults\.timeouts\.connect = 5s: the original sets none/);
  });
});

describe("an HTTP check as HAProxy reads it", () => {
  const withCheck = (lines: string) => imported({ file: "check.cfg", text: `defaults\n    mode http\nfrontend f\n    bind :80\n    default_backend b\nbackend b\n    option httpchk GET /health\n${lines}    server a 10.0.0.1:80 check\n` });
  it("no expect line: any 2xx or 3xx is healthy, as in HAProxy, and the render names no status either", () => {
    const topology = validateImported(withCheck(""));
    assert.equal(topology.backends[0]!.healthCheck?.http?.expectStatus, "2xx or 3xx");
    assert.doesNotMatch(renderHaproxyConfig(topology, localTarget("/run/lb")), /http-check expect/);
  });
  it("a version after the path: HTTP/1.0 as the model speaks, HTTP/1.1 said, a Host header written into it read as the check's host", () => {
    const withLine = (line: string) => imported({ file: "check.cfg", text: `defaults\n    mode http\nfrontend f\n    bind :80\n    default_backend b\nbackend b\n    ${line}\n    server a 10.0.0.1:80 check\n` });
    const checkOf = (line: string) => validateImported(withLine(line)).backends[0]!.healthCheck?.http;
    assert.deepEqual(checkOf("option httpchk GET /ready HTTP/1.0"), { method: "GET", path: "/ready", expectStatus: "2xx or 3xx" });
    const host = withLine("option httpchk GET /ready HTTP/1.1\\r\\nHost:\\ app.internal");
    assert.equal(validateImported(host).backends[0]!.healthCheck?.http?.host, "app.internal");
    assert.match(host.accounts.find((a) => a.directive.startsWith("option httpchk"))!.why!, /HTTP\/1\.0, with Host app\.internal .* \(the config asked HTTP\/1\.1\)/);
    assert.match(refusals(withLine("option httpchk GET /ready SPDY/3").accounts).join(), /the model reads METHOD PATH \[HTTP\/1\.x/);
  });
  it("a status line narrows it; a body line alone keeps 2xx or 3xx beside it, said as a normalisation", () => {
    assert.equal(validateImported(withCheck("    http-check expect status 204\n")).backends[0]!.healthCheck?.http?.expectStatus, 204);
    const body = withCheck("    http-check expect string ready\n");
    assert.match(body.accounts.find((a) => a.directive.startsWith("http-check"))!.why!, /also expects a 2xx or 3xx status/);
    assert.match(renderHaproxyConfig(validateImported(body), localTarget("/run/lb")), /http-check expect rstatus \^\[23\]\n\s+http-check expect string "ready"/);
  });
});

describe("proxy settings the model keeps per frontend or backend, from defaults or the proxy", () => {
  it("timeout http-keep-alive in defaults (each frontend's), compression in a frontend, http-reuse (safe: HAProxy's default, left unsaid)", () => {
    const result = imported({ file: "p.cfg", text: "defaults\n    mode http\n    timeout http-keep-alive 4s\n    http-reuse aggressive\nfrontend f\n    bind :80\n    compression algo gzip deflate\n    compression type text/html application/json\n    default_backend b\nbackend b\n    server a 10.0.0.1:80\nbackend c\n    http-reuse safe\n    server a 10.0.0.2:80\n" });
    assert.deepEqual(refusals(result.accounts), []);
    const topology = validateImported(result);
    assert.equal(topology.frontends[0]!.timeouts?.httpKeepAlive, "4s");
    assert.deepEqual(topology.frontends[0]!.compression, { algorithms: ["gzip", "deflate"], types: ["text/html", "application/json"] });
    // A backend's own safe overrides the defaults' aggressive; safe with nothing to override is left unsaid.
    assert.deepEqual(topology.backends.map((b) => b.httpReuse), ["aggressive", "safe"]);
    const alone = imported({ file: "p.cfg", text: "defaults\n    mode http\nfrontend f\n    bind :80\n    default_backend b\nbackend b\n    http-reuse safe\n    server a 10.0.0.1:80\n" });
    assert.equal(validateImported(alone).backends[0]!.httpReuse, undefined);
    assert.match(alone.accounts.find((a) => a.directive === "http-reuse safe")!.why!, /HAProxy's default/);
    assert.match(refusals(imported({ file: "p.cfg", text: "defaults\n    mode http\nfrontend f\n    bind :80\n    default_backend b\nbackend b\n    compression algo gzip\n    server a 10.0.0.1:80\n" }).accounts).join(), /compression is kept per frontend/);
    // option httpclose: the connection closes on both sides after each answer (the model's connectionMode "close").
    const closing = imported({ file: "p.cfg", text: "defaults\n    mode http\n    option httpclose\nfrontend f\n    bind :80\n    default_backend b\nbackend b\n    server a 10.0.0.1:80\n" });
    assert.equal(validateImported(closing).backends[0]!.connectionMode, "close");
  });
});

describe("lines of a distribution's stock haproxy.cfg", () => {
  const STOCK = "global\n    log /dev/log local0\n    maxconn 4096\n    tune.ssl.default-dh-param 2048\ndefaults\n    mode http\n    log global\n    option forwardfor except 127.0.0.0/8\n    option log-health-checks\nlisten stats\n    bind :8404\n    stats enable\n    stats uri /stats\n    stats refresh 10s\nfrontend f\n    bind :80\n    default_backend b\nbackend b\n    server a 10.0.0.1:80 check\n";
  it("the local syslog's socket, HAProxy's own DH size, forwardfor except, log-health-checks and a stats listener: each read, said or decided", () => {
    const result = imported({ file: "stock.cfg", text: STOCK });
    assert.deepEqual(refusals(result.accounts), []);
    const topology = validateImported(result);
    assert.deepEqual(topology.global.logs.map((l) => [l.target, l.format, l.facility]), [["/dev/log", "rfc3164", "local0"]]);
    assert.equal(topology.monitoring.port, 8404);
    const outcome = (start: string) => result.accounts.find((a) => a.directive.startsWith(start))!;
    assert.deepEqual(["tune.ssl.default-dh-param", "option log-health-checks", "stats enable"].map((l) => outcome(l).outcome), ["decided", "decided", "decided"]);
    assert.match(outcome("stats enable").field!, /no stats page until it has a login/);
    assert.match(outcome("option forwardfor except").why!, /those from 127\.0\.0\.0\/8 now get one too/);
    assert.equal(outcome("listen stats").outcome, "normalised");
    // The socket is the local target's: a container's HAProxy has none, said at the field.
    assert.throws(() => renderHaproxyConfig(topology, dockerTarget()), /global\.logs\[0\]\.target: \/dev\/log is the local syslog's socket/);
  });
  it("what has no counterpart is refused at its line: -i on a path, a stats page's literal password, a DH size of its own", () => {
    const refused = refusals(imported({ file: "stock.cfg", text: STOCK.replace("tune.ssl.default-dh-param 2048", "tune.ssl.default-dh-param 4096").replace("    stats refresh 10s\n", "    stats refresh 10s\n    stats auth admin:hunter2\n").replace("    default_backend b\n", "    acl api path_beg -i /api\n    use_backend b if api\n    default_backend b\n") }).accounts).join("\n");
    assert.match(refused, /stock\.cfg:4: tune\.ssl\.default-dh-param 4096: DH parameters of 4096 bits are not in the model/);
    assert.match(refused, /stock\.cfg:15: stats auth admin:hunter2: the stats page's login comes from the environment/);
    assert.match(refused, /stock\.cfg:18: acl api path_beg -i \/api: -i on path_beg: the model compares it case and all/);
  });
  it("a model error in a list item names the line that set it (the model names list items by index in brackets)", () => {
    const result = imported({ file: "stock.cfg", text: STOCK.replace("log /dev/log local0", "log /dev/log local0 loud") });
    assert.throws(() => validateImported(result), (error: ImportRefusedError) => /^stock\.cfg:2: log \/dev\/log local0 loud: /.test(error.lines[0] ?? ""));
  });
});

describe("conditions on what Lua computes", () => {
  it("a Lua fetch (with its arguments) and a Lua converter after a header's whole value become the model's lua and luaConverter conditions", () => {
    const result = imported({ file: "lua.cfg", text: "defaults\n    mode http\nfrontend f\n    bind :80\n    acl acme lua.tenant_of_path -m str acme\n    acl beta req.fhdr(X-Token),lua.token_tier -m str beta\n    acl eu lua.region(eu,x) -m found\n    use_backend b if acme or beta or eu\n    default_backend b\nbackend b\n    server a 10.0.0.1:80\n" });
    assert.deepEqual(refusals(result.accounts), []);
    assert.deepEqual(validateImported(result).frontends[0]!.conditions, {
      acme: { lua: { fetch: "tenant_of_path", equals: "acme", ignoreCase: false } },
      beta: { header: { name: "X-Token", equals: "beta", luaConverter: "token_tier", ignoreCase: false } },
      eu: { lua: { fetch: "region", args: ["eu", "x"], present: true, ignoreCase: false } },
    });
  });
});

describe("rings, mailers and http-errors: the sections beside the proxies", () => {
  const withSections = (sections: string, global = "", frontend = "") =>
    importConfig(parseConfig([{ file: "s.cfg", text: `global\n${global}${sections}\ndefaults\n    mode http\nfrontend f\n    bind :80\n${frontend}    default_backend b\nbackend b\n    server a 10.0.0.1:80\n` }]), "s", { read: (path) => (path.endsWith(".http") ? `HTTP/1.0 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown` : undefined) });
  const outcome = (result: ReturnType<typeof imported>, start: string) => result.accounts.find((a) => a.directive.startsWith(start))!;
  const RING = "ring central\n    format rfc5424\n    server syslog1 10.0.0.9:6514 log-proto octet-count\n";
  it("log ring@NAME: a TCP log target, the ring's server and format; the stack's ring reads back the same", () => {
    const result = withSections(RING, "    log ring@central local1 info\n");
    assert.deepEqual(refusals(result.accounts), []);
    const topology = validateImported(result);
    assert.deepEqual(topology.global.logs, [{ target: "10.0.0.9:6514", format: "rfc5424", facility: "local1", minLevel: "info", transport: "tcp" }]);
    const back = importConfig(parseConfig([{ file: "r.cfg", text: renderHaproxyConfig(topology, localTarget("/run/lb")) }]));
    assert.deepEqual(refusals(back.accounts), []);
    assert.deepEqual(validateImported(back).global.logs, topology.global.logs);
  });
  it("what the model's ring does otherwise is said; what it cannot do is refused; a ring nobody sends to is the stack's to ignore", () => {
    const legacy = withSections(RING.replace(" log-proto octet-count", "").replace("format rfc5424\n", "format rfc5424\n    size 65536\n"), "    log ring@central local1\n");
    assert.match(outcome(legacy, "server syslog1").why!, /octet-counted \(RFC 6587\)/);
    assert.match(outcome(legacy, "size 65536").why!, /the model's ring has size 262144/);
    const two = withSections(`${RING}    server syslog2 10.0.0.10:6514\n`, "    log ring@central local1\n");
    assert.match(refusals(two.accounts).join("\n"), /s\.cfg:\d+: server syslog2 10\.0\.0\.10:6514: a ring with several servers/);
    assert.equal(outcome(withSections(RING), "ring central").outcome, "decided");
    assert.match(refusals(withSections("", "    log ring@nowhere local0\n").accounts).join(), /no ring section named "nowhere"/);
  });
  it("mailers and email-alert: decided by the stack, whose alerts go through Alertmanager", () => {
    const result = withSections("mailers ops\n    mailer smtp1 10.0.0.25:25\n    timeout mail 10s\n", "", "    email-alert mailers ops\n    email-alert to oncall@example.com\n");
    assert.deepEqual(refusals(result.accounts), []);
    for (const line of ["mailers ops", "mailer smtp1", "timeout mail", "email-alert mailers", "email-alert to"]) assert.match(outcome(result, line).field!, /Alertmanager/, line);
  });
  it("errorfiles NAME [STATUS...]: the set's pages (those statuses) as the frontend's error pages; a page nobody takes is said; an unknown set refused", () => {
    const sets = "http-errors site\n    errorfile 503 /etc/haproxy/errors/site-503.http\n    errorfile 502 /etc/haproxy/errors/site-502.http\n";
    const result = withSections(sets, "", "    errorfiles site 503\n");
    assert.deepEqual(refusals(result.accounts), []);
    assert.deepEqual(validateImported(result).frontends[0]!.errorPages, [{ status: 503, file: "site-503.http" }]);
    assert.deepEqual([outcome(result, "errorfile 503").outcome, outcome(result, "errorfile 502").outcome], ["mapped", "decided"]);
    assert.deepEqual(result.errorPages.map((p) => p.name), ["site-503.http"]);
    assert.match(refusals(withSections(sets, "", "    errorfiles other\n").accounts).join(), /no http-errors section named "other"/);
  });
});

describe("peers", () => {
  const config = (global: string, peers: string, table = "    stick-table type ip size 1m expire 30m peers mesh\n") =>
    `global\n${global}${peers}defaults\n    mode http\nfrontend f\n    bind :80\n    default_backend b\nbackend b\n${table}    stick on src\n    server a 10.0.0.5:80\n`;
  const MESH = "peers mesh\n    peer lb1 10.0.0.1:10000\n    peer lb2 10.0.0.2:10000\n";

  it("a peers section with global's localpeer becomes peers: the local peer's address and port, the others remotes; the table shares through it", async () => {
    const result = imported({ file: "peers.cfg", text: config("    localpeer lb1\n", MESH) });
    assert.deepEqual(refusals(result.accounts), []);
    const topology = validateImported(result);
    assert.deepEqual(topology.peers, { name: "mesh", localPeer: "lb1", address: "10.0.0.1", port: 10000, remotes: [{ name: "lb2", address: "10.0.0.2", port: 10000 }] });
    assert.deepEqual(result.accounts.slice(0, 5).map((a) => [a.at.line, a.outcome, a.field]), [
      [1, "mapped", "global"],
      [2, "mapped", "peers.localPeer"],
      [3, "mapped", "peers"],
      [4, "mapped", "peers.localPeer, peers.address, peers.port"],
      [5, "mapped", "peers.remotes.lb2"],
    ]);
    assert.match(renderHaproxyConfig(topology, dockerTarget()), /^    stick-table type ip size 1048576 expire 30m peers mesh$/m);
    await checkEveryTarget(topology);
  });

  it("the bind and server form: the server without an address is the local peer, listening where bind says", () => {
    const topology = validateImported(imported({ file: "peers.cfg", text: config("    localpeer lb1\n", "peers mesh\n    bind :10000\n    server lb1\n    server lb2 10.0.0.2:10000\n") }));
    assert.deepEqual(topology.peers, { name: "mesh", localPeer: "lb1", address: "*", port: 10000, remotes: [{ name: "lb2", address: "10.0.0.2", port: 10000 }] });
  });

  it("a table the original kept to itself is shared now: a normalisation, said on its line", () => {
    const result = imported({ file: "peers.cfg", text: config("    localpeer lb1\n", MESH, "    stick-table type ip size 1m expire 30m\n") });
    const table = result.accounts.find((a) => a.directive.startsWith("stick-table"))!;
    assert.equal(table.outcome, "normalised");
    assert.match(table.why!, /^shared through peers mesh in the model, as every table of the stack: it survives reloads and reaches lb2$/);
  });

  it("refused, saying what to write: no localpeer, a localpeer naming no line, a second section, a table naming another, a keyword the model lacks", () => {
    const cases: [string, string, RegExp][] = [
      ["no localpeer", config("", MESH), /^peers\.cfg:2: peers mesh: no localpeer in global: HAProxy then calls this load balancer by the machine's host name, which import cannot know; add localpeer NAME/m],
      ["a localpeer naming no line", config("    localpeer lb9\n", MESH), /^peers\.cfg:2: localpeer lb9: the peers section mesh is refused: localpeer lb9 names none of the section's peers \(lb1, lb2\)/m],
      ["a second section", config("    localpeer lb1\n", `${MESH}peers other\n    peer lb1 10.0.0.1:10001\n`), /^peers\.cfg:6: peers other: the model shares every table through one peers section \(mesh, the first\): merge this one into it$/m],
      ["a table naming another section", config("    localpeer lb1\n", MESH, "    stick-table type ip size 1m expire 30m peers other\n"), /^peers\.cfg:\d+: stick-table type ip size 1m expire 30m peers other: no peers section named "other" \(the model's is mesh\)$/m],
      ["a table naming a section that is not there", config("    localpeer lb1\n", ""), /: stick-table type ip size 1m expire 30m peers mesh: no peers section named "mesh"$/m],
      ["a keyword the model lacks", config("    localpeer lb1\n", `${MESH}    shards 2\n`), /^peers\.cfg:6: shards 2: shards is not in the model's peers/m],
    ];
    for (const [what, text, refusal] of cases) assert.match(refusals(imported({ file: "peers.cfg", text }).accounts).join("\n"), refusal, what);
  });

  it("a localpeer with no peers section names nothing: decided, not refused", () => {
    const result = imported({ file: "peers.cfg", text: config("    localpeer lb1\n", "", "    stick-table type ip size 1m expire 30m\n") });
    assert.deepEqual(refusals(result.accounts), []);
    assert.equal(result.accounts.find((a) => a.directive === "localpeer lb1")?.outcome, "decided");
  });
});

describe("several defaults sections, named, and from", () => {
  it("several-defaults.cfg imports whole: the first is the model's defaults, a later one's settings are written in each proxy that takes it", () => {
    const topology = validateImported(imported(read("several-defaults.cfg")));
    const fe = (n: string) => topology.frontends.find((f) => f.name === n)!;
    const be = (n: string) => topology.backends.find((b) => b.name === n)!;
    assert.deepEqual([topology.defaults.mode, topology.defaults.timeouts.client], ["http", "30s"]);
    assert.deepEqual([fe("postgres").mode, fe("postgres").forwardfor, fe("postgres").timeouts?.client, be("postgres").timeouts?.server], ["tcp", undefined, "1h", "1h"]);
    assert.deepEqual([fe("redis").mode, fe("redis").timeouts?.client], ["tcp", undefined], "from tcp_services, with the client timeout the first defaults have too");
    assert.deepEqual([fe("admin").mode, fe("admin").forwardfor], [undefined, true], "from web: the first defaults again");
  });
  const refusedLine = (cfg: string) => refusals(imported({ file: "d.cfg", text: cfg }).accounts);
  const cases: [string, string, string[]][] = [
    ["a proxy before the first defaults", "frontend f\n    bind :80\n    default_backend b\ndefaults\n    mode http\nbackend b\n    server a 10.0.0.1:80\n", ["d.cfg:1: frontend f: it comes before the first defaults section, so HAProxy gives it none; the model gives every proxy the defaults: move it below them"]],
    ["from a defaults section that is not there", "defaults\n    mode http\nbackend b from nowhere\n    server a 10.0.0.1:80\n", ['d.cfg:3: backend b from nowhere: no defaults section named "nowhere" comes before it', "d.cfg:4: server a 10.0.0.1:80: in a section whose defaults are missing"]],
    ["a setting of the first defaults the later ones leave unset, which the model cannot unset per proxy", "defaults\n    mode http\n    timeout check 2s\ndefaults\n    mode http\nbackend b\n    server a 10.0.0.1:80\n", ["d.cfg:3: timeout check 2s: backend b takes other defaults, which leave this unset (HAProxy's own value); the model cannot unset it for one proxy: repeat it in those defaults"]],
  ];
  for (const [name, cfg, expected] of cases) it(`refused: ${name}`, () => assert.deepEqual(refusedLine(cfg), expected));
});

describe("what the model holds as one thing, from several lines: refused when a part is missing", () => {
  const refusedLine = (cfg: string) => refusals(imported({ file: "p.cfg", text: cfg }).accounts);
  const fe = (lines: string) => `frontend f\n    bind :80\n${lines}    default_backend b\nbackend b\n    server a 10.0.0.1:80\n`;
  const cases: [string, string, string[]][] = [
    ["a rate limit without its refusal", fe("    stick-table type ip size 100k expire 30s store http_req_rate(10s)\n    http-request track-sc0 src\n"), [
      "p.cfg:3: stick-table type ip size 100k expire 30s store http_req_rate(10s): a per-client rate limit needs its three lines in the frontend; missing: http-request deny deny_status 429 if { sc_http_req_rate(0) gt N }",
      "p.cfg:4: http-request track-sc0 src: a per-client rate limit needs its three lines in the frontend; missing: http-request deny deny_status 429 if { sc_http_req_rate(0) gt N }",
    ]],
    ["a connection-rate limit whose refusal names another counter", fe("    stick-table type ip size 100k expire 30s store conn_rate(10s)\n    tcp-request connection track-sc1 src\n    tcp-request connection reject if { sc0_conn_rate gt 20 }\n"), [
      "p.cfg:3: stick-table type ip size 100k expire 30s store conn_rate(10s): the limit's track-sc and its refusal name different stick counters",
      "p.cfg:4: tcp-request connection track-sc1 src: the limit's track-sc and its refusal name different stick counters",
      "p.cfg:5: tcp-request connection reject if { sc0_conn_rate gt 20 }: the limit's track-sc and its refusal name different stick counters",
    ]],
    ["a connection count refused by a per-request limit's line", fe("    stick-table type ip size 100k expire 30s store conn_rate(10s)\n    tcp-request connection track-sc0 src\n    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 5 }\n"), [
      "p.cfg:3: stick-table type ip size 100k expire 30s store conn_rate(10s): a per-client rate limit needs its three lines in the frontend; missing: tcp-request connection reject if { scN_conn_rate gt LIMIT }",
      "p.cfg:4: tcp-request connection track-sc0 src: a per-client rate limit needs its three lines in the frontend; missing: tcp-request connection reject if { scN_conn_rate gt LIMIT }",
      "p.cfg:5: http-request deny deny_status 429 if { sc_http_req_rate(0) gt 5 }: a per-client rate limit needs its three lines in the frontend; missing: tcp-request connection reject if { scN_conn_rate gt LIMIT }",
    ]],
    ["a backend's conditional answer, and one after it answered already", "frontend f\n    bind :80\n    default_backend gone\nbackend gone\n    http-request return status 410 if { path /a }\n    http-request deny\n    http-request redirect location /x\n", [
      "p.cfg:5: http-request return status 410 if { path /a }: a conditional http-request return in a backend is not in the model: make it a route of the frontends that use this backend (an unconditional one is the backend's answer)",
      "p.cfg:7: http-request redirect location /x: the backend answers every request by an earlier line: this one is never reached",
    ]],
    ["a rate table whose entries expire before its window ends", fe("    stick-table type ip size 100k expire 5s store conn_rate(10s)\n    tcp-request connection track-sc0 src\n    tcp-request connection reject if { sc0_conn_rate gt 20 }\n"), [
      "p.cfg:3: stick-table type ip size 100k expire 5s store conn_rate(10s): entries expire (5s) before the window (10s) ends, so a client's rate is forgotten early; the model keeps an entry for the window: set expire to the window",
    ]],
    ["a rate limit counted after a route answered", fe("    http-request return status 200 if { path /healthz }\n    stick-table type ip size 1k expire 10s store http_req_rate(10s)\n    http-request track-sc0 src\n    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 5 }\n"), [
      "p.cfg:4: stick-table type ip size 1k expire 10s store http_req_rate(10s): a per-client rate limit needs its three lines in the frontend; missing: http-request track-sc0 src",
      "p.cfg:5: http-request track-sc0 src: the rules above answer, refuse or redirect some requests before they are counted; the model counts every request before its routes (frontends.rateLimit): put the limit's lines first, or leave those requests counted",
      "p.cfg:6: http-request deny deny_status 429 if { sc_http_req_rate(0) gt 5 }: a per-client rate limit needs its three lines in the frontend; missing: http-request track-sc0 src",
    ]],
    ["a cache used but never stored into", "backend b\n    http-request cache-use c\n    server a 10.0.0.1:80\ncache c\n    total-max-size 16\n", ["p.cfg:2: http-request cache-use c: a cache needs both lines in the backend: http-request cache-use and http-response cache-store"]],
    ["a cache that no section defines", "backend b\n    http-request cache-use c\n    http-response cache-store c\n    server a 10.0.0.1:80\n", ['p.cfg:2: http-request cache-use c: no cache section named "c"']],
  ];
  for (const [name, cfg, expected] of cases) it(`refused: ${name}`, () => assert.deepEqual(refusedLine(cfg), expected));
  it("a frontend named like the stack's monitoring listener is renamed, and the stack's listeners move off the config's ports, said", () => {
    const result = imported({ file: "m.cfg", text: "frontend monitoring\n    bind :3000\n    bind :8404\n    default_backend b\nbackend b\n    server a 10.0.0.1:80\n" });
    const topology = validateImported(result);
    assert.equal(topology.frontends[0]!.name, "monitoring_frontend");
    assert.equal(result.accounts[0]!.why, "the stack's monitoring listener is named monitoring: this frontend is frontends.monitoring_frontend");
    assert.deepEqual([topology.monitoring.port, topology.services.grafana.port], [18404, 13000]);
    assert.ok(result.additions.includes("services.grafana.port = 13000: Grafana moves off 3000, which the config's frontends listen on"), result.additions.join("\n"));
  });
});

describe("a backend chosen by a map of hosts: a route table", () => {
  const withMap = (map: string | undefined, line = "use_backend %[req.hdr(host),lower,map(/etc/haproxy/sites.map,b)]") =>
    importConfig(parseConfig([{ file: "h.cfg", text: `defaults\n    mode http\nfrontend f\n    bind :80\n    ${line}\n    default_backend b\nbackend b\n    server a 10.0.0.1:80\nbackend c\n    server c 10.0.0.2:80\n` }]), "h", { read: (path) => (path === "/etc/haproxy/sites.map" ? map : undefined) });
  it("the map's entries become the table's, its default the default backend; a default_backend after it is never reached, said", () => {
    const result = withMap("# site backend\nA.example.com c\n\nb.example.com   b\n");
    assert.deepEqual(refusals(result.accounts), []);
    const f = validateImported(result).frontends[0]!;
    assert.deepEqual([f.routeTables[0]!.name, f.routeTables[0]!.entries, f.routes, f.defaultBackend], ["sites", [{ host: "A.example.com", backend: "c" }, { host: "b.example.com", backend: "b" }], [{ table: "sites" }], "b"]);
    assert.deepEqual(result.accounts.find((a) => a.at.line === 6)!.outcome, "decided");
    assert.match(result.accounts.find((a) => a.at.line === 5)!.why!, /^the model looks the Host up without its port/);
  });
  const cases: [string, string | undefined, string | undefined, string][] = [
    ["a map import cannot find", undefined, undefined, "h.cfg:5: use_backend %[req.hdr(host),lower,map(/etc/haproxy/sites.map,b)]: the map /etc/haproxy/sites.map is not found (beside the config or where the config says): give it to import"],
    ["a map line that is not HOST BACKEND", "a.example.com\n", undefined, 'h.cfg:5: use_backend %[req.hdr(host),lower,map(/etc/haproxy/sites.map,b)]: /etc/haproxy/sites.map:1: "a.example.com" is not "HOST BACKEND"'],
    ["another expression", "", "use_backend %[req.hdr(x-service),lower]", "h.cfg:5: use_backend %[req.hdr(x-service),lower]: a backend chosen by an expression: the model reads the Host header looked up in a map (req.hdr(host),lower,map(FILE[,DEFAULT])) as a route table, and the path looked up by prefix (path,map_beg(FILE[,DEFAULT])) as routes"],
  ];
  for (const [name, map, line, expected] of cases) it(`refused: ${name}`, () => assert.deepEqual(refusals(withMap(map, line).accounts), [expected]));
});

describe("servers found through DNS: resolvers and server-template", () => {
  it("consul-services.cfg: each server-template a discovered group (SRV or A with its port), its resolvers section the group's resolver; haproxy -c accepts it on every target", async () => {
    const result = imported(read("consul-services.cfg"));
    assert.deepEqual(refusals(result.accounts), []);
    const topology = validateImported(result);
    const [catalog, billing] = topology.backends.map((b) => b.discovery!);
    assert.deepEqual([catalog!.name, catalog!.record, catalog!.dnsName, catalog!.maxServers, catalog!.port], ["catalog", "SRV", "_catalog._tcp.service.consul", 10, undefined]);
    assert.deepEqual([billing!.record, billing!.port, billing!.maxServers], ["A", 9000, 5]);
    assert.deepEqual(catalog!.resolver, { nameservers: ["10.105.0.2:8600", "10.105.0.3:8600"], resolveEvery: "1s", retryTimeout: "1s", retries: 3, holdValid: "10s", holdObsolete: "0s", holdNx: "30s", holdDuringOutage: "5m", acceptedPayloadSize: 8192 });
    await checkEveryTarget(topology);
  });
  const refusedLine = (cfg: string) => refusals(imported({ file: "r.cfg", text: cfg }).accounts);
  const cases: [string, string, string[]][] = [
    ["holds through an outage that differ", "resolvers dns\n    nameserver a 10.0.0.2:53\n    hold timeout 30s\n    hold refused 5m\nbackend b\n    server-template s 3 s.example.com:80 resolvers dns\n", [
      "r.cfg:3: hold timeout 30s: hold timeout, refused and other differ (30s, 5m): the model holds addresses through an outage for one duration (holdDuringOutage)",
      "r.cfg:4: hold refused 5m: hold timeout, refused and other differ (30s, 5m): the model holds addresses through an outage for one duration (holdDuringOutage)",
    ]],
    ["a resolvers section that is not there", "backend b\n    server-template s 3 s.example.com:80 resolvers nowhere\n", ['r.cfg:2: server-template s 3 s.example.com:80 resolvers nowhere: no resolvers section named "nowhere"']],
    ["slots that start with the libc's address", "resolvers dns\n    nameserver a 10.0.0.2:53\nbackend b\n    server-template s 3 s.example.com:80 resolvers dns init-addr libc\n", ["r.cfg:4: server-template s 3 s.example.com:80 resolvers dns init-addr libc: init-addr libc: a discovered group's slots start empty in the model (init-addr none)"]],
  ];
  for (const [name, cfg, expected] of cases) it(`refused: ${name}`, () => assert.deepEqual(refusedLine(cfg), expected));
});

describe("syntax of other versions", () => {
  it("legacy-1.5.cfg: reqadd, reqidel, reqirep of a whole header, rspdel, rspadd, block and redirect translated through their exact modern equivalents, each said", async () => {
    const result = imported(read("legacy-1.5.cfg"));
    assert.deepEqual(refusals(result.accounts), []);
    assert.deepEqual(result.accounts.filter((a) => /removed in HAProxy 2\.1/.test(a.why ?? "")).map((a) => `${a.at.line} ${a.why}`), [
      "19 block (removed in HAProxy 2.1) read as http-request deny if bad_bot",
      "20 reqadd (removed in HAProxy 2.1) read as http-request add-header X-Forwarded-Proto http",
      "21 reqidel (removed in HAProxy 2.1) read as http-request del-header X-Internal-Token",
      "22 reqirep (removed in HAProxy 2.1) read as http-request set-header Via legacy-lb",
      "23 rspdel (removed in HAProxy 2.1) read as http-response del-header Server",
      "24 rspadd (removed in HAProxy 2.1) read as http-response add-header X-Served-By legacy-lb",
    ]);
    const www = validateImported(result).frontends[0]!;
    assert.deepEqual(www.routes.map((r) => Object.keys(r).filter((k) => k !== "when").join()), ["deny", "redirect"]);
    assert.deepEqual(www.requestRules.map((r) => r.addHeader?.name ?? r.deleteHeader ?? r.setHeader?.name), ["X-Forwarded-Proto", "X-Internal-Token", "Via"]);
    await checkEveryTarget(validateImported(result));
  });
  it("what has no exact equivalent is refused naming the nearest; what is newer than 2.6 is refused as such", () => {
    const result = imported({ file: "mixed.cfg", text: "frontend f\n    bind :80\n    reqrep ^([^\\ :]*)\\ /old/(.*) \\1\\ /new/\\2\n    reqdeny ^User-Agent:.*curl\n    default_backend b\nbackend b\n    server a 10.0.0.1:80\ncrt-store web\n    load crt site.pem\n" });
    assert.deepEqual(refusals(result.accounts), [
      "mixed.cfg:3: reqrep ^([^\\ :]*)\\ /old/(.*) \\1\\ /new/\\2: reqrep ^([^ :]*) /old/(.*) \\1 /new/\\2: a regular expression over the whole request line has no exact equivalent; write http-request replace-header, replace-path or set-header for what it meant",
      "mixed.cfg:4: reqdeny ^User-Agent:.*curl: reqdeny (removed in HAProxy 2.1) has no exact equivalent here: write http-request deny with an ACL on what it matched",
      "mixed.cfg:8: crt-store web: crt-store is newer than HAProxy 2.6 (3.0): name each certificate on its bind (tlsCertificate), or manage it (certificates)",
      "mixed.cfg:9: load crt site.pem: inside a crt-store section",
    ]);
  });
  it("an address on a listen line becomes a bind line, and the report says so", () => {
    const result = imported({ file: "old.cfg", text: "listen legacy 0.0.0.0:8080\n    mode http\n    server a 10.0.0.1:80 check\n" });
    assert.deepEqual(refusals(result.accounts), []);
    assert.deepEqual(result.accounts[0], { at: { file: "old.cfg", line: 1 }, directive: "listen legacy 0.0.0.0:8080", outcome: "normalised", field: "frontends.legacy.binds[0]", why: "the address on the section line is written as a bind line (HAProxy 2.6 wants bind)" });
    assert.deepEqual(validateImported(result).frontends[0]!.binds.map((b) => b.port), [8080]);
  });
});

describe("addresses as real configs write them", () => {
  it("addresses.cfg imports whole: the family named, IPv6 with and without brackets, a Compose service's name, the environment's, a unix socket; haproxy -c accepts the render on every target", async () => {
    const result = imported(read("addresses.cfg"));
    assert.deepEqual(refusals(result.accounts), []);
    const topology = validateImported(result);
    assert.deepEqual(topology.frontends[0]!.binds.map((b) => [b.address, b.port, b.lastPort]), [["*", 8080, undefined], ["::", 8443, 8444], ["${LB_LISTEN_ADDR}", 9000, undefined]]);
    assert.deepEqual(topology.backends[0]!.servers.map((s) => [s.name, s.address ?? s.unixSocket, s.port]), [["v6", "fd00::5", 8080], ["v6-bare", "fd00::6", 8080], ["v4", "10.0.0.5", 8080], ["compose", "my_service_1", 8080], ["from-env", "${APP_HOST}", 8080], ["local", "/run/app/app.sock", undefined]]);
    assert.equal(result.accounts.find((a) => a.directive.startsWith("server v4 "))!.why, "ipv4@ names the address family, which the address says itself");
    // The unix socket's server is the local target's alone (the container stacks refuse it by field).
    const docker = renderHaproxyConfig({ ...topology, backends: topology.backends.map((b) => ({ ...b, servers: b.servers.filter((s) => s.unixSocket === undefined) })) }, dockerTarget());
    assert.match(docker, /^    server v6 \[fd00::5\]:8080 /m);
    assert.match(docker, /^    server from-env "\$\{APP_HOST\}:8080" /m, "HAProxy expands a reference only in quotes");
    assert.match(docker, /^    bind "\$\{LB_LISTEN_ADDR\}:9000"$/m);
    await checkEveryTarget(topology);
  });

  it("refused, saying why: a port relative to the client's, a family asked of a name, a stack-run server at an address it cannot be named after", () => {
    const refused = (server: string) => refusals(imported({ file: "a.cfg", text: `defaults\n    mode http\nfrontend f\n    bind :80\n    default_backend b\nbackend b\n    ${server}\n` }).accounts).join("\n");
    assert.match(refused("server s 10.0.0.7:+1"), /^a\.cfg:7: server s 10\.0\.0\.7:\+1: 10\.0\.0\.7:\+1: the server's port is the one the client connected to plus 1, which the model does not follow: give the server its port/);
    assert.match(refused("server s 10.0.0.7"), /the server's port is the one the client connected to, which the model does not follow/);
    assert.match(refused("server s ipv4@db.internal:5432"), /ipv4@ asks for the name's IPv4 addresses only, which the model does not say: write the name alone/);
    assert.deepEqual(topologyProblems({ name: "t", backends: [{ name: "b", servers: [{ name: "s", address: "fd00::5", port: 80 }] }], frontends: [{ name: "f", binds: [{ port: 80 }], defaultBackend: "b" }] }), [
      'backends.b.servers.s.address: the stacks name a server they run after its address (a container, a Kubernetes Service), which "fd00::5" cannot be: give a host name of letters, digits, "." and "-", or set external: true for a server that already runs',
    ]);
  });
});

describe("what HAProxy itself rejects in the original", () => {
  const fixture = (name: string) => readFileSync(join(REPO_ROOT, "test/fixtures/haproxy-2.6", name), "utf8");
  it("haproxy -c's alerts are read by file and line; a typo is HAProxy's objection, what only this machine lacks (users, files) is not", () => {
    assert.deepEqual(configAlerts(fixture("check-unknown-keyword.txt")), [{ file: "bad1.cfg", line: 8, message: "unknown keyword 'frobnicate' in 'frontend' section" }]);
    assert.deepEqual([...haproxyObjections(fixture("check-unknown-keyword.txt"), (f) => `conf/${f}`)], [["conf/bad1.cfg:8", "unknown keyword 'frobnicate' in 'frontend' section"]]);
    assert.ok(configAlerts(fixture("check-another-machine.txt")).length >= 4, "the user, the group, the Lua file, the certificate");
    assert.deepEqual([...haproxyObjections(fixture("check-another-machine.txt"), (f) => f)], []);
  });
  it("npm run import: a line HAProxy rejects is refused in HAProxy's words at its line, nothing written; a config of another machine's imports", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lb-import-check-"));
    try {
      const base = "defaults\n    mode http\n    timeout connect 5s\n    timeout client 5s\n    timeout server 5s\nfrontend f\n    bind :8080\n    default_backend b\nbackend b\n    server a app.internal:80 check\n";
      writeFileSync(join(dir, "typo.cfg"), base.replace("    default_backend b\n", "    default_backend b\n    timeout clinet 5s\n"));
      const typo = await runCli("infra/import/cli.ts", [join(dir, "typo.cfg"), "--out", join(dir, "typo.json")]);
      assert.equal(typo.code, 1);
      assert.match(typo.stderr, /typo\.cfg:9: timeout clinet 5s: HAProxy itself rejects it \(haproxy -c: .*'timeout'.*\)/);
      assert.equal(existsSync(join(dir, "typo.json")), false);
      // Users, a chroot and a name this machine does not resolve: the original's machine has them.
      writeFileSync(join(dir, "prod.cfg"), `global\n    user haproxy-prod\n    group haproxy-prod\n    chroot /var/lib/haproxy-prod\n${base}`);
      const prod = await runCli("infra/import/cli.ts", [join(dir, "prod.cfg"), "--out", join(dir, "prod.json")]);
      assert.equal(prod.code, 0, prod.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("bad input", () => {
  it("an unclosed quote: CONFIG_SYNTAX with the file and line", () => {
    assert.throws(() => imported({ file: "broken.cfg", text: 'frontend f\n    bind :80\n    http-request set-header X "open\n' }), (e: unknown) => e instanceof ConfigSyntaxError && e.message === 'broken.cfg:3: the double quote opened in "\\"open" is never closed');
  });

  it("npm run import --out FILE.ts: a topology module that loads to the same topology, each section's and server's comments above what it became", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lb-import-"));
    try {
      const out = join(dir, "topologies", "shop.ts");
      const run = await runCli("infra/import/cli.ts", [join(FIXTURES, "shop-edge.cfg"), "--out", out]);
      assert.equal(run.code, 0, run.stderr);
      const module = readFileSync(out, "utf8");
      assert.match(module, /\n {4}\/\/ The order service's API \(team orders\)\n {4}\{\n {6}name: "api",/);
      assert.match(module, /\n {8}\/\/ the spare in the old rack: only when static-1 is down\n {8}\{\n {10}name: "static-2",/);
      assert.match(module, /^ {2}\/\/ The shop's edge: an API and a static site by host and path, PostgreSQL for the reporting box\.\n {2}global: \{/m);
      const loaded = await loadTopologyFile(out);
      assert.deepEqual(loaded, validateImported(imported({ file: "shop-edge.cfg", text: readFileSync(join(FIXTURES, "shop-edge.cfg"), "utf8") }, "shop-edge")));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("npm run import --out: the error pages a config names join templates/errors/; one named like another page there is refused, nothing written", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lb-import-"));
    const page = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nsorry";
    const name = `imported-${process.pid}.http`;
    const placed = join(REPO_ROOT, "templates/errors", name);
    try {
      // A path of the machine the config came from: the file is found by its name beside the config.
      writeFileSync(join(dir, name), page);
      const config = (file: string) => `defaults\n    mode http\nfrontend web\n    bind :8080\n    errorfile 503 /etc/haproxy/pages/${file}\n    default_backend app\nbackend app\n    server a 10.0.0.1:80 check\n`;
      writeFileSync(join(dir, "lb.cfg"), config(name));
      const out = join(dir, "topology.json");
      const run = await runCli("infra/import/cli.ts", [join(dir, "lb.cfg"), "--out", out]);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(readFileSync(out, "utf8")).frontends[0].errorPages, [{ status: 503, file: name }]);
      assert.equal(readFileSync(placed, "utf8"), page);
      // The repository's own 503.http differs from this one: refused, and neither the topology nor a page written.
      writeFileSync(join(dir, "503.http"), page);
      writeFileSync(join(dir, "lb.cfg"), config("503.http"));
      const clash = await runCli("infra/import/cli.ts", [join(dir, "lb.cfg"), "--out", join(dir, "other.json")]);
      assert.equal(clash.code, 1);
      assert.match(clash.stderr, /^error IMPORT_REFUSED: .*\n  templates\/errors\/503\.http: the repository has another page of that name/m);
      assert.equal(existsSync(join(dir, "other.json")), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(placed, { force: true });
    }
  });

  it("npm run import --out: a Lua script the config loads joins templates/lua/, its service a route's answer and its action a rule, and haproxy -c accepts them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lb-import-"));
    const name = `imported_${process.pid}.lua`;
    const placed = join(REPO_ROOT, "templates/lua", name);
    try {
      writeFileSync(join(dir, name), 'core.register_service("greet", "http", function(applet)\n  applet:set_status(200)\n  applet:start_response()\n  applet:send("hi")\nend)\ncore.register_action("mark", { "http-req" }, function(txn) end)\n');
      writeFileSync(join(dir, "lb.cfg"), `global\n    lua-load /etc/haproxy/${name}\ndefaults\n    mode http\nfrontend web\n    bind :8080\n    http-request lua.mark\n    http-request use-service lua.greet if { path /hi }\n    default_backend app\nbackend app\n    server a 10.0.0.1:80 check\n`);
      const out = join(dir, "topology.json");
      const run = await runCli("infra/import/cli.ts", [join(dir, "lb.cfg"), "--out", out]);
      assert.equal(run.code, 0, run.stderr);
      const topology = JSON.parse(readFileSync(out, "utf8"));
      assert.deepEqual(topology.lua, { scripts: [{ file: name }] });
      assert.deepEqual(topology.frontends[0].routes, [{ when: { path: "/hi" }, service: "greet" }]);
      assert.deepEqual(topology.frontends[0].requestRules, [{ lua: "mark" }]);
      assert.equal(existsSync(placed), true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(placed, { force: true });
    }
  });

  it("npm run import writes nothing when it refuses, and its report all the same", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lb-import-"));
    try {
      const out = join(dir, "topology.json");
      const report = join(dir, "report.md");
      const refused = await runCli("infra/import/cli.ts", [join(FIXTURES, "seed.cfg"), "--out", out, "--report", report]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^error IMPORT_REFUSED: .*\n  test\/fixtures\/import\/seed\.cfg:16: default_backend backend_servers: "backend_servers" is not a backend; known: flask_servers\n/m);
      assert.equal(existsSync(out), false);
      assert.match(readFileSync(report, "utf8"), /^21 lines: 19 mapped, 1 normalised, 1 decided, 0 refused\.$/m);
      const usage = await runCli("infra/import/cli.ts", ["--out", out]);
      assert.equal(usage.code, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
