// Connection-rate limits on the real HAProxy: a client past its limit has its connection closed as
// it opens (nothing reaches the server, an HTTP client gets no answer at all), other clients are
// served, and a client the limit's condition leaves out is never counted; in a TCP frontend and an
// HTTP one alike.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import http from "node:http";
import { connect, createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseTopology } from "../infra/model/parse.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { localTarget } from "../infra/render/targets.ts";
import { findFreePortRange, isPortFree } from "../infra/runtime/ports.ts";
import { pollUntil } from "../lib/poll.ts";
import { makeRunDir } from "./support/stack.ts";
import { seedTopology } from "./support/topologies.ts";

const LIMIT = 3;
const UNCOUNTED = "127.0.0.4";

/** What a TCP client from `localAddress` reads before the connection ends: the server's greeting, or "" when HAProxy closed it. */
function greeting(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress });
    let text = "";
    socket.setEncoding("utf8").on("data", (chunk) => {
      text += chunk;
      if (text.includes("\n")) socket.end();
    });
    socket.on("close", () => resolve(text.trim()));
    socket.on("error", () => {});
    socket.setTimeout(3000, () => socket.destroy());
  });
}

/** One HTTP request from `localAddress` on a connection of its own: the status, or the socket error's code. */
function request(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/", localAddress, agent: false, timeout: 3000 }, (res) => {
      res.resume().on("end", () => resolve(String(res.statusCode)));
    });
    req.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
    req.on("timeout", () => req.destroy());
  });
}

describe("connection-rate limits on the real HAProxy", () => {
  let haproxy: ChildProcess | undefined;
  const servers: (Server | http.Server)[] = [];
  let [tcpPort, httpPort] = [0, 0];
  let accepted = 0;

  beforeAll(async () => {
    const runDir = makeRunDir();
    const taken = new Set<number>();
    const [tcpServerPort, httpServerPort] = [await findFreePortRange(1, taken), await findFreePortRange(1, taken)];
    [tcpPort, httpPort] = [await findFreePortRange(1, taken), await findFreePortRange(1, taken)];
    const tcpServer = createServer((socket) => {
      accepted++;
      socket.end("hello\n");
    });
    const httpServer = http.createServer((_req, res) => res.end("ok"));
    await new Promise<void>((r) => tcpServer.listen(tcpServerPort, "127.0.0.1", r));
    await new Promise<void>((r) => httpServer.listen(httpServerPort, "127.0.0.1", r));
    servers.push(tcpServer, httpServer);

    const limit = (name: string) => ({ name, key: "source", count: "connections", limit: LIMIT, window: "30s", when: { not: { source: `${UNCOUNTED}/32` } } });
    const input = seedTopology() as any;
    input.services = {}; // HAProxy alone
    input.monitoring = { port: await findFreePortRange(1, taken) };
    input.backends = [
      { name: "site", servers: [{ name: "site-1", address: "127.0.0.1", port: httpServerPort, external: true }] },
      { name: "queue", mode: "tcp", servers: [{ name: "queue-1", address: "127.0.0.1", port: tcpServerPort, external: true }] },
    ];
    input.frontends = [
      { name: "web", binds: [{ port: httpPort }], defaultBackend: "site", errorPages: [], rateLimits: [limit("per_client")] },
      { name: "broker", mode: "tcp", binds: [{ port: tcpPort }], defaultBackend: "queue", rateLimits: [limit("per_client")] },
    ];
    const config = renderHaproxyConfig(parseTopology(input), localTarget(runDir));
    writeFileSync(join(runDir, "haproxy.cfg"), config.replace(/^\s+errorfile .*\n/gm, ""));
    haproxy = spawn("haproxy", ["-db", "-f", join(runDir, "haproxy.cfg")], { stdio: "ignore" });
    const up = await pollUntil(async () => ((await isPortFree(tcpPort)) || (await isPortFree(httpPort)) ? undefined : true), { timeoutMs: 10_000, intervalMs: 50 });
    assert.ok(up, "HAProxy listens on both frontends");
  }, 30_000);

  afterAll(async () => {
    haproxy?.kill("SIGKILL");
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it("TCP: the first connections of a client reach the server, the next is closed before it does; another client is served", async () => {
    const before = accepted;
    const answers: string[] = [];
    for (let i = 0; i < LIMIT + 2; i++) answers.push(await greeting(tcpPort, "127.0.0.2"));
    assert.deepEqual(answers, [...Array(LIMIT).fill("hello"), "", ""]);
    assert.equal(accepted - before, LIMIT, "no connection past the limit reached the server");
    assert.equal(await greeting(tcpPort, "127.0.0.3"), "hello");
  });

  it("HTTP: past the limit a client's new connection gets no answer at all (no 429: nothing was read)", async () => {
    const answers: string[] = [];
    for (let i = 0; i < LIMIT + 1; i++) answers.push(await request(httpPort, "127.0.0.5"));
    assert.deepEqual(answers.slice(0, LIMIT), Array(LIMIT).fill("200"));
    assert.match(answers[LIMIT]!, /^(ECONNRESET|EPIPE)$/);
    assert.equal(await request(httpPort, "127.0.0.6"), "200");
  });

  it("a client the condition leaves out is never counted", async () => {
    const answers: string[] = [];
    for (let i = 0; i < LIMIT + 3; i++) answers.push(await greeting(tcpPort, UNCOUNTED));
    assert.deepEqual(answers, Array(LIMIT + 3).fill("hello"));
  });
});
