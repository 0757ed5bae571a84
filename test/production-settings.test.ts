// The seed's production recommendations that infra/topology.ts suggests (commented out), proven on
// the real stack: with them uncommented the stack passes its own start-up checks; a client over the
// rate limit gets 429 while another address is served; a source outside the allowlist gets 403 and
// never reaches a server.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { Pool } from "undici";
import { parseDuration } from "../haproxy/duration.ts";
import { field, parseShowStat } from "../haproxy/show-stat.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { runAssertions } from "../verification/run.ts";
import { allPassed } from "../verification/judge.ts";
import { loadTopologyFile } from "../infra/model/load.ts";
import { expectationsFromTopology, localCa, localStackAccess, networkContains, START_CHECKS } from "../infra/runtime/verify.ts";
import { VerifyNotPossibleError } from "../infra/errors.ts";
import { startTestStack } from "./support/stack.ts";
import { seedTopology } from "./support/topologies.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { REPO_ROOT } from "./support/run-cli.ts";

/** One request from `source`: status, headers and body. */
async function requestFrom(source: string, url: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const pool = new Pool(new URL(url).origin, { connections: 1, localAddress: source });
  try {
    const response = await pool.request({ path: "/", method: "GET", signal: AbortSignal.timeout(5000) });
    return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
  } finally {
    await pool.close();
  }
}

