// TLS termination on the real HAProxy of the local stack: a development CA signs the certificate
// the bind names, clients verify the chain against it, the minimum version is enforced by the
// server, plain HTTP is redirected, HSTS and the cookie's attributes are sent, HTTP/2 is offered.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect as http2Connect } from "node:http2";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { Pool } from "undici";
import { allPassed } from "../verification/judge.ts";
import { requestOnce } from "../verification/probes.ts";
import { runAssertions } from "../verification/run.ts";
import { writeSelfSignedCertificates } from "../infra/render/haproxy-check.ts";
import { DEV_CA_FILE } from "../infra/runtime/certificates.ts";
import { expectationsFromTopology, localCa, localStackAccess } from "../infra/runtime/verify.ts";
import { startTestStack, type TestStack } from "./support/stack.ts";

/** A handshake's outcome: the protocol and ALPN chosen, or the error's code. */
function handshake(port: number, options: ConnectionOptions): Promise<{ protocol?: string | null; alpn?: string | false | null; authorized?: boolean; error?: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: "127.0.0.1", port, ...options }, () => {
      resolve({ protocol: socket.getProtocol(), alpn: socket.alpnProtocol, authorized: socket.authorized });
      socket.end();
    });
    socket.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code }));
  });
}

describe("TLS termination with a development certificate (global.tls.minVersion TLSv1.3, redirect, HSTS, SameSite=Strict)", () => {
  let running: TestStack;
  let ca: string;
  const ports = () => ({ plain: running.topology.frontends[0]!.binds[0]!.port, tls: running.topology.frontends[0]!.binds[1]!.port });

  beforeAll(async () => {
    running = await startTestStack((t) => {
      t.global.tls = { minVersion: "TLSv1.3" };
      t.frontends[0].binds = [{ port: 60000 }, { port: 60443, tlsCertificate: "site.pem" }];
      t.frontends[0].httpsRedirect = true;
      t.frontends[0].hsts = { maxAgeSeconds: 600, includeSubdomains: true };
      t.backends[0].cookie = { ...t.backends[0].cookie, secure: true, sameSite: "Strict" };
    });
    ca = readFileSync(join(running.runDir, DEV_CA_FILE), "utf8");
  });
  afterAll(async () => running?.cleanup());

  it("the development CA signed a certificate for localhost and 127.0.0.1; the run directory keeps the key private", () => {
    assert.equal(running.stack.certificates.devCaFile, join(running.runDir, DEV_CA_FILE));
    assert.deepEqual(running.stack.certificates.generated, ["site.pem"]);
    const pem = readFileSync(join(running.stack.certificates.dir, "site.pem"), "utf8");
    const leaf = new X509Certificate(pem);
    assert.ok(leaf.verify(new X509Certificate(ca).publicKey), "signed by the CA");
    assert.equal(leaf.subjectAltName, "DNS:localhost, IP Address:127.0.0.1");
    assert.equal(leaf.ca, false);
    assert.match(pem, /-----BEGIN PRIVATE KEY-----/, "HAProxy's crt file holds the key too");
  });

  it("HTTPS verifies against the CA, and fails without it", async () => {
    const ok = await requestOnce(`https://127.0.0.1:${ports().tls}/`, { ca });
    assert.equal(ok.status, 200);
    assert.match(String(ok.headers["x-served-by"]), /^web-[ab]$/);
    await assert.rejects(requestOnce(`https://127.0.0.1:${ports().tls}/`), (error: { code?: string }) => error.code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE" || error.code === "SELF_SIGNED_CERT_IN_CHAIN");
  });

  it("the server refuses a client that offers only TLSv1.2 (below the minimum), and speaks TLSv1.3", async () => {
    assert.deepEqual(await handshake(ports().tls, { ca, maxVersion: "TLSv1.2" }), { error: "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION" });
    const chosen = await handshake(ports().tls, { ca });
    assert.equal(chosen.protocol, "TLSv1.3");
    assert.equal(chosen.authorized, true);
  });

  it("HTTP/2 through ALPN: h2 is chosen and a request is served over it", async () => {
    assert.equal((await handshake(ports().tls, { ca, ALPNProtocols: ["h2", "http/1.1"] })).alpn, "h2");
    const session = http2Connect(`https://127.0.0.1:${ports().tls}`, { ca });
    try {
      const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const stream = session.request({ ":path": "/" });
        stream.on("response", (h) => resolve(h));
        stream.on("error", reject);
        stream.resume();
        stream.end();
      });
      assert.equal(headers[":status"], 200);
      assert.match(String(headers["x-served-by"]), /^web-[ab]$/);
    } finally {
      session.close();
    }
  });

  it("plain HTTP gets 301 to the same path on the HTTPS port, without HSTS; HTTPS answers carry HSTS", async () => {
    const plain = await requestOnce(`http://127.0.0.1:${ports().plain}/some/path?q=1`);
    assert.equal(plain.status, 301);
    assert.equal(plain.headers.location, `https://127.0.0.1:${ports().tls}/some/path?q=1`);
    assert.equal(plain.headers["strict-transport-security"], undefined);
    // The Host header's port is replaced, an IPv6 literal kept whole.
    for (const [host, location] of [[`[::1]:${ports().plain}`, `https://[::1]:${ports().tls}/x`], ["example.test", `https://example.test:${ports().tls}/x`]]) {
      const pool = new Pool(`http://127.0.0.1:${ports().plain}`, { connections: 1 });
      try {
        const response = await pool.request({ path: "/x", method: "GET", headers: { host } });
        await response.body.dump();
        assert.equal(response.headers.location, location, host);
      } finally {
        await pool.close();
      }
    }
    const secure = await requestOnce(`https://127.0.0.1:${ports().tls}/`, { ca });
    assert.equal(secure.headers["strict-transport-security"], "max-age=600; includeSubDomains");
  });

  it("the persistence cookie, read raw, carries Secure, HttpOnly and SameSite=Strict", async () => {
    const reply = await requestOnce(`https://127.0.0.1:${ports().tls}/`, { ca });
    const cookie = String(reply.headers["set-cookie"]);
    assert.match(cookie, /^SERVER=web-[ab]; path=\//);
    const attributes = cookie.split(";").slice(1).map((a) => a.trim());
    for (const attribute of ["Secure", "HttpOnly", "SameSite=Strict"]) assert.ok(attributes.includes(attribute), `${attribute} in ${cookie}`);
  });

  it("npm run verify's entrypoints and security assertions check all of it and pass", async () => {
    const expectations = expectationsFromTopology(running.topology, { ca: localCa(running.runDir) });
    const run = await runAssertions(expectations, localStackAccess(running.stack.plan, () => {}), { only: ["entrypoints", "security"], requests: 10 });
    assert.ok(allPassed(run.results), JSON.stringify(run.results));
    assert.match(run.results[0]!.measured, /^2 ports as expected \(TLS: TLSv1\.3 h2\)/);
    assert.match(run.results[1]!.measured, /Secure; SameSite=Strict/);
    // Without the CA, the chain does not verify and the assertion says so.
    const untrusted = await runAssertions({ ...expectations, ca: undefined }, localStackAccess(running.stack.plan, () => {}), { only: ["entrypoints"], requests: 10 });
    assert.equal(untrusted.results[0]!.verdict, "fail");
    assert.match(untrusted.results[0]!.measured, /certificate chain not verified/);
  });
});

