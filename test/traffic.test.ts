// The traffic generator on a real ephemeral server: bounded, tagged, and from the source address asked.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "vitest";
import { backgroundTraffic, burst, freshLoopbackSource, TrafficClient } from "../verification/traffic.ts";
import { eventually } from "./support/stack.ts";

async function server(handler: (remote: string) => { status?: number; servedBy?: string; destroy?: boolean }) {
  const remotes: string[] = [];
  const http = createServer((request, response) => {
    remotes.push(request.socket.remoteAddress!);
    const reply = handler(request.socket.remoteAddress!);
    if (reply.destroy) return void request.socket.destroy();
    response.writeHead(reply.status ?? 200, { "x-served-by": reply.servedBy ?? "s1", "set-cookie": "SERVER=s1; path=/" }).end("ok");
  });
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/`, remotes, close: () => new Promise<void>((r) => http.close(() => r())) };
}

describe("TrafficClient", () => {
  it("connects from the source address it is given: distinct clients for balance source", async () => {
    const s = await server(() => ({}));
    try {
      for (const address of ["127.0.0.2", "127.0.0.9"]) {
        const client = new TrafficClient(s.url, { connections: 1, localAddress: address });
        await client.get();
        await client.close();
      }
      assert.deepEqual(s.remotes, ["127.0.0.2", "127.0.0.9"]);
    } finally {
      await s.close();
    }
  });

  it("tags each reply with its status, X-Served-By and the cookie set", async () => {
    const s = await server(() => ({ status: 201, servedBy: "web-z" }));
    const client = new TrafficClient(s.url, { connections: 1 });
    try {
      assert.deepEqual(await client.get(), { status: 201, server: "web-z", setCookie: "SERVER=s1" });
    } finally {
      await client.close();
      await s.close();
    }
  });

  it("turns a connection cut mid-request into an error, not an exception", async () => {
    const s = await server(() => ({ destroy: true }));
    const client = new TrafficClient(s.url, { connections: 1 });
    try {
      const reply = await client.get();
      assert.equal(reply.status, undefined);
      assert.match(reply.error!, /ECONNRESET|UND_ERR_SOCKET|other side closed/);
    } finally {
      await client.close();
      await s.close();
    }
  });
});

describe("burst and backgroundTraffic", () => {
  it("burst sends exactly the count asked", async () => {
    const s = await server(() => ({}));
    const client = new TrafficClient(s.url, { connections: 4 });
    try {
      assert.equal((await burst(client, 37, 4)).length, 37);
      assert.equal(s.remotes.length, 37);
    } finally {
      await client.close();
      await s.close();
    }
  });

  it("background traffic stops at its request bound by itself, with no stop() call", async () => {
    const s = await server(() => ({}));
    const client = new TrafficClient(s.url, { connections: 2 });
    try {
      const traffic = backgroundTraffic(client, { concurrency: 2, maxMs: 60_000, maxRequests: 50 });
      // Wait on the server's count, not the clock: it stops growing at the bound.
      assert.ok(await eventually(async () => s.remotes.length >= 50, 10_000), `only ${s.remotes.length} requests arrived`);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(s.remotes.length, 50, "it went on past maxRequests");
      assert.equal((await traffic.stop()).length, 50);
    } finally {
      await client.close();
      await s.close();
    }
  });

  it("background traffic stops at its time bound by itself", async () => {
    const s = await server(() => ({}));
    const client = new TrafficClient(s.url, { connections: 2 });
    try {
      const traffic = backgroundTraffic(client, { concurrency: 2, maxMs: 300, maxRequests: 1_000_000 });
      assert.ok(await eventually(async () => traffic.now() > 600, 5_000));
      const count = s.remotes.length;
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(s.remotes.length, count, "requests went on after maxMs");
      const samples = await traffic.stop();
      assert.ok(samples.length > 0 && samples.every((x) => x.t <= 300 + 1000), "a sample ended long after maxMs");
    } finally {
      await client.close();
      await s.close();
    }
  });

  it("stop() ends the traffic early: no request starts after it returns", async () => {
    const s = await server(() => ({}));
    const client = new TrafficClient(s.url, { connections: 2 });
    try {
      const traffic = backgroundTraffic(client, { concurrency: 2, maxMs: 60_000, maxRequests: 1_000_000 });
      assert.ok(await eventually(async () => s.remotes.length >= 20, 10_000));
      const samples = await traffic.stop();
      const atStop = s.remotes.length;
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(s.remotes.length, atStop);
      assert.equal(samples.length, atStop, "every request sent has its sample");
    } finally {
      await client.close();
      await s.close();
    }
  });
});

describe("freshLoopbackSource: the sources a rate-limited frontend sees as distinct clients", () => {
  it("hands out distinct loopback addresses, never 127.0.0.1, never a .0 or .255", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const address = freshLoopbackSource();
      assert.match(address, /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/);
      assert.ok(!seen.has(address), `${address} handed out twice`);
      assert.notEqual(address, "127.0.0.1");
      assert.ok(!/\.(0|255)$/.test(address), address);
      seen.add(address);
    }
  });
});
