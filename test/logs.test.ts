// Log shipping from the real HAProxy: to a syslog listener over UDP, and over TCP through a ring
// (RFC 6587 octet counting), one line per request in the configured format with the fields an
// operator greps for. The listeners are the test's own; the default keeps the run directory's log file.
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import http from "node:http";
import { readFileSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { requestOnce } from "../verification/probes.ts";
import { eventually, startTestStack, type TestStack } from "./support/stack.ts";

/** Splits an RFC 6587 octet-counted stream ("LEN SP MSG" repeated) into messages; the rest waits for more bytes. */
function splitOctetCounted(buffer: string): { messages: string[]; rest: string } {
  const messages: string[] = [];
  let rest = buffer;
  for (;;) {
    const space = rest.indexOf(" ");
    if (space < 0) break;
    const length = Number(rest.slice(0, space));
    if (!Number.isInteger(length) || rest.length < space + 1 + length) break;
    messages.push(rest.slice(space + 1, space + 1 + length));
    rest = rest.slice(space + 1 + length);
  }
  return { messages, rest };
}

// <PRI>1 TIMESTAMP HOST APP PID MSGID SD MSG (RFC 5424), MSG being HAProxy's httplog line.
const RFC5424 = /^<(\d+)>1 \S+ \S+ haproxy \d+ - - (.*)$/;
const HTTPLOG = /^(127\.[0-9.]+):\d+ \[[^\]]+\] (\S+) (\S+)\/(\S+) (-?\d+)\/(-?\d+)\/(-?\d+)\/(-?\d+)\/(\d+) (\d{3}) \d+ .* "GET (\S+) HTTP\/1\.1"$/;

describe("log shipping to syslog listeners (UDP, and TCP through a ring)", () => {
  let running: TestStack;
  let udp: Socket;
  let tcp: Server;
  const received = { udp: [] as string[], tcp: [] as string[] };

  beforeAll(async () => {
    udp = createSocket("udp4");
    udp.on("message", (message) => received.udp.push(message.toString("utf8").trimEnd()));
    await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
    tcp = createServer((socket) => {
      let pending = "";
      socket.on("data", (chunk) => {
        const { messages, rest } = splitOctetCounted(pending + chunk.toString("utf8"));
        received.tcp.push(...messages.map((m) => m.trimEnd()));
        pending = rest;
      });
    });
    await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
    const [udpPort, tcpPort] = [udp.address().port, (tcp.address() as AddressInfo).port];
    running = await startTestStack((t) => {
      t.global.logs = [
        { target: `127.0.0.1:${udpPort}`, format: "rfc5424", facility: "local0" },
        { target: `127.0.0.1:${tcpPort}`, transport: "tcp", format: "rfc5424", facility: "local1", minLevel: "info" },
      ];
    });
  });
  afterAll(async () => {
    await running?.cleanup();
    udp?.close();
    await new Promise((resolve) => (tcp ? tcp.close(resolve) : resolve(undefined)));
  });

  it("every request is one line on each, with client, frontend, backend, server, timers and status", async () => {
    const port = running.topology.frontends[0]!.binds[0]!.port;
    const paths = Array.from({ length: 10 }, (_, i) => `/log-probe/${i}`);
    for (const path of paths) assert.equal((await requestOnce(`http://127.0.0.1:${port}${path}`)).status, 200);
    const probes = (lines: string[]) => lines.filter((l) => l.includes("/log-probe/"));
    assert.ok(await eventually(async () => probes(received.udp).length >= 10 && probes(received.tcp).length >= 10, 10_000), `udp ${probes(received.udp).length}, tcp ${probes(received.tcp).length}`);
    for (const [transport, facility] of [["udp", 16], ["tcp", 17]] as const) {
      const lines = probes(received[transport]);
      assert.equal(lines.length, 10, `${transport}: one line per request`);
      const logged = lines.map((line) => {
        const syslog = RFC5424.exec(line);
        assert.ok(syslog, `${transport}: not RFC 5424: ${line}`);
        assert.equal(Number(syslog[1]), facility * 8 + 6, `${transport}: facility ${facility}, level info`);
        const fields = HTTPLOG.exec(syslog[2]!);
        assert.ok(fields, `${transport}: not an httplog line: ${syslog[2]}`);
        const [, client, frontend, backend, server, , , , , total, status, path] = fields;
        assert.match(client!, /^127\./);
        assert.deepEqual([frontend, backend, status], ["http_front", "flask_servers", "200"]);
        assert.match(server!, /^web-[ab]$/);
        assert.ok(Number(total) >= 0);
        return path;
      });
      assert.deepEqual(logged.sort(), [...paths].sort(), `${transport}: each request once`);
    }
  });
});

describe("the local stack's default log target", () => {
  it("writes each request's line to the run directory's haproxy.log (stdout), with the headers the frontend captures", async () => {
    const running = await startTestStack((t) => (t.frontends[0].logCaptures = { requestHeaders: [{ name: "X-Request-Id", length: 8 }, { name: "X-Absent", length: 4 }], responseHeaders: [{ name: "Content-Type", length: 9 }] }));
    try {
      const port = running.topology.frontends[0]!.binds[0]!.port;
      await new Promise<void>((resolve, reject) => http.get({ host: "127.0.0.1", port, path: "/default-log-probe", headers: { "X-Request-Id": "4f2c9a1e-77b0" }, agent: false }, (res) => res.resume().on("end", resolve)).on("error", reject));
      const log = () => readFileSync(join(running.runDir, "logs", "haproxy.log"), "utf8");
      // Each capture cut to its length, request headers then response headers, "|" between two of one kind.
      assert.ok(await eventually(async () => /http_front flask_servers\/web-[ab] .* 200 .* \{4f2c9a1e\|\} \{applicati\} "GET \/default-log-probe HTTP\/1\.1"/.test(log()), 5000), log());
    } finally {
      await running.cleanup();
    }
  });
});

describe("splitOctetCounted", () => {
  it("splits whole frames and keeps a partial one for later", () => {
    assert.deepEqual(splitOctetCounted("5 hello3 abc4 ab"), { messages: ["hello", "abc"], rest: "4 ab" });
    assert.deepEqual(splitOctetCounted(""), { messages: [], rest: "" });
  });
});
