// The data example (infra/topologies/data.ts) on the real local stack: real Redis, PostgreSQL and
// TLS servers behind HAProxy's TCP frontends. Writes follow a Redis primary switch within the
// check's bound and the old primary's sessions are cut; a query reaches PostgreSQL through
// pgsql-check's backend; one TLS port reaches two services by SNI, each showing its own certificate.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { loadTopologyFile } from "../infra/model/load.ts";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology } from "../infra/model/schema.ts";
import { parseDuration } from "../haproxy/duration.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { DEV_CA_FILE } from "../infra/runtime/certificates.ts";
import { expectationsFromTopology, localCa, localStackAccess, START_CHECKS } from "../infra/runtime/verify.ts";
import { runAssertions } from "../verification/run.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { parseShowStat, serverStates } from "../haproxy/show-stat.ts";
import { probeTcp } from "../verification/probes.ts";
import { eventually, startTopologyStack, type TestStack } from "./support/stack.ts";
import { REPO_ROOT } from "./support/run-cli.ts";
import { redisCommand } from "../lib/redis-command.ts";


describe("the data example on the real local stack", () => {
  let topology: Topology;
  let running: TestStack;
  const frontendPort = (name: string) => topology.frontends.find((f) => f.name === name)!.binds[0]!.port;
  const serverPort = (backend: string, server: string) => topology.backends.find((b) => b.name === backend)!.servers.find((s) => s.name === server)!.port!;

  beforeAll(async () => {
    topology = parseTopology(await withFreePorts(await loadTopologyFile(join(REPO_ROOT, "infra/topologies/data.ts"))));
    running = await startTopologyStack(topology, { sidecar: true });
  });
  afterAll(async () => {
    await running?.cleanup();
  });

  it("passes npm start's checks: each TCP port speaks its protocol, each SNI name reaches its own server, an unknown one is refused", async () => {
    const expectations = expectationsFromTopology(topology, { ca: localCa(running.runDir) });
    const tcp = (expectations.entrypoints ?? []).filter((e) => e.tcp).map((e) => `${e.frontend} ${e.tcp!.probe}${e.tcp!.serverName ? ` ${e.tcp!.serverName}` : ""}`);
    assert.deepEqual(tcp, [
      "redis redis",
      "postgres postgresql",
      "tls_services tls billing.data.test",
      "tls_services tls ledger.data.test",
      `tls_services refused unrouted-${frontendPort("tls_services")}.invalid`,
    ]);
    const run = await runAssertions(expectations, localStackAccess(running.stack.plan, () => {}), START_CHECKS);
    assert.deepEqual(run.results.filter((r) => r.verdict === "fail").map((r) => `${r.assertion}: ${r.measured}`), []);
    assert.equal(run.results.find((r) => r.assertion === "entrypoints")!.verdict, "pass");
  });

  /** "server STATUS" of the redis backend's servers, as HAProxy reports them. */
  const redisStates = async () => serverStates(parseShowStat(await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show stat"))).filter((s) => s.backend === "redis").map((s) => `${s.server} ${s.status.split(" ")[0]}`);

  it("HAProxy holds one Redis server UP, the primary; the replica is DOWN by design, and the sidecar counts one primary", async () => {
    assert.deepEqual(await redisStates(), ["redis-a UP", "redis-b DOWN"]);
    const metrics = `http://127.0.0.1:${topology.services.sidecar.port}/metrics`;
    assert.ok(await eventually(async () => /^haproxy_sidecar_backend_primaries\{proxy="redis"\} 1$/m.test(await (await fetch(metrics)).text()), 10_000), "the sidecar does not count one primary");
  });

  it("a query reaches PostgreSQL through its TCP frontend", () => {
    const out = execFileSync("psql", ["-h", "127.0.0.1", "-p", String(frontendPort("postgres")), "-U", "postgres", "-d", "postgres", "-tAc", "select 41 + 1"], { encoding: "utf8", timeout: 10_000 });
    assert.equal(out.trim(), "42");
  });

  it("each SNI name reaches the server that owns it, whose own certificate the client sees (openssl s_client)", () => {
    const ca = join(running.runDir, DEV_CA_FILE);
    const seen = (name: string) => {
      try {
        const out = execFileSync("openssl", ["s_client", "-connect", `127.0.0.1:${frontendPort("tls_services")}`, "-servername", name, "-CAfile", ca, "-verify_return_error"], { input: "", encoding: "utf8", timeout: 10_000, stdio: ["pipe", "pipe", "pipe"] });
        return /^subject=.*$/m.exec(out)?.[0] ?? "no subject";
      } catch {
        return "no certificate";
      }
    };
    assert.match(seen("billing.data.test"), /CN = billing\.data\.test$/);
    assert.match(seen("ledger.data.test"), /CN = ledger\.data\.test$/);
    assert.match(seen("eu.ledger.data.test"), /CN = ledger\.data\.test$/, "a name under the ledger's wildcard reaches the ledger");
    assert.equal(seen("billing.example.com"), "no certificate", "a name no route takes is refused before any handshake");
  });

  it("the SNI probe fails when the certificate seen is not the name's (a server behind the wrong route)", async () => {
    const wrong = await probeTcp(new URL(`tcp://127.0.0.1:${serverPort("ledger", "ledger-1")}`), { probe: "tls", serverName: "billing.data.test" }, localCa(running.runDir));
    assert.equal(wrong.ok, false);
    assert.match(wrong.saw, /not billing\.data\.test/, wrong.saw);
  });

  it("a TCP backend fails over as an HTTP one does: a TLS server killed, connections keep reaching the other, DOWN and UP within the check's bounds", async () => {
    const expectations = expectationsFromTopology(topology, { ca: localCa(running.runDir) });
    assert.deepEqual(expectations.tcpFailovers?.map((f) => f.backend), ["billing"]);
    const run = await runAssertions(expectations, localStackAccess(running.stack.plan, () => {}), { only: ["tcpFailover"], requests: 0 });
    const result = run.results[0]!;
    assert.equal(result.verdict, "pass", `${result.expected} → ${result.measured}`);
    // Only a connection open to the killed server may fail (TCP has nothing to retry); every later one succeeded.
    assert.match(result.measured, /^DOWN after \d+ ms, UP after \d+ ms; \d+ connections, (none failed|1 failed: open to the server as it died)$/);
  });

  it("a Redis primary switch: writes follow the new primary within the check's bound, the old primary's sessions are cut", async () => {
    const front = frontendPort("redis");
    const [a, b] = [serverPort("redis", "redis-a"), serverPort("redis", "redis-b")];
    assert.equal(await redisCommand(front, "SET before-switch 1"), "+OK");
    assert.equal(await redisCommand(a, "GET before-switch"), "$1", "the write went to the primary, redis-a");

    // A client that stays connected through HAProxy to the primary.
    const held: Socket = connect({ host: "127.0.0.1", port: front });
    const closed = new Promise<number>((resolve) => held.on("close", () => resolve(Date.now())));
    held.on("error", () => {});
    await new Promise<void>((resolve) => held.on("data", () => resolve()).on("connect", () => held.write("PING\r\n")));

    const switchedAt = Date.now();
    assert.equal(await redisCommand(b, "REPLICAOF NO ONE"), "+OK");
    assert.equal(await redisCommand(a, `REPLICAOF 127.0.0.1 ${b}`), "+OK");
    const server = topology.backends.find((x) => x.name === "redis")!.servers[0]!;
    // DOWN after fall failed checks, UP after rise passed ones, one interval of slack each way.
    const boundMs = (server.fall + server.rise + 2) * parseDuration(server.inter) + 1000;
    let refused = 0;
    let acceptedAt: number | undefined;
    while (Date.now() - switchedAt < boundMs + 5000) {
      const answer = await redisCommand(front, "SET after-switch 1").catch((e: Error) => `error ${e.message}`);
      if (answer === "+OK") {
        acceptedAt = Date.now();
        break;
      }
      refused++;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(acceptedAt !== undefined, "no write was accepted through HAProxy after the switch");
    assert.ok(acceptedAt - switchedAt <= boundMs, `the first write was accepted ${acceptedAt - switchedAt} ms after the switch, over the bound of ${boundMs} ms`);
    assert.equal(await redisCommand(b, "GET after-switch"), "$1", "the write went to the new primary, redis-b");
    const closedAt = await Promise.race([closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), boundMs))]);
    assert.ok(closedAt !== undefined, "the session held to the old primary was not cut");
    held.destroy();
    // The writes in between met the demoted primary and were refused (READONLY), never taken in silence.
    assert.ok(refused > 0, "no write was refused: the switch was not observed");
    assert.deepEqual(await redisStates(), ["redis-a DOWN", "redis-b UP"]);
  });
});
