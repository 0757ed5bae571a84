// Servers on unix sockets on the real local stack: one the stack runs (gunicorn on a socket) and
// one it does not (a server the test runs), both checked and balanced by HAProxy like any other;
// drift sees nothing to differ in; a container stack refuses them by field.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology } from "../infra/model/schema.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { field, parseShowStat } from "../haproxy/show-stat.ts";
import { startTopologyStack, eventually, type TestStack } from "./support/stack.ts";
import { seedTopology } from "./support/topologies.ts";
import { runCli } from "./support/run-cli.ts";

/** Who answered a GET through HAProxy's port (X-Served-By). */
function servedBy(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(`${res.statusCode} ${res.headers["x-served-by"] ?? "-"}`));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("servers on unix sockets on the real local stack", () => {
  let scratch: string;
  let outside: Server;
  let running: TestStack;
  let topology: Topology;
  const port = () => topology.frontends.find((f) => f.name === "via_sockets")!.binds[0]!.port;
  const rows = async () => parseShowStat(await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show stat")).rows.filter((r) => r.kind === "server" && r.proxy === "sockets");

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "lb-sockets-"));
    outside = createServer((_req, res) => res.writeHead(200, { "X-Served-By": "outside" }).end("outside"));
    await new Promise<void>((r) => outside.listen(join(scratch, "outside.sock"), r));
    const t: any = seedTopology();
    t.backends.push({
      name: "sockets",
      healthCheck: { http: { path: "/status" } },
      servers: [
        { name: "sock-1", unixSocket: join(scratch, "sock-1.sock"), inter: "500ms", fall: 1, rise: 1 },
        { name: "outside", unixSocket: join(scratch, "outside.sock"), external: true, inter: "500ms", fall: 1, rise: 1 },
      ],
    });
    t.frontends.push({ name: "via_sockets", binds: [{ port: 8611 }], defaultBackend: "sockets" });
    topology = parseTopology(await withFreePorts(t));
    running = await startTopologyStack(topology);
  });
  afterAll(async () => {
    await running?.cleanup();
    await new Promise((r) => outside?.close(r));
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("HAProxy connects to both sockets and finds them UP by their checks", async () => {
    const servers = await rows();
    assert.deepEqual(servers.map((r) => [r.name, field(r, "status"), field(r, "addr")]), [
      ["sock-1", "UP", "unix"],
      ["outside", "UP", "unix"],
    ]);
  });

  it("requests take turns between the server the stack runs and the one it does not", async () => {
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await servedBy(port()));
    assert.deepEqual([...new Set(answers)].sort(), ["200 outside", "200 sock-1"]);
  });

  it("the outside server gone: its check marks it DOWN and the stack's own takes every request", async () => {
    await new Promise((r) => outside.close(r));
    assert.ok(await eventually(async () => (await rows()).find((r) => r.name === "outside") !== undefined && field((await rows()).find((r) => r.name === "outside")!, "status")!.startsWith("DOWN"), 5000), "outside marked DOWN");
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await servedBy(port()));
    assert.deepEqual([...new Set(answers)], ["200 sock-1"]);
  });

  it("npm run drift finds the running stack as the topology says: a socket has no address or port to differ in", async () => {
    const file = join(running.runDir, "topology.json");
    writeFileSync(file, JSON.stringify(topology));
    const drift = await runCli("infra/gitops/drift-cli.ts", ["--run-dir", running.runDir, "--topology", file]);
    assert.equal(drift.stderr, "");
    assert.doesNotMatch(drift.stdout, /servers\.(sock-1|outside)\.(address|port)/, drift.stdout);
    assert.match(drift.stdout, /No drift|in sync/i, drift.stdout);
  });
});
