// A log target that is the local syslog's socket (the shape of "log /dev/log local0" that import
// reads): the local stack's HAProxy sends each request's line there as an RFC 3164 datagram. The
// syslog is socat on a unix datagram socket in a scratch folder, standing where /dev/log would be.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { burst, TrafficClient } from "../verification/traffic.ts";
import { pollUntil } from "../lib/poll.ts";
import { startTestStack, type TestStack } from "./support/stack.ts";

describe("logs to a local syslog socket", () => {
  const scratch = mkdtempSync(join(tmpdir(), "lb-log-socket-"));
  const socket = join(scratch, "log");
  const received = join(scratch, "received.log");
  let syslog: ChildProcess;
  let running: TestStack;

  beforeAll(async () => {
    syslog = spawn("socat", ["-u", `UNIX-RECV:${socket}`, `OPEN:${received},creat,append`], { stdio: "ignore" });
    assert.ok(await pollUntil(async () => (existsSync(socket) ? true : undefined), { timeoutMs: 5000, intervalMs: 50 }), "socat listens");
    running = await startTestStack((t) => (t.global.logs = [{ target: socket, format: "rfc3164", facility: "local0" }]));
  });
  afterAll(async () => {
    await running?.cleanup();
    syslog?.kill();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("renders the socket as HAProxy's log target and delivers each request's line there, with its syslog header", async () => {
    assert.match(readFileSync(join(running.runDir, "haproxy.cfg"), "utf8"), new RegExp(`^    log ${socket} format rfc3164 local0$`, "m"));
    const client = new TrafficClient(`http://127.0.0.1:${running.topology.frontends[0]!.binds[0]!.port}/logged-here`, { connections: 1 });
    await burst(client, 3, 1, () => client.get("/logged-here"));
    await client.close();
    const lines = await pollUntil(async () => {
      const found = existsSync(received) ? readFileSync(received, "utf8").split("\n").filter((l) => l.includes("GET /logged-here")) : [];
      return found.length >= 3 ? found : undefined;
    }, { timeoutMs: 10_000, intervalMs: 100 });
    assert.ok(lines, `three request lines reached the socket: ${existsSync(received) ? readFileSync(received, "utf8").slice(0, 500) : "(nothing)"}`);
    // <134>: facility local0 (16) × 8 + info (6); then the RFC 3164 timestamp, the host name and haproxy[PID].
    for (const line of lines) assert.match(line, /^<134>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ haproxy\[\d+\]: 127\.0\.0\.1:\d+ \[.*\] http_front flask_servers\/web-[ab] .* 200 .*"GET \/logged-here HTTP\/1\.1"$/);
  });
});
