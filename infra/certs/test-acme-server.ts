// A test ACME server on this machine: Debian's pebble (Let's Encrypt's test server), behind TLS from
// a throwaway CA, validating HTTP-01 on the stack's plain port, and resolving names through a
// dnsmasq that answers every name under lb.test with 127.0.0.1. For the tests, and for trying the
// ACME example by hand (npm run acme-server). Pebble can be stopped and started again (an ACME
// outage) on the same ports; close() stops both and removes the files.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, get } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findFreePortRange } from "../runtime/ports.ts";

export interface Pebble {
  directoryUrl: string;
  /** The same directory as an issuer in a container reaches it (with startPebble's forContainers). */
  directoryUrlFromContainers: string;
  /** Its scratch directory, removed by close(). */
  dir: string;
  /** The CA that signed pebble's own TLS certificate: what LB_ACME_CA points at. */
  caFile: string;
  /** The root pebble issues under (it makes a new one per start): what a client trusts to verify issued certificates. */
  issuingRoot(): Promise<string>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops pebble and the name server, removes the files. */
  close(): Promise<void>;
}

const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: new Agent({ ca }), timeout: 2000 }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    request.on("error", reject).on("timeout", () => request.destroy(new Error("timeout")));
  });
}

function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** The name a container on podman's bridge reaches its host by (the network's gateway). */
export const CONTAINER_HOST_NAME = "host.containers.internal";

/**
 * Pebble validating HTTP-01 challenges on 127.0.0.1:`httpPort`. With `forContainers`, its ACME
 * port listens on every address and its certificate names CONTAINER_HOST_NAME too, so that an
 * issuer in a container reaches it through the bridge's gateway (`directoryUrlFromContainers`).
 */
export async function startPebble(httpPort: number, options: { forContainers?: boolean } = {}): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), "lb-pebble-"));
  const file = (name: string) => join(dir, name);
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=test ACME CA", "-keyout", file("ca.key"), "-out", file("ca.pem"), "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
  openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", file("pebble.key"), "-out", file("pebble.csr")]);
  writeFileSync(file("pebble.ext"), `subjectAltName=IP:127.0.0.1,DNS:localhost${options.forContainers ? `,DNS:${CONTAINER_HOST_NAME}` : ""}\n`);
  openssl(["x509", "-req", "-in", file("pebble.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", file("pebble.ext"), "-out", file("pebble.pem")]);
  const taken = new Set([httpPort]);
  const port = async () => {
    const p = await findFreePortRange(1, taken);
    taken.add(p);
    return p;
  };
  const ports = { acme: await port(), management: await port(), tls: await port(), dns: await port() };
  writeFileSync(file("pebble.json"), JSON.stringify({ pebble: { listenAddress: `${options.forContainers ? "0.0.0.0" : "127.0.0.1"}:${ports.acme}`, managementListenAddress: `127.0.0.1:${ports.management}`, certificate: file("pebble.pem"), privateKey: file("pebble.key"), httpPort, tlsPort: ports.tls, ocspResponderURL: "", externalAccountBindingRequired: false } }));

  const dns = spawn("dnsmasq", ["--keep-in-foreground", "--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1", `--port=${ports.dns}`, "--address=/lb.test/127.0.0.1", `--pid-file=${file("dnsmasq.pid")}`], { stdio: "ignore" });
  let pebble: ChildProcess | undefined;
  const ca = () => readFileSync(file("ca.pem"), "utf8");
  const directoryUrl = `https://127.0.0.1:${ports.acme}/dir`;
  const start = async () => {
    // No sleep before validating, every nonce good, no authorization reused: each order validates afresh.
    pebble = spawn("pebble", ["-config", file("pebble.json"), "-dnsserver", `127.0.0.1:${ports.dns}`], { stdio: "ignore", env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" } });
    for (let i = 0; i < 100; i++) {
      if (await httpsGet(directoryUrl, ca()).then((r) => r.status === 200, () => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`pebble did not answer at ${directoryUrl}`);
  };
  await start();
  return {
    directoryUrl,
    directoryUrlFromContainers: `https://${CONTAINER_HOST_NAME}:${ports.acme}/dir`,
    dir,
    caFile: file("ca.pem"),
    issuingRoot: async () => (await httpsGet(`https://127.0.0.1:${ports.management}/roots/0`, ca())).body,
    stop: () => stopChild(pebble),
    start,
    close: async () => {
      await stopChild(pebble);
      await stopChild(dns);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