/** The default topology file with its suggested production lines (HTTPS bind, rate limit, allowlist, redirect, HSTS, peers) uncommented. */
async function uncommentedTopology(): Promise<{ input: unknown; uncommented: string[] }> {
  const text = readFileSync(join(REPO_ROOT, "infra/topology.ts"), "utf8");
  const uncommented: string[] = [];
  const edited = text
    .split("\n")
    .map((line) => {
      const m = /^(\s*)\/\/ ((rateLimit|allowlist|httpsRedirect|hsts|peers): .*,|\{ .*tlsCertificate: .*\},)$/.exec(line);
      if (!m) return line;
      uncommented.push(m[2]!);
      return `${m[1]}${m[2]}`;
    })
    .join("\n")
    .replace('from "./model/define.ts"', `from ${JSON.stringify(join(REPO_ROOT, "infra/model/define.ts"))}`);
  const dir = mkdtempSync(join(tmpdir(), "lb-production-"));
  try {
    writeFileSync(join(dir, "topology.ts"), edited);
    const topology = await loadTopologyFile(join(dir, "topology.ts"));
    return { input: topology, uncommented };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("the production settings suggested in infra/topology.ts", () => {
  it("uncommented, the stack starts and passes its own start-up checks (HTTPS with a development CA; the checks' traffic stays under the per-client limit)", async () => {
    const { input, uncommented } = await uncommentedTopology();
    assert.deepEqual(uncommented.map((l) => (l.startsWith("{") ? "bind" : l.split(":")[0])), ["bind", "rateLimit", "allowlist", "httpsRedirect", "hsts", "peers"], "the suggested lines were found");
    const production = (input as any).frontends[0];
    const running = await startTestStack((t) => {
      for (const field of ["binds", "rateLimit", "allowlist", "httpsRedirect", "hsts"]) t.frontends[0][field] = production[field];
      t.peers = (input as any).peers;
      t.backends[0].cookie.secure = true; // as the comment beside them says
    });
    try {
      const frontend = running.topology.frontends[0]!;
      assert.ok(running.topology.peers && frontend.rateLimit && frontend.allowlist && frontend.httpsRedirect && frontend.hsts && frontend.binds.some((b) => b.tlsCertificate));
      assert.ok(running.stack.certificates.devCaFile, "a development CA signed the certificate");
      const expectations = expectationsFromTopology(running.topology, { ca: localCa(running.runDir) });
      assert.match(expectations.frontendUrl, /^https:/);
      const run = await runAssertions(expectations, localStackAccess(running.stack.plan, () => {}), START_CHECKS);
      assert.deepEqual(run.results.map((r) => r.assertion), START_CHECKS.only);
      assert.ok(allPassed(run.results), JSON.stringify(run.results.map((r) => [r.assertion, r.verdict, r.measured])));
    } finally {
      await running.cleanup();
    }
  });
});

describe("rate limiting per client address", () => {
  it("a client over its limit gets 429 with the configured page while another address is served, and is served again after the window", async () => {
    const running = await startTestStack((t) => (t.frontends[0].rateLimit = { requests: 20, window: "3s" }));
    try {
      const url = `http://127.0.0.1:${running.topology.frontends[0]!.binds[0]!.port}/`;
      const [greedy, polite] = ["127.0.3.10", "127.0.3.11"];
      const statuses: number[] = [];
      for (let i = 0; i < 25; i++) statuses.push((await requestFrom(greedy, url)).status);
      assert.deepEqual(statuses.slice(0, 20), Array(20).fill(200), "the first 20 are served");
      assert.deepEqual(statuses.slice(20), Array(5).fill(429), "the rest get 429");
      const limited = await requestFrom(greedy, url);
      assert.equal(limited.status, 429);
      const page = readFileSync(join(REPO_ROOT, "templates/errors/429.http"), "utf8");
      assert.equal(limited.body, page.slice(page.indexOf("\r\n\r\n") >= 0 ? page.indexOf("\r\n\r\n") + 4 : page.indexOf("\n\n") + 2), "the configured 429 page");
      assert.equal(limited.headers["content-length"], String(Buffer.byteLength(limited.body)), "the page says its length (the connection can stay open)");
      assert.equal(limited.headers["retry-after"], "3", "Retry-After is the window, in seconds");
      assert.equal((await requestFrom(polite, url)).status, 200, "another address is served meanwhile");
      await new Promise((r) => setTimeout(r, parseDuration("3s") + 500));
      assert.equal((await requestFrom(greedy, url)).status, 200, "served again after the window");
      // npm run verify measures the same, from addresses of its own.
      const verify = await runAssertions(expectationsFromTopology(running.topology), localStackAccess(running.stack.plan, () => {}), { only: ["security"], requests: 10 });
      assert.equal(verify.results[0]!.verdict, "pass", verify.results[0]!.measured);
      assert.match(verify.results[0]!.measured, /^20 served then 5 × 429 \(Retry-After 3\); another address 200; after the window 200/);
    } finally {
      await running.cleanup();
    }
  });
});

describe("the IP allowlist", () => {
  it("a source outside the list gets 403 and never reaches a server; one inside is served", async () => {
    const running = await startTestStack((t) => ((t.frontends[0].allowlist = ["127.0.0.0/24"]), t.frontends[0].errorPages.push({ status: 403, file: "403.http" })));
    try {
      const url = `http://127.0.0.1:${running.topology.frontends[0]!.binds[0]!.port}/`;
      const backendSessions = async () =>
        Number(field(parseShowStat(await runtimeCommand({ path: running.stack.plan.sockets.admin }, "show stat", { timeoutMs: 2000 })).rows.find((r) => r.kind === "backend" && r.proxy === "flask_servers")!, "stot"));
      const before = await backendSessions();
      const outside = await requestFrom("127.0.9.5", url);
      assert.equal(outside.status, 403);
      assert.match(outside.body, /"forbidden"/, "the configured 403 page");
      assert.equal(outside.headers["content-length"], String(Buffer.byteLength(outside.body)));
      assert.equal(await backendSessions(), before, "the backend saw no session from the refused client");
      assert.equal((await requestFrom("127.0.0.7", url)).status, 200);
      assert.equal(await backendSessions(), before + 1);
      const verify = await runAssertions(expectationsFromTopology(running.topology), localStackAccess(running.stack.plan, () => {}), { only: ["security"], requests: 10 });
      assert.equal(verify.results[0]!.verdict, "pass", verify.results[0]!.measured);
      assert.match(verify.results[0]!.measured, /^outside 403, inside 200/);
    } finally {
      await running.cleanup();
    }
  });

  it("npm run verify refuses, saying what to allow, when the list keeps this machine's traffic out", () => {
    const cases: [object, RegExp][] = [
      [{ allowlist: ["10.0.0.0/8"] }, /allowlist: 127\.0\.0\.1 is not in it, so every request from this machine gets 403: add "127\.0\.0\.0\/8"/],
      [{ allowlist: ["127.0.0.1"], rateLimit: { requests: 100 } }, /the rate limit makes the checks spread their traffic over loopback addresses.*allow "127\.0\.0\.0\/8"/],
    ];
    for (const [frontend, message] of cases) {
      const input = seedTopology() as any;
      Object.assign(input.frontends[0], frontend);
      assert.throws(() => expectationsFromTopology(parseTopology(input)), (error: Error) => error instanceof VerifyNotPossibleError && message.test(error.message));
    }
  });

  it("networkContains", () => {
    const table: [string, string, boolean][] = [
      ["127.0.0.0/8", "127.255.1.2", true],
      ["127.0.0.0/24", "127.0.1.5", false],
      ["10.0.0.0/8", "127.0.0.1", false],
      ["127.0.0.1", "127.0.0.1", true],
      ["0.0.0.0/0", "203.0.113.9", true],
    ];
    for (const [network, address, inside] of table) assert.equal(networkContains(network, address), inside, `${address} in ${network}`);
  });
});
