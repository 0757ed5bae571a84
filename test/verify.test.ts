/// <reference lib="dom" />
// npm run verify against the real local stack: it passes on a stack that runs the model, and each
// assertion fails, saying what it expected and measured, on a stack that drifted from the model.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { chromium } from "playwright-core";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology } from "../infra/model/schema.ts";
import { expectationsFromTopology, localStackAccess } from "../infra/runtime/verify.ts";
import { runAssertions } from "../verification/run.ts";
import { FAILED_COLOR, SERIES_COLORS } from "../verification/report.ts";
import { ASSERTIONS } from "../verification/judge.ts";
import { assertNoProcessLeft, runDirWithTopology, startTestStack, type TestStack } from "./support/stack.ts";
import { findOnPath } from "../infra/runtime/processes.ts";
import { CHROMIUM_ARGS } from "./support/browser.ts";
import { parseExposition, seriesKey } from "./support/exposition.ts";
import { runCli } from "./support/run-cli.ts";
import { seedTopology } from "./support/topologies.ts";


/** The topology a stack runs, with `edit` applied: what the model says when the stack has drifted. */
function modelOf(running: Topology, edit: (t: any) => void): Topology {
  const copy = structuredClone(running) as any;
  edit(copy);
  return parseTopology(copy);
}

const quiet = () => {};


/** What the default topology gives an assertion nothing to check with: no TCP frontend to fail over. */
const SKIPPED = new Set<string>(["tcpFailover"]);

