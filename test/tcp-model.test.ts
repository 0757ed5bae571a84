// TCP proxies and TLS beyond the bind's certificate, from the model to haproxy.cfg: what is refused
// at load (with the field's path), the directive each field renders to, and that the real HAProxy
// 2.6 accepts every case (haproxy -c, with stand-ins for the certificate directory's files).
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { topologyProblems } from "./support/topologies.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { topology as dataTopology } from "../infra/topologies/data.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { dockerTarget, localTarget } from "../infra/render/targets.ts";
import { certificateFiles, checkEveryTarget } from "../infra/render/validate.ts";
import { TargetPlanError, TlsSettingRejectedError } from "../infra/errors.ts";
import { declareDockerStack } from "../infra/docker/declaration.ts";
import { declareKubernetesStack } from "../infra/kubernetes/declaration.ts";
import { resolveRoute } from "../infra/model/route-resolver.ts";
import { makePlan } from "../infra/gitops/plan.ts";
import { notReady, readyServerCount } from "../infra/runtime/readiness.ts";

/** A TCP frontend "db" on 5432 in front of backend "pg" (two servers), beside nothing else. */
function tcpTopology(edit: (t: any) => void = () => {}): any {
  const t: any = {
    name: "tcp",
    frontends: [{ name: "db", mode: "tcp", binds: [{ port: 5432 }], defaultBackend: "pg" }],
    backends: [{ name: "pg", mode: "tcp", servers: [{ name: "pg-1", address: "10.0.0.1", port: 5432 }, { name: "pg-2", address: "10.0.0.2", port: 5432 }] }],
  };
  edit(t);
  return t;
}

const problemsOf = topologyProblems;

/** The lines of one section ("backend pg"), without their indentation. */
function section(config: string, heading: string): string[] {
  const lines = config.split("\n");
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `no section "${heading}" in:\n${config}`);
  const end = lines.findIndex((l, i) => i > start && /^\S/.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).map((l) => l.trim()).filter((l) => l !== "");
}

