// End-to-end TLS and the PROXY protocol on the real local stack: HAProxy re-encrypts to a server it
// verifies (one from another CA fails its check and gets no traffic), requires client certificates
// on a bind (the subject reaches the server), and tells a server the client's address with PROXY v2
// (a bind that accepts the header takes it only from the declared network).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import https from "node:https";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology } from "../infra/model/schema.ts";
import { findFreePortRange, withFreePorts } from "../infra/runtime/ports.ts";
import { DEV_CA_FILE } from "../infra/runtime/certificates.ts";
import { writeSelfSignedCertificates } from "../infra/render/haproxy-check.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { field, parseShowStat, serverStates } from "../haproxy/show-stat.ts";
import { startTopologyStack, eventually, type TestStack } from "./support/stack.ts";
import { seedTopology } from "./support/topologies.ts";

/** A PROXY protocol v2 header for a TCP/IPv4 connection from `source` (RFC-like layout of HAProxy's spec). */
function proxyV2Header(source: string, sourcePort: number, destination: string, destinationPort: number): Buffer {
  const address = (ip: string) => Buffer.from(ip.split(".").map(Number));
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sourcePort, 0);
  ports.writeUInt16BE(destinationPort, 2);
  const body = Buffer.concat([address(source), address(destination), ports]);
  const fixed = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0, body.length]);
  return Buffer.concat([fixed, body]);
}

/**
 * A server that speaks only after a PROXY v2 header: it answers with the client address the header
 * told it, then closes (a connection without a header is closed unanswered).
 */
function proxyAwareServer(): Server {
  return createServer((socket) => {
    let data = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (data.length < 16) return;
      if (data.subarray(0, 12).toString("latin1") !== "\r\n\r\n\0\r\nQUIT\n") return void socket.destroy();
      const length = data.readUInt16BE(14);
      if (data.length < 16 + length) return;
      const family = data[13]!;
      socket.end(family === 0x11 ? [...data.subarray(16, 20)].join(".") : `family ${family}`);
    });
    socket.on("error", () => {});
  });
}

/** What the server behind `port` says after our optional PROXY header, from `localAddress`; "closed" when nothing comes. */
function exchange(port: number, localAddress: string, header?: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress });
    let answer = "";
    socket.setTimeout(3000, () => socket.destroy());
    socket.on("connect", () => header && socket.write(header));
    socket.on("data", (chunk) => (answer += chunk.toString("latin1")));
    socket.on("close", () => resolve(answer || "closed"));
    socket.on("error", () => {});
  });
}