describe("npm run verify on a stack that runs the model", () => {
  let running: TestStack;
  let dir: string;
  let result: Awaited<ReturnType<typeof runCli>>;
  beforeAll(async () => {
    // One route, so that every assertion (routing too) has something to check.
    running = await startTestStack((t) => (t.frontends[0].routes = [{ name: "lb-health", when: { path: "/lb-health" }, respond: { status: 200, body: "ok" } }]), { sidecar: true });
    dir = mkdtempSync(join(tmpdir(), "verify-"));
    writeFileSync(join(dir, "topology.json"), JSON.stringify(running.topology));
    result = await runCli("infra/runtime/verify-cli.ts", ["--topology", join(dir, "topology.json"), "--run-dir", running.runDir, "--json", join(dir, "report.json"), "--report", join(dir, "html"), "--requests", "400"], { timeoutMs: 120_000 });
  });
  afterAll(async () => {
    await running?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("exits 0 and prints a table with a PASS per assertion (SKIP for tcpFailover: the default topology has no TCP frontend)", () => {
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    for (const name of ASSERTIONS) assert.match(result.stdout, new RegExp(`^${name} +${SKIPPED.has(name) ? "SKIP" : "PASS"} `, "m"));
    assert.match(result.stdout, new RegExp(`^${ASSERTIONS.length - SKIPPED.size} passed, 0 failed, ${SKIPPED.size} skipped$`, "m"));
  });

  it("writes a JSON report with the measurements", () => {
    const report = JSON.parse(readFileSync(join(dir, "report.json"), "utf8"));
    assert.equal(report.passed, true);
    assert.deepEqual(report.results.map((r: any) => r.assertion), [...ASSERTIONS]);
    const failover = report.results.find((r: any) => r.assertion === "failover").data;
    assert.equal(failover.failed, 0, "the default topology must lose no request while a server dies");
    assert.ok(failover.detectionMs <= failover.boundMs);
    assert.ok(report.timeline.samples.length > 100);
  });

  it("leaves the stack as it found it: every server UP, the killed one restarted", async () => {
    const access = localStackAccess(running.stack.plan, quiet);
    const stat = await access.api("show stat");
    assert.match(stat, /^flask_servers,web-a,(?:[^,]*,){15}UP,/m);
    assert.match(stat, /^flask_servers,web-b,(?:[^,]*,){15}UP,/m);
  });

  it("has the sidecar export each verdict as haproxy_sidecar_assertion_passed", async () => {
    const metrics = parseExposition(await (await fetch(`http://127.0.0.1:${running.topology.services.sidecar.port}/metrics`)).text());
    for (const assertion of ASSERTIONS) {
      // A skipped assertion passed nothing and failed nothing: no sample.
      assert.equal(metrics.samples.get(seriesKey("haproxy_sidecar_assertion_passed", { assertion })), SKIPPED.has(assertion) ? undefined : 1, assertion);
    }
  });

  it("writes an HTML report whose chart shows each server and the failed requests, in Chromium", async () => {
    const browser = await chromium.launch({ executablePath: findOnPath("chromium"), args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
      await page.goto(`file://${join(dir, "html", "verify.html")}`);
      assert.match(await page.title(), /^verify: flask-lb — PASS$/);
      assert.deepEqual(await page.$$eval("#chart path.series", (paths) => paths.map((p) => p.getAttribute("data-series"))), ["web-a", "web-b", "failed"]);
      assert.deepEqual(await page.$$eval("#chart g.event text", (texts) => texts.map((t) => t.textContent)), ["web-a killed", "web-a DOWN", "web-a answers again", "web-a UP"]);
      const png = await (await page.$("#chart"))!.screenshot();
      // Count, in the screenshot itself, the pixels drawn in each series' color.
      const colors = [SERIES_COLORS[0]!, SERIES_COLORS[1]!, FAILED_COLOR];
      const counts = await page.evaluate(async ({ data, colors }) => {
        const image = new Image();
        image.src = `data:image/png;base64,${data}`;
        await image.decode();
        const canvas = document.createElement("canvas");
        [canvas.width, canvas.height] = [image.width, image.height];
        const context = canvas.getContext("2d")!;
        context.drawImage(image, 0, 0);
        const pixels = context.getImageData(0, 0, image.width, image.height).data;
        const rgb = colors.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
        const found = rgb.map(() => 0);
        for (let p = 0; p < pixels.length; p += 4) {
          rgb.forEach(([r, g, b], i) => {
            if (Math.abs(pixels[p]! - r!) < 24 && Math.abs(pixels[p + 1]! - g!) < 24 && Math.abs(pixels[p + 2]! - b!) < 24) found[i]!++;
          });
        }
        return { found, width: image.width, height: image.height };
      }, { data: png.toString("base64"), colors });
      assert.ok(counts.width >= 800 && counts.height >= 300, `chart is ${counts.width}×${counts.height}`);
      const [webA, webB, failed] = counts.found;
      assert.ok(webA! > 300 && webB! > 300, `series pixels: web-a ${webA}, web-b ${webB}`);
      assert.ok(failed! > 100, `the failed-requests line (at zero) is drawn: ${failed} pixels`);
    } finally {
      await browser.close();
    }
  });
});

describe("each assertion fails when the running stack drifts from the model", () => {
  it("distribution and persistence: the model says weight 3 and a cookie; the stack has neither", async () => {
    const running = await startTestStack((t) => {
      delete t.backends[0].cookie;
      for (const s of t.backends[0].servers) delete s.cookie;
    }, { sidecar: false });
    try {
      const model = modelOf(running.topology, (t) => {
        t.backends[0].cookie = seedTopology().backends[0]!.cookie;
        t.backends[0].servers.forEach((s: any) => (s.cookie = s.name));
        t.backends[0].servers[0].weight = 3;
      });
      const { results } = await runAssertions(expectationsFromTopology(model), localStackAccess(running.stack.plan, quiet), { only: ["distribution", "persistence"], requests: 200 });
      const [distribution, persistence] = results;
      assert.equal(distribution!.verdict, "fail");
      assert.match(distribution!.expected, /^web-a 75\.0 %, web-b 25\.0 % of 200 requests/);
      assert.equal(distribution!.measured, "web-a 50.0 %, web-b 50.0 %");
      assert.equal(persistence!.verdict, "fail");
      assert.match(persistence!.expected, /every client gets a SERVER cookie/);
      assert.match(persistence!.measured, /^4 of 4 clients got no SERVER cookie; 4 left their server/);
    } finally {
      await running.cleanup();
    }
  });

  it("failover and recovery: the model retries and rises in 3 checks; the stack does neither", async () => {
    const running = await startTestStack((t) => {
      t.defaults.retries = 0;
      t.defaults.redispatch = false;
      t.defaults.retryOn = [];
      for (const s of t.backends[0].servers) s.rise = 10;
    }, { sidecar: false });
    try {
      const model = modelOf(running.topology, (t) => {
        t.defaults.retries = 3;
        t.defaults.redispatch = true;
        t.defaults.retryOn = ["conn-failure", "empty-response", "response-timeout"];
        for (const s of t.backends[0].servers) s.rise = 3;
      });
      const { results } = await runAssertions(expectationsFromTopology(model), localStackAccess(running.stack.plan, quiet), { only: ["failover", "recovery"], requests: 100 });
      const [failover, recovery] = results;
      assert.equal(failover!.verdict, "fail");
      assert.match(failover!.expected, /0 failed requests \(retries, redispatch, retry-on\)/);
      const failed = Number(/; (\d+) of \d+ requests failed/.exec(failover!.measured)?.[1]);
      assert.ok(failed > 0, failover!.measured);
      assert.equal(recovery!.verdict, "fail");
      assert.match(recovery!.expected, /UP within 3000 ms/);
      const took = Number(/^UP after (\d+) ms/.exec(recovery!.measured)?.[1]);
      assert.ok(took > 3000, recovery!.measured);
    } finally {
      await running.cleanup();
    }
  });

  it("health: a server the model names that HAProxy does not know", async () => {
    const running = await startTestStack(() => {}, { sidecar: false });
    try {
      const model = modelOf(running.topology, (t) => t.backends[0].servers.push({ ...t.backends[0].servers[1], name: "web-c", cookie: "web-c", port: t.backends[0].servers[1].port }));
      const { results } = await runAssertions(expectationsFromTopology(model), localStackAccess(running.stack.plan, quiet), { only: ["health"], requests: 100 });
      assert.equal(results[0]!.verdict, "fail");
      assert.match(results[0]!.measured, /missing: web-c/);
    } finally {
      await running.cleanup();
    }
  });
});


describe("the distribution assertion fits the balance algorithm, on real stacks", () => {
  const keys: Partial<Record<string, string>> = { url_param: "user", hdr: "X-Tenant" };
  for (const balance of ["source", "uri", "leastconn", "url_param", "hdr", "random"] as const) {
    it(`balance ${balance}`, async () => {
      const running = await startTestStack((t) => Object.assign(t.backends[0], { balance, ...(keys[balance] && { balanceKey: keys[balance], hashType: "consistent" }) }), { sidecar: false });
      try {
        const { results } = await runAssertions(expectationsFromTopology(running.topology), localStackAccess(running.stack.plan, quiet), { only: ["distribution"], requests: 320 });
        assert.equal(results[0]!.verdict, "pass", `${results[0]!.expected}\n${results[0]!.measured}`);
        if (balance !== "leastconn" && balance !== "random") assert.match(results[0]!.measured, /^0 (client addresses|paths|user values|X-Tenant values) split across servers; servers used: web-[ab], web-[ab]$/);
      } finally {
        await running.cleanup();
      }
    });
  }
});

describe("npm run verify with no stack running", () => {
  it("starts the stack, checks it, stops it, and leaves nothing running", async () => {
    const { runDir, file } = await runDirWithTopology();
    try {
      const result = await runCli("infra/runtime/verify-cli.ts", ["--topology", file, "--run-dir", runDir, "--only", "distribution", "--requests", "100", "--report", join(runDir, "html")], { timeoutMs: 120_000 });
      assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
      assert.match(result.stderr, /no stack runs from .*: starting one for this run/);
      assert.match(result.stderr, /stopping the stack it started/);
      assert.match(result.stdout, /^distribution +PASS /m);
      assertNoProcessLeft([], runDir);
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});
