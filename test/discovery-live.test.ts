// Servers found through DNS, on the real components: dnsmasq answering a group's name on loopback,
// HAProxy 2.6's resolvers filling server-template slots, the sidecar and verify following the set.
// npm run scale grows and shrinks the group under traffic: no reload, no failed request.
import { localGroupRuntime } from "../infra/runtime/group-runtime.ts";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseShowProc } from "../haproxy/master-cli.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology } from "../infra/model/schema.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { localTarget } from "../infra/render/targets.ts";
import { readApplied, sha256 } from "../infra/runtime/applied.ts";
import { findFreePortRange, withFreePorts } from "../infra/runtime/ports.ts";
import { holdComponent, recordedProcesses, startLocalStack, type LocalStack } from "../infra/runtime/stack.ts";
import { expectationsFromTopology, localStackAccess, readLocalDiscoveredServers } from "../infra/runtime/verify.ts";
import { groupSlots, removalBoundMs, scaleGroup, trafficBoundMs } from "../infra/gitops/scale.ts";
import { runAssertions } from "../verification/run.ts";
import { Supervisor } from "../infra/runtime/supervisor.ts";
import { readState, updateProcess } from "../infra/runtime/state.ts";
import { parseDuration } from "../haproxy/duration.ts";
import { backgroundTraffic, TrafficClient } from "../verification/traffic.ts";
import { pollUntil } from "../lib/poll.ts";
import { discoveryTopology } from "./support/goldens.ts";
import { assertNoProcessLeft, eventually, makeRunDir, processesMentioning } from "./support/stack.ts";
import { runCli } from "./support/run-cli.ts";

