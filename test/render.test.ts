// Rendering: the golden files are what users deploy; the real HAProxy accepts every one of them.
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { checkHaproxyConfig } from "../infra/render/haproxy-check.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { DEFAULT_TOPOLOGY_FILE } from "../infra/model/load.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { dockerTarget, localTarget } from "../infra/render/targets.ts";
import { HaproxyConfigRejectedError } from "../infra/errors.ts";
import { GOLDEN_DIR, GOLDEN_RUN_DIR, GOLDENS, renderGolden } from "./support/goldens.ts";
import { editedTopology, seedTopology } from "./support/topologies.ts";
import { makeCertificateDir } from "./support/tls.ts";

let certificatesDir: string;
beforeAll(async () => (certificatesDir = await makeCertificateDir()));
afterAll(() => rmSync(certificatesDir, { recursive: true, force: true }));

/** Docker's container names cannot resolve on this machine; that warning is expected there. */
const unexpectedWarnings = (warnings: string[]) => warnings.filter((w) => !w.includes("could not resolve address"));

describe("golden files (refresh with npm run golden)", () => {
  for (const golden of GOLDENS) {
    it(`${golden.file} is what the renderer produces`, () => {
      assert.equal(renderGolden(golden), readFileSync(join(GOLDEN_DIR, golden.file), "utf8"));
    });
    it(`${golden.file} passes haproxy -c without warnings`, async () => {
      const { warnings } = await checkHaproxyConfig(readFileSync(join(GOLDEN_DIR, golden.file), "utf8"), { certificatesDir });
      assert.deepEqual(unexpectedWarnings(warnings), []);
    });
  }
});

describe("the default topology", () => {
  const local = renderHaproxyConfig(parseTopology(seedTopology()), localTarget(GOLDEN_RUN_DIR), { source: DEFAULT_TOPOLOGY_FILE });
  const docker = renderHaproxyConfig(parseTopology(seedTopology()), dockerTarget(), { source: DEFAULT_TOPOLOGY_FILE });

  it("fixes the seed's bug: the frontend's default_backend is the backend that exists", () => {
    assert.match(local, /^    default_backend flask_servers$/m);
    assert.match(local, /^backend flask_servers$/m);
    assert.doesNotMatch(local, /backend_servers/);
  });

  it("keeps the seed's settings", () => {
    for (const line of [
      "    log stdout format raw local0",
      "    maxconn 4096",
      "    option httplog",
      "    option dontlognull",
      "    timeout connect 5s",
      "    timeout client 10s",
      "    timeout server 10s",
      "    option forwardfor",
      "    balance roundrobin",
      "    option httpchk GET /status",
    ]) {
      assert.ok(local.split("\n").includes(line), `missing line: ${line}`);
    }
    assert.match(local, /^    cookie SERVER insert indirect nocache/m);
    assert.match(docker, /^    bind \*:60000-60001$/m);
    assert.match(docker, /^    server web-a web-a:5001 check .*cookie web-a/m);
  });

  it("adds what failover needs: retries, redispatch and retry-on", () => {
    assert.match(local, /^    retries 3$/m);
    assert.match(local, /^    option redispatch$/m);
    assert.match(local, /^    retry-on conn-failure empty-response response-timeout$/m);
  });

  it("on the local target puts every listener and server on 127.0.0.1 and the sockets in the run directory", () => {
    assert.match(local, /^    bind 127\.0\.0\.1:60000-60001$/m);
    assert.match(local, /^    server web-b 127\.0\.0\.1:5002 /m);
    assert.match(local, new RegExp(`^    stats socket ${GOLDEN_RUN_DIR}/admin.sock mode 660 level admin`, "m"));
    assert.doesNotMatch(local, /\*:/);
  });

  it("on the docker target starts servers whose names do not resolve yet (init-addr)", () => {
    assert.match(docker, /^    default-server init-addr last,libc,none resolvers docker$/m);
    assert.match(docker, /^resolvers docker\n(    #.*\n)*    parse-resolv-conf\n/m);
  });

  it("is deterministic, starts with a generated-from comment and ends with one newline", () => {
    const again = renderHaproxyConfig(parseTopology(seedTopology()), localTarget(GOLDEN_RUN_DIR), { source: DEFAULT_TOPOLOGY_FILE });
    assert.equal(again, local);
    assert.match(local, /^# Generated from infra\/topology\.ts \(topology "flask-lb", target local\)\.\n/);
    assert.ok(local.endsWith("\n") && !local.endsWith("\n\n"));
  });
});

describe("every balance algorithm and mode renders a config HAProxy accepts", () => {
  const cases: [string, (t: any) => void][] = [
    ["leastconn", (t) => (t.backends[0].balance = "leastconn")],
    ["source", (t) => (t.backends[0].balance = "source")],
    ["uri", (t) => (t.backends[0].balance = "uri")],
    ["first", (t) => (t.backends[0].balance = "first")],
    ["no persistence, no health check", (t) => {
      delete t.backends[0].cookie;
      delete t.backends[0].healthCheck;
      for (const s of t.backends[0].servers) delete s.cookie;
    }],
    ["mode tcp", (t) => {
      t.defaults.mode = "tcp";
      t.frontends[0].forwardfor = false;
      t.frontends[0].errorPages = [];
      delete t.backends[0].cookie;
      for (const s of t.backends[0].servers) delete s.cookie;
    }],
  ];
  for (const [name, edit] of cases) {
    it(name, async () => {
      const config = renderHaproxyConfig(parseTopology(editedTopology(edit)), localTarget(GOLDEN_RUN_DIR));
      const { warnings } = await checkHaproxyConfig(config);
      assert.deepEqual(warnings, []);
    });
  }
});

describe("haproxy -c on the docker target", () => {
  it("does not resolve the containers' names on this machine (they resolve in the docker network)", async () => {
    const config = renderHaproxyConfig(parseTopology(editedTopology((t) => {
      for (let i = 0; i < 20; i++) t.backends[0].servers.push({ name: `extra-${i}`, address: `no-such-host-${i}.invalid`, port: 6000 + i, cookie: `extra-${i}` });
    })), dockerTarget());
    assert.match(config, /init-addr last,libc,none resolvers docker/);
    const { warnings } = await checkHaproxyConfig(config);
    assert.deepEqual(warnings.filter((w) => w.includes("could not resolve")), []);
  });
});

describe("haproxy -c failures", () => {
  it("are reported with HAProxy's message and the offending lines", async () => {
    const config = renderHaproxyConfig(parseTopology(seedTopology()), localTarget(GOLDEN_RUN_DIR)).replace(
      "balance roundrobin",
      "balance no-such-algorithm",
    );
    await assert.rejects(checkHaproxyConfig(config), (error: unknown) => {
      assert.ok(error instanceof HaproxyConfigRejectedError);
      assert.equal(error.code, "HAPROXY_CONFIG_REJECTED");
      assert.match(error.message, /balance only supports 'roundrobin'/);
      assert.equal(error.offendingLines.length, 1);
      const line = config.split("\n").indexOf("    balance no-such-algorithm") + 1;
      assert.equal(error.offendingLines[0], `${String(line).padStart(5)} |     balance no-such-algorithm`);
      return true;
    });
  });

  it("a TLS bind whose certificate is missing is refused", async () => {
    const config = renderHaproxyConfig(
      parseTopology(editedTopology((t) => (t.frontends[0].binds[0].tlsCertificate = "site.pem"))),
      localTarget(GOLDEN_RUN_DIR),
    );
    await assert.rejects(checkHaproxyConfig(config), /certs\/site\.pem/);
    await checkHaproxyConfig(config, { certificatesDir });
  });
});
