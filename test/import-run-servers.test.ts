// npm run import -- --servers run: the imported servers become servers the stack runs, so that npm
// start can try the topology without the real ones; a server the stacks cannot run stays external.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseTopology } from "../infra/model/parse.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { requestOnce } from "../verification/probes.ts";
import { runCli } from "./support/run-cli.ts";
import { startTopologyStack } from "./support/stack.ts";

/** Two web servers on the port the frontend listens on, one MySQL server the stacks cannot run. */
const CONFIG = `global
    maxconn 2000

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend www
    bind :8080
    default_backend app

backend app
    option httpchk GET /health
    server app-1 10.0.0.11:8080 check
    server app-2 10.0.0.12:8080 check

listen mysql
    mode tcp
    bind :3306
    option mysql-check user haproxy_check
    server db-1 10.0.0.21:3306 check
`;

describe("npm run import -- --servers run", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "lb-import-run-"));
    writeFileSync(join(dir, "lb.cfg"), CONFIG);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a mistyped mode is a usage error, nothing written", async () => {
    const run = await runCli("infra/import/cli.ts", [join(dir, "lb.cfg"), "--servers", "spawn", "--out", join(dir, "never.json")]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--servers spawn: use external or run/);
  });

  it("each web server runs as the stack's own, on a port of its own; the MySQL server stays external; the report says which", async () => {
    const [out, report] = [join(dir, "run.json"), join(dir, "run.md")];
    const run = await runCli("infra/import/cli.ts", [join(dir, "lb.cfg"), "--servers", "run", "--out", out, "--report", report]);
    assert.equal(run.code, 0, run.stderr);
    const topology = JSON.parse(readFileSync(out, "utf8"));
    const servers = (backend: string) => topology.backends.find((b: { name: string }) => b.name === backend).servers.map((s: Record<string, unknown>) => [s.name, s.address, s.port, s.external ?? false]);
    // 8080 is the frontend's: the first server takes the next port, the second the one after.
    assert.deepEqual(servers("app"), [["app-1", "app-1", 8081, false], ["app-2", "app-2", 8082, false]]);
    assert.deepEqual(servers("mysql"), [["db-1", "10.0.0.21", 3306, true]]);
    const text = readFileSync(report, "utf8");
    assert.match(text, /run by the stack \(--servers run\): app-1:8081, in place of 10\.0\.0\.11:8080/);
    assert.match(text, /stays external \(--servers run\): its backend's check does not say what its servers speak/);
  });

  it("npm start runs the imported topology with its servers, and its own checks pass: each server answers as itself", async () => {
    const out = join(dir, "web.json");
    writeFileSync(join(dir, "web.cfg"), CONFIG.slice(0, CONFIG.indexOf("listen mysql")));
    const run = await runCli("infra/import/cli.ts", [join(dir, "web.cfg"), "--servers", "run", "--out", out]);
    assert.equal(run.code, 0, run.stderr);
    const running = await startTopologyStack(parseTopology(await withFreePorts(JSON.parse(readFileSync(out, "utf8")))));
    try {
      const url = `http://127.0.0.1:${running.topology.frontends[0]!.binds[0]!.port}/`;
      const servedBy = new Set<string>();
      for (let i = 0; i < 6; i++) servedBy.add(String((await requestOnce(url)).headers["x-served-by"]));
      assert.deepEqual([...servedBy].sort(), ["app-1", "app-2"]);
    } finally {
      await running.cleanup();
    }
  });
});
