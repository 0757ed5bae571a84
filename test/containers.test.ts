// The CDKTF Docker stack deployed for real on this machine's podman by npm run containers, and
// checked with traffic: every container healthy, requests reaching web-a and web-b by name, the
// stats socket shared with the sidecar as the stack declares, Prometheus scraping the sidecar by
// container name, a web container stopped under traffic and started again, and down leaving nothing.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology } from "../infra/model/schema.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { engineUnavailableReason, startEngineService, type EngineService } from "../infra/containers/engine-service.ts";
import { hostAdminSocket, STACK_LABEL } from "../infra/containers/deploy.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { field, parseShowStat, serverStates } from "../haproxy/show-stat.ts";
import { backgroundTraffic, TrafficClient } from "../verification/traffic.ts";
import { eventually, processesMentioning } from "./support/stack.ts";
import { runCli } from "./support/run-cli.ts";
import { seedTopology } from "./support/topologies.ts";

const CLI = "infra/containers/cli.ts";
const unavailable = engineUnavailableReason();

describe.skipIf(unavailable !== undefined)(`the CDKTF stack on podman (npm run containers)${unavailable ? `: skipped, ${unavailable}` : ""}`, () => {
  const scratch = mkdtempSync(join(tmpdir(), "lb-containers-"));
  const stateDir = join(scratch, "state");
  const topologyFile = join(scratch, "topology.json");
  let topology: Topology;
  let engine: EngineService;
  const frontend = () => `http://127.0.0.1:${topology.frontends[0]!.binds[0]!.port}/`;
  const admin = async (command: string) => runtimeCommand({ path: await hostAdminSocket(engine.client, topology) }, command, { timeoutMs: 2000 });
  const status = async (server: string) => serverStates(parseShowStat(await admin("show stat"))).find((s) => s.server === server)?.status;
  const weight = async (server: string) => Number(field(parseShowStat(await admin("show stat")).rows.find((r) => r.proxy === "flask_servers" && r.name === server)!, "weight"));

  beforeAll(async () => {
    // Its own name (networks, volumes, images) and free ports: a user's stack or local run is not touched.
    const input = seedTopology() as any;
    input.name = "lb-containers-test";
    // A route table whose hosts go to a backend that answers itself: its entries change at runtime (a test below).
    input.backends.push({ name: "parked", answer: { respond: { status: 200, body: "parked domain" } } });
    input.frontends[0].routes = [{ name: "sites", table: "sites" }];
    input.frontends[0].routeTables = [{ name: "sites", entries: [{ host: "a.example.com", backend: "parked" }] }];
    topology = parseTopology(await withFreePorts(input));
    writeFileSync(topologyFile, JSON.stringify(topology));
    const up = await runCli(CLI, ["up", "--topology", topologyFile, "--state-dir", stateDir], { timeoutMs: 600_000 });
    assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
    assert.match(up.stderr, /grafana left out: grafana\/grafana:10\.4\.2 cannot be pulled here and has no Debian package/);
    for (const name of ["web-a", "web-b", "apply-agent", "haproxy", "sidecar", "prometheus", "alertmanager"]) assert.match(up.stdout, new RegExp(`^${name} +running +healthy `, "m"), up.stdout);
    engine = await startEngineService(join(scratch, "inspect"));
  }, 660_000);

  afterAll(async () => {
    await engine?.stop();
    // down runs in its own test; this is for a failed run, so that nothing stays behind.
    await runCli(CLI, ["down", "--topology", topologyFile, "--state-dir", stateDir], { timeoutMs: 120_000 });
    rmSync(scratch, { recursive: true, force: true });
  }, 180_000);

  it("requests through the published frontend port reach web-a and web-b, which HAProxy found by name", async () => {
    const seen = new Set<string>();
    const client = new TrafficClient(frontend(), { connections: 2 });
    try {
      for (let i = 0; i < 20; i++) seen.add((await client.get()).server ?? "none");
    } finally {
      await client.close();
    }
    assert.deepEqual([...seen].sort(), ["web-a", "web-b"]);
  });

  it("the stats socket is in the shared volume with the declared mode, and the sidecar reads it as non-root in HAProxy's group only", async () => {
    const socket = statSync(await hostAdminSocket(engine.client, topology));
    assert.ok(socket.isSocket());
    assert.equal(socket.mode & 0o777, 0o660);
    assert.equal(socket.gid, 99, "HAProxy's group (the image's haproxy user, 99)");
    const sidecar = await engine.client.call<{ Config: { User: string }; HostConfig: { GroupAdd: string[] } }>("GET", "/v1.41/containers/sidecar/json");
    assert.equal(sidecar.Config.User, "node");
    assert.deepEqual(sidecar.HostConfig.GroupAdd, ["99"]);
    const metrics = await (await fetch(`http://127.0.0.1:${topology.services.sidecar.port}/metrics`)).text();
    assert.match(metrics, /^haproxy_sidecar_poll_success 1$/m);
  });

  it("Prometheus, in its container, scrapes the sidecar by container name", async () => {
    const targets = async () => ((await (await fetch(`http://127.0.0.1:${topology.services.prometheus.port}/api/v1/targets`)).json()) as { data: { activeTargets: { labels: { job: string; instance: string }; health: string }[] } }).data.activeTargets;
    assert.ok(await eventually(async () => (await targets()).some((t) => t.labels.job === "haproxy" && t.labels.instance === `sidecar:${topology.services.sidecar.port}` && t.health === "up"), 30_000), JSON.stringify(await targets()));
  });

  it("web-a's container stopped under traffic: DOWN, 0 failed requests; started again at a new address: HAProxy resolves it again and it serves", async () => {
    // A stopped container's address answers nothing (no RST, unlike a killed local process): a request
    // HAProxy had just sent there is retried elsewhere after "timeout connect" (5 s by default), so
    // the client waits longer than that instead of giving up at 5 s.
    const client = new TrafficClient(frontend(), { connections: 4, timeoutMs: 15_000 });
    const traffic = backgroundTraffic(client, { concurrency: 4, maxMs: 60_000, maxRequests: 100_000 });
    try {
      const addressOf = async (name: string) => Object.values((await engine.client.inspect(name)).NetworkSettings.Networks)[0]!.IPAddress;
      const before = await addressOf("web-a");
      await engine.client.stop("web-a", 2);
      assert.ok(await eventually(async () => (await status("web-a"))?.startsWith("DOWN") || (await status("web-a")) === "MAINT", 10_000), `web-a is ${await status("web-a")}`);
      // Another container takes web-a's address meanwhile, so that web-a comes back at a new one.
      await engine.client.createContainer("address-taker", { Image: "lb-containers-test-web:local", Cmd: ["sleep", "120"], HostConfig: { NetworkMode: "lb-containers-test", ReadonlyRootfs: false, Privileged: false }, NetworkingConfig: { EndpointsConfig: { "lb-containers-test": { Aliases: [] } } }, Labels: {} });
      await engine.client.start("address-taker");
      await engine.client.start("web-a");
      assert.notEqual(await addressOf("web-a"), before, "web-a came back at a new address");
      const started = Date.now();
      assert.ok(await eventually(async () => (await status("web-a")) === "UP", 15_000), `web-a is ${await status("web-a")}`);
      const upMs = Date.now() - started;
      // rise 3 × inter 500 ms, a DNS answer (hold nx 1 s), and the container's start.
      assert.ok(upMs < 8000, `UP after ${upMs} ms`);
    } finally {
      await engine.client.removeContainer("address-taker").catch(() => {});
      const samples = await traffic.stop();
      await client.close();
      assert.ok(samples.length > 50, `${samples.length} requests`);
      const failed = samples.filter((s) => s.status !== 200);
      assert.equal(failed.length, 0, `failed requests while web-a stopped and started: ${JSON.stringify(failed.slice(0, 5))}`);
      assert.ok(samples.some((s) => s.server === "web-a") && samples.some((s) => s.server === "web-b"));
    }
  });

  it("npm run containers -- verify: health, entry points, distribution, persistence, failover and recovery pass through the published ports", async () => {
    const verify = await runCli(CLI, ["verify", "--topology", topologyFile, "--state-dir", stateDir], { timeoutMs: 180_000 });
    assert.equal(verify.code, 0, `${verify.stdout}\n${verify.stderr}`);
    assert.match(verify.stdout, /^6 passed, 0 failed$/m);
    assert.match(verify.stdout, /^failover +PASS /m);
  });

  it("a weight changed in the topology, applied as cdktf deploy would: only the apply agent is replaced, HAProxy keeps running, the change is live with 0 non-2xx", async () => {
    const ids = async () => Object.fromEntries((await engine.client.listContainers(`${STACK_LABEL}=lb-containers-test`)).map((c) => [c.Names[0]!.replace(/^\//, ""), c.Id]));
    const before = await ids();
    const changed = structuredClone(topology) as any;
    changed.backends[0].servers[0].weight = 3;
    writeFileSync(topologyFile, JSON.stringify(changed));
    const client = new TrafficClient(frontend(), { connections: 4, timeoutMs: 15_000 });
    const traffic = backgroundTraffic(client, { concurrency: 4, maxMs: 120_000, maxRequests: 200_000 });
    try {
      const up = await runCli(CLI, ["up", "--topology", topologyFile, "--state-dir", stateDir], { timeoutMs: 300_000 });
      assert.equal(up.code, 0, up.stderr);
      assert.match(up.stderr, /replacing apply-agent: its definition changed/);
      const after = await ids();
      assert.deepEqual(Object.keys(before).filter((name) => before[name] !== after[name]), ["apply-agent"], "only the agent was replaced");
      assert.ok(await eventually(async () => (await weight("web-a")) === 3, 60_000), `web-a's weight is ${await weight("web-a")}`);
    } finally {
      const samples = await traffic.stop();
      await client.close();
      assert.ok(samples.length > 50);
      assert.equal(samples.filter((s) => s.status !== 200).length, 0, "non-2xx or failed while the change was applied");
    }
  });

  it("a route-table entry added in the topology: the apply agent adds it at runtime (same worker), writes the map file in the volume, and it is served at once", async () => {
    const ids = async () => Object.fromEntries((await engine.client.listContainers(`${STACK_LABEL}=lb-containers-test`)).map((c) => [c.Names[0]!.replace(/^\//, ""), c.Id]));
    const workerPid = async () => /^Pid: (\d+)$/m.exec(await admin("show info"))![1];
    // fetch sends its own Host header: node:http sends the one asked for.
    const hostAnswer = (host: string) =>
      new Promise<string>((resolve, reject) => {
        const req = http.get(frontend(), { headers: { host }, agent: false, timeout: 5000 }, (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => resolve(`${res.statusCode} ${body}`));
        });
        req.on("timeout", () => req.destroy(new Error("no answer in 5 s"))).on("error", reject);
      });
    assert.equal(await hostAnswer("a.example.com"), "200 parked domain", "the table's first entry is served");
    assert.notEqual(await hostAnswer("b.example.com"), "200 parked domain", "b.example.com is not in the table yet");
    const [before, worker] = [await ids(), await workerPid()];
    const changed = JSON.parse(readFileSync(topologyFile, "utf8"));
    changed.frontends[0].routeTables[0].entries.push({ host: "b.example.com", backend: "parked" });
    writeFileSync(topologyFile, JSON.stringify(changed));
    const up = await runCli(CLI, ["up", "--topology", topologyFile, "--state-dir", stateDir], { timeoutMs: 300_000 });
    assert.equal(up.code, 0, up.stderr);
    const after = await ids();
    assert.deepEqual(Object.keys(before).filter((name) => before[name] !== after[name]), ["apply-agent"], "only the agent was replaced");
    assert.ok(await eventually(async () => (await hostAnswer("b.example.com")) === "200 parked domain", 60_000), `b.example.com answers ${await hostAnswer("b.example.com")}`);
    assert.equal(await workerPid(), worker, "the same HAProxy worker: no reload");
    const mapFile = join(dirname(await hostAdminSocket(engine.client, topology)), "maps", "http_front.sites.map");
    assert.match(readFileSync(mapFile, "utf8"), /^b\.example\.com parked$/m, "the map file in the volume holds the entry, for the next reload");
    assert.match(await admin("show map maps/http_front.sites.map"), /b\.example\.com parked/);
  });

  it("a discovered group behind one network alias: HAProxy fills a slot per container from the engine's DNS; a larger count adds a container and touches neither HAProxy's container nor its config", async () => {
    const ids = async () => Object.fromEntries((await engine.client.listContainers(`${STACK_LABEL}=lb-containers-test`)).map((c) => [c.Names[0]!.replace(/^\//, ""), c.Id]));
    const withGroup = (instances: number) => {
      const t = structuredClone(topology) as any;
      t.backends.push({ name: "pool", healthCheck: { http: { path: "/status" } }, discovery: { name: "pool", dnsName: "pool.lb.internal", port: 5100, maxServers: 4, instances, inter: "500ms", fall: 2, rise: 2 } });
      writeFileSync(topologyFile, JSON.stringify(t));
    };
    const poolUp = async () => {
      const rows = parseShowStat(await admin("show stat")).rows.filter((r) => r.proxy === "pool" && r.kind === "server");
      return rows.filter((r) => field(r, "status") === "UP").map((r) => field(r, "addr"));
    };
    withGroup(2);
    const first = await runCli(CLI, ["up", "--topology", topologyFile, "--state-dir", stateDir], { timeoutMs: 300_000 });
    assert.equal(first.code, 0, first.stderr);
    // up waits for HAProxy to fill the group's slots, as it waits for listed servers.
    assert.match(first.stderr, /every server UP in HAProxy \(4\)/);
    assert.equal(new Set(await poolUp()).size, 2, `pool's slots UP: ${(await poolUp()).join(", ")}`);
    // That was a reload, from a worker with web-a at 3 (set at runtime above) to a topology with 1: the agent saved
    // the servers' states for the new worker in the volume, and the topology's weight won over the runtime one.
    const volume = dirname(await hostAdminSocket(engine.client, topology));
    assert.match(readFileSync(join(volume, "server-state"), "utf8"), /^1\n# be_id be_name srv_id srv_name [^]*\n\d+ flask_servers \d+ web-a \S+ 2 0 3 3 /m, "srv_uweight 3 (the runtime's), srv_iweight 3 (the running topology's, not the 1 the worker started with)");
    assert.equal(await weight("web-a"), 1);
    const before = await ids();
    const configFile = join(volume, "haproxy.cfg");
    const config = readFileSync(configFile, "utf8");
    const workerPid = async () => /^Pid: (\d+)$/m.exec(await admin("show info"))![1];
    const worker = await workerPid();
    withGroup(3);
    const second = await runCli(CLI, ["up", "--topology", topologyFile, "--state-dir", stateDir], { timeoutMs: 300_000 });
    assert.equal(second.code, 0, second.stderr);
    const after = await ids();
    assert.deepEqual(Object.keys(after).filter((name) => before[name] !== after[name]).sort(), ["apply-agent", "pool-3"], "a new container, and the agent given the new topology");
    assert.equal(after.haproxy, before.haproxy, "HAProxy's container kept");
    assert.equal(new Set(await poolUp()).size, 3, `pool's slots UP: ${(await poolUp()).join(", ")}`);
    assert.equal(readFileSync(configFile, "utf8"), config, "HAProxy's config unchanged");
    assert.equal(await workerPid(), worker, "the same HAProxy worker: no reload");
  });

  it("down removes every container, network and volume it created, and leaves no engine process", async () => {
    const down = await runCli(CLI, ["down", "--topology", topologyFile, "--state-dir", stateDir], { timeoutMs: 120_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /^removed 10 containers, 1 networks, 4 volumes of stack "lb-containers-test"$/m);
    const label = `${STACK_LABEL}=lb-containers-test`;
    assert.deepEqual(await engine.client.listContainers(label), []);
    assert.deepEqual(await engine.client.listNetworks(label), []);
    assert.deepEqual(await engine.client.listVolumes(label), []);
    assert.deepEqual(processesMentioning(stateDir), [], "the deployer's engine service stopped");
  });
});
