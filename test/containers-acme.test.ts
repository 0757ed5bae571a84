// Managed certificates in the CDKTF Docker stack, deployed on this machine's podman with pebble
// (Let's Encrypt's test ACME server) on the host: the stack's one issuer runs in a container of
// its own, fills HAProxy's certificate directory before HAProxy starts, obtains the certificate
// through HAProxy's HTTP-01 map, installs it over the admin socket in the shared volume, and a
// restart of HAProxy's container serves the issued certificate, not the placeholder.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:tls";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology } from "../infra/model/schema.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { engineUnavailableReason, startEngineService, type EngineService } from "../infra/containers/engine-service.ts";
import { hostAdminSocket } from "../infra/containers/deploy.ts";
import { startPebble, type Pebble } from "../infra/certs/test-acme-server.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { parseShowSslCert } from "../haproxy/ssl-cert.ts";
import { topology as acmeExample } from "../infra/topologies/acme.ts";
import { eventually } from "./support/stack.ts";
import { runCli } from "./support/run-cli.ts";

const CLI = "infra/containers/cli.ts";
const unavailable = engineUnavailableReason();
const NAME = "lb-containers-acme";

/** The certificate a TLS client gets for `name` at 127.0.0.1:`port`: its issuer's CN and serial. */
function handshake(port: number, name: string): Promise<{ issuer: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: name, rejectUnauthorized: false, timeout: 5000 }, () => {
      const peer = socket.getPeerCertificate();
      socket.end();
      resolve({ issuer: String(peer.issuer?.CN ?? peer.issuer?.O ?? ""), serial: peer.serialNumber.toUpperCase().replace(/^0+/, "") });
    });
    socket.on("error", reject).on("timeout", () => socket.destroy(new Error("no handshake within 5 s")));
  });
}

describe.skipIf(unavailable !== undefined)(`managed certificates in the CDKTF stack on podman${unavailable ? `: skipped, ${unavailable}` : ""}`, () => {
  const scratch = mkdtempSync(join(tmpdir(), "lb-containers-acme-"));
  const stateDir = join(scratch, "state");
  const topologyFile = join(scratch, "topology.json");
  let topology: Topology;
  let engine: EngineService;
  let pebble: Pebble;
  let up: { code: number | null; stdout: string; stderr: string };
  const tlsPort = () => topology.frontends[0]!.binds.find((b) => b.tlsCertificate)!.port;
  const served = async () => parseShowSslCert(await runtimeCommand({ path: await hostAdminSocket(engine.client, topology) }, "show ssl cert certs/shop.pem", { timeoutMs: 2000 }), "certs/shop.pem");
  const env = () => ({ ...process.env, TF_VAR_lb_acme_directory: pebble.directoryUrlFromContainers, TF_VAR_lb_acme_ca: readFileSync(pebble.caFile, "utf8") });

  beforeAll(async () => {
    const input = structuredClone(acmeExample) as any;
    input.name = NAME;
    topology = parseTopology(await withFreePorts(input));
    writeFileSync(topologyFile, JSON.stringify(topology));
    // Pebble validates HTTP-01 on the plain bind HAProxy's container publishes; the issuer reaches pebble through the bridge.
    pebble = await startPebble(topology.frontends[0]!.binds.find((b) => !b.tlsCertificate)!.port, { forContainers: true });
    up = await runCli(CLI, ["up", "--topology", topologyFile, "--state-dir", stateDir], { timeoutMs: 600_000, env: env() });
    engine = await startEngineService(join(scratch, "inspect"));
  }, 660_000);

  afterAll(async () => {
    await engine?.stop();
    await runCli(CLI, ["down", "--topology", topologyFile, "--state-dir", stateDir], { timeoutMs: 120_000 });
    await pebble?.close();
    rmSync(scratch, { recursive: true, force: true });
  }, 180_000);

  it("up: the issuer's container is healthy (it filled the certificate directory) and HAProxy started after it", () => {
    assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
    for (const name of ["apply-agent", "certificate-issuer", "haproxy", "sidecar"]) assert.match(up.stdout, new RegExp(`^${name} +running +healthy `, "m"), up.stdout);
  });

  it("within seconds HAProxy serves a certificate from pebble for the names, installed at runtime by the issuer in its container", async () => {
    assert.ok(await eventually(async () => /Pebble/.test((await served())?.issuer ?? ""), 60_000, 500), `served: ${JSON.stringify(await served())}`);
    const seen = await handshake(tlsPort(), "www.shop.lb.test");
    assert.match(seen.issuer, /Pebble/);
    assert.equal(seen.serial, (await served())!.serial);
    assert.deepEqual((await served())!.names.sort(), ["shop.lb.test", "www.shop.lb.test"]);
  });

  it("the sidecar exports it as the one the issuer installed, with no failed renewal", async () => {
    const metrics = async () => (await (await fetch(`http://127.0.0.1:${topology.services.sidecar.port}/metrics`)).text());
    assert.ok(await eventually(async () => /^haproxy_sidecar_certificate_installed_served\{[^}]*file="shop\.pem"[^}]*\} 1$/m.test(await metrics()), 30_000, 500), await metrics());
    assert.match(await metrics(), /^haproxy_sidecar_certificate_renewal_failures\{[^}]*file="shop\.pem"[^}]*\} 0$/m);
  });

  it("the issued certificate is in the volume: HAProxy's container restarted serves it, not a placeholder", async () => {
    const before = (await served())!.serial;
    const onDisk = readFileSync(join(dirname(await hostAdminSocket(engine.client, topology)), "certs/shop.pem"), "utf8");
    assert.match(onDisk, /BEGIN CERTIFICATE[\s\S]+BEGIN CERTIFICATE[\s\S]+PRIVATE KEY/, "the chain and the key");
    await engine.client.stop("haproxy", 5);
    await engine.client.start("haproxy");
    assert.ok(await eventually(async () => (await handshake(tlsPort(), "shop.lb.test").catch(() => undefined))?.serial === before, 30_000, 500));
  });
});
