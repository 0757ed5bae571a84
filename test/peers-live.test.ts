// Stick tables across a reload, on the real local stack: with peers, the old worker hands its tables
// to the new one through the local peer, so a client over its rate limit stays over it after npm run
// apply reloads HAProxy; the same reload without peers starts the table empty.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseShowProc } from "../haproxy/master-cli.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { parseTableEntries } from "../haproxy/show-table.ts";
import { requestOnce } from "../verification/probes.ts";
import { runCli } from "./support/run-cli.ts";
import { startTestStack, type TestStack } from "./support/stack.ts";

const LIMIT = 20;

describe("stick tables through a reload", () => {
  let running: TestStack;
  let url: string;
  const frontend = () => running.topology.frontends[0]!.name;
  const admin = (command: string) => runtimeCommand({ path: running.stack.plan.sockets.admin }, command);
  const workers = async () => parseShowProc(await runtimeCommand({ path: running.stack.plan.sockets.master }, "show proc")).workers.map((w) => w.pid);
  const entry = async (table: string, key: string) => parseTableEntries(await admin(`show table ${table}`), table).find((e) => e.key === key);
  /** Applies the running topology with `edit`, and checks that it took by a reload (a new worker). */
  async function applyByReload(name: string, edit: (t: any) => void): Promise<void> {
    const t = structuredClone(running.topology) as any;
    edit(t);
    const file = join(running.runDir, name);
    writeFileSync(file, JSON.stringify(t));
    const before = await workers();
    const result = await runCli("infra/gitops/apply-cli.ts", ["--run-dir", running.runDir, "--topology", file, "--report", join(running.runDir, "reports")], { timeoutMs: 90_000 });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.match(result.stdout, /reload/);
    assert.ok(!(await workers()).some((pid) => before.includes(pid)), "a new worker serves after the apply");
    running.topology = t;
  }

  beforeAll(async () => {
    running = await startTestStack((t) => {
      t.global.hardStopAfter = "5s";
      t.peers = { localPeer: "lb1", port: 10000 };
      t.frontends[0].rateLimit = { requests: LIMIT, window: "1m" };
    });
    url = `http://127.0.0.1:${running.topology.frontends[0]!.binds[0]!.port}/`;
  });
  afterAll(() => running?.cleanup());

  it("with peers, a client over its rate limit stays over it after apply reloads HAProxy right after the start; without, the new worker has forgotten it", async () => {
    const client = "127.0.9.2";
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 3; i++) statuses.push((await requestOnce(url, { localAddress: client })).status);
    assert.deepEqual(statuses.slice(LIMIT), [429, 429, 429]);
    assert.ok(((await entry(frontend(), client))?.data["http_req_rate(60000)"] ?? 0) > LIMIT, "the running worker counts the client's requests");

    // Right after the start: the first worker hands its tables over only once it is ready to (apply waits for it).
    await applyByReload("timeout.json", (t) => (t.defaults.timeouts.server = "12s"));
    assert.equal((await requestOnce(url, { localAddress: client })).status, 429, "still over its limit after the reload");
    assert.ok(((await entry(frontend(), client))?.data["http_req_rate(60000)"] ?? 0) > LIMIT, "the new worker holds the client's rate");
    assert.equal((await requestOnce(url, { localAddress: "127.0.9.3" })).status, 200, "another client is not limited");

    // The same kind of reload without peers: the new worker starts with empty tables.
    await applyByReload("no-peers.json", (t) => delete t.peers);
    assert.equal(await entry(frontend(), client), undefined, "without peers the new worker has forgotten the client's rate");
    assert.equal((await requestOnce(url, { localAddress: client })).status, 200);
  });
});