describe("TCP and TLS in the model: refused at load with the field's path", () => {
  const cases: [string, (t: any) => void, string[]][] = [
    ["a TCP frontend sending to an HTTP backend", (t) => (t.backends[0].mode = "http"), [
      'frontends.db.defaultBackend: frontend "db" is in mode tcp and backend "pg" in mode http: a frontend sends only to backends of its own mode',
    ]],
    ["a Redis check on an HTTP backend", (t) => Object.assign(t.backends[0], { mode: "http", healthCheck: { redis: {} } }), [
      'frontends.db.defaultBackend: frontend "db" is in mode tcp and backend "pg" in mode http: a frontend sends only to backends of its own mode',
      'backends.pg.healthCheck.redis: a redis check speaks to servers that are not HTTP servers, but backend "pg" is in mode http: set mode "tcp"',
    ]],
    ["a check of two kinds", (t) => (t.backends[0].healthCheck = { postgresql: { user: "check" }, connect: true }), [
      "backends.pg.healthCheck: a health check is exactly one of http, connect, steps, redis, postgresql, mysql, smtp, ldap, tlsHello (found connect and postgresql)",
    ]],
    ["a check's expectation that is not a regular expression", (t) => (t.backends[0].healthCheck = { steps: [{ send: "PING\r\n" }, { expect: { regex: "(+PONG" } }] }), [
      'backends.pg.healthCheck.steps[1].expect.regex: "(+PONG" is not a regular expression: /(+PONG/: Nothing to repeat',
    ]],
    ["check text with a character HAProxy would read as a new line of config", (t) => (t.backends[0].healthCheck = { steps: [{ send: "PING\u0000" }] }), [
      'backends.pg.healthCheck.steps[0].send: "PING\\u0000" is not usable check text: use 1 to 1024 printable ASCII characters, "\\r", "\\n" or "\\t"',
    ]],
    ["TLS to servers that says nothing of verification", (t) => (t.backends[0].tls = {}), [
      "backends.pg.tls: say how the servers' certificates are verified: give caFile (or, knowingly, insecureSkipVerify: true)",
    ]],
    ["verify none under any other name", (t) => (t.backends[0].tls = { verify: "none" }), [
      'backends.pg.tls: Unrecognized key: "verify": remove it or check its spelling',
      "backends.pg.tls: say how the servers' certificates are verified: give caFile (or, knowingly, insecureSkipVerify: true)",
    ]],
    ["a server name that insecureSkipVerify would never check", (t) => (t.backends[0].tls = { insecureSkipVerify: true, serverName: "db.internal" }), [
      "backends.pg.tls.serverName: with insecureSkipVerify the server's name is never checked: give caFile to verify it",
    ]],
    ["a check over TLS with nothing to verify the server by", (t) => (t.backends[0].healthCheck = { steps: [{ connect: { port: 8443, tls: true } }] }), [
      'backends.pg.healthCheck.steps[0].connect.tls: a check over TLS verifies the server\'s certificate: add tls to backend "pg" (caFile, or insecureSkipVerify), or healthCheck.tlsVerify where its traffic is not TLS',
    ]],
    ["the PROXY protocol accepted from every address", (t) => (t.frontends[0].binds[0].acceptProxy = { from: ["0.0.0.0/0"] }), [
      'frontends.db.binds[0].acceptProxy.from[0]: "0.0.0.0/0" is every address: name the load balancers that send the PROXY header, or any client could claim any address',
    ]],
    ["the PROXY protocol accepted from nobody named", (t) => (t.frontends[0].binds[0].acceptProxy = { from: [] }), [
      "frontends.db.binds[0].acceptProxy.from: say which networks may send the PROXY header: an open accept-proxy lets any client claim any address",
    ]],
    ["a curve OpenSSL does not know", (t) => (t.frontends[0].binds[0] = { port: 5432, tlsCertificate: "db.pem", curves: ["P-256", "P-999"] }), [
      'frontends.db.binds[0].curves[1]: "P-999" is not a curve OpenSSL knows: use one of X25519, X448, P-256, P-384, P-521, prime256v1, secp384r1, secp521r1, ffdhe2048, ffdhe3072, ffdhe4096',
    ]],
    ["a cipher list with a space in it", (t) => (t.frontends[0].binds[0] = { port: 5432, tlsCertificate: "db.pem", ciphers: "AES128 SHA" }), [
      'frontends.db.binds[0].ciphers: "AES128 SHA" is not a cipher list: use OpenSSL names separated by ":", e.g. "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"',
    ]],
    ["TLS settings on a bind that terminates no TLS", (t) => Object.assign(t.frontends[0].binds[0], { ciphers: "ECDHE-RSA-AES128-GCM-SHA256", strictSni: true, clientCertificates: { caFile: "clients.pem" } }), [
      "frontends.db.binds[0].ciphers: this bind terminates no TLS: add tlsCertificate, or remove ciphers",
      "frontends.db.binds[0].clientCertificates: this bind terminates no TLS: add tlsCertificate, or remove clientCertificates",
      "frontends.db.binds[0].strictSni: this bind terminates no TLS: add tlsCertificate, or remove strictSni",
    ]],
    ["a client certificate's subject passed on by a TCP frontend", (t) => (t.frontends[0].binds[0] = { port: 5432, tlsCertificate: "db.pem", clientCertificates: { caFile: "clients.pem", subjectHeader: "X-Client-DN" } }), [
      "frontends.db.binds[0].clientCertificates.subjectHeader: a TCP frontend forwards no headers: the subject reaches servers only through an HTTP frontend",
    ]],
    ["dual stack on an IPv4 address", (t) => Object.assign(t.frontends[0].binds[0], { address: "10.0.0.5", dualStack: true }), [
      'frontends.db.binds[0].dualStack: dual stack takes IPv4 clients on an IPv6 socket listening on "::": set address "::" (or "*" listens on IPv4 alone)',
    ]],
    ["HTTP features on a TCP proxy", (t) => { Object.assign(t.frontends[0], { forwardfor: true, timeouts: { httpKeepAlive: "5s" }, logCaptures: { requestHeaders: [{ name: "Host", length: 64 }] } }); Object.assign(t.backends[0], { balance: "uri", retryOn: ["503"] }); }, [
      'frontends.db.forwardfor: X-Forwarded-For needs HTTP, but the frontend is in mode tcp: remove it or use mode "http"',
      'frontends.db.logCaptures: capturing headers into the log needs HTTP, but the frontend is in mode tcp: remove it or use mode "http"',
      'frontends.db.timeouts.httpKeepAlive: timeouts.httpKeepAlive needs HTTP, but the frontend is in mode tcp: remove it or use mode "http"',
      'backends.pg.balance: balance uri needs HTTP, but the backend is in mode tcp: remove it or use mode "http"',
      'backends.pg.retryOn: retrying on an HTTP answer needs HTTP, but the backend is in mode tcp: remove it or use mode "http"',
    ]],
    ["a TCP route that answers as HTTP would", (t) => (t.frontends[0].routes = [{ when: { sni: "a.example.com" }, redirect: { scheme: "https" } }]), [
      "frontends.db.routes[0].redirect: redirect needs HTTP: a TCP frontend's routes send to a backend or deny",
    ]],
    ["a server on a unix socket that also names an address and port", (t) => (t.backends[0].servers[0].unixSocket = "/run/pg/.s.PGSQL.5432"), [
      'backends.pg.servers.pg-1.address: server "pg-1" is on the unix socket /run/pg/.s.PGSQL.5432: remove address, or remove unixSocket',
      'backends.pg.servers.pg-1.port: server "pg-1" is on the unix socket /run/pg/.s.PGSQL.5432: remove port, or remove unixSocket',
    ]],
    ["a server with neither an address and port nor a socket", (t) => delete t.backends[0].servers[1].port, [
      'backends.pg.servers.pg-2.port: server "pg-2" needs an address and a port (or a unixSocket)',
    ]],
    ["a socket path that is relative, or too long", (t) => t.backends[0].servers.splice(0, 2, { name: "a", unixSocket: "run/a.sock" }, { name: "b", unixSocket: `/${"x".repeat(110)}` }), [
      'backends.pg.servers.a.unixSocket: "run/a.sock" is not a socket path: use an absolute path of letters, digits and "._/-"',
      `backends.pg.servers.b.unixSocket: "/${"x".repeat(110)}" is longer than a unix socket path may be (107 bytes)`,
    ]],
  ];
  for (const [name, edit, expected] of cases) it(name, () => assert.deepEqual(problemsOf(tcpTopology(edit)), expected));

  it("the data example is valid", () => assert.deepEqual(problemsOf(dataTopology), []));
});

