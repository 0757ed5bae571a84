// A security review of the running local stack itself, each point checked on the live processes:
// socket modes, the stats page's login from the environment, every listener on loopback, Flask
// never in debug mode, HAProxy not telling its version.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, it } from "vitest";
import { requestOnce } from "../verification/probes.ts";
import { StatsCredentialsUnsetError } from "../infra/errors.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { startLocalStack } from "../infra/runtime/stack.ts";
import { makeRunDir, startTestStack, type TestStack } from "./support/stack.ts";
import { seedTopology } from "./support/topologies.ts";

const AUTH = { userFromEnv: "LB_TEST_STATS_USER", passwordFromEnv: "LB_TEST_STATS_PASSWORD" };

/** The process group of a pid (field 5 of /proc/PID/stat). */
const processGroup = (pid: string) => Number(readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ")[2]);

/** Every TCP socket listening in the given process groups, as "address:port" (IPv4 and IPv6). */
function listeningSockets(groups: Set<number>): { address: string; port: number; pid: string }[] {
  const inodes = new Map<string, string>();
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      if (!groups.has(processGroup(pid))) continue;
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.set(m[1]!, pid);
      }
    } catch {
      /* exited meanwhile */
    }
  }
  const found: { address: string; port: number; pid: string }[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(file, "utf8").trim().split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      const [local, state, inode] = [cols[1]!, cols[3], cols[9]!];
      if (state !== "0A" || !inodes.has(inode)) continue; // 0A: LISTEN
      const [hex, port] = local.split(":");
      const address = hex!.length === 8 ? hex!.match(/../g)!.reverse().map((b) => parseInt(b, 16)).join(".") : `[${hex}]`;
      found.push({ address, port: parseInt(port!, 16), pid: inodes.get(inode)! });
    }
  }
  return found;
}

describe("security review of the running local stack", () => {
  let running: TestStack;
  const env = { [AUTH.userFromEnv]: "ops", [AUTH.passwordFromEnv]: "s3cret-from-env" };

  beforeAll(async () => {
    Object.assign(process.env, env); // HAProxy inherits the login from the environment it starts in
    running = await startTestStack((t) => (t.monitoring.statsAuth = AUTH), { sidecar: true });
  });
  afterAll(async () => {
    await running?.cleanup();
    for (const name of Object.keys(env)) delete process.env[name];
  });

  it("the admin socket has the model's mode (660) and the master socket 600: neither is world-accessible; both are this user's", () => {
    const { admin, master } = running.stack.plan.sockets;
    for (const [socket, mode] of [[admin, 0o660], [master, 0o600]] as const) {
      const s = statSync(socket);
      assert.ok(s.isSocket(), socket);
      assert.equal(s.mode & 0o777, mode, `${socket}: ${(s.mode & 0o777).toString(8)}`);
      assert.equal(s.mode & 0o007, 0, `${socket} is accessible to others`);
      assert.equal(s.uid, process.getuid!());
    }
  });

  it("the stats page asks for the login HAProxy read from the environment, and hides HAProxy's version", async () => {
    const url = `http://127.0.0.1:${running.topology.monitoring.port}${running.topology.monitoring.statsUri}`;
    const anonymous = await requestOnce(url);
    assert.equal(anonymous.status, 401);
    const wrong = await fetch(url, { headers: { authorization: `Basic ${Buffer.from("ops:guess").toString("base64")}` } });
    assert.equal(wrong.status, 401);
    const page = await fetch(url, { headers: { authorization: `Basic ${Buffer.from("ops:s3cret-from-env").toString("base64")}` } });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /flask_servers/);
    assert.doesNotMatch(html, /2\.6\.\d+/, "the version is hidden");
    assert.doesNotMatch(readFileSync(`${running.runDir}/haproxy.cfg`, "utf8"), /s3cret-from-env/, "the password is not in the rendered config");
  });

  it("every socket the stack's processes listen on is on 127.0.0.1 (frontends, stats, sidecar, Prometheus, Alertmanager, the web servers)", () => {
    const groups = new Set(running.stack.processes.map((p) => p.pid));
    const sockets = listeningSockets(groups);
    const t = running.topology;
    const expected = [t.frontends[0]!.binds[0]!.port, t.monitoring.port, t.services.sidecar.port, t.services.prometheus.port, t.services.alertmanager.port, ...t.backends[0]!.servers.map((s) => s.port)];
    for (const port of expected) assert.ok(sockets.some((s) => s.port === port), `nothing listens on ${port}: ${JSON.stringify(sockets)}`);
    assert.deepEqual(sockets.filter((s) => s.address !== "127.0.0.1"), [], "a listener beyond loopback");
  });

  it("the web servers never run Flask in debug mode or with reloading", () => {
    const webs = running.stack.processes.filter((p) => p.spec.name.startsWith("web-"));
    assert.equal(webs.length, 2);
    for (const web of webs) {
      const environ = readFileSync(`/proc/${web.pid}/environ`, "utf8").split("\0");
      assert.ok(!environ.some((e) => /^FLASK_DEBUG=(1|true)$/i.test(e) || /^FLASK_ENV=development$/.test(e)), `${web.spec.name}: ${environ.filter((e) => e.startsWith("FLASK"))}`);
      const cmdline = readFileSync(`/proc/${web.pid}/cmdline`, "utf8").split("\0");
      assert.ok(!cmdline.includes("--reload") && !cmdline.some((a) => a.startsWith("--debug")), cmdline.join(" "));
    }
  });

  it("HAProxy names itself nowhere a client sees: no Server header of its own, error pages without a version", async () => {
    const port = running.topology.frontends[0]!.binds[0]!.port;
    const served = await requestOnce(`http://127.0.0.1:${port}/`);
    assert.notEqual(String(served.headers.server ?? ""), "HAProxy");
    // A page HAProxy writes itself: 413 for a body over the model's limit, announced and never sent.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${20 * 1024 * 1024}\r\n\r\n`));
      let answer = "";
      socket.on("data", (d) => (answer += d));
      socket.on("end", () => resolve(answer));
      socket.on("error", reject);
      socket.setTimeout(5000, () => socket.destroy(new Error("no answer")));
    });
    assert.match(raw, /^HTTP\/1\.1 413 /);
    assert.doesNotMatch(raw, /HAProxy|2\.6\./i);
  });
});

describe("the stats page's login must be in the environment", () => {
  it("npm start refuses with STATS_CREDENTIALS_UNSET, naming the variable, and starts nothing", async () => {
    const topology = parseTopology(await withFreePorts({ ...seedTopology(), monitoring: { ...seedTopology().monitoring, statsAuth: { userFromEnv: "LB_UNSET_USER", passwordFromEnv: "LB_UNSET_PASSWORD" } } } as any));
    const runDir = makeRunDir();
    try {
      await assert.rejects(startLocalStack(topology, { runDir }), (error: Error) => error instanceof StatsCredentialsUnsetError && /LB_UNSET_USER is not set/.test(error.message));
      assert.deepEqual(readdirSync(runDir), [], "nothing written, nothing started");
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});
