// npm run apply against the real local stack, under real traffic: runtime changes without a
// reload, reload changes with a new worker, a change that breaks traffic rolled back by itself, a
// change HAProxy rejects never written, a killed apply recovered, one apply at a time.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseShowProc } from "../haproxy/master-cli.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { numberField, parseShowStat, serverStates } from "../haproxy/show-stat.ts";
import { sha256 } from "../infra/runtime/applied.ts";
import { recordedProcesses } from "../infra/runtime/stack.ts";
import { backgroundTraffic, burst, TrafficClient } from "../verification/traffic.ts";
import { eventually, runDirWithTopology, startTestStack, type TestStack } from "./support/stack.ts";
import { cliCommand, REPO_ROOT, runCli } from "./support/run-cli.ts";
import { editedTopology, seedTopology } from "./support/topologies.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { refuseHaproxyRestart } from "../infra/gitops/local-io.ts";
import { settleMs } from "../infra/gitops/apply.ts";
import { makePlan } from "../infra/gitops/plan.ts";
import { checkSettleMs } from "../infra/runtime/verify.ts";

describe("npm run apply on a running stack", () => {
  let running: TestStack;
  let frontendUrl: string;
  const file = (name: string) => join(running.runDir, name);
  /** Writes the running topology with `edit` applied, returns its path. */
  const topology = (name: string, edit: (t: any) => void) => {
    const t = structuredClone(running.topology) as any;
    edit(t);
    writeFileSync(file(name), JSON.stringify(t));
    return file(name);
  };
  const apply = (topologyFile: string, ...args: string[]) => runCli("infra/gitops/apply-cli.ts", ["--run-dir", running.runDir, "--topology", topologyFile, "--report", file("reports"), ...args], { timeoutMs: 90_000 });
  const drift = (topologyFile: string) => runCli("infra/gitops/drift-cli.ts", ["--run-dir", running.runDir, "--topology", topologyFile]);
  const workers = async () => parseShowProc(await runtimeCommand({ path: running.stack.plan.sockets.master }, "show proc")).workers.map((w) => w.pid);
  const configSha = () => sha256(readFileSync(file("haproxy.cfg"), "utf8"));

  /** Runs `during` while 8 keep-alive connections send requests; counts non-2xx answers and socket errors apart. */
  async function underTraffic<T>(during: () => Promise<T>): Promise<{ result: T; requests: number; non2xx: number; socketErrors: number }> {
    const client = new TrafficClient(frontendUrl, { connections: 8 });
    const traffic = backgroundTraffic(client, { concurrency: 8, maxMs: 90_000, maxRequests: 200_000 });
    try {
      const result = await during();
      const samples = await traffic.stop();
      return { result, requests: samples.length, non2xx: samples.filter((s) => s.status !== undefined && s.status !== 200).length, socketErrors: samples.filter((s) => s.error !== undefined).length };
    } finally {
      await traffic.stop();
      await client.close();
    }
  }

  beforeAll(async () => {
    running = await startTestStack((t) => (t.global.hardStopAfter = "5s"));
    frontendUrl = `http://127.0.0.1:${running.topology.frontends[0]!.binds[0]!.port}/`;
    writeFileSync(file("base.json"), JSON.stringify(running.topology));
  });
  afterAll(() => running?.cleanup());

  it("--dry-run prints the plan and touches nothing", async () => {
    const before = configSha();
    const result = await apply(topology("dry.json", (t) => (t.backends[0].servers[0].weight = 2)), "--dry-run");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Plan: 1 runtime change, 0 reloads, 0 restarts\.$/m);
    assert.match(result.stdout, /dry run: nothing was applied/);
    assert.equal(configSha(), before);
  });

  it("no changes: exit 0, nothing touched", async () => {
    const result = await apply(file("base.json"));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^No changes\. The load balancer matches the topology\.$/m);
  });

  it("a weight, under traffic: applied at runtime (the same worker), 0 non-2xx, 0 socket errors, distribution follows", async () => {
    const before = await workers();
    const weighted = topology("weight.json", (t) => (t.backends[0].servers[0].weight = 3));
    const run = await underTraffic(() => apply(weighted, "--json", file("weight-result.json")));
    assert.equal(run.result.code, 0, `${run.result.stdout}\n${run.result.stderr}`);
    assert.match(run.result.stdout, /applied at runtime \(no reload\), verified by traffic/);
    assert.deepEqual(await workers(), before, "a runtime change must not start a new worker");
    assert.ok(run.requests > 100, `only ${run.requests} requests ran during the apply`);
    assert.deepEqual([run.non2xx, run.socketErrors], [0, 0]);
    const result = JSON.parse(readFileSync(file("weight-result.json"), "utf8"));
    assert.equal(result.method, "runtime");
    const distribution = result.verification.find((r: { assertion: string }) => r.assertion === "distribution");
    assert.equal(distribution.verdict, "pass");
    assert.match(distribution.expected, /web-a 75\.0 %, web-b 25\.0 %/);
    assert.equal((await drift(weighted)).code, 0, "in sync after the apply");
  });

  it("a balance algorithm and a new server, under traffic: a reload (a new worker), the new server takes traffic, 0 non-2xx", async () => {
    const before = await workers();
    const grown = topology("grown.json", (t) => {
      t.backends[0].servers[0].weight = 3;
      t.backends[0].balance = "leastconn";
      t.backends[0].servers.push({ ...t.backends[0].servers[1], name: "web-c", address: "web-c", cookie: "web-c", port: t.backends[0].servers[1].port + 1 });
    });
    const run = await underTraffic(() => apply(grown, "--json", file("grown-result.json")));
    assert.equal(run.result.code, 0, `${run.result.stdout}\n${run.result.stderr}`);
    assert.match(run.result.stdout, /applied by a hitless reload, verified by traffic/);
    assert.notDeepEqual(await workers(), before, "a reload starts a new worker");
    assert.equal(run.non2xx, 0);
    const result = JSON.parse(readFileSync(file("grown-result.json"), "utf8"));
    assert.equal(result.method, "reload");
    const counts = result.verification.find((r: { assertion: string }) => r.assertion === "distribution").data.counts;
    assert.ok(counts["web-c"] > 0, `web-c took no traffic: ${JSON.stringify(counts)}`);
    // back to the weighted topology: web-c leaves, drained by the reload, then its process stops
    const back = await apply(file("weight.json"));
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stderr, /stopping web-c/);
  });

  it("a reload hands the servers' states to the new worker (server-state-file): a server an operator put in maintenance stays there, where a new worker would serve it", async () => {
    const serverStatus = async () => (await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show stat")).split("\n").find((l) => l.startsWith("archive,arch-1,"))?.split(",")[17];
    // The running topology (web-a at weight 3) with a backend of one unchecked server.
    const withArchive = (t: any) => ((t.backends[0].servers[0].weight = 3), t.backends.push({ name: "archive", servers: [{ name: "arch-1", address: "127.0.0.1", port: 9, external: true, check: false }] }));
    assert.equal((await apply(topology("archive.json", withArchive))).code, 0);
    await runtimeCommand({ path: running.stack.plan.sockets.admin }, "disable server archive/arch-1");
    assert.equal(await serverStatus(), "MAINT");
    const before = await workers();
    const result = await apply(topology("archive-timeout.json", (t) => (withArchive(t), (t.defaults.timeouts.server = "12s"))));
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.notDeepEqual(await workers(), before, "a timeout is a reload: a new worker");
    assert.equal(await serverStatus(), "MAINT", "the new worker took the server's state over");
    assert.match(readFileSync(file("server-state"), "utf8"), /^1\n# be_id be_name srv_id srv_name [^]*\n\d+ archive \d+ arch-1 127\.0\.0\.1 \d+ 1 /m);
    assert.equal((await apply(file("weight.json"))).code, 0);
  });

  it("a weight set at runtime, then returned by a reload to the value the worker started with: the topology's weight wins, not the runtime one the saved state carries", async () => {
    const weight = async (server: string) => numberField(parseShowStat(await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show stat")).rows.find((r) => r.proxy === "flask_servers" && r.name === server)!, "weight");
    // The worker runs the weighted topology (web-a at 3) and started from it; at runtime web-a goes to 1.
    const lowered = await apply(topology("weight-lowered.json", (t) => (t.backends[0].servers[0].weight = 1)));
    assert.match(lowered.stdout, /applied at runtime \(no reload\)/, lowered.stderr);
    assert.equal(await weight("web-a"), 1);
    const before = await workers();
    // Back to 3 with a timeout: a reload. HAProxy keeps a runtime weight unless the config's differs from the saved one.
    const result = await apply(topology("weight-back.json", (t) => ((t.backends[0].servers[0].weight = 3), (t.defaults.timeouts.server = "12s"))));
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /applied by a hitless reload, verified by traffic/);
    assert.notDeepEqual(await workers(), before, "a timeout is a reload: a new worker");
    assert.equal(await weight("web-a"), 3, "the new worker has the topology's weight");
    assert.equal((await apply(file("weight.json"))).code, 0);
  });

  it("a change that validates but breaks traffic (every health check fails): rolled back by itself, the old config live, traffic flows", async () => {
    const before = configSha();
    const broken = topology("broken.json", (t) => {
      t.backends[0].servers[0].weight = 3;
      t.backends[0].healthCheck.http.expectStatus = 418;
    });
    const result = await apply(broken);
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stdout, /^FAILED: verification failed: health .*not UP: web-a DOWN/m);
    assert.match(result.stdout, /^rolled back: .*the stack is back on the previous topology, verified by traffic$/m);
    assert.equal(configSha(), before, "the previous haproxy.cfg is back");
    assert.equal(sha256(readFileSync(file("haproxy.cfg.last-good"), "utf8")), before, "and kept as the last known good");
    const client = new TrafficClient(frontendUrl, { connections: 4 });
    const replies = await burst(client, 100, 4);
    await client.close();
    assert.deepEqual([...new Set(replies.map((r) => r.status))], [200]);
    assert.equal((await drift(file("weight.json"))).code, 0, "drift: in sync with the previous topology");
  });

  it('a health check whose path answers 302, expecting "2xx or 3xx" (option httpchk\'s own rule): the servers stay UP and the apply verifies', async () => {
    const result = await apply(topology("redirecting-check.json", (t) => {
      t.backends[0].servers[0].weight = 3;
      t.backends[0].healthCheck.http = { method: "GET", path: "/?answer_status=302", expectStatus: "2xx or 3xx" };
    }));
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /applied by a hitless reload, verified by traffic/);
    const status = serverStates(parseShowStat(await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show stat"))).filter((s) => s.backend === running.topology.backends[0]!.name);
    assert.deepEqual(status.map((s) => [s.server, s.status, s.checkStatus]), status.map((s) => [s.server, "UP", "L7OK"]), "each check got its 302 and passed");
    assert.equal((await apply(file("weight.json"))).code, 0, "back to the topology the next cases start from");
  });

  it("a backend's connectionMode close (option httpclose): each request opens a server connection of its own, none is reused; the client keeps its connection", async () => {
    const serverConnections = async () => {
      const rows = parseShowStat(await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show stat")).rows.filter((r) => r.kind === "server" && r.proxy === running.topology.backends[0]!.name);
      return { opened: rows.reduce((sum, r) => sum + numberField(r, "connect")!, 0), reused: rows.reduce((sum, r) => sum + numberField(r, "reuse")!, 0) };
    };
    /** 20 requests on one keep-alive client connection: the server connections opened and reused meanwhile. */
    const twentyRequests = async () => {
      const before = await serverConnections();
      const client = new TrafficClient(frontendUrl, { connections: 1 });
      const replies = await burst(client, 20, 1);
      await client.close();
      const after = await serverConnections();
      assert.deepEqual([...new Set(replies.map((r) => r.status))], [200]);
      return { opened: after.opened - before.opened, reused: after.reused - before.reused };
    };
    const result = await apply(topology("httpclose.json", (t) => {
      t.backends[0].servers[0].weight = 3;
      t.backends[0].connectionMode = "close";
    }));
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    const closing = await twentyRequests();
    assert.equal(closing.reused, 0, "no server connection reused");
    assert.ok(closing.opened >= 20, `one server connection per request (${closing.opened})`);
    const client = await keepAliveExchange(new URL(frontendUrl));
    assert.ok(!client.closedByServer, "HAProxy 2.6 keeps the client's connection (httpclose in a backend closes the server side)");
    assert.equal((await apply(file("weight.json"))).code, 0, "back to the topology the next cases start from");
    assert.ok((await twentyRequests()).reused > 0, "keep-alive to the servers again");
  });

  it("a Prometheus scrape interval: Prometheus restarts with its new configuration, HAProxy is untouched", async () => {
    const [before, pids] = [configSha(), await workers()];
    const prometheusPid = async () => (await recordedProcesses(running.runDir))!.find((p) => p.name === "prometheus")!.pid;
    const oldPid = await prometheusPid();
    const result = await apply(topology("scrape.json", (t) => {
      t.backends[0].servers[0].weight = 3;
      t.services.prometheus.scrapeInterval = "2s";
    }));
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /applied by restarting what changed \(HAProxy untouched\), verified by traffic/);
    assert.notEqual(await prometheusPid(), oldPid);
    assert.match(readFileSync(file("prometheus.yml"), "utf8"), /scrape_interval: 2s/);
    assert.equal(configSha(), before);
    assert.deepEqual(await workers(), pids);
    assert.equal((await apply(file("weight.json"))).code, 0, "and back");
  });

  it("a change of HAProxy's own command line (the master socket) is refused before anything is touched", async () => {
    const before = configSha();
    const result = await apply(topology("master.json", (t) => (t.global.masterSocket = "/var/lib/haproxy/other-master.sock")));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error APPLY_NEEDS_RESTART: HAProxy's command line changes \(global\.masterSocket\): HAProxy itself must restart; run npm stop, then npm start/);
    assert.equal(configSha(), before);
  });

  it("a change refused by the checks (an error page that is not there) is never written: the running config and worker are untouched", async () => {
    const [before, pids] = [configSha(), await workers()];
    const rejected = topology("rejected.json", (t) => (t.frontends[0].errorPages = [{ status: 404, file: "missing.http" }]));
    const result = await apply(rejected);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error ERROR_PAGE_INVALID: frontends\.http_front\.errorPages\.0\.file: .*missing\.http cannot be read/);
    assert.equal(configSha(), before);
    assert.deepEqual(await workers(), pids);
  });

  /** An apply paused (by its test seam) after `step`, as a child process the test can kill. */
  async function pausedApply(topologyFile: string, step: string) {
    const child = spawn(process.execPath, [...cliCommand("infra/gitops/apply-cli.ts"), "--run-dir", running.runDir, "--topology", topologyFile, "--no-verify"], {
      env: { ...process.env, APPLY_PAUSE_AFTER: step },
      stdio: "ignore",
    });
    const reached = await eventually(async () => existsSync(file("apply.lock")) && JSON.parse(readFileSync(file("apply.lock"), "utf8")).step === step, 30_000);
    assert.ok(reached, `the apply never reached ${step}`);
    return child;
  }

  it("two applies at once: the second is refused with the holder's pid", async () => {
    const first = await pausedApply(topology("first.json", (t) => (t.backends[0].servers[1].weight = 2)), "planned");
    try {
      const second = await apply(topology("second.json", (t) => (t.backends[0].servers[1].weight = 4)));
      assert.equal(second.code, 1);
      assert.match(second.stderr, new RegExp(`^error APPLY_LOCKED: another apply \\(pid ${first.pid}\\) is running, at step "planned"`));
    } finally {
      first.kill("SIGKILL");
      await new Promise((r) => first.once("close", r));
    }
  });

  it("an apply killed between writing the config and reloading: drift sees it, the next apply takes the stale lock over and recovers", async () => {
    const target = topology("killed.json", (t) => (t.defaults.timeouts.server = "20s"));
    const child = await pausedApply(target, "config-written");
    child.kill("SIGKILL");
    await new Promise((r) => child.once("close", r));
    const seen = await drift(file("weight.json"));
    assert.equal(seen.code, 2);
    assert.match(seen.stdout, /haproxy\.cfg on disk was changed after HAProxy loaded it/);
    const recovered = await apply(target);
    assert.equal(recovered.code, 0, `${recovered.stdout}\n${recovered.stderr}`);
    assert.match(recovered.stderr, /a previous apply \(pid \d+, .*\) died at step "config-written": taking its lock over/);
    assert.equal((await drift(target)).code, 0, "in sync after the recovery");
    assert.equal(existsSync(file("apply.lock")), false);
  });

  it("keeps one history line per apply, with its outcome", () => {
    const lines = readFileSync(file("apply-history.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.outcome), ["no-changes", "applied", "applied", "applied", "applied", "applied", "applied", "applied", "applied", "applied", "rolled-back", "applied", "applied", "applied", "applied", "applied", "applied", "applied"]);
    assert.deepEqual(lines[1].classes, ["runtime"]);
    for (const l of lines) assert.ok(l.durationMs > 0 && /^[0-9a-f]{16}$/.test(l.base) && /^[0-9a-f]{16}$/.test(l.new));
  });
});

describe("how long an apply lets the health checks settle before traffic judges it", () => {
  const base = parseTopology(seedTopology());
  const cases: [string, (t: any) => void, "runtime" | "reload", "none" | "every check"][] = [
    ["a weight, at runtime", (t) => (t.backends[0].servers[0].weight = 3), "runtime", "none"],
    ["a timeout, by a reload that hands the servers' states over", (t) => (t.defaults.timeouts.server = "12s"), "reload", "none"],
    ["a balance algorithm, by a reload", (t) => (t.backends[0].balance = "leastconn"), "reload", "none"],
    ["a frontend's rate limit, by a reload", (t) => (t.frontends[0].rateLimit = { requests: 100, window: "10s" }), "reload", "none"],
    ["a server's address: its check must judge it", (t) => (t.backends[0].servers[0].port += 1), "reload", "every check"],
    ["a server's check interval", (t) => (t.backends[0].servers[0].inter = "1s"), "reload", "every check"],
    ["the check timeout", (t) => (t.defaults.timeouts.check = "3s"), "reload", "every check"],
    ["a new server", (t) => t.backends[0].servers.push({ ...t.backends[0].servers[1], name: "web-c", cookie: "web-c", port: t.backends[0].servers[1].port + 1 }), "reload", "every check"],
  ];
  it("a timeout by a reload where a discovered group runs: its slots are judged afresh, so every check settles", () => {
    const grouped = (edit: (t: any) => void) => editedTopology((t) => (t.backends.push({ name: "pool", discovery: { name: "pool", dnsName: "pool.lb.internal", port: 5100, maxServers: 2, instances: 1 } }), edit(t)));
    const [before, head] = [parseTopology(grouped(() => {})), parseTopology(grouped((t) => (t.defaults.timeouts.server = "12s")))];
    assert.equal(settleMs(makePlan(before, head), "reload", head), checkSettleMs(head));
  });
  it.each(cases)("%s", (_what, edit, method, expected) => {
    const head = parseTopology(editedTopology(edit));
    assert.ok(checkSettleMs(head) > 0);
    assert.equal(settleMs(makePlan(base, head), method, head), expected === "none" ? 0 : checkSettleMs(head));
  });
});

describe("what apply refuses before touching anything", () => {
  const base = parseTopology(seedTopology());
  it("a change of HAProxy's command line (the master socket) needs a restart", () => {
    assert.throws(() => refuseHaproxyRestart(base, parseTopology(editedTopology((t) => (t.global.masterSocket = "/var/lib/haproxy/m2.sock"))), "/run/lb"), /APPLY_NEEDS_RESTART|HAProxy itself must restart/);
  });
  it("new frontend ports do not: a reload binds them", () => {
    refuseHaproxyRestart(base, parseTopology(editedTopology((t) => t.frontends.push({ name: "extra", binds: [{ port: 61000 }], defaultBackend: "flask_servers" }))), "/run/lb");
    refuseHaproxyRestart(base, parseTopology(editedTopology((t) => (t.frontends[0].binds[0].lastPort = 60005))), "/run/lb");
  });
});

describe("npm run apply with no stack running", () => {
  it("refuses, saying how to start one", async () => {
    const { runDir, file } = await runDirWithTopology();
    const result = await runCli("infra/gitops/apply-cli.ts", ["--run-dir", runDir, "--topology", file]);
    rmSync(runDir, { recursive: true, force: true });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error STACK_NOT_RUNNING: no stack is running from .* \(no applied\.json or stack\.json there\): start one with npm start/);
  });
});

/**
 * One GET on a raw keep-alive connection: the answer's head, and whether the server ended the
 * connection within a second of it (a keep-alive one stays open).
 */
function keepAliveExchange(url: URL): Promise<{ head: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let data = "";
    let timer: NodeJS.Timeout | undefined;
    const done = (closedByServer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ head: data.split("\r\n\r\n")[0]!, closedByServer });
    };
    socket.on("connect", () => socket.write(`GET / HTTP/1.1\r\nHost: ${url.host}\r\nConnection: keep-alive\r\n\r\n`));
    socket.on("data", (chunk) => {
      data += chunk;
      if (data.includes("\r\n\r\n") && timer === undefined) timer = setTimeout(() => done(false), 1000);
    });
    socket.on("end", () => done(true));
    socket.on("error", reject);
  });
}