/** Each field, the section it renders in and the lines it renders to (local target unless docker). */
const directives: { field: string; edit: (t: any) => void; heading: string; lines: string[]; absent?: RegExp; docker?: true }[] = [
  { field: "mode tcp: tcplog, not the defaults' HTTP options", edit: () => {}, heading: "frontend db", lines: ["mode tcp", "option tcplog", "no option idle-close-on-response"], absent: /forwardfor|deny_status 413/ },
  { field: "frontends.tcpKeepAlive, timeouts.clientFin", edit: (t) => Object.assign(t.frontends[0], { tcpKeepAlive: true, timeouts: { client: "1h", clientFin: "30s" } }), heading: "frontend db", lines: ["option clitcpka", "timeout client 1h", "timeout client-fin 30s"] },
  { field: "backends.tcpKeepAlive, timeouts.tunnel and serverFin", edit: (t) => Object.assign(t.backends[0], { tcpKeepAlive: true, timeouts: { tunnel: "1h", serverFin: "30s" } }), heading: "backend pg", lines: ["mode tcp", "option srvtcpka", "timeout tunnel 1h", "timeout server-fin 30s"] },
  { field: "defaults.timeouts.tunnel, clientFin, serverFin", edit: (t) => (t.defaults = { timeouts: { tunnel: "2h", clientFin: "10s", serverFin: "10s" } }), heading: "defaults", lines: ["timeout tunnel 2h", "timeout client-fin 10s", "timeout server-fin 10s"] },
  { field: "healthCheck.postgresql", edit: (t) => (t.backends[0].healthCheck = { postgresql: { user: "haproxy_check" } }), heading: "backend pg", lines: ["option pgsql-check user haproxy_check", "server pg-1 127.0.0.1:5432 check inter 2s fall 3 rise 2 weight 1"] },
  { field: "healthCheck.mysql", edit: (t) => (t.backends[0].healthCheck = { mysql: { user: "haproxy" } }), heading: "backend pg", lines: ["option mysql-check user haproxy post-41"] },
  {
    field: "healthCheck.tlsVerify: a check over TLS to servers whose traffic passes through (no ssl on the traffic)",
    edit: (t) => (t.backends[0].healthCheck = { http: { path: "/readyz" }, tls: true, tlsVerify: { insecureSkipVerify: true } }),
    heading: "backend pg",
    lines: ["server pg-1 127.0.0.1:5432 check inter 2s fall 3 rise 2 weight 1 check-ssl verify none"],
    absent: / ssl verify| ssl$/m,
  },
  { field: "servers' fastInter and downInter", edit: (t) => Object.assign(t.backends[0].servers[0], { fastInter: "500ms", downInter: "10s" }), heading: "backend pg", lines: ["server pg-1 127.0.0.1:5432 check inter 2s fall 3 rise 2 fastinter 500ms downinter 10s weight 1"] },
  { field: "healthCheck.smtp", edit: (t) => (t.backends[0].healthCheck = { smtp: { domain: "lb.example.com" } }), heading: "backend pg", lines: ["option smtpchk EHLO lb.example.com"] },
  { field: "healthCheck.ldap", edit: (t) => (t.backends[0].healthCheck = { ldap: true }), heading: "backend pg", lines: ["option ldap-check"] },
  { field: "healthCheck.tlsHello", edit: (t) => (t.backends[0].healthCheck = { tlsHello: true }), heading: "backend pg", lines: ["option ssl-hello-chk"] },
  { field: "healthCheck.connect (no protocol: the connection alone)", edit: (t) => (t.backends[0].healthCheck = { connect: true }), heading: "backend pg", lines: ["server pg-1 127.0.0.1:5432 check inter 2s fall 3 rise 2 weight 1"], absent: /option .*chk|tcp-check/ },
  { field: "healthCheck.redis", edit: (t) => (t.backends[0].healthCheck = { redis: {} }), heading: "backend pg", lines: ["option redis-check"] },
  {
    field: "healthCheck.redis with primaryOnly and a password from the environment",
    edit: (t) => (t.backends[0].healthCheck = { redis: { passwordFromEnv: "LB_REDIS_PASSWORD" }, primaryOnly: true }),
    heading: "backend pg",
    lines: ["option tcp-check", 'tcp-check send "AUTH ${LB_REDIS_PASSWORD}\\r\\n"', "tcp-check expect string +OK", 'tcp-check send "PING\\r\\n"', 'tcp-check expect string "+PONG"', 'tcp-check send "INFO replication\\r\\nQUIT\\r\\n"', 'tcp-check expect string "role:master"'],
  },
  {
    field: "healthCheck.steps (connect on a port over TLS, send text and bytes, expect text, a regex, bytes, or not)",
    edit: (t) => Object.assign(t.backends[0], { tls: { caFile: "internal-ca.pem" }, healthCheck: { steps: [{ connect: { port: 8443, tls: true } }, { send: 'HELLO "x" $HOME\r\n' }, { expect: { string: "OK" } }, { sendBinary: "0D0a" }, { expect: { regex: "^ready [0-9]+$" } }, { expect: { binary: "00ff", negate: true } }] } }),
    heading: "backend pg",
    lines: ["option tcp-check", "tcp-check connect port 8443 ssl", 'tcp-check send "HELLO \\"x\\" \\$HOME\\r\\n"', 'tcp-check expect string "OK"', "tcp-check send-binary 0d0a", 'tcp-check expect rstring "^ready [0-9]+\\$"', "tcp-check expect !binary 00ff"],
  },
  {
    field: "healthCheck.http with a Host, a body and a regex (Patroni's REST API on its own port)",
    edit: (t) => (t.backends[0].healthCheck = { http: { path: "/primary", host: "patroni.internal", expectBody: '"role": "master"', expectBodyRegex: "running|streaming" }, port: 8008, primaryOnly: true }),
    heading: "backend pg",
    lines: ["option httpchk GET /primary", "http-check send hdr Host patroni.internal", "http-check expect status 200", 'http-check expect string "\\"role\\": \\"master\\""', 'http-check expect rstring "running|streaming"', "server pg-1 127.0.0.1:5432 check inter 2s fall 3 rise 2 weight 1 port 8008"],
  },
  {
    field: "agent, slowStart, shutdownSessionsOnDown, shutdownBackupSessionsOnUp",
    edit: (t) => Object.assign(t.backends[0], { agent: { port: 9777, inter: "5s", send: "status\n" }, slowStart: "30s", shutdownSessionsOnDown: true, shutdownBackupSessionsOnUp: true }),
    heading: "backend pg",
    lines: ['server pg-1 127.0.0.1:5432 check inter 2s fall 3 rise 2 weight 1 agent-check agent-port 9777 agent-inter 5s agent-send "status\\n" slowstart 30s on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions'],
  },
  {
    field: "tls to servers, verified (a CA, SNI and verifyhost, a client certificate, ALPN), checked over TLS",
    edit: (t) => Object.assign(t.backends[0], { tls: { caFile: "internal-ca.pem", serverName: "db.internal", clientCertificate: "lb-client.pem", alpn: ["h2", "http/1.1"] }, healthCheck: { connect: true, tls: true } }),
    heading: "backend pg",
    lines: ["server pg-1 127.0.0.1:5432 check inter 2s fall 3 rise 2 weight 1 check-ssl ssl verify required ca-file certs/internal-ca.pem sni str(db.internal) verifyhost db.internal check-sni db.internal crt \"\${LB_CERTIFICATE_DIR}/lb-client.pem\" alpn h2,http/1.1"],
  },
  { field: "tls.clientCertificate: HAProxy reads a server's crt from where it runs, so the config names the target's certificate directory", edit: (t) => (t.backends[0].tls = { caFile: "ca.pem", clientCertificate: "lb-client.pem" }), heading: "global", lines: ["presetenv LB_CERTIFICATE_DIR /run/lb/certs"] },
  { field: "tls.insecureSkipVerify: verify none, by that name only", edit: (t) => (t.backends[0].tls = { insecureSkipVerify: true }), heading: "backend pg", lines: ["server pg-1 127.0.0.1:5432 check inter 2s fall 3 rise 2 weight 1 ssl verify none"] },
  { field: "tls to servers: the minimum version for every server", edit: (t) => (t.backends[0].tls = { insecureSkipVerify: true }), heading: "global", lines: ["ssl-default-server-options ssl-min-ver TLSv1.2"] },
  { field: "sendProxy v2 (the check sends the header too)", edit: (t) => Object.assign(t.backends[0], { sendProxy: "v2", healthCheck: { postgresql: { user: "check" } } }), heading: "backend pg", lines: ["server pg-1 127.0.0.1:5432 check inter 2s fall 3 rise 2 weight 1 send-proxy-v2 check-send-proxy"] },
  { field: "healthCheck.address and port: a check on another address (an agent on a management interface)", edit: (t) => (t.backends[0].healthCheck = { http: { path: "/health" }, address: "10.99.0.1", port: 8008 }), heading: "backend pg", lines: ["server pg-1 127.0.0.1:5432 check inter 2s fall 3 rise 2 weight 1 addr 10.99.0.1 port 8008"] },
  { field: "sendProxy v1, a check on another port (which expects no header)", edit: (t) => Object.assign(t.backends[0], { sendProxy: "v1", healthCheck: { http: { path: "/health" }, port: 8008 } }), heading: "backend pg", lines: ["server pg-1 127.0.0.1:5432 check inter 2s fall 3 rise 2 weight 1 port 8008 send-proxy"] },
  {
    field: "binds.acceptProxy, only from the declared networks",
    edit: (t) => (t.frontends[0].binds = [{ port: 5432, acceptProxy: { from: ["10.0.0.0/8", "fd00::/8"] } }, { port: 5433 }]),
    heading: "frontend db",
    lines: ["bind 127.0.0.1:5432 accept-proxy", "bind 127.0.0.1:5433", "tcp-request connection reject if { dst_port 5432 } !{ src 10.0.0.0/8 fd00::/8 }"],
  },
  { field: "binds: IPv6, dual stack", edit: (t) => (t.frontends[0].binds = [{ address: "::", port: 5432, dualStack: true }, { address: "2001:db8::10", port: 5433 }]), heading: "frontend db", lines: ["bind [::]:5432 v4v6", "bind [2001:db8::10]:5433"], docker: true },
  { field: "binds: IPv6 on the local target is IPv6's loopback", edit: (t) => (t.frontends[0].binds = [{ address: "::", port: 5432 }]), heading: "frontend db", lines: ["bind [::1]:5432"] },
  {
    field: "binds: TLS terminated on a TCP frontend (several certificates, strict SNI, ciphers, suites, curves, client certificates with a CRL)",
    edit: (t) => (t.frontends[0].binds = [{ port: 5432, tlsCertificate: ["db-a.pem", "db-b.pem"], strictSni: true, ciphers: "ECDHE-RSA-AES256-GCM-SHA384", ciphersuites: "TLS_AES_256_GCM_SHA384", curves: ["X25519", "P-256"], clientCertificates: { caFile: "clients-ca.pem", verify: "optional", crlFile: "clients.crl" } }]),
    heading: "frontend db",
    lines: ["bind 127.0.0.1:5432 ssl crt certs/db-a.pem crt certs/db-b.pem strict-sni ciphers ECDHE-RSA-AES256-GCM-SHA384 ciphersuites TLS_AES_256_GCM_SHA384 curves X25519:P-256 ca-file certs/clients-ca.pem verify optional crl-file certs/clients.crl"],
    absent: /alpn/,
  },
  { field: "global.tls ciphers, suites and curves for every TLS bind", edit: (t) => { t.global = { tls: { ciphers: "ECDHE-RSA-AES128-GCM-SHA256", ciphersuites: "TLS_AES_128_GCM_SHA256", curves: ["X25519"] } }; t.frontends[0].binds[0].tlsCertificate = "db.pem"; }, heading: "global", lines: ["ssl-default-bind-ciphers ECDHE-RSA-AES128-GCM-SHA256", "ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256", "ssl-default-bind-curves X25519"] },
  {
    field: "routes on SNI (exact and wildcard), ALPN and the destination port, first match, the rest refused",
    edit: (t) => {
      t.backends.push({ name: "pg_replicas", mode: "tcp", servers: [{ name: "pg-3", address: "10.0.0.3", port: 5432 }] });
      t.frontends[0].binds.push({ port: 5433 });
      t.frontends[0].inspectDelay = "2s";
      t.frontends[0].routes = [
        { when: { any: [{ sni: "Primary.DB.example.com" }, { sni: "*.rw.example.com" }] }, backend: "pg" },
        { when: { all: [{ alpn: "postgresql" }, { destinationPort: 5433 }] }, backend: "pg_replicas" },
        { when: { not: { source: "10.0.0.0/8" } }, deny: {} },
      ];
    },
    heading: "frontend db",
    lines: [
      'acl sni_1 req.ssl_sni,lower -m str -- "primary.db.example.com"',
      'acl sni_2 req.ssl_sni,lower -m reg -- "^[^.]+\\\\.rw\\\\.example\\\\.com\\$"',
      'acl alpn_3 req.ssl_alpn -m str -- "postgresql"',
      "acl dst_port_4 dst_port 5433",
      'acl source_5 src -- "10.0.0.0/8"',
      "tcp-request inspect-delay 2s",
      "tcp-request content set-var(txn.route) int(0) if !route_taken sni_1",
      "tcp-request content set-var(txn.route) int(0) if !route_taken sni_2",
      "tcp-request content set-var(txn.route) int(1) if !route_taken alpn_3 dst_port_4",
      "tcp-request content set-var(txn.route) int(2) if !route_taken !source_5",
      "tcp-request content reject if { var(txn.route) -m int 2 }",
      "use_backend pg if { var(txn.route) -m int 0 }",
      "use_backend pg_replicas if { var(txn.route) -m int 1 }",
      "default_backend pg",
    ],
  },
];

