// The local runtime: the whole topology as real processes on 127.0.0.1, and nothing left after.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { parseDuration } from "../haproxy/duration.ts";
import { createServer, type Server } from "node:net";
import { writeFileSync, rmSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseTopology } from "../infra/model/parse.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { startLocalStack, stopLocalStack } from "../infra/runtime/stack.ts";
import { BinaryMissingError, ComponentFailedError } from "../infra/errors.ts";
import { PortInUseError } from "../lib/errors.ts";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { recordedProcesses } from "../infra/runtime/stack.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { field, parseShowStat, serverStates } from "../haproxy/show-stat.ts";
import { assertNoProcessLeft, eventually, getJson, makeRunDir, processesMentioning, runDirWithTopology, startTestStack, type TestStack } from "./support/stack.ts";
import { seedTopology, editedTopology } from "./support/topologies.ts";
import { runCli, REPO_ROOT } from "./support/run-cli.ts";

describe("the whole local stack", () => {
  let running: TestStack;
  // Limits off HAProxy's own defaults, so that the test of them can only pass if they are rendered.
  const limits = (t: any) => {
    t.global.maxRequestHeaders = 40;
    t.global.bufferSize = 32768;
    t.defaults.maxRequestBodyBytes = 1_000_000;
  };
  beforeAll(async () => (running = await startTestStack(limits, { sidecar: true })));
  afterAll(() => running?.cleanup());

  it("sends requests through HAProxy to both web-a and web-b", async () => {
    const port = running.topology.frontends[0]!.binds[0]!.port;
    const served = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const response = await fetch(`http://127.0.0.1:${port}/`);
      const body = (await response.json()) as { server: string };
      assert.equal(response.headers.get("x-served-by"), body.server);
      served.add(body.server);
    }
    assert.deepEqual([...served].sort(), ["web-a", "web-b"]);
  });

  it("listens on every port of the frontend's range", async () => {
    const bind = running.topology.frontends[0]!.binds[0]!;
    for (let port = bind.port; port <= bind.lastPort!; port++) {
      assert.equal((await fetch(`http://127.0.0.1:${port}/status`)).status, 200);
    }
  });

  it("has HAProxy list both servers UP on its stats socket", async () => {
    const states = serverStates(parseShowStat(await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show stat")));
    assert.deepEqual(states.map((s) => `${s.backend}/${s.server} ${s.status}`), ["flask_servers/web-a UP", "flask_servers/web-b UP"]);
  });

  it("runs HAProxy in master-worker mode with a master socket", async () => {
    const answer = await runtimeCommand({ path: running.stack.plan.sockets.master }, "show proc");
    assert.match(answer, /^#<PID>\s+<type>/m);
    assert.match(answer, /\bworker\b/);
  });

  it("has Prometheus scrape the sidecar (HAProxy's series), HAProxy's own exporter, Alertmanager and itself, every target up", async () => {
    const url = `http://127.0.0.1:${running.topology.services.prometheus.port}/api/v1/targets`;
    let targets: { labels: { job: string }; health: string }[] = [];
    const allUp = await eventually(async () => {
      targets = (await getJson(url)).data.activeTargets;
      return targets.length > 0 && targets.every((t) => t.health === "up");
    }, 20_000, 500);
    assert.ok(allUp, `targets: ${JSON.stringify(targets.map((t) => [t.labels.job, t.health]))}`);
    assert.deepEqual(targets.map((t) => t.labels.job).sort(), ["alertmanager", "haproxy", "haproxy-exporter", "prometheus"]);
  });

  it("cuts a client that sends an incomplete request at timeout http-request, with a 408 (no slowloris)", async () => {
    const bound = parseDuration(running.topology.defaults.timeouts.httpRequest!);
    const socket = connect({ host: "127.0.0.1", port: running.topology.frontends[0]!.binds[0]!.port });
    await once(socket, "connect");
    const opened = Date.now();
    socket.write("GET / HTTP/1.1\r\nHost: x\r\n"); // headers never finished
    let answer = "";
    socket.on("data", (d) => (answer += d));
    await once(socket, "close");
    const heldMs = Date.now() - opened;
    assert.match(answer, /^HTTP\/1\.1 408 /);
    // Cut at the bound, not at the client timeout (10 s) it would otherwise hold the slot for.
    assert.ok(heldMs >= bound - 100 && heldMs < parseDuration(running.topology.defaults.timeouts.client), `held for ${heldMs} ms; bound ${bound} ms`);
  });

  it("refuses requests over the model's limits before any server sees them", async () => {
    const port = running.topology.frontends[0]!.binds[0]!.port;
    const { global, defaults } = running.topology;
    const backendSessions = async () => parseShowStat(await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show stat")).rows.find((r) => r.proxy === "flask_servers" && r.name === "BACKEND")!;
    const before = Number(field(await backendSessions(), "stot"));
    const ask = async (head: string) => {
      const socket = connect({ host: "127.0.0.1", port });
      await once(socket, "connect");
      socket.write(`${head}\r\n`);
      let answer = "";
      socket.on("data", (d) => (answer += d));
      await once(socket, "close");
      return answer.split("\r\n")[0];
    };
    const headers = (count: number) => Array.from({ length: count }, (_, i) => `X-H${i}: v\r\n`).join("");
    assert.equal(await ask(`GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers(global.maxRequestHeaders + 5)}`), "HTTP/1.1 400 Bad request");
    assert.equal(await ask(`GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: ${"a".repeat(global.bufferSize)}\r\n`), "HTTP/1.1 400 Bad request");
    assert.equal(await ask(`POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${defaults.maxRequestBodyBytes + 1}\r\n`), "HTTP/1.1 413 Payload Too Large");
    assert.equal(Number(field(await backendSessions(), "stot")), before, "a refused request reached the backend");
    // Just under each limit, the same requests are served.
    // Headers HAProxy's default 16 KB buffer would refuse fit in the larger one (in fields gunicorn takes: < 8 KB each).
    const big = [1, 2, 3].map((i) => `X-Big${i}: ${"a".repeat(6000)}\r\n`).join("");
    assert.match(await ask(`GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${big}`), /^HTTP\/1\.1 200 /);
    assert.match(await ask(`GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers(global.maxRequestHeaders - 5)}`), /^HTTP\/1\.1 200 /);
    assert.match(await ask(`POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok`.replace(/\r\n$/, "")), /^HTTP\/1\.1 (200|405) /);
  });

  it("serves the custom 503 page when every server is down", async () => {
    for (const name of ["web-a", "web-b"]) await runtimeCommand({ path: running.stack.plan.sockets.admin }, `disable server flask_servers/${name}`);
    try {
      const response = await fetch(`http://127.0.0.1:${running.topology.frontends[0]!.binds[0]!.port}/`);
      assert.equal(response.status, 503);
      assert.deepEqual(await response.json(), { error: "service unavailable", detail: "no server is available to handle this request" });
    } finally {
      for (const name of ["web-a", "web-b"]) await runtimeCommand({ path: running.stack.plan.sockets.admin }, `enable server flask_servers/${name}`);
    }
  });
});

describe("pre-flight and start failures leave nothing running", () => {
  it("a port in use is named, with its owner, and nothing starts", async () => {
    const topology = parseTopology(await withFreePorts(seedTopology()));
    const blockedPort = topology.monitoring.port;
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(blockedPort, "127.0.0.1", r));
    const runDir = makeRunDir();
    try {
      await assert.rejects(startLocalStack(topology, { runDir }), (error: unknown) => {
        assert.ok(error instanceof PortInUseError);
        assert.equal(error.code, "PORT_IN_USE");
        assert.equal(error.port, blockedPort);
        assert.match(error.message, new RegExp(`^port ${blockedPort} \\(needed by haproxy\\) is already in use by node \\(pid ${process.pid}\\)`));
        return true;
      });
      assert.deepEqual(processesMentioning(runDir), []);
      assert.equal(existsSync(join(runDir, "haproxy.cfg")), false, "pre-flight wrote files");
    } finally {
      blocker.close();
      rmSync(runDir, { recursive: true, force: true });
    }
  });

  it("a gunicorn that exits at once is reported with its log, and nothing is left", async () => {
    const topology = parseTopology(await withFreePorts(seedTopology()));
    const runDir = makeRunDir();
    // A real gunicorn, told by its documented environment variable to load a worker class that does not exist.
    process.env.GUNICORN_CMD_ARGS = "--worker-class no.such.Worker";
    try {
      await assert.rejects(startLocalStack(topology, { runDir }), (error: unknown) => {
        assert.ok(error instanceof ComponentFailedError);
        assert.equal(error.code, "COMPONENT_FAILED");
        assert.equal(error.component, "web-a");
        assert.match(error.message, /^web-a exited \(code \d+\) before it was ready; nothing was left running\./);
        assert.ok(error.lastLogLines.some((l) => l.includes("no.such.Worker") || l.includes("No module named")), error.lastLogLines.join("\n"));
        return true;
      });
      assert.deepEqual(processesMentioning(runDir), []);
    } finally {
      delete process.env.GUNICORN_CMD_ARGS;
      rmSync(runDir, { recursive: true, force: true });
    }
  });

  it("a server that never passes its health check is named with HAProxy's verdict, and everything stops", async () => {
    const topology = parseTopology(await withFreePorts(editedTopology((t) => (t.backends[0].healthCheck.http.expectStatus = 418))));
    const runDir = makeRunDir();
    try {
      await assert.rejects(startLocalStack(topology, { runDir }), (error: unknown) => {
        assert.ok(error instanceof ComponentFailedError);
        assert.equal(error.component, "haproxy");
        assert.match(error.message, /did not become healthy within \d+ s: reports flask_servers\/web-a DOWN \(L7STS\), flask_servers\/web-b DOWN \(L7STS\)/);
        return true;
      });
      assert.deepEqual(processesMentioning(runDir), []);
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  });

  it("a missing binary names its Debian package, and nothing starts", async () => {
    const topology = parseTopology(await withFreePorts(seedTopology()));
    const runDir = makeRunDir();
    const path = process.env.PATH;
    process.env.PATH = "/usr/bin:/bin"; // gunicorn and node are there; haproxy (/usr/sbin) is not
    try {
      await assert.rejects(startLocalStack(topology, { runDir }), (error: unknown) => {
        assert.ok(error instanceof BinaryMissingError);
        assert.equal(error.code, "BINARY_MISSING");
        assert.match(error.message, /^haproxy is not installed: install the Debian package "haproxy" \(apt-get install haproxy\)/);
        return true;
      });
      assert.equal(existsSync(join(runDir, "logs")), false, "pre-flight started something");
    } finally {
      process.env.PATH = path;
      rmSync(runDir, { recursive: true, force: true });
    }
  });

  it("an invalid topology gives the renderer's messages and starts nothing", async () => {
    const runDir = makeRunDir();
    const file = join(runDir, "broken.json");
    writeFileSync(file, JSON.stringify(editedTopology((t) => (t.frontends[0].defaultBackend = "backend_servers"))));
    try {
      const result = await runCli("infra/runtime/cli.ts", ["start", "--topology", file, "--run-dir", runDir]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /error TOPOLOGY_INVALID: the topology is invalid:\n  frontends\.http_front\.defaultBackend: "backend_servers" is not a backend; known: flask_servers/);
      assert.equal(existsSync(join(runDir, "logs")), false);
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});

describe("npm start -- --detach and npm stop", () => {
  it("start in the background, refuse a second start, and stop every process", async () => {
    const { runDir, file } = await runDirWithTopology();
    try {
      const started = await runCli("infra/runtime/cli.ts", ["start", "--topology", file, "--run-dir", runDir, "--detach"]);
      assert.equal(started.code, 0, started.stderr);
      assert.match(started.stdout, /every server is UP in HAProxy/);
      assert.match(started.stdout, /frontend +http:\/\/127\.0\.0\.1:\d+\//);
      assert.ok(processesMentioning(runDir).length > 0, "nothing runs after a detached start");

      const again = await runCli("infra/runtime/cli.ts", ["start", "--topology", file, "--run-dir", runDir, "--detach"]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /error STACK_ALREADY_RUNNING: a stack is already running from .*: web-a \(pid \d+\), .* alive\. npm run status shows it; npm stop stops it/);

      const stopped = await runCli("infra/runtime/cli.ts", ["stop", "--run-dir", runDir]);
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.match(stopped.stdout, /^stopped \d+ processes/);
      assertNoProcessLeft([], runDir);
      assert.deepEqual(await stopLocalStack(runDir), { stopped: 0, unrecorded: 0 });
    } finally {
      await stopLocalStack(runDir);
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});

describe("npm start in the foreground", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`${signal} stops every process it started, in reverse order`, async () => {
      const { runDir, file } = await runDirWithTopology();
      const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "infra/runtime/cli.ts"), "start", "--topology", file, "--run-dir", runDir], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      try {
        assert.ok(await eventually(async () => stdout.includes("running; Ctrl-C stops everything"), 60_000, 100), `never came up:\n${stdout}\n${stderr}`);
        const pids = ((await recordedProcesses(runDir)) ?? []).map((p) => p.pid);
        assert.equal(pids.length, 6, "web-a, web-b, haproxy, the sidecar, alertmanager and prometheus");
        child.kill(signal);
        const [code] = await once(child, "exit");
        assert.equal(code, 0);
        assert.match(stderr, new RegExp(`${signal}: stopping prometheus, alertmanager, sidecar, haproxy, web-b, web-a`));
        assertNoProcessLeft(pids, runDir);
      } finally {
        child.kill("SIGKILL");
        await stopLocalStack(runDir);
        rmSync(runDir, { recursive: true, force: true });
      }
    });
  }
});
