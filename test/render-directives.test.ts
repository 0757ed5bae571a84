// Each field of the model, stated as the directive it must render to: the golden files catch any
// change; these say what is right. Every case edits the default topology and names the section.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { parseTopology } from "../infra/model/parse.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { dockerTarget, localTarget } from "../infra/render/targets.ts";
import { declareLocalStack } from "../infra/runtime/declaration.ts";
import { declareDockerStack } from "../infra/docker/declaration.ts";
import { editedTopology } from "./support/topologies.ts";

/** The lines of one section ("frontend http_front", "global", ...), indented as rendered. */
function section(config: string, heading: string): string[] {
  const lines = config.split("\n");
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `no section "${heading}" in:\n${config}`);
  const end = lines.findIndex((l, i) => i > start && /^\S/.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).filter((l) => l.trim() !== "");
}

const FRONTEND = "frontend http_front";
const BACKEND = "backend flask_servers";

/** `docker`: the bind addresses as the model says (the local target puts every listener on 127.0.0.1). */
const cases: { field: string; edit: (t: any) => void; heading: string; lines: string[]; absent?: RegExp; docker?: true }[] = [
  { field: "global.maxconn", edit: (t) => (t.global.maxconn = 20000), heading: "global", lines: ["    maxconn 20000"] },
  { field: "global.nbthread", edit: (t) => (t.global.nbthread = 2), heading: "global", lines: ["    nbthread 2"] },
  { field: "global.hardStopAfter", edit: (t) => (t.global.hardStopAfter = "1m"), heading: "global", lines: ["    hard-stop-after 1m"] },
  { field: "global.closeSpreadTime", edit: (t) => (t.global.closeSpreadTime = "infinite"), heading: "global", lines: ["    close-spread-time infinite"] },
  { field: "global.maxRequestHeaders", edit: (t) => (t.global.maxRequestHeaders = 50), heading: "global", lines: ["    tune.http.maxhdr 50"] },
  { field: "global.bufferSize", edit: (t) => (t.global.bufferSize = 32768), heading: "global", lines: ["    tune.bufsize 32768"] },
  { field: "defaults.maxRequestBodyBytes", edit: (t) => (t.defaults.maxRequestBodyBytes = 1000), heading: FRONTEND, lines: ["    http-request deny deny_status 413 if { req.hdr_val(content-length) gt 1000 }"] },
  { field: "defaults.maxRequestBodyBytes 0", edit: (t) => (t.defaults.maxRequestBodyBytes = 0), heading: FRONTEND, lines: [], absent: /content-length/ },
  { field: "global.closeSpreadTime off", edit: (t) => (t.global.closeSpreadTime = "off"), heading: "global", lines: [], absent: /close-spread-time/ },
  { field: "defaults.idleCloseOnResponse (on by default)", edit: () => {}, heading: "defaults", lines: ["    option idle-close-on-response"] },
  { field: "defaults.idleCloseOnResponse off", edit: (t) => (t.defaults.idleCloseOnResponse = false), heading: "defaults", lines: ["    no option idle-close-on-response"], absent: /^\s+option idle-close-on-response/m },
  {
    field: "global.logs (a syslog target, a minimum level)",
    edit: (t) => (t.global.logs = [{ target: "10.0.0.5:514", format: "rfc5424", facility: "local3", minLevel: "warning" }]),
    heading: "global", lines: ["    log 10.0.0.5:514 format rfc5424 local3 warning"], absent: /log stdout/,
  },
  { field: "global.statsSocket mode and level", edit: (t) => (t.global.statsSocket = { ...t.global.statsSocket, mode: "600", level: "operator" }), heading: "global", lines: ["    stats socket /run/lb/admin.sock mode 600 level operator"] },
  { field: "defaults.mode tcp", edit: (t) => { t.defaults.mode = "tcp"; t.frontends[0].forwardfor = false; t.frontends[0].errorPages = []; delete t.backends[0].cookie; t.backends[0].servers.forEach((s: any) => delete s.cookie); }, heading: "defaults", lines: ["    mode tcp", "    option tcplog"], absent: /option httplog/ },
  { field: "defaults.httplog off", edit: (t) => (t.defaults.httplog = false), heading: "defaults", lines: [], absent: /option httplog/ },
  { field: "defaults.timeouts (every one)", edit: (t) => (t.defaults.timeouts = { connect: "1s", client: "2s", server: "3s", check: "4s", httpRequest: "5s", queue: "6s" }), heading: "defaults", lines: ["    timeout connect 1s", "    timeout client 2s", "    timeout server 3s", "    timeout check 4s", "    timeout http-request 5s", "    timeout queue 6s"] },
  { field: "defaults.retries, redispatch off, retryOn", edit: (t) => Object.assign(t.defaults, { retries: 5, redispatch: false, retryOn: ["503", "conn-failure"] }), heading: "defaults", lines: ["    retries 5", "    retry-on 503 conn-failure"], absent: /option redispatch/ },
  { field: "frontends.binds (address, one port)", edit: (t) => (t.frontends[0].binds = [{ address: "10.1.2.3", port: 8080 }]), heading: FRONTEND, lines: ["    bind 10.1.2.3:8080"], docker: true },
  { field: "frontends.binds.tlsCertificate", edit: (t) => t.frontends[0].binds.push({ port: 8443, tlsCertificate: "site.pem" }), heading: FRONTEND, lines: ["    bind *:60000-60001", "    bind *:8443 ssl crt certs/site.pem alpn h2,http/1.1"], docker: true },
  { field: "frontends.binds.http2 off", edit: (t) => t.frontends[0].binds.push({ port: 8443, tlsCertificate: "site.pem", http2: false }), heading: FRONTEND, lines: ["    bind *:8443 ssl crt certs/site.pem"], absent: /alpn/, docker: true },
  {
    field: "global.logs (a TCP target goes through a ring)",
    edit: (t) => (t.global.logs = [{ target: "10.0.0.5:6514", transport: "tcp", format: "rfc5424", facility: "local2", minLevel: "notice" }]),
    heading: "global",
    lines: ["    log ring@log_tcp_1 local2 notice"],
  },
  {
    field: "global.logs (the ring of a TCP target)",
    edit: (t) => (t.global.logs = [{ target: "stdout" }, { target: "10.0.0.5:6514", transport: "tcp", format: "rfc5424" }]),
    heading: "ring log_tcp_2",
    lines: ["    format rfc5424", "    maxlen 4096", "    size 262144", "    server syslog 10.0.0.5:6514 log-proto octet-count"],
  },
  {
    field: "global.tls.minVersion (rendered with a TLS bind only)",
    edit: (t) => ((t.global.tls = { minVersion: "TLSv1.3" }), t.frontends[0].binds.push({ port: 8443, tlsCertificate: "site.pem" })),
    heading: "global",
    lines: ["    ssl-default-bind-options ssl-min-ver TLSv1.3", "    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"],
  },
  {
    field: "frontends.httpsRedirect (to the first TLS port, keeping host and path)",
    edit: (t) => (t.frontends[0].binds.push({ port: 8443, tlsCertificate: "site.pem" }), (t.frontends[0].httpsRedirect = true)),
    heading: FRONTEND,
    lines: ["    http-request redirect location https://%[req.hdr(host),regsub(:[0-9]+$,)]:8443%[capture.req.uri] code 301 unless { ssl_fc }"],
  },
  {
    field: "frontends.httpsRedirect to port 443 names no port",
    edit: (t) => (t.frontends[0].binds.push({ port: 443, tlsCertificate: "site.pem" }), (t.frontends[0].httpsRedirect = true)),
    heading: FRONTEND,
    lines: ["    http-request redirect location https://%[req.hdr(host),regsub(:[0-9]+$,)]%[capture.req.uri] code 301 unless { ssl_fc }"],
  },
  {
    field: "frontends.hsts",
    edit: (t) => (t.frontends[0].binds.push({ port: 8443, tlsCertificate: "site.pem" }), (t.frontends[0].hsts = { maxAgeSeconds: 600 })),
    heading: FRONTEND,
    lines: ['    http-after-response set-header Strict-Transport-Security "max-age=600" if { ssl_fc }'],
  },
  { field: "frontends.forwardfor off", edit: (t) => (t.frontends[0].forwardfor = false), heading: FRONTEND, lines: [], absent: /forwardfor/ },
  { field: "frontends.allowlist", edit: (t) => (t.frontends[0].allowlist = ["10.0.0.0/8", "192.168.1.7"]), heading: FRONTEND, lines: ["    acl allowlisted src 10.0.0.0/8 192.168.1.7", "    http-request deny deny_status 403 if !allowlisted"] },
  {
    field: "frontends.rateLimit",
    edit: (t) => (t.frontends[0].rateLimit = { requests: 100, window: "1m", tableSize: 5000 }),
    heading: FRONTEND,
    lines: [
      "    stick-table type ip size 5000 expire 1m store http_req_rate(1m)",
      "    http-request track-sc0 src",
      "    http-request set-var(txn.rate_limited) bool(true) if { sc_http_req_rate(0) gt 100 }",
      "    http-request deny deny_status 429 if { var(txn.rate_limited) -m bool }",
      "    http-after-response set-header Retry-After 60 if { var(txn.rate_limited) -m bool }",
    ],
  },
  {
    field: "frontends.rateLimits counting connections (refused as they open, under a condition on the source)",
    edit: (t) => (t.frontends[0].rateLimits = [{ name: "flood", key: "source", count: "connections", limit: 20, window: "10s", when: { not: { source: "10.0.0.0/8" } } }]),
    heading: FRONTEND,
    lines: [
      '    acl source_1 src -- "10.0.0.0/8"',
      "    tcp-request connection track-sc1 src table rate_http_front_flood if !source_1",
      "    tcp-request connection reject if { sc_conn_rate(1) gt 20 }",
    ],
    absent: /http-request .*sc1|Retry-After/,
  },
  {
    field: "frontends.rateLimits counting connections: the table stores conn_rate",
    edit: (t) => (t.frontends[0].rateLimits = [{ name: "flood", key: "source", count: "connections", limit: 20, window: "10s", tableSize: 1000 }]),
    heading: "backend rate_http_front_flood",
    lines: ["    stick-table type ipv6 size 1000 expire 10s store conn_rate(10s)"],
  },
  {
    field: "backends.answer (no servers: HAProxy answers every request itself)",
    edit: (t) => { t.backends.push({ name: "maintenance", answer: { respond: { status: 503, contentType: "text/html", body: "<h1>Back soon</h1>" } } }); t.frontends[0].defaultBackend = "maintenance"; },
    heading: "backend maintenance",
    lines: ['    http-request return status 503 content-type "text/html" string "<h1>Back soon</h1>"'],
    absent: /server |option httpchk/,
  },
  {
    field: "a route's respond.bodyFile (a file beside the error pages, as the body)",
    edit: (t) => (t.frontends[0].routes = [{ when: { pathPrefix: "/maintenance" }, respond: { status: 503, contentType: "text/html", bodyFile: "maintenance.html" } }]),
    heading: FRONTEND,
    lines: ['    http-request return status 503 content-type "text/html" file errors/maintenance.html if { var(txn.route) -m int 0 }'],
  },
  { field: "frontends.errorPages", edit: (t) => (t.frontends[0].errorPages = [{ status: 403, file: "403.http" }]), heading: FRONTEND, lines: ["    errorfile 403 errors/403.http"], absent: /errorfile 503/ },
  { field: "frontends.defaultBackend", edit: (t) => { t.backends.push({ ...structuredClone(t.backends[0]), name: "other" }); t.frontends[0].defaultBackend = "other"; }, heading: FRONTEND, lines: ["    default_backend other"] },
  { field: "backends.balance", edit: (t) => (t.backends[0].balance = "source"), heading: BACKEND, lines: ["    balance source"] },
  { field: "backends.balance url_param, consistent hashing", edit: (t) => Object.assign(t.backends[0], { balance: "url_param", balanceKey: "user", hashType: "consistent" }), heading: BACKEND, lines: ["    balance url_param user", "    hash-type consistent"] },
  { field: "backends.balance hdr", edit: (t) => Object.assign(t.backends[0], { balance: "hdr", balanceKey: "X-Tenant" }), heading: BACKEND, lines: ["    balance hdr(X-Tenant)"], absent: /hash-type/ },
  { field: "backends.balance random", edit: (t) => (t.backends[0].balance = "random"), heading: BACKEND, lines: ["    balance random"] },
  {
    field: "frontends.statsPage: a login from the environment, admin actions from an allowlist",
    edit: (t) => (t.frontends[0].statsPage = { uri: "/lb-stats", userFromEnv: "LB_FE_STATS_USER", passwordFromEnv: "LB_FE_STATS_PASSWORD", adminFrom: ["10.0.0.0/8"] }),
    heading: FRONTEND,
    lines: ["    stats enable", "    stats uri /lb-stats", "    stats refresh 10s", "    stats hide-version", '    stats auth "${LB_FE_STATS_USER}:${LB_FE_STATS_PASSWORD}"', "    stats admin if { src 10.0.0.0/8 }"],
  },
  {
    field: "frontends: maxconn, timeouts, compression",
    edit: (t) => Object.assign(t.frontends[0], { maxconn: 2000, timeouts: { client: "30s", httpKeepAlive: "2s", clientFin: "1s" }, compression: {} }),
    heading: FRONTEND,
    lines: ["    maxconn 2000", "    timeout client 30s", "    timeout http-keep-alive 2s", "    timeout client-fin 1s", "    compression algo gzip", "    compression type text/html text/plain text/css application/javascript application/json"],
  },
  {
    field: "backends: timeouts, server-close, http-reuse, stickiness on the source",
    edit: (t) => Object.assign(t.backends[0], { timeouts: { server: "60s", tunnel: "1h" }, connectionMode: "server-close", httpReuse: "safe", stickOnSource: { expire: "10m" } }),
    heading: BACKEND,
    lines: ["    timeout server 60s", "    timeout tunnel 1h", "    option http-server-close", "    http-reuse safe", "    stick-table type ip size 100000 expire 10m", "    stick on src"],
  },
  {
    field: "peers: the section, the local peer on loopback first, then the remotes",
    edit: (t) => (t.peers = { localPeer: "lb1", port: 10000, remotes: [{ name: "lb2", address: "10.0.0.2", port: 10000 }] }),
    heading: "peers stack",
    lines: ["    peer lb1 127.0.0.1:10000", "    peer lb2 10.0.0.2:10000"],
  },
  { field: "peers: the local peer as the docker target listens", edit: (t) => (t.peers = { name: "lbs", localPeer: "lb1", port: 10000 }), heading: "peers lbs", lines: ["    peer lb1 *:10000"], docker: true },
  { field: "peers: this load balancer's name", edit: (t) => (t.peers = { localPeer: "lb-east-1", port: 10000 }), heading: "global", lines: ["    localpeer lb-east-1"] },
  {
    field: "peers: a frontend's rate limit shares its table",
    edit: (t) => { t.peers = { localPeer: "lb1", port: 10000 }; t.frontends[0].rateLimit = { requests: 50, window: "10s" }; },
    heading: FRONTEND,
    lines: ["    stick-table type ip size 100000 expire 10s store http_req_rate(10s) peers stack"],
  },
  {
    field: "peers: stickiness on the source shares its table",
    edit: (t) => { t.peers = { localPeer: "lb1", port: 10000 }; t.backends[0].stickOnSource = { expire: "10m" }; },
    heading: BACKEND,
    lines: ["    stick-table type ip size 100000 expire 10m peers stack"],
  },
  {
    field: "peers: a keyed rate limit's table shares it",
    edit: (t) => { t.peers = { localPeer: "lb1", port: 10000 }; t.frontends[0].rateLimits = [{ name: "per-key", key: { header: "X-Api-Key" }, limit: 10, window: "1m" }]; },
    heading: "backend rate_http_front_per-key",
    lines: ["    stick-table type string len 256 size 100000 expire 1m store http_req_rate(1m) peers stack"],
  },
  { field: "no peers: no section, no localpeer, tables of their own", edit: (t) => (t.frontends[0].rateLimit = { requests: 50, window: "10s" }), heading: FRONTEND, lines: ["    stick-table type ip size 100000 expire 10s store http_req_rate(10s)"], absent: /peers|localpeer/ },
  {
    field: "frontends.afterResponseRules: on every answer, after the stack's own headers; a condition's mark set before anything may answer",
    edit: (t) => {
      t.frontends[0].allowlist = ["10.0.0.0/8", "127.0.0.0/8"];
      t.frontends[0].securityHeaders = { noSniff: true };
      t.frontends[0].afterResponseRules = [{ deleteHeader: "Server" }, { when: { pathPrefix: "/api" }, setHeader: { name: "Cache-Control", value: "no-store" } }, { setStatus: 204, when: { method: "OPTIONS" } }];
    },
    heading: FRONTEND,
    lines: [
      "    http-request set-var(txn.fe_aft_1) bool(true) if path_prefix_1",
      "    http-request set-var(txn.fe_aft_2) bool(true) if method_2",
      "    http-after-response set-header X-Content-Type-Options nosniff",
      "    http-after-response del-header Server",
      '    http-after-response set-header Cache-Control "no-store" if { var(txn.fe_aft_1) -m bool }',
      "    http-after-response set-status 204 if { var(txn.fe_aft_2) -m bool }",
    ],
  },
  {
    field: "frontends.logCaptures: headers into the log line, in order",
    edit: (t) => (t.frontends[0].logCaptures = { requestHeaders: [{ name: "X-Request-Id", length: 36 }, { name: "User-Agent", length: 64 }], responseHeaders: [{ name: "Content-Type", length: 32 }] }),
    heading: FRONTEND,
    lines: ["    capture request header X-Request-Id len 36", "    capture request header User-Agent len 64", "    capture response header Content-Type len 32"],
  },
  {
    field: "backends.afterResponseRules: after the backend's response rules",
    edit: (t) => (t.backends[0].afterResponseRules = [{ when: { header: { name: "X-Debug", present: true } }, addHeader: { name: "X-Backend", value: "flask" } }]),
    heading: BACKEND,
    lines: ["    http-request set-var(txn.be_aft_0) bool(true) if header_1", '    http-after-response add-header X-Backend "flask" if { var(txn.be_aft_0) -m bool }'],
  },
  { field: "backends.healthCheck", edit: (t) => (t.backends[0].healthCheck = { http: { method: "HEAD", path: "/ready?x=1", expectStatus: 204 } }), heading: BACKEND, lines: ["    option httpchk HEAD /ready?x=1", "    http-check expect status 204"] },
  { field: "backends.connectionMode: close", edit: (t) => (t.backends[0].connectionMode = "close"), heading: BACKEND, lines: ["    option httpclose"] },
  { field: "backends.healthCheck: any 2xx or 3xx, and a body", edit: (t) => (t.backends[0].healthCheck = { http: { method: "GET", path: "/", expectStatus: "2xx or 3xx", expectBody: "ok" } }), heading: BACKEND, lines: ["    option httpchk GET /", "    http-check expect rstatus ^[23]", '    http-check expect string "ok"'] },
  { field: "backends.cookie (rewrite, every flag off)", edit: (t) => (t.backends[0].cookie = { name: "LB", insert: false, indirect: false, nocache: false, secure: false, httponly: false }), heading: BACKEND, lines: ['    cookie LB rewrite attr "SameSite=Lax"'] },
  { field: "backends.cookie.secure", edit: (t) => (t.backends[0].cookie.secure = true), heading: BACKEND, lines: ['    cookie SERVER insert indirect nocache secure httponly attr "SameSite=Lax"'] },
  { field: "backends.cookie.sameSite", edit: (t) => (t.backends[0].cookie.sameSite = "Strict"), heading: BACKEND, lines: ['    cookie SERVER insert indirect nocache httponly attr "SameSite=Strict"'] },
  { field: "backends retries/redispatch/retryOn overrides", edit: (t) => Object.assign(t.backends[0], { retries: 0, redispatch: false, retryOn: [] }), heading: BACKEND, lines: ["    no option redispatch", "    retries 0", "    retry-on none"] },
  {
    field: "servers: weight, backup, maxconn, no check, disabled",
    edit: (t) => {
      Object.assign(t.backends[0].servers[0], { weight: 7, maxconn: 50, inter: "1s", fall: 4, rise: 5 });
      Object.assign(t.backends[0].servers[1], { backup: true, check: false });
      t.backends[0].servers.push({ name: "web-c", address: "web-c", port: 5003, cookie: "web-c", disabled: true });
    },
    heading: BACKEND,
    lines: [
      "    server web-a 127.0.0.1:5001 check inter 1s fall 4 rise 5 weight 7 cookie web-a maxconn 50",
      "    server web-b 127.0.0.1:5002 weight 1 cookie web-b backup",
      "    server web-c 127.0.0.1:5003 check inter 2s fall 3 rise 2 weight 1 cookie web-c disabled",
    ],
  },
  {
    field: "monitoring (no statsAuth: no stats page)",
    edit: (t) => (t.monitoring = { address: "*", port: 9000, statsUri: "/haproxy", statsRefresh: "5s", metricsPath: "/prom" }),
    heading: "frontend monitoring",
    lines: ["    bind 127.0.0.1:9000", "    monitor-uri /healthz", "    http-request use-service prometheus-exporter if { path /prom }"],
    absent: /stats/,
  },
  {
    field: "monitoring.statsAuth (a login from the environment, on loopback)",
    edit: (t) => (t.monitoring = { address: "*", port: 9000, statsUri: "/haproxy", statsRefresh: "5s", statsAuth: { userFromEnv: "OPS_USER", passwordFromEnv: "OPS_PASSWORD" } }),
    heading: "frontend monitoring",
    lines: ["    stats enable", "    stats uri /haproxy", "    stats refresh 5s", "    stats hide-version", '    stats auth "${OPS_USER}:${OPS_PASSWORD}"'],
  },
  {
    field: "monitoring.statsAuth on a public address: no stats page unless statsOnPublicAddress",
    edit: (t) => (t.monitoring.statsAuth = { userFromEnv: "OPS_USER", passwordFromEnv: "OPS_PASSWORD" }),
    heading: "frontend monitoring",
    lines: ["    bind *:8404"],
    absent: /stats/,
    docker: true,
  },
  {
    field: "monitoring.statsOnPublicAddress",
    edit: (t) => ((t.monitoring.statsAuth = { userFromEnv: "OPS_USER", passwordFromEnv: "OPS_PASSWORD" }), (t.monitoring.statsOnPublicAddress = true)),
    heading: "frontend monitoring",
    lines: ["    bind *:8404", "    stats enable"],
    docker: true,
  },
];