describe("each TCP and TLS field renders its directive, and haproxy -c accepts it", () => {
  for (const c of directives) {
    it(c.field, async () => {
      const topology = parseTopology(tcpTopology(c.edit));
      const config = renderHaproxyConfig(topology, c.docker ? dockerTarget() : localTarget("/run/lb"));
      const lines = section(config, c.heading);
      for (const line of c.lines) assert.ok(lines.includes(line), `"${line}" missing from ${c.heading}:\n${lines.join("\n")}`);
      if (c.absent) assert.doesNotMatch(lines.join("\n"), c.absent);
      await checkEveryTarget(topology);
    });
  }

  it("every file of the certificate directory a topology names, with its kind and the fields that name it", () => {
    const topology = parseTopology(tcpTopology((t) => {
      t.frontends[0].binds = [{ port: 5432, tlsCertificate: ["db.pem", "shared.pem"], clientCertificates: { caFile: "clients-ca.pem", crlFile: "clients.crl" } }];
      t.backends[0].tls = { caFile: "internal-ca.pem", clientCertificate: "shared.pem" };
    }));
    assert.deepEqual(certificateFiles(topology), [
      { name: "db.pem", kind: "certificate", fields: ["frontends.db.binds.0.tlsCertificate"] },
      { name: "shared.pem", kind: "certificate", fields: ["frontends.db.binds.0.tlsCertificate", "backends.pg.tls.clientCertificate"] },
      { name: "clients-ca.pem", kind: "ca", fields: ["frontends.db.binds.0.clientCertificates.caFile"] },
      { name: "clients.crl", kind: "crl", fields: ["frontends.db.binds.0.clientCertificates.crlFile"] },
      { name: "internal-ca.pem", kind: "ca", fields: ["backends.pg.tls.caFile"] },
    ]);
  });

  it("a cipher list OpenSSL refuses is found by haproxy -c and named by its field", async () => {
    const topology = parseTopology(tcpTopology((t) => (t.frontends[0].binds = [{ port: 5432, tlsCertificate: "db.pem", ciphers: "NO-SUCH-CIPHER" }])));
    await assert.rejects(checkEveryTarget(topology), (error: unknown) => {
      assert.ok(error instanceof TlsSettingRejectedError);
      assert.equal(error.code, "TLS_SETTING_REJECTED");
      assert.match(error.message, /^frontends\.db\.binds\.0\.ciphers: OpenSSL knows no cipher in "NO-SUCH-CIPHER"/);
      return true;
    });
  });

  it("the data example renders for the local target and haproxy -c accepts it", async () => {
    const topology = parseTopology(dataTopology);
    await checkEveryTarget(topology);
  });
});

