// The route tables' follower (the Kubernetes stack's: a container beside HAProxy in each pod) on the
// real HAProxy: a map file that changes under it, as the kubelet swaps a ConfigMap's files in, is
// put into HAProxy at runtime and served at once; an unchanged file is left alone; the agent CLI's
// --follow-maps does the same in one look.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import http from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { followMaps, type MapFollowIo } from "../infra/gitops/map-follow.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { mapFiles, tableMapPath } from "../infra/render/routing.ts";
import { localTarget } from "../infra/render/targets.ts";
import { findFreePortRange, isPortFree } from "../infra/runtime/ports.ts";
import { pollUntil } from "../lib/poll.ts";
import { runCli } from "./support/run-cli.ts";
import { makeRunDir } from "./support/stack.ts";
import { seedTopology } from "./support/topologies.ts";

const MAP = tableMapPath("web", "sites");

/** The answer to a request for `host`: "parked" from the table's backend, or the default backend's "site". */
function answerFor(port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/", headers: { host }, agent: false, timeout: 3000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => resolve(body));
    });
    req.on("timeout", () => req.destroy(new Error("no answer in 3 s"))).on("error", reject);
  });
}

describe("the route tables' follower on the real HAProxy", () => {
  let haproxy: ChildProcess | undefined;
  let site: http.Server;
  let dir: string;
  let port = 0;
  const admin = () => join(dir, "admin.sock");
  const writeMap = (hosts: string[]) => writeFileSync(join(dir, MAP), hosts.map((h) => `${h} parked\n`).join(""));
  const commands: string[] = [];
  const io = (): MapFollowIo => ({
    read: (file) => readFile(join(dir, file), "utf8").catch(() => undefined),
    admin: (command) => (commands.push(command.split(" ").slice(0, 2).join(" ")), runtimeCommand({ path: admin() }, command, { timeoutMs: 5000 })),
    log: () => {},
  });

  beforeAll(async () => {
    dir = makeRunDir();
    const taken = new Set<number>();
    const sitePort = await findFreePortRange(1, taken);
    port = await findFreePortRange(1, taken);
    site = http.createServer((_req, res) => res.end("site"));
    await new Promise<void>((r) => site.listen(sitePort, "127.0.0.1", r));
    const input = seedTopology() as any;
    input.services = {};
    input.monitoring = { port: await findFreePortRange(1, taken) };
    input.backends = [
      { name: "site", servers: [{ name: "site-1", address: "127.0.0.1", port: sitePort, external: true }] },
      { name: "parked", answer: { respond: { status: 200, body: "parked" } } },
    ];
    input.frontends = [{ name: "web", binds: [{ port }], errorPages: [], defaultBackend: "site", routes: [{ table: "sites" }], routeTables: [{ name: "sites", entries: [{ host: "a.example.com", backend: "parked" }] }] }];
    const topology = parseTopology(input);
    mkdirSync(join(dir, "maps"), { recursive: true });
    for (const map of mapFiles(topology)) writeFileSync(join(dir, map.path), map.content);
    writeFileSync(join(dir, "haproxy.cfg"), renderHaproxyConfig(topology, localTarget(dir)).replace(/^\s+errorfile .*\n/gm, ""));
    haproxy = spawn("haproxy", ["-db", "-f", join(dir, "haproxy.cfg")], { stdio: "ignore" });
    assert.ok(await pollUntil(async () => ((await isPortFree(port)) ? undefined : true), { timeoutMs: 10_000, intervalMs: 50 }), "HAProxy listens");
  }, 30_000);

  afterAll(async () => {
    haproxy?.kill("SIGKILL");
    await new Promise((r) => site?.close(r));
  });

  it("a file as HAProxy loaded it is kept; one that changes is put in at runtime and served at once; unchanged again, HAProxy is not asked", async () => {
    const seen = new Map<string, string>();
    assert.deepEqual(await followMaps([MAP], io(), seen), [{ file: MAP, action: "kept" }]);
    assert.equal(await answerFor(port, "b.example.com"), "site");
    writeMap(["a.example.com", "b.example.com"]);
    assert.deepEqual(await followMaps([MAP], io(), seen), [{ file: MAP, action: "replaced", entries: 2 }]);
    assert.deepEqual([await answerFor(port, "b.example.com"), await answerFor(port, "a.example.com")], ["parked", "parked"]);
    commands.length = 0;
    assert.deepEqual(await followMaps([MAP], io(), seen), [{ file: MAP, action: "kept" }]);
    assert.deepEqual(commands, [], "an unchanged file costs HAProxy nothing");
  });

  it("an entry removed from the file goes from HAProxy too; a map file not there yet is said, not guessed", async () => {
    writeMap(["b.example.com"]);
    assert.deepEqual(await followMaps([MAP, "maps/web.other.map"], io()), [{ file: MAP, action: "replaced", entries: 1 }, { file: "maps/web.other.map", action: "missing" }]);
    assert.deepEqual([await answerFor(port, "a.example.com"), await answerFor(port, "b.example.com")], ["site", "parked"]);
  });

  it("npm run agent -- --follow-maps ... --once: one look, as the pod's container runs it", async () => {
    writeMap(["c.example.com"]);
    const run = await runCli("infra/gitops/agent-cli.ts", ["--follow-maps", dir, "--map", MAP, "--admin-socket", admin(), "--once"], { timeoutMs: 30_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /maps\/web\.sites\.map: 1 entries, replaced at runtime \(HAProxy held 1\)/);
    assert.equal(await answerFor(port, "c.example.com"), "parked");
  });
});
