// Certificates the stack obtains itself, from a real ACME server (Debian's pebble): HAProxy
// answers the HTTP-01 challenges from a map changed at runtime, the issued certificate replaces
// the placeholder through the runtime API (no new worker), is on disk for the next reload, and an
// ACME server that is down leaves the served certificate in place, the failure recorded and retried.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:tls";
import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology } from "../infra/model/schema.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { topology as acmeExample } from "../infra/topologies/acme.ts";
import { renewDue } from "../infra/certs/renewer.ts";
import { pemCertificates } from "../infra/certs/policy.ts";
import { CERTIFICATES_STATE_FILE, localCertificateIo } from "../infra/certs/local-io.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { parseShowProc } from "../haproxy/master-cli.ts";
import { startTopologyStack, type TestStack } from "./support/stack.ts";
import { startPebble, type Pebble } from "./support/pebble.ts";

/** The certificate the TLS port shows to a client asking for `name`. */
function servedTo(port: number, name: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: name, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerX509Certificate();
      socket.end();
      raw ? resolve(raw) : reject(new Error("no certificate"));
    });
    socket.on("error", reject);
  });
}

describe("certificates from a real ACME server (pebble), installed without a reload", () => {
  let topology: Topology;
  let pebble: Pebble;
  let running: TestStack;
  let env: NodeJS.ProcessEnv;
  const logs: string[] = [];
  const tlsPort = () => topology.frontends[0]!.binds.find((b) => b.tlsCertificate !== undefined)!.port;
  const plainPort = () => topology.frontends[0]!.binds.find((b) => b.tlsCertificate === undefined)!.port;
  const workers = async () => parseShowProc(await runtimeCommand({ path: running.stack.plan.sockets.master }, "show proc")).workers.map((w) => w.pid);
  const io = () => localCertificateIo(running.runDir, topology, { env, log: (l) => logs.push(l) });

  beforeAll(async () => {
    topology = parseTopology(await withFreePorts(acmeExample));
    pebble = await startPebble(plainPort());
    env = { LB_ACME_DIRECTORY: pebble.directoryUrl, LB_ACME_CA: pebble.caFile };
    running = await startTopologyStack(topology);
  }, 60_000);
  afterAll(async () => {
    await running?.cleanup();
    await pebble?.close();
  });

  it("before issuance the bind serves the placeholder the stack made (the development CA's)", async () => {
    const served = await servedTo(tlsPort(), "shop.lb.test");
    assert.match(served.issuer, /lb-stack development CA/);
  });

  it("issues through HTTP-01 answered by HAProxy, installs at runtime: the new certificate served, the same worker, the file on disk", async () => {
    const before = await workers();
    const outcomes = await renewDue(topology, io());
    assert.equal(outcomes.length, 1);
    const outcome = outcomes[0]!;
    assert.equal(outcome.action, "installed", JSON.stringify(outcome) + "\n" + logs.join("\n"));
    const served = await servedTo(tlsPort(), "www.shop.lb.test");
    assert.equal(served.serialNumber.replace(/^0+/, ""), outcome.action === "installed" ? outcome.serial : "");
    assert.doesNotMatch(served.issuer, /development/);
    assert.ok(served.checkHost("shop.lb.test") && served.checkHost("www.shop.lb.test"));
    // The chain written beside it leads from the served leaf to pebble's root.
    const chain = pemCertificates(readFileSync(join(running.runDir, "certs", "shop.pem"), "utf8")).map((pem) => new X509Certificate(pem));
    const root = new X509Certificate(await pebble.issuingRoot());
    assert.ok(chain.length >= 2 && served.verify(chain[1]!.publicKey) && chain.at(-1)!.verify(root.publicKey), "the chain leads to pebble's root");
    assert.deepEqual(await workers(), before, "no reload: the same worker");
    const onDisk = new X509Certificate(readFileSync(join(running.runDir, "certs", "shop.pem"), "utf8"));
    assert.equal(onDisk.serialNumber, served.serialNumber, "the file on disk is the served certificate");
    assert.equal(await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show map maps/acme-challenges.map"), "", "the challenge tokens removed after");
  });

  it("a second pass keeps it: not due for renewal", async () => {
    const [outcome] = await renewDue(topology, io());
    assert.equal(outcome!.action, "kept");
  });

  it("the ACME server down: the served certificate stays, the failure is recorded with a backoff; back up, a renewal installs a new one", async () => {
    const servedBefore = (await servedTo(tlsPort(), "shop.lb.test")).serialNumber;
    await pebble.stop();
    const [failed] = await renewDue(topology, io(), { force: ["shop.pem"] });
    assert.equal(failed!.action, "failed");
    assert.match(failed!.action === "failed" ? failed!.error : "", /^shop\.pem: https:\/\/127\.0\.0\.1:\d+\/dir issued no certificate: .*ECONNREFUSED/);
    assert.equal((await servedTo(tlsPort(), "shop.lb.test")).serialNumber, servedBefore);
    const record = JSON.parse(readFileSync(join(running.runDir, CERTIFICATES_STATE_FILE), "utf8")).certificates["shop.pem"];
    assert.equal(record.failures, 1);
    assert.ok(new Date(record.nextAttemptAt).getTime() > Date.now());
    // Not forced: the backoff holds the next attempt.
    const [waiting] = await renewDue(topology, { ...io(), served: async () => undefined });
    assert.equal(waiting!.action, "waiting");

    await pebble.start();
    const [renewed] = await renewDue(topology, io(), { force: ["shop.pem"] });
    assert.equal(renewed!.action, "installed", JSON.stringify(renewed));
    assert.notEqual((await servedTo(tlsPort(), "shop.lb.test")).serialNumber, servedBefore);
    const after = JSON.parse(readFileSync(join(running.runDir, CERTIFICATES_STATE_FILE), "utf8")).certificates["shop.pem"];
    assert.deepEqual([after.failures, after.renewals], [0, { succeeded: 2, failed: 1 }]);
  });
});