describe("the resolver reads a TCP connection as the config does", () => {
  const frontend = parseTopology(tcpTopology(directives.find((d) => d.field.startsWith("routes on SNI"))!.edit)).frontends[0]!;
  const connection = (sni: string | undefined, port: number, source = "10.1.2.3", alpn?: string[]) => resolveRoute(frontend, { method: "", path: "/", source, tls: false, sni, destinationPort: port, alpn });
  const cases: [string, ReturnType<typeof connection>["kind"], string | undefined, ReturnType<typeof connection>][] = [
    ["an exact name, any case", "backend", "pg", connection("PRIMARY.db.example.com", 5432)],
    ["one label under a wildcard", "backend", "pg", connection("x.rw.example.com", 5432)],
    ["two labels under a wildcard are not one", "backend", "pg", connection("a.b.rw.example.com", 5432)],
    ["ALPN on the replicas' port", "backend", "pg_replicas", connection(undefined, 5433, "10.1.2.3", ["postgresql"])],
    ["ALPN on another port", "backend", "pg", connection(undefined, 5432, "10.1.2.3", ["postgresql"])],
    ["a stranger with no name", "deny", undefined, connection(undefined, 5432, "192.0.2.1")],
  ];
  for (const [name, kind, backend, outcome] of cases) {
    it(name, () => {
      assert.equal(outcome.kind, kind);
      if (backend !== undefined) assert.equal(outcome.kind === "backend" && outcome.backend, backend);
    });
  }
});

