// The apply agent: given a new topology file where HAProxy runs, it applies it with npm run apply's
// engine. Live on the local stack under traffic; its bundle (what the sidecar's image runs) too; and
// the first config it writes into HAProxy's volume for the docker target.
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, it } from "vitest";
import { EXPECTED_DISTRIBUTION_FILE, readApplied } from "../infra/runtime/applied.ts";
import { checkHaproxyConfig } from "../infra/render/haproxy-check.ts";
import { backgroundTraffic, TrafficClient } from "../verification/traffic.ts";
import { eventually, startTestStack, type TestStack } from "./support/stack.ts";
import { REPO_ROOT, runCli } from "./support/run-cli.ts";
import { seedTopology } from "./support/topologies.ts";

describe("the apply agent on a running local stack", () => {
  let running: TestStack;
  let agent: ReturnType<typeof spawn>;
  let log = "";
  const desired = () => join(running.runDir, "desired.json");
  const write = (edit: (t: any) => void) => {
    const t = structuredClone(running.topology) as any;
    edit(t);
    writeFileSync(desired(), JSON.stringify(t));
  };

  beforeAll(async () => {
    running = await startTestStack();
    write(() => {});
    agent = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), join(REPO_ROOT, "infra/gitops/agent-cli.ts"), "--desired", desired(), "--run-dir", running.runDir, "--interval", "300ms"], { stdio: ["ignore", "ignore", "pipe"] });
    agent.stderr!.on("data", (d) => (log += d));
    assert.ok(await eventually(async () => log.includes("→ no-changes"), 30_000), log);
  });
  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      agent.kill("SIGTERM");
      await new Promise((r) => agent.once("close", r));
    }
    await running?.cleanup();
  });

  it("applies each new topology file it is given, under traffic, with 0 non-2xx", async () => {
    const client = new TrafficClient(`http://127.0.0.1:${running.topology.frontends[0]!.binds[0]!.port}/`, { connections: 8 });
    const traffic = backgroundTraffic(client, { concurrency: 8, maxMs: 90_000, maxRequests: 200_000 });
    try {
      write((t) => (t.backends[0].servers[0].weight = 3)); // runtime
      assert.ok(await eventually(async () => (await readApplied(running.runDir))?.topology.backends[0]!.servers[0]!.weight === 3, 40_000), log);
      write((t) => ((t.backends[0].servers[0].weight = 3), (t.backends[0].balance = "leastconn"))); // reload
      assert.ok(await eventually(async () => (await readApplied(running.runDir))?.topology.backends[0]!.balance === "leastconn", 40_000), log);
    } finally {
      const samples = await traffic.stop();
      await client.close();
      assert.ok(samples.length > 100);
      assert.equal(samples.filter((s) => s.status !== undefined && s.status !== 200).length, 0, "non-2xx answers while the agent applied");
    }
    // The history line follows the applied record (apply records what runs first): wait for it too.
    const history = () => readFileSync(join(running.runDir, "apply-history.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { outcome: string; method?: string });
    await eventually(async () => history().length >= 3, 10_000);
    assert.deepEqual(history().map((h) => [h.outcome, h.method ?? null]), [["no-changes", null], ["applied", "runtime"], ["applied", "reload"]]);
  });

  it("a topology file that does not load is said, not applied, and the agent goes on", async () => {
    writeFileSync(desired(), "{ not json");
    assert.ok(await eventually(async () => /not applied: cannot load the topology from .*desired\.json: not valid JSON/.test(log), 10_000), log);
    assert.equal(agent.exitCode, null, "the agent stopped");
  });
});

describe("the apply agent's bundle (what the sidecar's image runs)", () => {
  const scratch = mkdtempSync(join(tmpdir(), "lb-agent-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("builds, and for the docker target writes HAProxy's first config, error pages and state into the volume", async () => {
    await promisify(execFile)("npm", ["run", "--silent", "build:agent"], { cwd: REPO_ROOT });
    const volume = join(scratch, "volume");
    const desired = join(scratch, "topology.json");
    writeFileSync(desired, JSON.stringify(seedTopology()));
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(REPO_ROOT, "dist/agent.mjs"), "--target", "docker", "--state-dir", volume, "--desired", desired, "--source", "infra/topology.ts", "--once"], {
        env: { ...process.env, LB_TEMPLATES_DIR: join(REPO_ROOT, "templates") },
        cwd: scratch,
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr!.on("data", (d) => (stderr += d));
      child.once("close", (code) => resolve({ code, stderr }));
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /wrote HAProxy's first configuration/);
    const config = readFileSync(join(volume, "haproxy.cfg"), "utf8");
    assert.match(config, /^# Generated from infra\/topology\.ts \(topology "flask-lb", target docker\)/);
    for (const page of ["429.http", "503.http"]) assert.ok(existsSync(join(volume, "errors", page)), page);
    assert.equal((await readApplied(volume))?.topology.name, "flask-lb");
    // The sidecar's container reads the topology's weights from the same volume.
    assert.equal(JSON.parse(readFileSync(join(volume, EXPECTED_DISTRIBUTION_FILE), "utf8")).backends[0].name, "flask_servers");
    await checkHaproxyConfig(config, { errorPagesDir: join(volume, "errors") });
  });

  it("answers a mistake with its usage", async () => {
    const result = await runCli("infra/gitops/agent-cli.ts", ["--target", "docker"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^error USAGE: --desired is required/);
  });
});
