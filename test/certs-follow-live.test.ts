// Certificates issued elsewhere (cert-manager's Secret, as a Kubernetes pod sees it: DIR/FILE/tls.crt
// and tls.key) followed into a real HAProxy 2.6 at runtime by npm run certs -- follow: a new one is
// judged and installed, served to new handshakes with no reload; the same one again is kept; a bad
// one is refused with the served one unchanged; and prepare fills a fresh certificate directory
// with the issued bundle instead of a placeholder.
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { issuerConfigText } from "../infra/certs/config.ts";
import { placeholderCertificate } from "../infra/certs/placeholder.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { findFreePortRange } from "../infra/runtime/ports.ts";
import { topology as acmeExample } from "../infra/topologies/acme.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { eventually } from "./support/stack.ts";
import { runCli } from "./support/run-cli.ts";

const CLI = "infra/certs/cli.ts";

describe("npm run certs -- follow: certificates issued elsewhere, installed into a real HAProxy at runtime", () => {
  const dir = mkdtempSync(join(tmpdir(), "lb-certs-follow-"));
  const issued = join(dir, "issued");
  const socket = join(dir, "admin.sock");
  const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: "ignore", cwd: dir });
  let haproxy: ChildProcess;
  let port: number;

  /** A leaf for `names` signed by a CA of the test (its key in `keyFile` unless another is given), written as cert-manager would. */
  const issue = (names: string[], options: { wrongKey?: boolean } = {}) => {
    mkdirSync(join(issued, "shop.pem"), { recursive: true });
    openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", `/CN=${names[0]}`, "-keyout", "leaf.key", "-out", "leaf.csr"]);
    writeFileSync(join(dir, "leaf.ext"), `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}\n`);
    openssl(["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "30", "-extfile", "leaf.ext", "-out", "leaf.pem"]);
    if (options.wrongKey) openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "leaf.key"]);
    writeFileSync(join(issued, "shop.pem", "tls.crt"), readFileSync(join(dir, "leaf.pem")));
    writeFileSync(join(issued, "shop.pem", "tls.key"), readFileSync(join(dir, "leaf.key")));
    return execFileSync("openssl", ["x509", "-in", join(dir, "leaf.pem"), "-noout", "-serial"], { encoding: "utf8" }).trim().replace(/^serial=0*/, "").toUpperCase();
  };
  const served = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port, servername: "shop.lb.test", rejectUnauthorized: false }, () => {
        resolve(s.getPeerCertificate().serialNumber.toUpperCase().replace(/^0+/, ""));
        s.end();
      });
      s.on("error", reject);
    });
  const workerPid = async () => /^Pid: (\d+)$/m.exec(await runtimeCommand({ path: socket }, "show info", { timeoutMs: 2000 }))![1];
  const follow = (...extra: string[]) => runCli(CLI, ["follow", "--once", "--issued", issued, "--run-dir", dir, ...extra]);

  beforeAll(async () => {
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=test issuing CA", "-keyout", "ca.key", "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
    const certificates = parseTopology(acmeExample).certificates;
    writeFileSync(join(dir, "issuer.json"), issuerConfigText({ adminSocket: socket, certificates, files: ["shop.pem"], given: [] }));
    mkdirSync(join(dir, "certs"));
    writeFileSync(join(dir, "certs/shop.pem"), await placeholderCertificate(certificates[0]!.names), { mode: 0o600 });
    port = await findFreePortRange(1, new Set());
    writeFileSync(join(dir, "haproxy.cfg"), [
      "global", `  default-path config`, `  stats socket ${socket} mode 600 level admin`,
      "defaults", "  mode http", "  timeout connect 1s", "  timeout client 5s", "  timeout server 5s",
      "frontend shop", `  bind 127.0.0.1:${port} ssl crt certs/shop.pem`, "  http-request return status 200 content-type text/plain string ok", "",
    ].join("\n"));
    haproxy = spawn("haproxy", ["-db", "-f", join(dir, "haproxy.cfg")], { stdio: "ignore" });
    assert.ok(await eventually(async () => existsSync(socket) && (await workerPid().then(() => true, () => false)), 10_000), "HAProxy did not start");
  });
  afterAll(() => {
    haproxy?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("nothing issued yet: the placeholder stays, said so", async () => {
    const placeholder = await served();
    const result = await follow();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "shop.pem: not issued yet\n");
    assert.equal(await served(), placeholder);
  });

  it("a certificate issued: installed at runtime, new handshakes get it, the same HAProxy process, the file on disk too", async () => {
    const pid = await workerPid();
    const serial = issue(["shop.lb.test", "www.shop.lb.test"]);
    const result = await follow();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `shop.pem: installed serial ${serial}\n`);
    assert.equal(await served(), serial);
    assert.equal(await workerPid(), pid, "no reload");
    assert.match(readFileSync(join(dir, "certs/shop.pem"), "utf8"), /BEGIN CERTIFICATE[\s\S]+PRIVATE KEY/);
  });

  it("the same certificate again: kept, nothing installed", async () => {
    const result = await follow();
    assert.equal(result.stdout, "shop.pem: kept\n");
  });

  it("a bad one is refused, exit 1, the served one unchanged: a key that does not match, a name missing", async () => {
    const before = await served();
    issue(["shop.lb.test", "www.shop.lb.test"], { wrongKey: true });
    const mismatch = await follow();
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stdout, /^shop\.pem: refused: .*key/m);
    issue(["shop.lb.test"]);
    const missing = await follow();
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /www\.shop\.lb\.test/);
    assert.equal(await served(), before);
  });

  it("prepare fills a fresh certificate directory with the issued bundle, not a placeholder", async () => {
    const serial = issue(["shop.lb.test", "www.shop.lb.test"]);
    const fresh = join(dir, "fresh");
    mkdirSync(fresh);
    const result = await runCli(CLI, ["prepare", "--issued", issued, "--run-dir", fresh, "--config", join(dir, "issuer.json")]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "certificate directory ready: 0 given files copied, 1 issued, 0 placeholders\n");
    const onDisk = execFileSync("openssl", ["x509", "-in", join(fresh, "certs/shop.pem"), "-noout", "-serial"], { encoding: "utf8" }).trim().replace(/^serial=0*/, "").toUpperCase();
    assert.equal(onDisk, serial);
  });

  describe("npm run certs -- install: a certificate the user gives, replaced at runtime", () => {
    const givenConfig = join(dir, "given-issuer.json");
    const install = (from: string, file = "shop.pem", config = givenConfig) => runCli(CLI, ["install", file, "--from", from, "--run-dir", dir, "--config", config]);
    const bundleFile = (name: string) => {
      const path = join(dir, name);
      writeFileSync(path, readFileSync(join(issued, "shop.pem", "tls.crt"), "utf8") + readFileSync(join(issued, "shop.pem", "tls.key"), "utf8"));
      return path;
    };
    beforeAll(() => writeFileSync(givenConfig, issuerConfigText({ adminSocket: socket, certificates: [], files: ["shop.pem"], given: ["shop.pem"] })));

    it("one covering every name served: installed, new handshakes get it, the same process, the file written", async () => {
      const pid = await workerPid();
      const before = await served();
      const serial = issue(["shop.lb.test", "www.shop.lb.test", "api.shop.lb.test"]);
      const result = await install(bundleFile("new.pem"));
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`^shop\\.pem: installed serial ${serial}, valid until \\S+ \\(was ${before}\\); no reload$`, "m"));
      assert.equal(await served(), serial);
      assert.equal(await workerPid(), pid);
      assert.match(readFileSync(join(dir, "certs/shop.pem"), "utf8"), new RegExp(readFileSync(join(issued, "shop.pem", "tls.crt"), "utf8").split("\n")[1]!.replace(/[+/]/g, "."), "m"));
    });

    it("one that drops a name the served one has is refused, naming it; the served one unchanged", async () => {
      const before = await served();
      issue(["shop.lb.test", "www.shop.lb.test"]);
      const result = await install(bundleFile("narrower.pem"));
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^error CERTIFICATE_REFUSED: shop\.pem: not installed, the served certificate stays: the certificate lacks api\.shop\.lb\.test/m);
      assert.equal(await served(), before);
    });

    it("a managed certificate, or one no bind serves, is a usage error saying what to do", async () => {
      const managed = await install(bundleFile("any.pem"), "shop.pem", join(dir, "issuer.json"));
      assert.equal(managed.code, 2);
      assert.match(managed.stderr, /shop\.pem is managed .*npm run certs -- renew shop\.pem/);
      const unknown = await install(bundleFile("any.pem"), "other.pem");
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /"other\.pem" is not a certificate the binds serve: use one of shop\.pem/);
    });
  });

  it("mistakes are usage errors naming the flag", async () => {
    const noIssued = await runCli(CLI, ["follow", "--once", "--run-dir", dir]);
    assert.equal(noIssued.code, 2);
    assert.match(noIssued.stderr, /^error USAGE: follow needs --issued DIR/);
    const stray = await runCli(CLI, ["status", "--once", "--run-dir", dir]);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /--once goes with follow/);
  });
});
