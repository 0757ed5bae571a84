// The sidecar's own metrics: its view of npm run apply (the history file it reads at each scrape), and Node.js's.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { stateFileText } from "../lib/state-file.ts";
import { APPLY_HISTORY_LINE_FORMAT, parseApplyHistory, SelfMetrics } from "../sidecar/self-metrics.ts";
import { parseExposition } from "./support/exposition.ts";

const line = (time: string, outcome: string) => stateFileText(APPLY_HISTORY_LINE_FORMAT, { time, base: "a", new: "b", classes: ["runtime"], outcome, durationMs: 5 }, { indent: 0 });

describe("parseApplyHistory", () => {
  it("counts applies by outcome and keeps the last; no-changes is a success, a rollback is not", () => {
    const history = parseApplyHistory(line("2026-11-25T10:00:00Z", "applied") + line("2026-11-25T10:01:00Z", "no-changes") + line("2026-11-25T10:02:00Z", "rolled-back"));
    assert.deepEqual([...history.counts], [["applied", 1], ["no-changes", 1], ["rolled-back", 1]]);
    assert.deepEqual(history.last, { timestampSeconds: Date.parse("2026-11-25T10:02:00Z") / 1000, success: false });
    assert.equal(parseApplyHistory(line("2026-11-25T10:03:00Z", "no-changes")).last?.success, true);
  });

  it("skips and counts what is not an apply record: a torn last line, a record without an outcome, a line of another version", () => {
    const history = parseApplyHistory(`${line("2026-11-25T10:00:00Z", "applied")}{"schemaVersion":1,"time":"2026-11-25T10:01:00Z"}\n{"time":"2026-11-25T10:01:00Z","outcome":"applied"}\n{"schemaVersion":1,"time":"2026-11-2`);
    assert.equal(history.badLines, 3);
    assert.deepEqual([...history.counts], [["applied", 1]]);
  });

  it("an empty or missing history: nothing", () => {
    assert.deepEqual(parseApplyHistory(""), { counts: new Map(), badLines: 0 });
  });
});

describe("the sidecar's apply series", () => {
  it("are NaN (and no counts) before the first apply, then follow the file at each scrape", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sidecar-apply-"));
    try {
      const file = join(dir, "apply-history.jsonl");
      const metrics = new SelfMetrics({ applyHistoryFile: file });
      const scrape = async () => parseExposition(await metrics.registry.metrics()).samples;
      let samples = await scrape();
      assert.ok(Number.isNaN(samples.get("haproxy_sidecar_last_apply_success")));
      assert.ok(![...samples.keys()].some((k) => k.startsWith("haproxy_sidecar_applies_total")));
      writeFileSync(file, line("2026-11-25T10:00:00Z", "applied"));
      appendFileSync(file, line("2026-11-25T10:05:00Z", "rolled-back"));
      samples = await scrape();
      assert.equal(samples.get("haproxy_sidecar_last_apply_success"), 0);
      assert.equal(samples.get("haproxy_sidecar_last_apply_timestamp_seconds"), Date.parse("2026-11-25T10:05:00Z") / 1000);
      assert.equal(samples.get('haproxy_sidecar_applies_total{result="applied"}'), 1);
      assert.equal(samples.get('haproxy_sidecar_applies_total{result="rolled-back"}'), 1);
      appendFileSync(file, line("2026-11-25T10:06:00Z", "applied"));
      samples = await scrape();
      assert.equal(samples.get("haproxy_sidecar_last_apply_success"), 1);
      assert.equal(samples.get('haproxy_sidecar_applies_total{result="applied"}'), 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the sidecar's own metrics, every family with samples", () => {
  it("pass promtool check metrics: counters end in _total, nothing else does; every family has help and a type", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sidecar-promtool-"));
    try {
      writeFileSync(join(dir, "history.jsonl"), line("2026-11-25T10:00:00Z", "applied"));
      writeFileSync(join(dir, "stack.json"), JSON.stringify({ processes: [{ name: "web-a", state: "running", restarts: 2 }] }));
      writeFileSync(join(dir, "verify.json"), JSON.stringify({ results: [{ assertion: "distribution", verdict: "pass" }] }));
      const metrics = new SelfMetrics({ applyHistoryFile: join(dir, "history.jsonl"), componentsFile: join(dir, "stack.json"), assertionsFile: join(dir, "verify.json"), distribution: () => ({ drift: [], primaries: [{ proxy: "redis", up: 2 }] }) });
      const text = await metrics.registry.metrics();
      for (const family of ["haproxy_sidecar_applies_total", "haproxy_sidecar_component_restarts_total", "haproxy_sidecar_poll_success"]) assert.match(text, new RegExp(`^${family}`, "m"));
      assert.match(text, /^# TYPE haproxy_sidecar_applies_total counter$/m);
      assert.match(text, /^haproxy_sidecar_backend_primaries{proxy="redis"} 2$/m);
      const checked = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
      assert.equal(`${checked.stdout}${checked.stderr}`, "");
      assert.equal(checked.status, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the sidecar's Node.js metrics", () => {
  it("never serve the empty event-loop histogram's minimum (9223372036.85 s): scrapes back to back stay sane", async () => {
    const metrics = new SelfMetrics();
    for (let i = 0; i < 5; i++) {
      const samples = parseExposition(await metrics.registry.metrics()).samples;
      assert.equal([...samples.keys()].some((k) => k.startsWith("haproxy_sidecar_nodejs_eventloop_lag_min_seconds")), false);
      const lag = [...samples].filter(([k]) => k.startsWith("haproxy_sidecar_nodejs_eventloop_lag_"));
      assert.ok(lag.length >= 5, "the other lag families are served");
      for (const [key, value] of lag) assert.ok(Number.isNaN(value) || value < 1000, `${key} = ${value}`);
    }
  });
});
