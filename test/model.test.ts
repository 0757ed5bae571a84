// The schema: what a pull request may say, and exactly what its author reads when it is wrong.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { parseTopology } from "../infra/model/parse.ts";
import { durationMs } from "../haproxy/duration.ts";
import { editedTopology, seedTopology, topologyProblems } from "./support/topologies.ts";

const problemsOf = topologyProblems;

describe("defaults", () => {
  it("a topology with only the required fields resolves to this, every default filled in", () => {
    const minimal = {
      name: "minimal",
      frontends: [{ name: "web", binds: [{ port: 80 }], defaultBackend: "app" }],
      backends: [{ name: "app", servers: [{ name: "a", address: "10.0.0.1", port: 8080 }] }],
    };
    assert.deepEqual(parseTopology(minimal), {
      name: "minimal",
      global: {
        maxconn: 4096,
        logs: [{ target: "stdout", format: "raw", facility: "local0", transport: "udp" }],
        statsSocket: { path: "/var/lib/haproxy/admin.sock", mode: "660", level: "admin" },
        masterSocket: "/var/lib/haproxy/master.sock",
        hardStopAfter: "30s",
        closeSpreadTime: "off",
        maxRequestHeaders: 100,
        bufferSize: 16384,
        tls: { minVersion: "TLSv1.2" },
      },
      defaults: {
        mode: "http",
        httplog: true,
        dontlognull: true,
        timeouts: { connect: "5s", client: "10s", server: "10s", httpRequest: "5s" },
        retries: 3,
        redispatch: true,
        idleCloseOnResponse: true,
        maxRequestBodyBytes: 10485760,
        retryOn: ["conn-failure", "empty-response", "response-timeout"],
      },
      frontends: [{ name: "web", binds: [{ address: "*", dualStack: false, port: 80, http2: true, strictSni: false }], defaultBackend: "app", inspectDelay: "5s", tcpKeepAlive: false, errorPages: [], httpsRedirect: false, conditions: {}, routes: [], routeTables: [], requestRules: [], responseRules: [], afterResponseRules: [], rateLimits: [] }],
      userlists: [],
      certificates: [],
      lua: { scripts: [] },
      backends: [{
        name: "app",
        balance: "roundrobin",
        servers: [{ name: "a", address: "10.0.0.1", port: 8080, check: true, inter: "2s", fall: 3, rise: 2, weight: 1, backup: false, external: false, disabled: false }],
        requestRules: [],
        responseRules: [],
        afterResponseRules: [],
        shutdownSessionsOnDown: false,
        shutdownBackupSessionsOnUp: false,
        tcpKeepAlive: false,
      }],
      monitoring: { address: "*", port: 8404, statsUri: "/stats", statsRefresh: "10s", metricsPath: "/metrics", statsOnPublicAddress: false },
      services: {
        sidecar: { port: 9101, pollInterval: "2s", distributionWindow: "30s" },
        prometheus: { port: 9090, scrapeInterval: "5s", evaluationInterval: "5s", runbookUrl: "docs/operations/alerts.md" },
        alertmanager: { port: 9093, groupWait: "10s", groupInterval: "1m", repeatInterval: "4h", webhooks: [] },
        grafana: { port: 3000 },
        dns: { port: 8053 },
      },
    });
  });

  it("the default topology is valid, and what it spells out equals what parsing keeps", () => {
    const input = seedTopology();
    const topology = parseTopology(input);
    // Every field the file sets survives parsing unchanged (parsing only adds defaults).
    const sameWhereSet = (given: unknown, parsed: unknown): boolean =>
      given !== null && typeof given === "object"
        ? Object.entries(given).every(([k, v]) => sameWhereSet(v, (parsed as Record<string, unknown>)[k]))
        : Object.is(given, parsed);
    assert.ok(sameWhereSet(input, topology));
    assert.deepEqual(parseTopology(JSON.parse(JSON.stringify(topology))), topology, "the resolved topology parses to itself");
  });
});

