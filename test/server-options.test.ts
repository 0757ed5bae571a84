// The server options of the model, each proven with traffic on the real HAProxy of the local stack:
// maxconn queues the excess and "timeout queue" answers 503; a backup server serves only when every
// active one is DOWN; a disabled one serves nothing and shows MAINT; balance first fills servers in
// order; X-Forwarded-For carries the client's address to the Flask app.
import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "vitest";
import { Pool } from "undici";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { field, parseShowStat, serverStates } from "../haproxy/show-stat.ts";
import { SIDECAR_PATHS } from "../sidecar/endpoints.ts";
import { requestOnce } from "../verification/probes.ts";
import { eventually, startTestStack, type TestStack } from "./support/stack.ts";

const QUEUE_TIMEOUT_MS = 1500;

describe("server options on a running stack", () => {
  let running: TestStack;
  const port = (frontend: string) => running.topology.frontends.find((f) => f.name === frontend)!.binds[0]!.port;
  const api = (command: string) => runtimeCommand({ path: running.stack.plan.sockets.admin }, command, { timeoutMs: 2000 });
  const server = async (backend: string, name: string) => serverStates(parseShowStat(await api("show stat"))).find((s) => s.backend === backend && s.server === name)!;
  const stat = async (backend: string, name: string, column: string) => {
    const row = parseShowStat(await api("show stat")).rows.find((r) => r.proxy === backend && r.name === name)!;
    return Number(field(row, column));
  };
  /** `count` GETs at once from their own connections; the server that answered each, or its status. */
  const concurrent = async (frontend: string, path: string, count: number) => {
    const pool = new Pool(`http://127.0.0.1:${port(frontend)}`, { connections: count, headersTimeout: 10_000 });
    try {
      return await Promise.all(Array.from({ length: count }, async () => {
        const response = await pool.request({ path, method: "GET" });
        const body = await response.body.text();
        return { status: response.statusCode, server: response.headers["x-served-by"] as string | undefined, body, length: response.headers["content-length"] };
      }));
    } finally {
      await pool.close();
    }
  };
  const servedBy = async (frontend: string, n: number) => {
    const seen: string[] = [];
    for (let i = 0; i < n; i++) seen.push(String((await requestOnce(`http://127.0.0.1:${port(frontend)}/`)).headers["x-served-by"]));
    return seen;
  };

  beforeAll(async () => {
    running = await startTestStack((t) => {
      t.defaults.timeouts.queue = `${QUEUE_TIMEOUT_MS}ms`;
      const web = (name: string, port: number, extra: object = {}) => ({ name, address: name, port, check: true, inter: "500ms", fall: 2, rise: 3, ...extra });
      const frontend = (name: string, port: number, backend: string) => ({ name, binds: [{ port }], defaultBackend: backend, errorPages: [{ status: 503, file: "503.http" }] });
      t.frontends.push(frontend("queue_front", 61000, "queued"), frontend("backup_front", 61001, "with_backup"), frontend("first_front", 61002, "filled"));
      t.backends.push(
        { name: "queued", servers: [web("web-a", 5001, { maxconn: 1 })] },
        { name: "with_backup", servers: [web("web-a", 5001), web("web-b", 5002, { backup: true }), web("web-c", 5003, { disabled: true })] },
        { name: "filled", balance: "first", servers: [web("web-a", 5001, { maxconn: 2 }), web("web-b", 5002, { maxconn: 2 })] },
      );
    }, { sidecar: true });
  });
  afterAll(async () => running?.cleanup());

  it("maxconn 1: the excess waits in HAProxy's queue (never two on the server), and a request queued past timeout queue gets 503 with the page", async () => {
    // Four 1-second requests at once: one runs, three queue; the second runs at 1 s, the last two
    // have waited 1.5 s by then and are answered 503 by HAProxy.
    const replies = await concurrent("queue_front", "/slow?ms=1000", 4);
    assert.deepEqual(replies.map((r) => r.status).sort(), [200, 200, 503, 503]);
    for (const reply of replies.filter((r) => r.status === 503)) {
      assert.match(reply.body, /"service unavailable"/, "the configured 503 page");
      assert.equal(reply.length, String(Buffer.byteLength(reply.body)), "with its Content-Length");
    }
    assert.equal(await stat("queued", "web-a", "smax"), 1, "the server never had more than maxconn");
    // Requests not pinned to a server wait in the backend's queue (a server's own queue holds those
    // its persistence cookie sends to it).
    assert.equal(await stat("queued", "BACKEND", "qmax"), 3, "three waited in the queue");
    // The sidecar exports the queue as HAProxy's exporter names it.
    const metrics = async () => (await fetch(`http://127.0.0.1:${running.topology.services.sidecar.port}${SIDECAR_PATHS.metrics}`)).text();
    assert.ok(await eventually(async () => /^haproxy_backend_max_queue\{proxy="queued"\} 3$/m.test(await metrics()), 5000), await metrics());
  });

  it("a backup server takes no traffic while an active one is UP, all of it when every active one is DOWN, and none again after", async () => {
    assert.deepEqual(new Set(await servedBy("backup_front", 10)), new Set(["web-a"]));
    await api("set server with_backup/web-a health down");
    try {
      assert.ok(await eventually(async () => (await server("with_backup", "web-a")).status.startsWith("DOWN"), 5000));
      assert.deepEqual(new Set(await servedBy("backup_front", 10)), new Set(["web-b"]));
    } finally {
      await api("set server with_backup/web-a health up");
    }
    assert.ok(await eventually(async () => (await server("with_backup", "web-a")).status === "UP", 10_000));
    assert.deepEqual(new Set(await servedBy("backup_front", 10)), new Set(["web-a"]));
  });

  it("a disabled server shows MAINT and takes nothing, even with every other server DOWN", async () => {
    assert.equal((await server("with_backup", "web-c")).status, "MAINT");
    await api("set server with_backup/web-a health down");
    await api("set server with_backup/web-b health down");
    try {
      assert.ok(await eventually(async () => (await server("with_backup", "web-b")).status.startsWith("DOWN"), 5000));
      const reply = await requestOnce(`http://127.0.0.1:${port("backup_front")}/`);
      assert.equal(reply.status, 503, "no server to serve: 503, not web-c");
      assert.equal(await stat("with_backup", "web-c", "stot"), 0);
    } finally {
      await api("set server with_backup/web-a health up");
      await api("set server with_backup/web-b health up");
    }
  });

  it("balance first: one client at a time stays on the first server; concurrency past its maxconn spills to the next (measured)", async () => {
    assert.deepEqual(new Set(await servedBy("first_front", 20)), new Set(["web-a"]));
    const replies = await concurrent("first_front", "/slow?ms=500", 4);
    const counts = replies.reduce((m, r) => m.set(r.server, (m.get(r.server) ?? 0) + 1), new Map<string | undefined, number>());
    assert.deepEqual(Object.fromEntries(counts), { "web-a": 2, "web-b": 2 }, "web-a filled to its maxconn 2, then web-b");
  });

  it("forwardfor: the Flask app sees the client's own address in X-Forwarded-For", async () => {
    const pool = new Pool(`http://127.0.0.1:${port("http_front")}`, { connections: 1, localAddress: "127.0.0.77" });
    try {
      const response = await pool.request({ path: "/", method: "GET" });
      assert.equal(((await response.body.json()) as { forwarded_for: string }).forwarded_for, "127.0.0.77");
    } finally {
      await pool.close();
    }
  });
});
