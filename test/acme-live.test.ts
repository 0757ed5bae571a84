// Certificates the stack obtains itself, from a real ACME server (Debian's pebble): HAProxy
// answers the HTTP-01 challenges from a map changed at runtime, the issued certificate replaces
// the placeholder through the runtime API (no new worker), is on disk for the next reload, and an
// ACME server that is down leaves the served certificate in place, the failure recorded and retried.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type TLSSocket } from "node:tls";
import { Agent, request } from "node:https";
import { X509Certificate, generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology } from "../infra/model/schema.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { topology as acmeExample } from "../infra/topologies/acme.ts";
import { renewDue } from "../infra/certs/renewer.ts";
import { pemCertificates } from "../infra/certs/policy.ts";
import { issuerConfig } from "../infra/certs/config.ts";
import { CERTIFICATES_STATE_FILE } from "../infra/certs/config.ts";
import { localCertificateIo } from "../infra/certs/local-io.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { parseShowProc } from "../haproxy/master-cli.ts";
import { stopProcessGroup } from "../infra/runtime/processes.ts";
import { eventually, startTopologyStack, type TestStack } from "./support/stack.ts";
import { runCli } from "./support/run-cli.ts";
import { startPebble, type Pebble } from "../infra/certs/test-acme-server.ts";
import { PROMETHEUS_PATHS } from "../infra/endpoints.ts";

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
  let workersAtStart: number[];
  let rootsFile: string;
  const env = () => ({ ...process.env, LB_ACME_DIRECTORY: pebble.directoryUrl, LB_ACME_CA: pebble.caFile, LB_ACME_ROOTS: rootsFile });
  /** Pebble makes a new root at each start: verify and apply trust the current one. */
  const writeRoots = async () => writeFileSync(rootsFile, await pebble.issuingRoot());
  const tlsPort = () => topology.frontends[0]!.binds.find((b) => b.tlsCertificate !== undefined)!.port;
  const plainPort = () => topology.frontends[0]!.binds.find((b) => b.tlsCertificate === undefined)!.port;
  const workers = async () => parseShowProc(await runtimeCommand({ path: running.stack.plan.sockets.master }, "show proc")).workers.map((w) => w.pid);
  const certs = (...args: string[]) => runCli("infra/certs/cli.ts", [...args, "--run-dir", running.runDir], { env: env() });
  /** The sidecar's certificate series for shop.pem, by metric name. */
  const certificateMetrics = async () => {
    const text = await (await fetch(`http://127.0.0.1:${topology.services.sidecar.port}/metrics`)).text();
    return Object.fromEntries(text.split("\n").filter((l) => l.startsWith("haproxy_sidecar_certificate_") && l.includes('file="shop.pem"')).map((l) => [l.slice(0, l.indexOf("{")) + (l.includes('result="') ? `:${/result="(\w+)"/.exec(l)![1]}` : ""), Number(l.slice(l.lastIndexOf(" ") + 1))]));
  };
  /** The state of HAProxyCertificateRenewalFailing for shop.pem in the stack's Prometheus (undefined: not active). */
  const renewalAlert = async (): Promise<string | undefined> => {
    const answer = (await (await fetch(`http://127.0.0.1:${topology.services.prometheus.port}${PROMETHEUS_PATHS.alertsApi}`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
    return answer.data.alerts.find((a) => a.labels.alertname === "HAProxyCertificateRenewalFailing" && a.labels.file === "shop.pem")?.state;
  };
  const record = () => JSON.parse(readFileSync(join(running.runDir, CERTIFICATES_STATE_FILE), "utf8")).certificates["shop.pem"];

  beforeAll(async () => {
    // Prometheus scrapes and evaluates every second, so that the renewal alert is seen firing and resolving.
    topology = parseTopology(await withFreePorts({ ...acmeExample, services: { ...acmeExample.services, prometheus: { port: 9090, scrapeInterval: "1s", evaluationInterval: "1s" } } }));
    pebble = await startPebble(plainPort());
    rootsFile = join(pebble.dir, "roots.pem");
    await writeRoots();
    // The stack's issuer reads the ACME server's URL and CA from the environment it is started in.
    const saved = { ...process.env };
    Object.assign(process.env, { LB_ACME_DIRECTORY: pebble.directoryUrl, LB_ACME_CA: pebble.caFile, LB_ACME_ROOTS: rootsFile });
    try {
      running = await startTopologyStack(topology, { sidecar: true });
    } finally {
      for (const key of ["LB_ACME_DIRECTORY", "LB_ACME_CA", "LB_ACME_ROOTS"]) if (saved[key] === undefined) delete process.env[key];
    }
    workersAtStart = await workers();
  }, 60_000);
  afterAll(async () => {
    await running?.cleanup();
    await pebble?.close();
  });

  it("the stack's issuer replaces the development placeholder with a certificate from pebble within seconds: HTTP-01 answered by HAProxy, no reload", async () => {
    assert.ok(await eventually(async () => !/development/.test((await servedTo(tlsPort(), "shop.lb.test")).issuer), 15_000), "pebble's certificate served within 15 s");
    const served = await servedTo(tlsPort(), "www.shop.lb.test");
    assert.ok(served.checkHost("shop.lb.test") && served.checkHost("www.shop.lb.test"));
    // The chain written beside it leads from the served leaf to pebble's root.
    const chain = pemCertificates(readFileSync(join(running.runDir, "certs", "shop.pem"), "utf8")).map((pem) => new X509Certificate(pem));
    const root = new X509Certificate(await pebble.issuingRoot());
    assert.equal(chain[0]!.serialNumber, served.serialNumber, "the file on disk is the served certificate");
    assert.ok(chain.length >= 2 && served.verify(chain[1]!.publicKey) && chain.at(-1)!.verify(root.publicKey), "the chain leads to pebble's root");
    assert.deepEqual(await workers(), workersAtStart, "no reload: the same worker");
    assert.equal(await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show map maps/acme-challenges.map"), "", "the challenge tokens removed after");
    assert.equal(record().serial, served.serialNumber.replace(/^0+/, ""));
    // From here the test drives the passes itself: the supervised issuer stops.
    await stopProcessGroup(running.stack.processes.find((p) => p.spec.name === "issuer")!.pid);
  });

  it("npm run certs -- status shows what HAProxy serves, its source and its next renewal", async () => {
    const status = await certs("status", "--json");
    assert.equal(status.code, 0, status.stderr);
    const [row] = JSON.parse(status.stdout);
    assert.equal(row.file, "shop.pem");
    assert.equal(row.source, "acme");
    assert.deepEqual(row.names, ["shop.lb.test", "www.shop.lb.test"]);
    assert.match(row.issuer, /Pebble Intermediate/);
    assert.ok(new Date(row.renewal).getTime() > Date.now(), row.renewal);
    assert.match((await certs("status")).stdout, /^shop\.pem +shop\.lb\.test www\.shop\.lb\.test +.*Pebble.* acme /m);
  });

  it("the sidecar exports what HAProxy serves and the issuer's record: expiry, lifetime, the installed one served, no failure", async () => {
    const served = await servedTo(tlsPort(), "shop.lb.test");
    const m = await certificateMetrics();
    assert.equal(m.haproxy_sidecar_certificate_not_after_seconds, Math.floor(new Date(served.validTo).getTime() / 1000));
    assert.equal(m.haproxy_sidecar_certificate_not_before_seconds, Math.floor(new Date(served.validFrom).getTime() / 1000));
    assert.equal(m.haproxy_sidecar_certificate_installed_served, 1);
    assert.equal(m.haproxy_sidecar_certificate_renewal_failures, 0);
    assert.equal(m.haproxy_sidecar_certificate_info, 1);
  });

  it("rotation under load: npm run certs -- renew while kept-alive and new-connection HTTPS traffic runs, nothing fails, no new worker, new connections see the new serial", async () => {
    const ca = await pebble.issuingRoot();
    const keptAlive = new Agent({ keepAlive: true, maxSockets: 2, ca });
    const serialBefore = (await servedTo(tlsPort(), "shop.lb.test")).serialNumber;
    const before = await workers();
    const tally = { keptAlive: 0, newConnection: 0, failed: [] as string[], serials: new Set<string>() };
    let running_ = true;
    const get = (agent: Agent | false) =>
      new Promise<void>((done) => {
        const req = request({ host: "127.0.0.1", port: tlsPort(), servername: "shop.lb.test", headers: { host: "shop.lb.test" }, path: "/", agent: agent === false ? undefined : agent, ...(agent === false ? { ca, agent: false } : {}) }, (res) => {
          if (agent === false) tally.serials.add((res.socket as TLSSocket).getPeerX509Certificate()!.serialNumber);
          res.resume();
          res.on("end", () => {
            if (res.statusCode === 200) agent === false ? tally.newConnection++ : tally.keptAlive++;
            else tally.failed.push(`HTTP ${res.statusCode}`);
            done();
          });
        });
        req.on("error", (e) => (tally.failed.push(e.message), done()));
        req.end();
      });
    const loop = async (agent: Agent | false) => {
      for (let i = 0; running_ && i < 5000; i++) await get(agent);
    };
    const loops = [loop(keptAlive), loop(keptAlive), loop(false)];
    await new Promise((r) => setTimeout(r, 1000));
    const renewed = await certs("renew", "shop.pem");
    await new Promise((r) => setTimeout(r, 1000));
    running_ = false;
    await Promise.all(loops);
    keptAlive.destroy();
    assert.equal(renewed.code, 0, renewed.stdout + renewed.stderr);
    assert.deepEqual(tally.failed.slice(0, 5), [], `${tally.failed.length} requests failed`);
    assert.ok(tally.keptAlive > 50 && tally.newConnection > 20, JSON.stringify({ ...tally, serials: [...tally.serials] }));
    assert.deepEqual(await workers(), before, "no new worker");
    const serialAfter = (await servedTo(tlsPort(), "shop.lb.test")).serialNumber;
    assert.notEqual(serialAfter, serialBefore);
    assert.deepEqual([...tally.serials].sort(), [serialBefore, serialAfter].sort(), "new connections saw the old serial, then the new one");
  });

  it("a pass keeps a certificate that is not due", async () => {
    const [outcome] = await renewDue(issuerConfig(topology, running.stack.plan.sockets.admin), localCertificateIo(running.runDir, issuerConfig(topology, running.stack.plan.sockets.admin), { env: env(), log: () => {} }));
    assert.equal(outcome!.action, "kept");
  });

  it("the ACME server down: renew fails, the served certificate stays, the failure recorded with a backoff; back up, renew installs a new one", async () => {
    const servedBefore = (await servedTo(tlsPort(), "shop.lb.test")).serialNumber;
    await pebble.stop();
    const failed = await certs("renew");
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout, /^shop\.pem: failed, the served certificate stays; next attempt after \S+: shop\.pem: https:\/\/127\.0\.0\.1:\d+\/dir issued no certificate: cannot reach it: connect ECONNREFUSED/m);
    assert.equal((await servedTo(tlsPort(), "shop.lb.test")).serialNumber, servedBefore);
    assert.equal(record().failures, 1);
    assert.equal((await certificateMetrics()).haproxy_sidecar_certificate_renewal_failures, 1, "the failure counted where HAProxyCertificateRenewalFailing sees it");
    assert.ok(new Date(record().nextAttemptAt).getTime() > Date.now());
    assert.ok(await eventually(async () => (await renewalAlert()) === "firing", 20_000, 250), `HAProxyCertificateRenewalFailing is ${await renewalAlert()}`);
    // Not forced, a due certificate waits for its backoff.
    const [waiting] = await renewDue(topology, { ...localCertificateIo(running.runDir, issuerConfig(topology, running.stack.plan.sockets.admin), { env: env(), log: () => {} }), served: async () => undefined });
    assert.equal(waiting!.action, "waiting");

    await pebble.start();
    await writeRoots();
    const renewed = await certs("renew", "shop.pem");
    assert.equal(renewed.code, 0, renewed.stdout + renewed.stderr);
    assert.match(renewed.stdout, /^shop\.pem: installed serial [0-9A-F]+, valid until /m);
    assert.notEqual((await servedTo(tlsPort(), "shop.lb.test")).serialNumber, servedBefore);
    assert.deepEqual([record().failures, record().renewals], [0, { succeeded: 3, failed: 1 }]);
    const m = await certificateMetrics();
    assert.deepEqual([m.haproxy_sidecar_certificate_renewal_failures, m["haproxy_sidecar_certificate_renewals_total:succeeded"], m["haproxy_sidecar_certificate_renewals_total:failed"], m.haproxy_sidecar_certificate_installed_served], [0, 3, 1, 1]);
    assert.ok(await eventually(async () => (await renewalAlert()) === undefined, 20_000, 250), `HAProxyCertificateRenewalFailing is still ${await renewalAlert()}`);
  });

  it("a bad certificate from the ACME side is refused before it is installed, the served one unchanged: a key that does not match, a name it lacks", async () => {
    const config = issuerConfig(topology, running.stack.plan.sockets.admin);
    const servedBefore = (await servedTo(tlsPort(), "shop.lb.test")).serialNumber;
    const onDisk = readFileSync(join(running.runDir, "certs", "shop.pem"), "utf8");
    const chain = pemCertificates(onDisk);
    const otherKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const key = onDisk.slice(onDisk.indexOf("-----BEGIN PRIVATE KEY-----"));
    const cases: [string, typeof config, { chain: string[]; key: string }, RegExp][] = [
      ["a key that does not match", config, { chain, key: otherKey }, /^shop\.pem: not installed, the served certificate stays: the key does not match the certificate$/],
      ["a name it lacks", { ...config, certificates: [{ ...config.certificates[0]!, names: [...config.certificates[0]!.names, "extra.lb.test"] }] }, { chain, key }, /^shop\.pem: not installed, the served certificate stays: the certificate lacks extra\.lb\.test$/],
    ];
    for (const [name, which, bundle, expected] of cases) {
      const io = { ...localCertificateIo(running.runDir, which, { env: env(), log: () => {} }), issue: async () => bundle };
      const [outcome] = await renewDue(which, io, { force: ["shop.pem"] });
      assert.equal(outcome!.action, "failed", name);
      assert.match(outcome!.action === "failed" ? outcome!.error : "", expected, name);
      assert.equal((await servedTo(tlsPort(), "shop.lb.test")).serialNumber, servedBefore, `${name}: the served certificate unchanged`);
      assert.equal(readFileSync(join(running.runDir, "certs", "shop.pem"), "utf8"), onDisk, `${name}: the file unchanged`);
    }
    // The record shows the refusals; a good pass clears them.
    const [good] = await renewDue(config, localCertificateIo(running.runDir, config, { env: env(), log: () => {} }), { force: ["shop.pem"] });
    assert.equal(good!.action, "installed");
  });

  it("npm run apply of a new name: runtime (the issuer restarts with it), the new certificate covers it, the same HAProxy worker", async () => {
    const before = await workers();
    const edited = structuredClone(topology) as any;
    edited.certificates[0].names.push("api.shop.lb.test");
    const file = join(running.runDir, "topology-names.json");
    writeFileSync(file, JSON.stringify(edited));
    const applied = await runCli("infra/gitops/apply-cli.ts", ["--topology", file, "--run-dir", running.runDir], { env: env(), timeoutMs: 120_000 });
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    assert.match(applied.stdout, /certificates\.shop\.pem\.names.*runtime/);
    assert.ok(await eventually(async () => (await servedTo(tlsPort(), "api.shop.lb.test")).checkHost("api.shop.lb.test") !== undefined, 15_000), "a certificate for api.shop.lb.test served within 15 s");
    assert.deepEqual(await workers(), before, "no reload");
    topology = parseTopology(edited);
  });

  it("npm run certs refuses what it cannot do, naming it", async () => {
    const unknown = await certs("renew", "other.pem");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^error USAGE: "other\.pem" is not a managed certificate: use one of shop\.pem$/m);
    const notRunning = await runCli("infra/certs/cli.ts", ["status", "--run-dir", join(running.runDir, "nothing")]);
    assert.equal(notRunning.code, 1);
    assert.match(notRunning.stderr, /^error STACK_NOT_RUNNING: no stack is running from /m);
  });
});
