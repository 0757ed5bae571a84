// The edge example (infra/topologies/edge.ts) on the real local stack, as npm start runs it: it
// starts, passes npm start's own checks (every route's matches and near misses among them), and
// what those checks cannot see is shown here: the cache, the TLS port's routes, the tarpit.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import http from "node:http";
import https from "node:https";
import { afterAll, beforeAll, describe, it } from "vitest";
import { loadTopologyFile } from "../infra/model/load.ts";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology } from "../infra/model/schema.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { expectationsFromTopology, localCa, localStackAccess, START_CHECKS } from "../infra/runtime/verify.ts";
import { runAssertions } from "../verification/run.ts";
import { startTopologyStack, type TestStack } from "./support/stack.ts";
import { REPO_ROOT } from "./support/run-cli.ts";
import { join } from "node:path";

describe("the edge example on the real local stack", () => {
  let topology: Topology;
  let running: TestStack;
  const runDir = () => running.runDir;
  const port = (tls: boolean) => topology.frontends[0]!.binds.find((b) => (b.tlsCertificate !== undefined) === tls)!.port;
  /** One request with its own Host header, over HTTPS when asked (trusting the development CA). */
  const send = (path: string, options: { host?: string; tls?: boolean } = {}) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
      const request = options.tls ? https.request : http.request;
      const req = request({ host: "127.0.0.1", port: port(options.tls ?? false), path, headers: { host: options.host ?? "www.example.com" }, agent: false, ca: localCa(runDir()), servername: "localhost", timeout: 10_000 }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      req.on("timeout", () => req.destroy(new Error("no answer in 10 s"))).on("error", reject).end();
    });

  beforeAll(async () => {
    process.env.LB_EDGE_ADMIN_HASH = execFileSync("openssl", ["passwd", "-6", "edge-admin"], { encoding: "utf8" }).trim();
    topology = parseTopology(await withFreePorts(await loadTopologyFile(join(REPO_ROOT, "infra/topologies/edge.ts"))));
    running = await startTopologyStack(topology);
  });
  afterAll(async () => {
    await running?.cleanup();
    delete process.env.LB_EDGE_ADMIN_HASH;
  });

  it("passes npm start's checks, every route proven by its matches and near misses", async () => {
    const run = await runAssertions(expectationsFromTopology(topology, { ca: localCa(runDir()) }), localStackAccess(running.stack.plan, () => {}), START_CHECKS);
    const failed = run.results.filter((r) => r.verdict !== "pass");
    assert.deepEqual(failed.map((r) => `${r.assertion}: ${r.measured}`), []);
    const routing = run.results.find((r) => r.assertion === "routing")!;
    // 9 of the 10 routes: admin-outside takes only clients outside 127.0.0.0/8, which this machine cannot be.
    assert.match(routing.expected, /over 9 routes answered as the topology says/);
  });

  it("static files: the second answer comes from HAProxy's cache (an Age header), with the backend's Cache-Control", async () => {
    const first = await send("/static/app.css?v=1");
    const second = await send("/static/app.css?v=1");
    assert.deepEqual([first.status, second.status], [200, 200]);
    assert.equal(first.headers.age, undefined);
    assert.ok(second.headers.age !== undefined, "the second answer was not served from the cache");
    assert.equal(second.body, first.body, "a cached answer is the first one, byte for byte");
    assert.equal(second.headers["cache-control"], "public, max-age=300");
  });

  it("the API's versions: the path each server sees after the backends' rewrites", async () => {
    const path = async (target: string, host = "www.example.com") => JSON.parse((await send(target, { host })).body).path;
    assert.deepEqual([await path("/api/users"), await path("/api/v2/users"), await path("/", "api.customer-b.com")], ["/v1/users", "/v2/users", "/"]);
  });

  it("over TLS: the same routes, HSTS on the answers, the customer table", async () => {
    const site = await send("/", { tls: true, host: "shop.customer-a.com" });
    assert.deepEqual([site.status, site.headers["strict-transport-security"], site.headers["x-frame-options"]], [200, "max-age=31536000", "SAMEORIGIN"]);
    const old = await send("/page?a=1", { tls: true, host: "old.example.com" });
    assert.deepEqual([old.status, old.headers.location], [301, "https://www.example.com/page?a=1"]);
  });

  it("a backend with no servers answers its own requests: the retired shop's 410", async () => {
    const answer = await send("/shop/cart");
    assert.deepEqual([answer.status, answer.body, answer.headers["x-content-type-options"]], [410, "The shop has closed: see https://www.example.com/", "nosniff"]);
  });

  it("a scanner's request is held (tarpit) before its refusal", async () => {
    const started = Date.now();
    assert.equal((await send("/wp-login.php")).status, 404);
    assert.ok(Date.now() - started >= 1900, `answered after ${Date.now() - started} ms, not held for timeouts.tarpit (2 s)`);
  });
});