describe("TLS with the user's certificate (--certs-dir)", () => {
  const certsDir = mkdtempSync(join(tmpdir(), "lb-certs-"));
  afterAll(() => rmSync(certsDir, { recursive: true, force: true }));

  it("HAProxy serves the certificate from the directory given, and no development CA is made", async () => {
    await writeSelfSignedCertificates(certsDir, [{ name: "site.pem", kind: "certificate" }]);
    const given = new X509Certificate(readFileSync(join(certsDir, "site.pem")));
    const running = await startTestStack((t) => t.frontends[0].binds.push({ port: 60443, tlsCertificate: "site.pem" }), { certsDir });
    try {
      assert.deepEqual(running.stack.certificates.given, ["site.pem"]);
      assert.equal(running.stack.certificates.devCaFile, undefined);
      assert.equal(localCa(running.runDir), undefined);
      const served = await new Promise<X509Certificate>((resolve, reject) => {
        const socket = tlsConnect({ host: "127.0.0.1", port: running.topology.frontends[0]!.binds[1]!.port, rejectUnauthorized: false }, () => {
          resolve(socket.getPeerX509Certificate()!);
          socket.end();
        });
        socket.on("error", reject);
      });
      assert.equal(served.fingerprint256, given.fingerprint256);
    } finally {
      await running.cleanup();
    }
  });
});