describe("invalid topologies are refused with a message naming the field and what to do", () => {
  const table: [string, (t: any) => void, string[]][] = [
    ["the seed's bug: a default backend that does not exist", (t) => (t.frontends[0].defaultBackend = "backend_servers"), [
      'frontends.http_front.defaultBackend: "backend_servers" is not a backend; known: flask_servers',
    ]],
    ["a duplicate server", (t) => (t.backends[0].servers[1].name = "web-a"), [
      'backends.flask_servers.servers.web-a.name: "web-a" is used twice among the servers of backend "flask_servers": names must be unique',
    ]],
    ["a duplicate backend", (t) => t.backends.push(structuredClone(t.backends[0])), [
      'backends.flask_servers.name: "flask_servers" is used twice among backends: names must be unique',
    ]],
    ["a port out of range", (t) => (t.backends[0].servers[0].port = 70000), [
      "backends.flask_servers.servers.web-a.port: 70000 is not a port: use a whole number from 1 to 65535",
    ]],
    ["a port that is not a whole number", (t) => (t.frontends[0].binds[0].port = 80.5), [
      "frontends.http_front.binds[0].port: 80.5 is not a port: use a whole number from 1 to 65535",
    ]],
    ["an empty backend", (t) => (t.backends[0].servers = []), [
      "backends.flask_servers.servers: backend \"flask_servers\" has no server: list servers, add a discovery group, or give it an answer",
    ]],
    ["cookie persistence without server cookies", (t) => delete t.backends[0].servers[0].cookie, [
      'backends.flask_servers.servers.web-a.cookie: backend "flask_servers" uses cookie persistence, so every server needs a cookie value: add cookie: "web-a"',
    ]],
    ["a server cookie without cookie persistence", (t) => delete t.backends[0].cookie, [
      'backends.flask_servers.servers.web-a.cookie: backend "flask_servers" has no cookie persistence, so this cookie would never be set: add cookie settings to the backend or remove it',
      'backends.flask_servers.servers.web-b.cookie: backend "flask_servers" has no cookie persistence, so this cookie would never be set: add cookie settings to the backend or remove it',
    ]],
    ["a name with a newline", (t) => (t.backends[0].name = "flask\nservers"), [
      'backends[0].name: "flask\\nservers" is not a valid name: use 1 to 64 letters, digits or "_.:-" (no spaces, "#" or line breaks)',
      'frontends.http_front.defaultBackend: "flask_servers" is not a backend; known: (none)',
    ]],
    ["an HTTPS redirect and HSTS on a frontend without a TLS bind", (t) => ((t.frontends[0].httpsRedirect = true), (t.frontends[0].hsts = {})), [
      'frontends.http_front.httpsRedirect: frontend "http_front" has no TLS bind to redirect to: add a bind with tlsCertificate',
      'frontends.http_front.hsts: frontend "http_front" has no TLS bind to send HSTS from: add a bind with tlsCertificate',
    ]],
    ["TCP log shipping to stdout", (t) => (t.global.logs = [{ target: "stdout", transport: "tcp" }]), [
      'global.logs[0].transport: stdout is not a network target: transport applies to a syslog "host:port"',
    ]],
    ["a SameSite=None cookie that is not Secure", (t) => (t.backends[0].cookie.sameSite = "None"), [
      'backends.flask_servers.cookie.sameSite: browsers drop a SameSite=None cookie that is not Secure: set secure: true (and serve the frontend over TLS) or use "Lax"',
    ]],
    ["a TLS version HAProxy's ssl-min-ver does not take", (t) => (t.global.tls = { minVersion: "TLSv1.1" }), [
      'global.tls.minVersion: "TLSv1.1" is not one of TLSv1.2, TLSv1.3',
    ]],
    ["balance hdr without its header", (t) => (t.backends[0].balance = "hdr"), [
      "backends.flask_servers.balanceKey: balance hdr picks the server by a header: name it in balanceKey",
    ]],
    ["a hash type where nothing is hashed", (t) => (t.backends[0].hashType = "consistent"), [
      'backends.flask_servers.hashType: balance "roundrobin" hashes nothing: hashType applies to source, uri, url_param, hdr',
    ]],
    ["a name with a space", (t) => (t.frontends[0].name = "http front"), [
      'frontends[0].name: "http front" is not a valid name: use 1 to 64 letters, digits or "_.:-" (no spaces, "#" or line breaks)',
    ]],
    ["a bind range that runs backwards", (t) => (t.frontends[0].binds[0].lastPort = 59999), [
      "frontends.http_front.binds[0].lastPort: the range 60000-59999 runs backwards: lastPort must be at least port",
    ]],
    ["a directive smuggled into a health-check path", (t) => (t.backends[0].healthCheck.http.path = "/status\n    server evil 10.0.0.1:80"), [
      'backends.flask_servers.healthCheck.http.path: "/status\\n    server evil 10.0.0.1:80" is not a request path: start with "/" and use no spaces, quotes or "#"',
    ]],
    ["a comment smuggled into an address", (t) => (t.backends[0].servers[0].address = "web-a#x"), [
      'backends.flask_servers.servers.web-a.address: "web-a#x" is not a server address: use a host name, an IPv4 or IPv6 address, or "${VARIABLE}"',
    ]],
    ["an environment variable's reference that is not one alone, for a server the stack runs", (t) => { t.backends[0].servers[0].address = "${APP_HOST}x"; t.backends[0].servers[1].address = "${APP_HOST}"; }, [
      'backends.flask_servers.servers.web-a.address: "${APP_HOST}x" is not a server address: use a host name, an IPv4 or IPv6 address, or "${VARIABLE}"',
      'backends.flask_servers.servers.web-b.address: the stacks name a server they run after its address (a container, a Kubernetes Service), which "${APP_HOST}" cannot be: give a host name of letters, digits, "." and "-", or set external: true for a server that already runs',
    ]],
    ["a directive smuggled into an environment variable's reference, a captured header and a peer's name", (t) => {
      Object.assign(t.backends[0].servers[0], { address: "${APP}\n    server evil 10.0.0.1:80", external: true });
      t.frontends[0].logCaptures = { requestHeaders: [{ name: "Host len 8\n    http-request deny", length: 8 }] };
      t.peers = { localPeer: "lb1\n    peer evil 10.0.0.9:1", port: 10000 };
    }, [
      'frontends.http_front.logCaptures.requestHeaders[0].name: "Host len 8\\n    http-request deny" is not a header name: use 1 to 64 letters, digits or "-"',
      'backends.flask_servers.servers.web-a.address: "${APP}\\n    server evil 10.0.0.1:80" is not a server address: use a host name, an IPv4 or IPv6 address, or "${VARIABLE}"',
      'peers.localPeer: "lb1\\n    peer evil 10.0.0.9:1" is not a valid name: use 1 to 64 letters, digits or "_.:-" (no spaces, "#" or line breaks)',
    ]],
    ["a second argument smuggled into a socket path", (t) => (t.global.statsSocket.path = "/run/a.sock level admin"), [
      'global.statsSocket.path: "/run/a.sock level admin" is not a usable path: use an absolute path of letters, digits and "._/-"',
    ]],
    ["a duration without a unit", (t) => (t.defaults.timeouts.connect = "5"), [
      'defaults.timeouts.connect: "5" is not a duration: use a positive whole number with a unit (us, ms, s, m, h, d), at most 24d, e.g. "500ms" or "5s"',
    ]],
    ["a duration beyond HAProxy's timers", (t) => (t.backends[0].servers[0].inter = "25d"), [
      'backends.flask_servers.servers.web-a.inter: "25d" is not a duration: use a positive whole number with a unit (us, ms, s, m, h, d), at most 24d, e.g. "500ms" or "5s"',
    ]],
    ["a misspelt field", (t) => (t.frontends[0].defaultBackent = "x"), [
      'frontends.http_front: Unrecognized key: "defaultBackent": remove it or check its spelling',
    ]],
    ["two listeners on one port", (t) => (t.monitoring.port = 60001), [
      'monitoring.port: port 60001 is already used by frontend "http_front": give each listener its own ports',
    ]],
    ["the local peer on a frontend's port", (t) => (t.peers = { localPeer: "lb1", port: 60000 }), [
      'peers.port: port 60000 is already used by frontend "http_front": give each listener its own ports',
    ]],
    ["a remote peer named like this load balancer", (t) => (t.peers = { localPeer: "lb1", port: 10000, remotes: [{ name: "lb2", address: "10.0.0.2", port: 10000 }, { name: "lb1", address: "10.0.0.3", port: 10000 }] }), [
      'peers.remotes.lb1.name: "lb1" is used twice among the peers (localPeer and remotes): names must be unique',
    ]],
    ["a remote peer everywhere, and one without a port", (t) => (t.peers = { localPeer: "lb1", port: 10000, remotes: [{ name: "lb2", address: "*", port: 10000 }, { name: "lb3", address: "10.0.0.3" }] }), [
      'peers.remotes.lb2.address: "*" is not an IP address: HAProxy resolves a peer\'s host name once, as it starts, and does not start when it does not resolve; give the peer\'s IPv4 or IPv6 address',
      'peers.remotes.lb3.port: undefined is not a port: use a whole number from 1 to 65535',
    ]],
    ["a weight above HAProxy's maximum", (t) => (t.backends[0].servers[0].weight = 300), [
      "backends.flask_servers.servers.web-a.weight: 300 is not a weight: use a whole number from 0 to 256",
    ]],
    ["no frontend", (t) => (t.frontends = []), ["frontends: a topology needs at least one frontend"]],
    ["only backup servers", (t) => t.backends[0].servers.forEach((s: any) => (s.backup = true)), [
      'backends.flask_servers.servers: backend "flask_servers" has no active server (all are backup or disabled): it would serve only errors',
    ]],
    ["an allowlist network that is not one", (t) => (t.frontends[0].allowlist = ["10.0.0.0/33"]), [
      'frontends.http_front.allowlist[0]: "10.0.0.0/33" is not an IPv4 address or network: use e.g. "10.0.0.0/8" or "192.168.1.10"',
    ]],
    ["an error page outside its directory", (t) => (t.frontends[0].errorPages = [{ status: 503, file: "../../etc/passwd" }]), [
      'frontends.http_front.errorPages[0].file: "../../etc/passwd" is not a file name: use letters, digits and "._-", no directories',
    ]],
    ["HTTP features in mode tcp", (t) => (t.defaults.mode = "tcp"), [
      'frontends.http_front.forwardfor: X-Forwarded-For needs HTTP, but the frontend is in mode tcp: remove it or use mode "http"',
      'frontends.http_front.errorPages: an error page needs HTTP, but the frontend is in mode tcp: remove it or use mode "http"',
      'backends.flask_servers.cookie: cookie persistence needs HTTP, but the backend is in mode tcp: remove it or use mode "http"',
    ]],
    ["the monitoring name taken by a frontend", (t) => (t.frontends[0].name = "monitoring"), [
      'frontends.monitoring.name: "monitoring" is reserved for the monitoring listener: pick another name',
    ]],
    ["a webhook URL written where its environment variable's name goes", (t) => (t.services.alertmanager = { webhooks: [{ name: "ops", urlFromEnv: "https://hooks.example/T0" }] }), [
      'services.alertmanager.webhooks.ops.urlFromEnv: "https://hooks.example/T0" is not an environment variable name: use capitals, digits and "_" (e.g. "LB_ALERT_WEBHOOK_URL")',
    ]],
    ["two webhooks of one name", (t) => (t.services.alertmanager = { webhooks: [{ name: "ops", urlFromEnv: "A" }, { name: "ops", urlFromEnv: "B" }] }), [
      'services.alertmanager.webhooks.ops.name: "ops" is used twice among the alert webhooks: names must be unique',
    ]],
    ["Alertmanager on Prometheus's port", (t) => (t.services.alertmanager = { port: 9090 }), [
      "services.alertmanager.port: port 9090 is already used by the prometheus: give each listener its own ports",
    ]],
    ["a discovered group of A records without a port", (t) => (t.backends[0].discovery = { name: "web", dnsName: "web.lb.internal", maxServers: 5 }), [
      "backends.flask_servers.discovery.port: A records carry no port: give the group's port (or use SRV records)",
    ]],
    ["a discovered group of AAAA records without a port", (t) => (t.backends[0].discovery = { name: "web", dnsName: "web.lb.internal", record: "AAAA", maxServers: 5 }), [
      "backends.flask_servers.discovery.port: AAAA records carry no port: give the group's port (or use SRV records)",
    ]],
    ["an SRV group with a port", (t) => (t.backends[0].discovery = { name: "web", dnsName: "_http._tcp.web.lb.internal", record: "SRV", port: 80, maxServers: 5 }), [
      "backends.flask_servers.discovery.port: SRV records carry each server's port: remove port",
    ]],
    ["an SRV group named like a host", (t) => (t.backends[0].discovery = { name: "web", dnsName: "web.lb.internal", record: "SRV", maxServers: 5 }), [
      'backends.flask_servers.discovery.dnsName: "web.lb.internal" is not an SRV name: SRV records are looked up as "_service._proto.name", e.g. "_http._tcp.web.lb.internal"',
    ]],
    ["more instances than slots", (t) => (t.backends[0].discovery = { name: "web", dnsName: "web.lb.internal", port: 80, maxServers: 2, instances: 3 }), [
      "backends.flask_servers.discovery.instances: 3 instances do not fit in maxServers 2: HAProxy would leave 1 of them without traffic",
    ]],
    ["a listed server named like a slot", (t) => (t.backends[0].discovery = { name: "web-", dnsName: "web.lb.internal", port: 80, maxServers: 2, instances: 1 }, t.backends[0].servers[0].name = "web-1"), [
      'backends.flask_servers.servers.web-1.name: "web-1" is also a slot of discovery group "web-": rename the server or the group',
    ]],
    ["a directive smuggled into a DNS name", (t) => (t.backends[0].discovery = { name: "web", dnsName: "web.lb.internal:80 backup", port: 80, maxServers: 2 }), [
      'backends.flask_servers.discovery.dnsName: "web.lb.internal:80 backup" is not a DNS name: use labels of letters, digits and "-" separated by "." (an SRV name starts with "_service._proto.")',
    ]],
    ["a group name Kubernetes would refuse", (t) => (t.backends[0].discovery = { name: "Web_Pool", dnsName: "web.lb.internal", port: 80, maxServers: 2 }), [
      'backends.flask_servers.discovery.name: "Web_Pool" is not a group name: use 1 to 41 lower-case letters, digits or "-", starting with a letter (it names containers and Kubernetes objects)',
    ]],
    ["a name server without its port", (t) => (t.backends[0].discovery = { name: "web", dnsName: "web.lb.internal", port: 80, maxServers: 2, resolver: { nameservers: ["10.0.0.2"] } }), [
      'backends.flask_servers.discovery.resolver.nameservers[0]: "10.0.0.2" is not a name server: use "address:port", e.g. "10.0.0.2:53"',
    ]],
    ["more slots than the model allows", (t) => (t.backends[0].discovery = { name: "web", dnsName: "web.lb.internal", port: 80, maxServers: 20000 }), [
      "backends.flask_servers.discovery.maxServers: 20000 is not a server count: use a whole number from 1 to 10000",
    ]],
  ];
  for (const [name, edit, expected] of table) {
    it(name, () => assert.deepEqual(problemsOf(editedTopology(edit)), expected));
  }

  it("reports every problem at once, not just the first", () => {
    const problems = problemsOf(editedTopology((t) => {
      t.frontends[0].defaultBackend = "nope";
      t.backends[0].servers[0].port = -1;
      t.defaults.timeouts.client = "forever";
    }));
    assert.equal(problems.length, 3, problems.join("\n"));
  });

  it("refuses what is not a topology at all", () => {
    assert.deepEqual(problemsOf(null), ["(topology): Invalid input: expected object, received null"]);
  });
});

describe("durations", () => {
  const table: [string, number | undefined][] = [["500ms", 500], ["5s", 5000], ["2m", 120_000], ["1d", 86_400_000], ["100us", 0.1], ["5", undefined], ["s", undefined], ["-1s", undefined]];
  for (const [text, ms] of table) it(`${JSON.stringify(text)} is ${ms} ms`, () => assert.equal(durationMs(text), ms));
});