describe("a discovered group on the local stack: dnsmasq, HAProxy's resolvers, npm run scale", () => {
  let stack: LocalStack;
  let topology: Topology;
  let runDir: string;
  let frontendUrl: string;
  const backend = "web_pool";
  const group = () => topology.backends.find((b) => b.name === backend)!.discovery!;
  const admin = () => stack.plan.sockets.admin;
  const slots = async () => groupSlots(await runtimeCommand({ path: admin() }, "show stat"), backend, group());
  const workers = async () => parseShowProc(await runtimeCommand({ path: stack.plan.sockets.master }, "show proc")).workers.map((w) => w.pid);

  beforeAll(async () => {
    const input = discoveryTopology() as any;
    input.services = { ...input.services, sidecar: { port: 9101, pollInterval: "1s" } };
    topology = parseTopology(await withFreePorts(input));
    runDir = makeRunDir();
    stack = await startLocalStack(topology, { runDir, sidecar: true });
    frontendUrl = `http://127.0.0.1:${topology.frontends[0]!.binds[0]!.port}/`;
  }, 90_000);

  afterAll(async () => {
    const pids = [...new Set([...stack.processes.map((p) => p.pid), ...((await recordedProcesses(runDir)) ?? []).map((p) => p.pid)])];
    await stack.stop();
    assertNoProcessLeft(pids, runDir);
    rmSync(runDir, { recursive: true, force: true });
  }, 60_000);

  it("starts the group's instances on their own loopback addresses behind one name, every one UP in a slot", async () => {
    const held = (await slots()).filter((s) => s.address !== "" && s.address !== "-");
    assert.deepEqual(held.map((s) => s.address).sort(), [`127.0.1.1:${group().port}`, `127.0.1.2:${group().port}`]);
    assert.ok(held.every((s) => s.status.startsWith("UP")), JSON.stringify(held));
    assert.equal((await slots()).length, group().maxServers, "HAProxy reserves maxServers slots");
  });

  it("npm run verify's failover and recovery kill the instance behind a slot and start it again: no request lost, the slot DOWN then UP", { timeout: 90_000 }, async () => {
    const discovered = await readLocalDiscoveredServers(stack.plan);
    assert.equal(discovered.length, 2);
    const { results } = await runAssertions(expectationsFromTopology(topology, { discovered }), localStackAccess(stack.plan, () => {}), { only: ["failover", "recovery"], requests: 100 });
    for (const r of results) assert.equal(r.verdict, "pass", `${r.assertion}: ${r.measured}`);
  });

  it("scales 2 → 5 → 1 under bounded traffic: no reload, no failed request, new instances in traffic within the bound, leaving ones drained before they stop", { timeout: 120_000 }, async () => {
    const configBefore = sha256(readFileSync(join(runDir, "haproxy.cfg"), "utf8"));
    const workersBefore = await workers();
    const client = new TrafficClient(frontendUrl, { connections: 4 });
    const traffic = backgroundTraffic(client, { concurrency: 4, maxMs: 90_000, maxRequests: 100_000 });
    const log = () => {};
    try {
      await eventually(async () => traffic.samples().length > 50, 5000);
      const up = await scaleGroup(backend, 5, { runDir, runtime: (running) => localGroupRuntime(runDir, running), log });
      const scaledUpAt = traffic.now();
      assert.deepEqual(up.instances.map((i) => i.instance), ["web-3", "web-4", "web-5"]);
      const bound = trafficBoundMs(group(), topology.defaults.timeouts.check);
      for (const i of up.instances) assert.ok(i.dnsToHaproxyMs <= bound, `${i.instance}: ${i.dnsToHaproxyMs} ms from its record to UP, bound ${bound} ms`);
      // Each new instance answers real requests (X-Served-By is the instance's own name).
      const served = await eventually(async () => ["web-3", "web-4", "web-5"].every((n) => traffic.samples().some((s) => s.t >= scaledUpAt && s.server === n)), 5000, 50);
      assert.ok(served, "every new instance took traffic");

      // The sidecar's series follow the new set of servers (no-maint: the empty slots left out).
      const sidecarUp = await eventually(async () => {
        const text = await (await fetch(`http://127.0.0.1:${topology.services.sidecar.port}/metrics?no-maint`)).text();
        return text.split("\n").filter((l) => l.startsWith(`haproxy_server_status{proxy="${backend}"`) && l.includes('state="UP"') && l.endsWith(" 1")).length === 5;
      }, 5000);
      assert.ok(sidecarUp, "the sidecar reports 5 servers UP in the group");

      // verify reads the group's servers from HAProxy: all five share the traffic.
      const discovered = await readLocalDiscoveredServers(stack.plan, (await readApplied(runDir))!.topology);
      assert.equal(discovered.length, 5);
      const { results } = await runAssertions(expectationsFromTopology(topology, { discovered }), localStackAccess(stack.plan, log), { only: ["distribution"], requests: 200 });
      assert.equal(results[0]!.verdict, "pass", results[0]!.measured);
      assert.equal((results[0]!.measured.match(/web\d+ \d/g) ?? []).length, 5, results[0]!.measured);

      const down = await scaleGroup(backend, 1, { runDir, runtime: (running) => localGroupRuntime(runDir, running), log });
      const scaledDownAt = traffic.now();
      assert.deepEqual(down.instances.map((i) => i.instance), ["web-5", "web-4", "web-3", "web-2"]);
      for (const i of down.instances) {
        assert.ok(i.dnsToHaproxyMs <= removalBoundMs(group()), `${i.instance}: in maintenance ${i.dnsToHaproxyMs} ms after its record left`);
        assert.ok(i.drainMs !== undefined, `${i.instance} was drained before it stopped`);
      }
      for (const name of ["web-2", "web-3", "web-4", "web-5"]) assert.deepEqual(processesMentioning(join(runDir, `${name}.pid`)), [], `${name} stopped`);
      await eventually(async () => traffic.samples().filter((s) => s.t > scaledDownAt).length > 100, 10_000);
      const late = traffic.samples().filter((s) => s.t > scaledDownAt && s.server !== "web-1");
      assert.deepEqual(late.slice(0, 3), [], "after scaling to 1 only web-1 answers");
    } finally {
      await traffic.stop();
      await client.close();
    }
    const samples = traffic.samples();
    const failed = samples.filter((s) => s.error !== undefined || s.status !== 200);
    assert.ok(samples.length > 500, `${samples.length} requests sent`);
    assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${samples.length} requests failed`);
    assert.deepEqual(await workers(), workersBefore, "the same HAProxy worker throughout: no reload");
    assert.equal(sha256(readFileSync(join(runDir, "haproxy.cfg"), "utf8")), configBefore, "haproxy.cfg unchanged");
    assert.equal((await readApplied(runDir))!.topology.backends[0]!.discovery!.instances, 1, "the running count is recorded for apply and drift");
  });

  it("the name server dead for 6 s: HAProxy keeps every discovered server and no request fails; the supervisor starts dnsmasq again, and scaling works again", { timeout: 60_000 }, async () => {
    const supervisor = new Supervisor(runDir, stack.processes, { log: () => {} });
    await supervisor.start();
    const client = new TrafficClient(frontendUrl, { connections: 2 });
    const traffic = backgroundTraffic(client, { concurrency: 2, maxMs: 30_000, maxRequests: 50_000 });
    try {
      const dns = (await readState(runDir))!.processes.find((p) => p.name === "dnsmasq")!;
      const upBefore = (await slots()).filter((s) => s.status.startsWith("UP")).length;
      // Held first, so that the supervisor leaves it dead for a while; then it is the supervisor's again.
      await holdComponent(runDir, "dnsmasq");
      process.kill(dns.pid, "SIGKILL");
      // Longer than HAProxy takes to give up on a resolution (retries × retry timeout) and ask again.
      const r = group().resolver;
      await new Promise((done) => setTimeout(done, r.retries * parseDuration(r.retryTimeout) + 2 * parseDuration(r.resolveEvery) + 1000));
      assert.equal((await slots()).filter((s) => s.status.startsWith("UP")).length, upBefore, "HAProxy kept its discovered servers while DNS was away");
      await updateProcess(runDir, "dnsmasq", (p) => ({ ...p, state: "running" }));
      assert.ok(await eventually(async () => {
        const now = (await readState(runDir))!.processes.find((p) => p.name === "dnsmasq")!;
        return now.pid !== dns.pid && now.state === "running" && now.restarts === dns.restarts + 1;
      }, 15_000), "the supervisor started dnsmasq again");
      const again = await scaleGroup(backend, upBefore + 1, { runDir, runtime: (running) => localGroupRuntime(runDir, running), log: () => {} });
      assert.equal(again.instances.length, 1);
      await scaleGroup(backend, upBefore, { runDir, runtime: (running) => localGroupRuntime(runDir, running), log: () => {} });
    } finally {
      await supervisor.stop();
      await traffic.stop();
      await client.close();
    }
    const failed = traffic.samples().filter((s) => s.error !== undefined || s.status !== 200);
    assert.deepEqual(failed.slice(0, 3), [], `${failed.length} of ${traffic.samples().length} failed while the name server was away`);
  });

  it("npm run drift sees the scaled group in sync with what was recorded, and the topology file's count as not applied", async () => {
    const file = join(runDir, "topology.json");
    writeFileSync(file, JSON.stringify(topology));
    const drift = await runCli("infra/gitops/drift-cli.ts", ["--run-dir", runDir, "--topology", file]);
    assert.match(drift.stdout, /backends\.web_pool\.discovery\.instances: 1 → 2 +\(restart: /);
    assert.doesNotMatch(drift.stdout, /servers\.web\d/, "empty slots are not drift");
  });

  it("npm run scale refuses what it cannot do, naming it: beyond the slots, a backend without a group, a mistyped count", async () => {
    const scale = (...args: string[]) => runCli("infra/gitops/scale-cli.ts", [...args, "--run-dir", runDir]);
    const beyond = await scale(backend, String(group().maxServers + 1));
    assert.equal(beyond.code, 1);
    assert.match(beyond.stderr, new RegExp(`error SCALE_NOT_POSSIBLE: ${group().maxServers + 1} instances of web_pool: use a whole number from 0 to ${group().maxServers}`));
    const unknown = await scale("flask_servers", "2");
    assert.match(unknown.stderr, /error SCALE_NOT_POSSIBLE: backend "flask_servers" has no discovery group to scale; groups: web_pool/);
    const typo = await scale(backend, "two");
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /error USAGE: "two" is not an instance count/);
    assert.doesNotMatch(beyond.stderr + unknown.stderr + typo.stderr, /\n\s+at /, "no stack trace");
  });
});

describe("a group of SRV records: HAProxy takes each server's address and port from DNS", () => {
  const children: ChildProcess[] = [];
  const servers: Server[] = [];
  let runDir: string;

  afterAll(async () => {
    for (const child of children) child.kill("SIGTERM");
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, "exit") : undefined)));
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    rmSync(runDir, { recursive: true, force: true });
  });

  it("fills two slots from two SRV records on different ports, and serves from both", { timeout: 30_000 }, async () => {
    runDir = makeRunDir();
    const taken = new Set<number>();
    const [dnsPort, frontendPort, portA, portB] = [await findFreePortRange(1, taken), await findFreePortRange(1, taken), await findFreePortRange(1, taken), await findFreePortRange(1, taken)];
    for (const [name, address, port] of [["api-a", "127.0.2.1", portA], ["api-b", "127.0.2.2", portB]] as const) {
      const server = createServer((_req, res) => res.writeHead(200, { "x-served-by": name }).end(name));
      await new Promise<void>((r) => server.listen(port, address, r));
      servers.push(server);
    }
    const dnsmasq = spawn("dnsmasq", [
      "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--listen-address=127.0.0.1", "--bind-interfaces", `--port=${dnsPort}`,
      "--host-record=a.api.lb.internal,127.0.2.1", "--host-record=b.api.lb.internal,127.0.2.2",
      `--srv-host=_http._tcp.api.lb.internal,a.api.lb.internal,${portA},0,1`, `--srv-host=_http._tcp.api.lb.internal,b.api.lb.internal,${portB},0,1`,
      `--user=${process.env.USER ?? "root"}`, "--log-facility=-",
    ], { stdio: "ignore" });
    children.push(dnsmasq);
    const input = discoveryTopology() as any;
    input.frontends[0].binds = [{ port: frontendPort }];
    input.backends[0].cookie = undefined;
    input.backends[0].healthCheck = undefined;
    input.backends[0].discovery = { name: "api", dnsName: "_http._tcp.api.lb.internal", record: "SRV", maxServers: 4, inter: "500ms", resolver: { nameservers: [`127.0.0.1:${dnsPort}`] } };
    input.services = {}; // defaults: this test runs HAProxy alone
    const config = renderHaproxyConfig(parseTopology(input), localTarget(runDir));
    writeFileSync(join(runDir, "haproxy.cfg"), config.replace(/^\s+errorfile .*\n/gm, ""));
    const haproxy = spawn("haproxy", ["-db", "-f", join(runDir, "haproxy.cfg")], { stdio: "ignore" });
    children.push(haproxy);
    const socket = join(runDir, "admin.sock");
    const filled = await pollUntil(async () => {
      try {
        const held = groupSlots(await runtimeCommand({ path: socket }, "show stat"), "web_pool", { name: "api" }).filter((s) => s.status.startsWith("UP"));
        return held.length === 2 ? held : undefined;
      } catch {
        return undefined;
      }
    }, { timeoutMs: 15_000, intervalMs: 100 });
    assert.deepEqual(filled?.map((s) => s.address).sort(), [`127.0.2.1:${portA}`, `127.0.2.2:${portB}`]);
    const answers = new Set<string>();
    for (let i = 0; i < 10; i++) answers.add(await (await fetch(`http://127.0.0.1:${frontendPort}/`)).text());
    assert.deepEqual([...answers].sort(), ["api-a", "api-b"]);
  });
});
