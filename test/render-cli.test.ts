// npm run render: the command a pull request's author and CI run.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { writeSelfSignedCertificates } from "../infra/render/haproxy-check.ts";
import { runCli } from "./support/run-cli.ts";
import { editedTopology } from "./support/topologies.ts";

const CLI = "infra/render/cli.ts";
const work = mkdtempSync(join(tmpdir(), "render-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("npm run render", () => {
  it("prints the config of the default topology and exits 0", async () => {
    const result = await runCli(CLI, ["--target", "docker"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^# Generated from infra\/topology\.ts/);
    assert.match(result.stdout, /default_backend flask_servers/);
  });

  it("on an invalid topology exits non-zero, prints every problem on stderr and nothing on stdout", async () => {
    const file = join(work, "broken.json");
    writeFileSync(file, JSON.stringify(editedTopology((t) => {
      t.frontends[0].defaultBackend = "backend_servers";
      t.backends[0].servers[0].port = 0;
    })));
    const result = await runCli(CLI, ["--topology", file]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^error TOPOLOGY_INVALID: the topology is invalid:/);
    assert.match(result.stderr, /frontends\.http_front\.defaultBackend: "backend_servers" is not a backend; known: flask_servers/);
    assert.match(result.stderr, /backends\.flask_servers\.servers\.web-a\.port: 0 is not a port/);
  });

  it("names a topology file it cannot read", async () => {
    const result = await runCli(CLI, ["--topology", join(work, "missing.json")]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error TOPOLOGY_LOAD_FAILED: cannot load the topology from .*missing\.json: ENOENT/);
  });

  it("names a file that is not JSON", async () => {
    const file = join(work, "garbled.json");
    writeFileSync(file, "{ frontends: ");
    const result = await runCli(CLI, ["--topology", file]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /garbled\.json: not valid JSON/);
  });

  it("--out writes the file atomically and leaves no temporary file", async () => {
    const dir = mkdtempSync(join(work, "out-"));
    const out = join(dir, "haproxy.cfg");
    const result = await runCli(CLI, ["--out", out, "--run-dir", "/var/run/lb"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "");
    assert.match(readFileSync(out, "utf8"), /stats socket \/var\/run\/lb\/admin\.sock/);
    assert.deepEqual(readdirSync(dir), ["haproxy.cfg"]);
  });

  it("--out with an invalid topology keeps the existing file as it was", async () => {
    const dir = mkdtempSync(join(work, "keep-"));
    const out = join(dir, "haproxy.cfg");
    writeFileSync(out, "the config that runs\n");
    const file = join(work, "bad.json");
    writeFileSync(file, JSON.stringify(editedTopology((t) => (t.backends[0].servers = []))));
    const result = await runCli(CLI, ["--topology", file, "--out", out]);
    assert.equal(result.code, 1);
    assert.equal(readFileSync(out, "utf8"), "the config that runs\n");
    assert.deepEqual(readdirSync(dir), ["haproxy.cfg"]);
  });

  it("--print-topology prints JSON that --topology accepts and that renders the same config", async () => {
    const printed = await runCli(CLI, ["--print-topology"]);
    assert.equal(printed.code, 0, printed.stderr);
    const file = join(work, "roundtrip.json");
    writeFileSync(file, printed.stdout);
    const fromModule = await runCli(CLI, ["--target", "docker"]);
    const fromJson = await runCli(CLI, ["--target", "docker", "--topology", file]);
    assert.equal(fromJson.code, 0, fromJson.stderr);
    const body = (config: string) => config.split("\n").slice(1).join("\n"); // the header names the source file
    assert.equal(body(fromJson.stdout), body(fromModule.stdout));
    const reprinted = await runCli(CLI, ["--print-topology", "--topology", file]);
    assert.equal(reprinted.stdout, printed.stdout);
  });

  it("refuses an unknown target", async () => {
    const result = await runCli(CLI, ["--target", "kubernetes"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--target "kubernetes" is not a target: use local or docker/);
  });
});

describe("npm run render with TLS binds and error pages", () => {
  const tlsTopology = () => {
    const file = join(work, "tls.json");
    writeFileSync(file, JSON.stringify(editedTopology((t) => t.frontends[0].binds.push({ port: 8443, tlsCertificate: "site.pem" }))));
    return file;
  };

  it("without --certs-dir: checked with throwaway certificates, and says so", async () => {
    const result = await runCli(CLI, ["--topology", tlsTopology()]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /no --certs-dir: checked with throwaway certificates standing in for site\.pem/);
    assert.match(result.stdout, /bind 127\.0\.0\.1:8443 ssl crt certs\/site\.pem alpn h2,http\/1\.1/);
  });

  it("--certs-dir without the file: CERTIFICATE_MISSING naming the bind, nothing printed", async () => {
    const dir = mkdtempSync(join(work, "certs-"));
    const result = await runCli(CLI, ["--topology", tlsTopology(), "--certs-dir", dir]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^error CERTIFICATE_MISSING: frontends\.http_front\.binds\.1\.tlsCertificate: site\.pem is not in .*certs-/);
  });

  it("--certs-dir with the file: haproxy -c reads that certificate", async () => {
    const dir = mkdtempSync(join(work, "certs-"));
    await writeSelfSignedCertificates(dir, [{ name: "site.pem", kind: "certificate" }]);
    const result = await runCli(CLI, ["--topology", tlsTopology(), "--certs-dir", dir]);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /throwaway/);
  });

  for (const [name, page, problem] of [
    ["a page answering another status", { status: 403, file: "429.http" }, /frontends\.http_front\.errorPages\.0\.file: .*templates\/errors\/429\.http answers 429, but it is the page for 403/],
    ["a page that is not there", { status: 403, file: "nope.http" }, /frontends\.http_front\.errorPages\.0\.file: .*templates\/errors\/nope\.http cannot be read/],
  ] as const) {
    it(`${name}: ERROR_PAGE_INVALID with the field and the path, before haproxy -c`, async () => {
      const file = join(work, "page.json");
      writeFileSync(file, JSON.stringify(editedTopology((t) => (t.frontends[0].errorPages = [page]))));
      const result = await runCli(CLI, ["--topology", file]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^error ERROR_PAGE_INVALID: /);
      assert.match(result.stderr, problem);
    });
  }
});