describe("the plan shows which connections a TCP routing change moves", () => {
  it("moving a name from one TLS service to another, the connections that go elsewhere", () => {
    const head = structuredClone(dataTopology) as any;
    head.frontends.find((f: any) => f.name === "tls_services").routes[0].when = { sni: "ledger.data.test" };
    const plan = makePlan(parseTopology(dataTopology), parseTopology(head));
    assert.deepEqual(plan.routing?.map((e) => `${e.request}: ${e.before} → ${e.after}`), [
      "a connection for billing.data.test: backend billing → refused",
      "a connection for ledger.data.test: backend ledger → backend billing",
    ]);
  });
});

describe("servers on unix sockets: the local target only", () => {
  const onSockets = () => parseTopology(tcpTopology((t) => (t.backends[0].servers = [{ name: "pg-1", unixSocket: "/run/postgresql/.s.PGSQL.5432", external: true }, { name: "pg-2", address: "10.0.0.2", port: 5432 }])));
  it("renders unix@PATH on the local target, which haproxy -c accepts; the container targets are skipped by the check", async () => {
    const lines = section(renderHaproxyConfig(onSockets(), localTarget("/run/lb")), "backend pg");
    assert.ok(lines.some((l) => l.startsWith("server pg-1 unix@/run/postgresql/.s.PGSQL.5432 check")), lines.join("\n"));
    await checkEveryTarget(onSockets());
  });
  it("the docker and kubernetes stacks refuse them by field: HAProxy there shares no file system with its servers", () => {
    const message = "backends.pg.servers.pg-1.unixSocket: the docker stack's HAProxy shares no file system with its servers: give the server an address and port";
    assert.throws(() => renderHaproxyConfig(onSockets(), dockerTarget()), (e: unknown) => e instanceof TargetPlanError && e.message === message);
    assert.throws(() => declareDockerStack(onSockets(), { source: "x" }), (e: unknown) => e instanceof TargetPlanError && e.message.startsWith("backends.pg.servers.pg-1.unixSocket: the docker stack"));
    assert.throws(() => declareKubernetesStack(onSockets(), { source: "x", haproxyReplicas: 2 }), (e: unknown) => e instanceof TargetPlanError && /^backends\.pg\.servers\.pg-1\.unixSocket: the kubernetes stack/.test(e.message));
  });
  it("the plan says the container targets cannot run it, and still shows the local config", () => {
    const plan = makePlan(parseTopology(tcpTopology()), onSockets());
    assert.match(plan.targetSummaries.docker, /^cannot run this topology: backends\.pg\.servers\.pg-1\.unixSocket/);
    assert.match(plan.diffs["haproxy.cfg (target local)"] ?? "", /\+\s+server pg-1 unix@/);
    assert.equal(plan.diffs["haproxy.cfg (target docker)"], undefined);
  });
});