describe("TLS to servers, client certificates and the PROXY protocol on the real local stack", () => {
  let topology: Topology;
  let running: TestStack;
  let scratch: string;
  let rogue: https.Server;
  let proxyAware: Server;
  const port = (frontend: string) => topology.frontends.find((f) => f.name === frontend)!.binds[0]!.port;
  const states = async (backend: string) => serverStates(parseShowStat(await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show stat"))).filter((s) => s.backend === backend);

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "lb-tls-live-"));
    // A server for the same name, with a certificate of another CA (self-signed): HAProxy must not trust it.
    await writeSelfSignedCertificates(scratch, [{ name: "rogue.pem", kind: "certificate" }]);
    const rogueKeyPair = readFileSync(join(scratch, "rogue.pem"), "utf8");
    rogue = https.createServer({ cert: rogueKeyPair, key: rogueKeyPair }, (_req, res) => res.writeHead(200, { "X-Served-By": "rogue" }).end("rogue"));
    proxyAware = proxyAwareServer();
    const [roguePort, proxyAwarePort] = [await findFreePortRange(1, new Set()), 0];
    await new Promise<void>((r) => rogue.listen(roguePort, "127.0.0.1", r));
    await new Promise<void>((r) => proxyAware.listen(proxyAwarePort, "127.0.0.1", r));
    const awarePort = (proxyAware.address() as { port: number }).port;

    const t: any = seedTopology();
    t.global.hardStopAfter = "5s";
    t.backends.push(
      {
        name: "secure",
        healthCheck: { http: { path: "/status" } },
        tls: { caFile: "internal-ca.pem", serverName: "secure.internal" },
        servers: [
          { name: "secure-1", address: "secure-1", port: 5301, inter: "500ms", fall: 2, rise: 1 },
          // Enabled by the test once the stack runs: its check must fail, its traffic must be none.
          { name: "rogue", address: "127.0.0.1", port: roguePort, external: true, disabled: true, inter: "500ms", fall: 1, rise: 1 },
        ],
      },
      { name: "proxy_aware", mode: "tcp", sendProxy: "v2", healthCheck: { connect: true }, servers: [{ name: "aware-1", address: "127.0.0.1", port: awarePort, external: true, inter: "500ms", rise: 1 }] },
    );
    t.frontends.push(
      { name: "reencrypt", binds: [{ port: 8601 }], defaultBackend: "secure" },
      { name: "mtls", binds: [{ port: 8602, tlsCertificate: "site.pem", clientCertificates: { caFile: "clients-ca.pem", subjectHeader: "X-Client-DN" } }], defaultBackend: "flask_servers" },
      { name: "proxied", mode: "tcp", binds: [{ port: 8603, acceptProxy: { from: ["127.0.0.2/32"] } }], defaultBackend: "proxy_aware" },
    );
    topology = parseTopology(await withFreePorts(t));
    // withFreePorts moved the external servers' ports too: put them back where the test's servers listen.
    for (const [backend, server, p] of [["secure", "rogue", roguePort], ["proxy_aware", "aware-1", awarePort]] as const) topology.backends.find((b) => b.name === backend)!.servers.find((s) => s.name === server)!.port = p;
    running = await startTopologyStack(topology);
  });
  afterAll(async () => {
    await running?.cleanup();
    await new Promise((r) => rogue?.close(r));
    await new Promise((r) => proxyAware?.close(r));
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("re-encrypts to the server it verifies; one whose certificate another CA signed fails its check and gets no traffic", async () => {
    await runtimeCommand({ path: running.stack.plan.sockets.admin }, "set server secure/rogue state ready");
    assert.ok(await eventually(async () => (await states("secure")).find((s) => s.server === "rogue")?.status.startsWith("DOWN") === true, 5000), "the rogue server was not marked DOWN");
    const servedBy: string[] = [];
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`http://127.0.0.1:${port("reencrypt")}/`);
      servedBy.push(response.headers.get("x-served-by") ?? `status ${response.status}`);
    }
    assert.deepEqual([...new Set(servedBy)], ["secure-1"]);
    const rogueRow = parseShowStat(await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show stat")).rows.find((r) => r.proxy === "secure" && r.name === "rogue")!;
    assert.equal(field(rogueRow, "stot"), "0", "the rogue server got connections");
    assert.match(field(rogueRow, "check_status") ?? "", /^L6/, "the rogue's check failed in the TLS layer");
  });

  it("a client without a certificate is refused; one with a certificate from the declared CA is served, its subject passed on", async () => {
    const ca = readFileSync(join(running.runDir, DEV_CA_FILE), "utf8");
    const key = join(scratch, "client.key");
    const csr = join(scratch, "client.csr");
    const cert = join(scratch, "client.crt");
    execFileSync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/O=payments/CN=billing-worker", "-keyout", key, "-out", csr], { stdio: "ignore" });
    writeFileSync(join(scratch, "client.ext"), "extendedKeyUsage=clientAuth\n");
    execFileSync("openssl", ["x509", "-req", "-in", csr, "-CA", join(running.runDir, DEV_CA_FILE), "-CAkey", join(running.runDir, "tls/dev-ca.key"), "-CAcreateserial", "-days", "1", "-extfile", join(scratch, "client.ext"), "-out", cert], { stdio: "ignore" });

    const request = (withCertificate: boolean) =>
      new Promise<{ status: number; body: string } | { error: string }>((resolve) => {
        const req = https.request({ host: "127.0.0.1", port: port("mtls"), path: "/", ca, servername: "localhost", agent: false, timeout: 5000, ...(withCertificate && { cert: readFileSync(cert), key: readFileSync(key) }) }, (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => resolve({ status: res.statusCode!, body }));
        });
        req.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message })).end();
      });
    const without = await request(false);
    assert.ok("error" in without, `a client without a certificate was served: ${JSON.stringify(without)}`);
    const served = await request(true);
    assert.ok("status" in served && served.status === 200, JSON.stringify(served));
    const headers = JSON.parse(served.body).headers as [string, string][];
    assert.deepEqual(headers.filter(([n]) => n.toLowerCase() === "x-client-dn").map(([, v]) => v), ["/O=payments/CN=billing-worker"]);

    // A certificate from another CA: refused in the handshake.
    const other = await new Promise<string>((resolve) => {
      const rogueKeyPair = readFileSync(join(scratch, "rogue.pem"));
      const socket = tlsConnect({ host: "127.0.0.1", port: port("mtls"), ca, servername: "localhost", cert: rogueKeyPair, key: rogueKeyPair }, () => socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      let answer = "";
      socket.on("data", (c) => (answer += c.toString()));
      socket.on("close", () => resolve(answer ? "answered" : "refused"));
      socket.on("error", () => {});
    });
    assert.equal(other, "refused");
  });

  it("PROXY v2: the server is told the client's address; the header is taken only from the declared network, never missing", async () => {
    const header = proxyV2Header("203.0.113.7", 40000, "127.0.0.1", port("proxied"));
    assert.equal(await exchange(port("proxied"), "127.0.0.2", header), "203.0.113.7", "the server was not told the address the header gave");
    assert.equal(await exchange(port("proxied"), "127.0.0.2"), "closed", "a client that sends no header was served");
    assert.equal(await exchange(port("proxied"), "127.0.0.1", header), "closed", "a header from outside the declared network was taken");
  });
});