describe("each field of the model renders its directive (local target, run directory /run/lb)", () => {
  for (const c of cases) {
    it(c.field, () => {
      const config = renderHaproxyConfig(parseTopology(editedTopology(c.edit)), c.docker ? dockerTarget() : localTarget("/run/lb"));
      const lines = section(config, c.heading);
      for (const line of c.lines) assert.ok(lines.includes(line), `"${line}" missing from ${c.heading}:\n${lines.join("\n")}`);
      if (c.absent) assert.doesNotMatch(lines.join("\n"), c.absent);
    });
  }
});

describe("sockets: one owner decides the path on each target", () => {
  it("global.statsSocket.path: its file name, in the run directory, on the local target", () => {
    const config = renderHaproxyConfig(parseTopology(editedTopology((t) => (t.global.statsSocket.path = "/var/lib/haproxy/api.sock"))), localTarget("/run/lb"));
    assert.match(config, /^    stats socket \/run\/lb\/api\.sock mode 660 level admin expose-fd listeners$/m);
  });

  it("global.statsSocket.path: as it is, in the docker target's socket volume", () => {
    const config = renderHaproxyConfig(parseTopology(editedTopology((t) => (t.global.statsSocket.path = "/var/lib/haproxy/api.sock"))), dockerTarget());
    assert.match(config, /^    stats socket \/var\/lib\/haproxy\/api\.sock mode 660/m);
  });

  it("the local runtime starts HAProxy, the sidecar and readiness probes on the same paths the config names", () => {
    const topology = parseTopology(editedTopology((t) => {
      t.global.statsSocket.path = "/var/lib/haproxy/api.sock";
      t.global.masterSocket = "/var/lib/haproxy/ctl.sock";
    }));
    const plan = declareLocalStack(topology, { runDir: "/run/lb", sidecar: true });
    assert.deepEqual(plan.sockets, { admin: "/run/lb/api.sock", master: "/run/lb/ctl.sock" });
    const haproxy = plan.components.find((c) => c.kind === "haproxy")!;
    assert.equal(haproxy.args[haproxy.args.indexOf("-S") + 1], "/run/lb/ctl.sock,mode,600");
    const sidecar = plan.components.find((c) => c.kind === "sidecar")!;
    assert.equal(sidecar.args[sidecar.args.indexOf("--stats-socket") + 1], "/run/lb/api.sock");
    assert.match(plan.haproxyConfig, /^    stats socket \/run\/lb\/api\.sock /m);
  });

  it("the docker stack gives HAProxy's -S and the sidecar's --stats-socket the model's paths", () => {
    const topology = parseTopology(editedTopology((t) => {
      t.global.statsSocket.path = "/var/lib/haproxy/api.sock";
      t.global.masterSocket = "/var/lib/haproxy/ctl.sock";
    }));
    const containers = declareDockerStack(topology).containers;
    const haproxy = containers.find((c) => c.name === "haproxy")!.command!;
    assert.equal(haproxy[haproxy.indexOf("-S") + 1], "/var/lib/haproxy/ctl.sock,mode,600");
    const sidecar = containers.find((c) => c.name === "sidecar")!.command!;
    assert.equal(sidecar[sidecar.indexOf("--stats-socket") + 1], "/var/lib/haproxy/api.sock");
  });

  it("a socket outside the docker target's volume is refused, naming the field", () => {
    for (const [field, edit] of [
      ["global.statsSocket.path", (t: any) => (t.global.statsSocket.path = "/run/haproxy/admin.sock")],
      ["global.masterSocket", (t: any) => (t.global.masterSocket = "/tmp/master.sock")],
    ] as const) {
      assert.throws(() => renderHaproxyConfig(parseTopology(editedTopology(edit)), dockerTarget()), (error: Error & { code?: string }) => {
        assert.equal(error.code, "TARGET_PLAN_INVALID");
        assert.match(error.message, new RegExp(`^${field.replace(".", "\\.")}: ".*" is outside /var/lib/haproxy, the volume HAProxy shares with the sidecar`));
        return true;
      });
    }
  });
});
