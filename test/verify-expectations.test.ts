// What npm run verify expects, derived from the model: each field follows the topology.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { parseTopology } from "../infra/model/parse.ts";
import { expectationsFromTopology } from "../infra/runtime/verify.ts";
import { editedTopology } from "./support/topologies.ts";
import { DEFAULT_EXPECTATIONS } from "./support/expectations.ts";

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

  it("traffic goes to the first plain-HTTP bind; a frontend with only TLS binds is refused, saying why", () => {
    assert.equal(expect((t) => t.frontends[0].binds.unshift({ port: 443, tlsCertificate: "site.pem" })).frontendUrl, "http://127.0.0.1:60000/");
    assert.throws(() => expect((t) => (t.frontends[0].binds = [{ port: 443, tlsCertificate: "site.pem" }])), /frontends.http_front.binds: only TLS binds, and npm run verify sends plain HTTP/);
  });
});