describe("the container stacks run web servers only", () => {
  it("refuse a backend whose servers speak another protocol, naming them, and take it once they are external", () => {
    assert.throws(() => declareDockerStack(parseTopology(dataTopology), { source: "infra/topologies/data.ts" }), (error: unknown) => {
      assert.ok(error instanceof TargetPlanError);
      assert.equal(error.message, "backends.redis.servers.redis-a, backends.redis.servers.redis-b: the docker stack runs web servers only, and these speak redis: mark them external (run them where they run today), or use the local stack");
      return true;
    });
    const external = structuredClone(dataTopology) as any;
    for (const b of external.backends) if (b.name !== "flask_servers") for (const server of b.servers) Object.assign(server, { external: true, address: "10.1.2.3" });
    const kubernetes = declareKubernetesStack(parseTopology(external), { source: "x", haproxyReplicas: 2 });
    assert.match(kubernetes.haproxyConfig, /^frontend tls_services$/m);
    assert.ok(declareDockerStack(parseTopology(external), { source: "x" }).containers.length > 0);
  });
});


describe("readiness: every checked server UP, one where the check finds the primary", () => {
  const topology = parseTopology(dataTopology);
  const up = (backend: string, server: string, status = "UP") => ({ backend, server, status, checkStatus: "L7OK" }) as never;
  const all = topology.backends.filter((b) => b.name !== "redis").flatMap((b) => b.servers.map((s) => up(b.name, s.name)));
  it("ready with the redis replica DOWN", () => assert.deepEqual(notReady(topology, [...all, up("redis", "redis-a"), up("redis", "redis-b", "DOWN")]), []));
  it("not ready with no primary, or two", () => {
    assert.deepEqual(notReady(topology, [...all, up("redis", "redis-a", "DOWN"), up("redis", "redis-b", "DOWN")]), ["no primary UP in redis"]);
    assert.deepEqual(notReady(topology, [...all, up("redis", "redis-a"), up("redis", "redis-b")]), ["2 primaries (redis-a, redis-b) UP in redis"]);
  });
  it("counts one server for the primary backend", () => assert.equal(readyServerCount(topology), all.length + 1));
});
