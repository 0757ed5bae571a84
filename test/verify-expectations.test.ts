// What npm run verify expects, derived from the model: each field follows the topology.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { parseTopology } from "../infra/model/parse.ts";
import { expectationsFromTopology } from "../infra/runtime/verify.ts";
import { editedTopology } from "./support/topologies.ts";
import { DEFAULT_EXPECTATIONS } from "./support/expectations.ts";
import { topology as dataTopology } from "../infra/topologies/data.ts";

const expect = (edit: (t: any) => void = () => {}) => expectationsFromTopology(parseTopology(editedTopology(edit)));

describe("expectationsFromTopology", () => {
  it("the default topology: first frontend, its backend, cookie, lossless failover, the model's check timings", () => {
    assert.deepEqual(expect(), DEFAULT_EXPECTATIONS);
  });

  const lossless: [string, (t: any) => void, boolean][] = [
    ["no retries", (t) => (t.defaults.retries = 0), false],
    ["no redispatch", (t) => (t.defaults.redispatch = false), false],
    ["retry-on without conn-failure", (t) => (t.defaults.retryOn = ["empty-response"]), false],
    ["retry-on all-retryable-errors", (t) => (t.defaults.retryOn = ["all-retryable-errors"]), true],
    ["a backend override of retries 0 wins over the defaults", (t) => (t.backends[0].retries = 0), false],
    ["a backend override restoring redispatch wins over the defaults", (t) => ((t.defaults.redispatch = false), (t.backends[0].redispatch = true)), true],
  ];
  for (const [name, edit, expected] of lossless) it(`lossless failover: ${name} → ${expected}`, () => assert.equal(expect(edit).lossless, expected));

  it("without timeout check, a check may take as long as inter", () => {
    assert.equal(expect((t) => delete t.defaults.timeouts.check).checkTimeoutMs, 500);
  });

  it("backup and disabled servers are not active; weights and timings come from each server", () => {
    const e = expect((t) => Object.assign(t.backends[0].servers[1], { backup: true, weight: 7, inter: "1s", fall: 4, rise: 6 }));
    assert.deepEqual(e.servers[1], { name: "web-b", weight: 7, active: false, interMs: 1000, fall: 4, rise: 6 });
  });

  it("no persistence in the model, no cookie to expect", () => {
    assert.equal(expect((t) => {
      delete t.backends[0].cookie;
      for (const s of t.backends[0].servers) delete s.cookie;
    }).cookie, undefined);
  });

  it("traffic goes to the first plain-HTTP bind; to the TLS bind when there is no plain one or plain requests are redirected", () => {
    const tls = { port: 8443, tlsCertificate: "site.pem" };
    assert.equal(expect((t) => t.frontends[0].binds.unshift(tls)).frontendUrl, "http://127.0.0.1:60000/");
    assert.equal(expect((t) => (t.frontends[0].binds = [tls])).frontendUrl, "https://127.0.0.1:8443/");
    assert.equal(expect((t) => (t.frontends[0].binds.push(tls), (t.frontends[0].httpsRedirect = true))).frontendUrl, "https://127.0.0.1:8443/");
  });

  it("every port of every frontend is an entry point: TLS ones with the minimum version and ALPN, plain ones redirected when asked, HSTS", () => {
    const e = expect((t) => {
      t.global.tls = { minVersion: "TLSv1.3" };
      t.frontends[0].binds.push({ port: 8443, tlsCertificate: "site.pem", http2: false });
      t.frontends[0].httpsRedirect = true;
      t.frontends[0].hsts = { maxAgeSeconds: 60, preload: true };
      t.frontends.push({ name: "api", binds: [{ port: 7000 }], defaultBackend: "flask_servers" });
      t.backends[0].servers[1].disabled = true;
    });
    assert.deepEqual(e.entrypoints, [
      { frontend: "http_front", url: "http://127.0.0.1:60000/", servers: [], redirectTo: "https://127.0.0.1:8443/" },
      { frontend: "http_front", url: "http://127.0.0.1:60001/", servers: [], redirectTo: "https://127.0.0.1:8443/" },
      { frontend: "http_front", url: "https://127.0.0.1:8443/", servers: ["web-a"], tls: { minVersion: "TLSv1.3", http2: false }, hsts: "max-age=60; preload" },
      { frontend: "api", url: "http://127.0.0.1:7000/", servers: ["web-a"] },
    ]);
  });

  it("a routed frontend: each port expects what its routes do with \"/\" there, and the backend in depth is where \"/\" goes", () => {
    const e = expect((t) => {
      t.backends.push({ name: "site", servers: [{ name: "web-c", address: "web-c", port: 5003 }] });
      t.frontends[0].routes = [
        { when: { path: "/" }, backend: "site" },
        { when: { method: "POST" }, deny: {} },
      ];
      t.frontends.push({ name: "edge", binds: [{ port: 7000 }, { port: 7001 }], routes: [{ when: { path: "/" }, redirect: { location: "https://example.com/", code: 308 } }, { respond: { status: 404, body: "none" } }] });
    });
    assert.equal(e.backend, "site");
    assert.deepEqual(e.entrypoints, [
      { frontend: "http_front", url: "http://127.0.0.1:60000/", servers: ["web-c"] },
      { frontend: "http_front", url: "http://127.0.0.1:60001/", servers: ["web-c"] },
      { frontend: "edge", url: "http://127.0.0.1:7000/", servers: [], redirectTo: "https://example.com/", redirectStatus: 308 },
      { frontend: "edge", url: "http://127.0.0.1:7001/", servers: [], redirectTo: "https://example.com/", redirectStatus: 308 },
    ]);
    assert.deepEqual(e.routing?.map((r) => `${r.kind} ${r.method} ${r.host}${r.target} → ${r.status} ${r.servers?.join(",") ?? r.location ?? r.body ?? ""}`), [
      "match GET verify.invalid/ → 200 web-c",
      "near miss GET verify.invalid/-not → 200 web-a,web-b",
      "match POST verify.invalid/verify-probe → 403 ",
      "near miss GET verify.invalid/verify-probe → 200 web-a,web-b",
      "match GET verify.invalid/ → 308 https://example.com/",
      "near miss GET verify.invalid/-not → 404 none",
      "match GET verify.invalid/verify-probe → 404 none",
    ]);
  });

  it("a backend of servers the stack does not run: a 200 from any of them, and the assertions that tell servers apart skip with why", () => {
    const e = expect((t) => (t.backends[0].servers[1] = { ...t.backends[0].servers[1], address: "10.1.2.3", external: true }));
    assert.equal(e.unattributable, 'backend flask_servers has servers the stack does not run (web-b): their answers do not say which server gave them');
    assert.deepEqual(e.entrypoints?.[0], { frontend: "http_front", url: "http://127.0.0.1:60000/", servers: [], anyServer: true });
  });

  it("security: the rate limit with its Retry-After, an address outside the allowlist, the cookie's attributes", () => {
    const e = expect((t) => {
      t.frontends[0].rateLimit = { requests: 50, window: "1500ms" };
      t.backends[0].cookie = { ...t.backends[0].cookie, secure: true, sameSite: "None" };
    });
    assert.deepEqual(e.security, { rateLimit: { requests: 50, retryAfterSeconds: 2 }, cookie: { name: "SERVER", secure: true, httponly: true, sameSite: "None" } });
    assert.deepEqual(expect((t) => (t.frontends[0].allowlist = ["127.0.0.0/9"])).security?.allowlist, { outsideSource: "127.255.255.254" });
    assert.deepEqual(expect((t) => (t.frontends[0].allowlist = ["127.0.0.0/8"])).security?.allowlist, { untestable: "every loopback address is allowed, so no client outside the allowlist can be made on this machine" });
  });

  it("the CA given is the one HTTPS answers must chain to", () => {
    assert.equal(expectationsFromTopology(parseTopology(editedTopology(() => {})), { ca: "PEM" }).ca, "PEM");
  });
});

describe("tcpFailover: every TCP backend the stack can fail over, once each", () => {
  it("the data example: billing (two TLS servers); not Redis (its check finds the primary), nor one-server backends", () => {
    assert.deepEqual(expectationsFromTopology(parseTopology(dataTopology)).tcpFailovers?.map((f) => [f.backend, f.victim]), [["billing", "billing-1"]]);
  });
  it("a second backend with two servers the stack runs is failed over too, after the first", () => {
    const two: any = structuredClone(dataTopology);
    two.backends.find((b: any) => b.name === "ledger").servers.push({ name: "ledger-2", address: "ledger-2", port: 7204 });
    assert.deepEqual(expectationsFromTopology(parseTopology(two)).tcpFailovers?.map((f) => f.backend), ["billing", "ledger"]);
  });
  it("none where no TCP frontend reaches such a backend: the assertion is skipped", () => {
    assert.equal(expectationsFromTopology(parseTopology(editedTopology(() => {}))).tcpFailovers, undefined);
  });
});
