// Servers the stack does not run: an existing service (here a server this test starts on its own
// loopback address) is balanced, health-checked and routed to, and nothing is started for it.
import assert from "node:assert/strict";
import http from "node:http";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseShowStat, serverStates } from "../haproxy/show-stat.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology } from "../infra/model/schema.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { expectationsFromTopology, localStackAccess, START_CHECKS } from "../infra/runtime/verify.ts";
import { pollUntil } from "../lib/poll.ts";
import { runAssertions } from "../verification/run.ts";
import { startTopologyStack, type TestStack } from "./support/stack.ts";
import { seedTopology } from "./support/topologies.ts";

const EXTERNAL_ADDRESS = "127.0.0.5";

describe("a server the stack does not run", () => {
  let service: http.Server;
  let topology: Topology;
  let running: TestStack;
  let requests = 0;

  beforeAll(async () => {
    service = http.createServer((req, res) => {
      requests++;
      res.writeHead(200, { "content-type": "text/plain" }).end(`existing service: ${req.url}`);
    });
    await new Promise<void>((resolve) => service.listen(0, EXTERNAL_ADDRESS, resolve));
    const input = seedTopology() as any;
    input.backends.push({ name: "billing", healthCheck: { http: { method: "GET", path: "/health", expectStatus: 200 } }, servers: [{ name: "billing-1", address: EXTERNAL_ADDRESS, port: 1, external: true, inter: "500ms", rise: 1 }] });
    input.frontends[0].routes = [{ name: "billing", when: { pathPrefix: "/billing" }, backend: "billing" }];
    const ported = (await withFreePorts(input)) as any;
    ported.backends[1].servers[0].port = (service.address() as { port: number }).port;
    topology = parseTopology(ported);
    running = await startTopologyStack(topology);
  });
  afterAll(async () => {
    await running?.cleanup();
    await new Promise((r) => service.close(r));
  });

  it("nothing is started for it; HAProxy checks it at its own address and routes to it", async () => {
    assert.deepEqual(running.stack.plan.components.filter((c) => c.kind === "web").map((c) => c.name), ["web-a", "web-b"]);
    const up = await pollUntil(async () => {
      const billing = serverStates(parseShowStat(await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show stat"))).find((s) => s.backend === "billing");
      return billing?.status === "UP" ? billing : undefined;
    }, { timeoutMs: 10_000, intervalMs: 100 });
    assert.ok(up, "the external server never came UP");
    const before = requests;
    const answer = await fetch(`http://127.0.0.1:${topology.frontends[0]!.binds[0]!.port}/billing/invoices`);
    assert.deepEqual([answer.status, await answer.text()], [200, "existing service: /billing/invoices"]);
    assert.ok(requests > before);
  });

  it("npm start's checks pass: the route's requests are judged by their status, the default backend in depth", async () => {
    const run = await runAssertions(expectationsFromTopology(topology), localStackAccess(running.stack.plan, () => {}), START_CHECKS);
    assert.deepEqual(run.results.filter((r) => r.verdict !== "pass").map((r) => `${r.assertion}: ${r.measured}`), []);
  });
});
