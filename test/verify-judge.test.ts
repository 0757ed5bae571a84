// The judges of npm run verify, on measurements made up for each case: what passes, what fails,
// and that a failure says what was expected and what was measured.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import {
  judgeDistribution, judgeEntrypoints, judgeFailover, judgeTcpFailover, judgeTcpFailovers, judgeHealth, judgePersistence, judgeRecovery, judgeRouting,
  type AssertionResult, type EntrypointExpectation, type EntrypointMeasurement, type Expectations, type TcpFailoverExpectation, type RoutingExpectation, type RoutingMeasurement, type TrafficSample, type Verdict,
} from "../verification/judge.ts";
import { renderChartSvg, renderTable, seriesOf } from "../verification/report.ts";
import { runInTurn } from "../verification/run.ts";
import { expectations } from "./support/expectations.ts";

const counts = (entries: Record<string, number>) => new Map(Object.entries(entries));
/** leastconn over web-a, web-b, web-c with these weights. */
const weighted = (weights: number[]) =>
  expectations({ balance: "leastconn", servers: weights.map((weight, i) => ({ name: `web-${"abc"[i]}`, weight, active: true, interMs: 500, fall: 2, rise: 3 })) });

describe("judgeDistribution", () => {
  const cases: { name: string; expect: Expectations; counts: Record<string, number>; failures?: number; up?: string[]; passed: boolean; measured?: RegExp }[] = [
    { name: "an even split of equal weights passes", expect: expectations(), counts: { "web-a": 500, "web-b": 500 }, passed: true },
    { name: "within the 5-point tolerance passes", expect: expectations(), counts: { "web-a": 540, "web-b": 460 }, passed: true },
    { name: "beyond the tolerance fails", expect: expectations(), counts: { "web-a": 560, "web-b": 440 }, passed: false, measured: /web-a 56\.0 %, web-b 44\.0 %/ },
    {
      name: "weights 3:1 expect 75 %/25 %, so an even split fails",
      expect: expectations({ servers: [{ name: "web-a", weight: 3, active: true, interMs: 500, fall: 2, rise: 3 }, { name: "web-b", weight: 1, active: true, interMs: 500, fall: 2, rise: 3 }] }),
      counts: { "web-a": 500, "web-b": 500 },
      passed: false,
      measured: /web-a 50\.0 %/,
    },
    { name: "a failed request fails it", expect: expectations(), counts: { "web-a": 500, "web-b": 499 }, failures: 1, passed: false, measured: /1 requests failed/ },
    { name: "a DOWN server is left out of the expected split", expect: expectations(), counts: { "web-b": 1000 }, up: ["web-b"], passed: true },
    {
      name: "a backup server taking traffic while the others are up fails",
      expect: expectations({ servers: [{ name: "web-a", weight: 1, active: true, interMs: 500, fall: 2, rise: 3 }, { name: "web-c", weight: 1, active: false, interMs: 500, fall: 2, rise: 3 }] }),
      counts: { "web-a": 900, "web-c": 100 },
      up: ["web-a", "web-c"],
      passed: false,
      measured: /also web-c/,
    },
    { name: "leastconn follows load, not turns: 70/30 passes (shares are reported, not judged)", expect: expectations({ balance: "leastconn" }), counts: { "web-a": 700, "web-b": 300 }, passed: true, measured: /web-a 70\.0 %, web-b 30\.0 %/ },
    { name: "leastconn, weights 3:1 under saturating load: 37.5/62.5 passes (measured during an apply)", expect: weighted([3, 1]), counts: { "web-a": 75, "web-b": 125 }, up: ["web-a", "web-b"], passed: true },
    { name: "leastconn: a server with no traffic fails, named", expect: expectations({ balance: "leastconn" }), counts: { "web-a": 1000 }, passed: false, measured: /idle: web-b/ },
    { name: "leastconn: a failed request fails it", expect: expectations({ balance: "leastconn" }), counts: { "web-a": 500, "web-b": 499 }, failures: 1, passed: false },
    { name: "leastconn, weights 3:1:1: a server with no traffic fails", expect: weighted([3, 1, 1]), counts: { "web-a": 600, "web-b": 400 }, passed: false, measured: /web-c 0\.0 %/ },
    { name: "balance first: everything on the first server passes", expect: expectations({ balance: "first" }), counts: { "web-a": 1000 }, passed: true },
    { name: "balance first: a request on the second fails", expect: expectations({ balance: "first" }), counts: { "web-a": 999, "web-b": 1 }, passed: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = judgeDistribution(c.expect, { counts: counts(c.counts), failures: c.failures ?? 0, up: c.up ?? ["web-a", "web-b", "web-c"] });
      assert.equal(result.verdict, c.passed ? "pass" : "fail", `${result.expected} / ${result.measured}`);
      if (c.measured) assert.match(result.measured, c.measured);
    });
  }

  it("balance source: a client address split across servers fails, naming it", () => {
    const byKey = new Map([["127.0.0.2", new Set(["web-a"])], ["127.0.0.3", new Set(["web-a", "web-b"])]]);
    const result = judgeDistribution(expectations({ balance: "source" }), { counts: counts({ "web-a": 10, "web-b": 2 }), failures: 0, up: ["web-a", "web-b"], serversByKey: byKey });
    assert.equal(result.verdict, "fail");
    assert.match(result.measured, /1 client addresses split across servers \(127\.0\.0\.3: web-a, web-b\)/);
  });

  it("balance uri: each path on one server, and both servers used, passes", () => {
    const byKey = new Map([["/d/0", new Set(["web-a"])], ["/d/1", new Set(["web-b"])]]);
    const result = judgeDistribution(expectations({ balance: "uri" }), { counts: counts({ "web-a": 5, "web-b": 5 }), failures: 0, up: ["web-a", "web-b"], serversByKey: byKey });
    assert.equal(result.verdict, "pass", result.measured);
  });
});

describe("judgePersistence", () => {
  const down = { server: "web-a", status: 200, servedBy: "web-b" };
  it("pinned clients that stay, and a redispatched DOWN cookie, pass", () => {
    const result = judgePersistence(expectations(), { clients: [{ gotCookie: true, firstServer: "web-a", servedBy: ["web-a", "web-a"] }, { gotCookie: true, firstServer: "web-b", servedBy: ["web-b"] }], downServer: down });
    assert.equal(result.verdict, "pass", result.measured);
  });
  it("no cookie from HAProxy fails, saying so, and the client wanders", () => {
    const result = judgePersistence(expectations(), { clients: [{ gotCookie: false, firstServer: "web-a", servedBy: ["web-b", "web-a"] }], downServer: undefined });
    assert.equal(result.verdict, "fail");
    assert.match(result.measured, /^1 of 1 clients got no SERVER cookie; 1 left their server \(web-a → web-b\)/);
  });
  it("a client moved to another server fails", () => {
    const result = judgePersistence(expectations(), { clients: [{ gotCookie: true, firstServer: "web-a", servedBy: ["web-a", "web-b"] }], downServer: down });
    assert.equal(result.verdict, "fail");
    assert.match(result.measured, /1 left their server \(web-a → web-b\)/);
  });
  it("a DOWN server's cookie answered with 503 fails", () => {
    const result = judgePersistence(expectations(), { clients: [{ gotCookie: true, firstServer: "web-a", servedBy: ["web-a"] }], downServer: { server: "web-a", status: 503, servedBy: undefined } });
    assert.equal(result.verdict, "fail");
    assert.match(result.measured, /cookie for DOWN web-a → 503 from nobody/);
  });
  it("without persistence in the model it is skipped, not passed", () => {
    assert.equal(judgePersistence(expectations({ cookie: undefined }), { clients: [] }).verdict, "skip");
  });
});

/** Traffic every 10 ms from 0 to `end`; `serve(t)` says who answered. */
const traffic = (end: number, serve: (t: number) => Partial<TrafficSample>): TrafficSample[] =>
  Array.from({ length: end / 10 }, (_, i) => ({ t: i * 10, ...serve(i * 10) }));

describe("judgeFailover", () => {
  const healthy = (t: number) => ({ server: t < 1000 && t % 20 === 0 ? "web-a" : "web-b", status: 200 });
  it("DOWN in time, nothing lost, then all on the survivor: passes", () => {
    const result = judgeFailover(expectations(), { server: "web-a", samples: traffic(5000, healthy), killedAt: 1000, downAt: 2000, restartedAt: 4000 });
    assert.equal(result.verdict, "pass", result.measured);
  });
  it("failed requests fail it when the backend retries", () => {
    const samples = traffic(5000, (t) => (t > 1000 && t < 1100 ? (t < 1040 ? { status: 503 } : { error: "ECONNRESET" }) : healthy(t)));
    const result = judgeFailover(expectations(), { server: "web-a", samples, killedAt: 1000, downAt: 2000, restartedAt: 4000 });
    assert.equal(result.verdict, "fail");
    assert.match(result.measured, /^DOWN after 1000 ms; 9 of \d+ requests failed \(ECONNRESET ×6, 503 ×3\);/, "how they failed, most frequent first");
    assert.match(result.expected, /0 failed requests/);
  });
  it("failed requests are only reported when the backend does not retry", () => {
    const samples = traffic(5000, (t) => (t > 1000 && t < 1100 ? { status: 503 } : healthy(t)));
    const result = judgeFailover(expectations({ lossless: false }), { server: "web-a", samples, killedAt: 1000, downAt: 2000, restartedAt: 4000 });
    assert.equal(result.verdict, "pass", result.measured);
    assert.match(result.measured, /9 of \d+ requests failed/);
  });
  it("DOWN later than inter × fall + check timeout + slack fails", () => {
    const result = judgeFailover(expectations(), { server: "web-a", samples: traffic(9000, healthy), killedAt: 1000, downAt: 5500, restartedAt: 8000 });
    assert.equal(result.verdict, "fail");
    assert.match(result.expected, /DOWN within 4000 ms/);
    assert.match(result.measured, /DOWN after 4500 ms/);
  });
  it("never DOWN fails", () => {
    assert.match(judgeFailover(expectations(), { server: "web-a", samples: traffic(3000, healthy), killedAt: 1000, restartedAt: 3000 }).measured, /DOWN after never/);
  });
});

describe("judgeRecovery", () => {
  it("UP within rise × inter + one inter + slack, then traffic: passes", () => {
    const samples = traffic(6000, (t) => ({ server: t > 3000 && t % 20 === 0 ? "web-a" : "web-b", status: 200 }));
    const result = judgeRecovery(expectations(), { server: "web-a", samples, listeningAt: 1000, upAt: 2900 });
    assert.equal(result.verdict, "pass", result.measured);
  });
  it("too slow fails, with the bound and the time", () => {
    const result = judgeRecovery(expectations(), { server: "web-a", samples: traffic(9000, () => ({ server: "web-a", status: 200 })), listeningAt: 1000, upAt: 6000 });
    assert.equal(result.verdict, "fail");
    assert.match(result.expected, /UP within 3000 ms/);
    assert.match(result.measured, /UP after 5000 ms/);
  });
  it("UP but never given traffic fails", () => {
    const result = judgeRecovery(expectations(), { server: "web-a", samples: traffic(6000, () => ({ server: "web-b", status: 200 })), listeningAt: 1000, upAt: 2000 });
    assert.equal(result.verdict, "fail");
    assert.match(result.measured, /0 of \d+ later requests reached it/);
  });
});

describe("judgeHealth", () => {
  it("a server of the model that HAProxy does not know fails", () => {
    const result = judgeHealth(expectations(), { socketAnswers: true, known: new Map([["web-a", "UP"]]) });
    assert.equal(result.verdict, "fail");
    assert.match(result.measured, /missing: web-b/);
  });
  it("a Prometheus job missing or down fails", () => {
    const known = new Map([["web-a", "UP"], ["web-b", "UP"]]);
    const result = judgeHealth(expectations(), { socketAnswers: true, known, prometheusTargets: new Map([["haproxy", "up"], ["prometheus", "down"]]), expectedJobs: ["haproxy", "haproxy-sidecar", "prometheus"] });
    assert.equal(result.verdict, "fail");
    assert.match(result.measured, /targets down: prometheus down, haproxy-sidecar missing/);
  });
});

describe("the report", () => {
  const samples = traffic(2000, (t) => (t < 1000 ? { server: t % 20 ? "web-a" : "web-b", status: 200 } : { server: "web-b", status: 200 }));

  it("makes one series per server and one of failures, in requests per second", () => {
    const { series, bucketMs } = seriesOf(samples);
    assert.deepEqual(series.map((s) => s.name), ["web-a", "web-b", "failed"]);
    assert.equal(bucketMs, 250);
    assert.equal(series[0]!.values[0], 48); // 12 web-a requests in the first 250 ms
    assert.equal(series[0]!.values.at(-1), 0);
    assert.equal(series[2]!.values.reduce((a, b) => a + b, 0), 0);
  });

  it("draws a path per series and a marker per event", () => {
    const svg = renderChartSvg(samples, [{ t: 1000, label: "web-a killed" }]);
    assert.equal(svg.match(/class="series"/g)?.length, 3);
    assert.match(svg, /data-series="web-a"/);
    assert.match(svg, /<text[^>]*>web-a killed<\/text>/);
  });

  it("prints a table with the verdict, what was expected and what was measured", () => {
    const table = renderTable([{ assertion: "distribution", verdict: "fail", expected: "web-a 75.0 %", measured: "web-a 50.0 %" }]);
    assert.match(table, /^distribution +FAIL +web-a 75\.0 %\n +→ web-a 50\.0 %$/m);
  });
});

describe("routing: every request of the matrix answered as the resolver said", () => {
  const request = { route: "api", kind: "match" as const, url: "http://127.0.0.1:60000/", method: "GET", host: "api.example.com", target: "/api/x", headers: [] as [string, string][], source: "127.0.0.1" };
  const toBackend = { ...request, status: 200, servers: ["web-c"], outcome: "backend api (api)" };
  const toRedirect = { ...request, status: 301, location: "https://new.example.com/api/x", outcome: "redirect" };
  const toAnswer = { ...request, status: 200, body: "ok", outcome: "answer 200" };
  const cases: [string, RoutingExpectation, RoutingMeasurement, Verdict, RegExp?][] = [
    ["the backend's server answered", toBackend, { status: 200, server: "web-c" }, "pass"],
    ["another backend's server answered", toBackend, { status: 200, server: "web-a" }, "fail", /answered from web-a, expected backend api/],
    ["refused instead", toBackend, { status: 403 }, "fail", /answered 403/],
    ["redirected where expected", toRedirect, { status: 301, location: "https://new.example.com/api/x" }, "pass"],
    ["redirected elsewhere", toRedirect, { status: 301, location: "https://new.example.com/" }, "fail", /redirected to https:\/\/new.example.com\//],
    ["answered with the body", toAnswer, { status: 200, body: "ok" }, "pass"],
    ["answered by a server instead", toAnswer, { status: 200, server: "web-a", body: "{}" }, "fail", /answered "\{\}"/],
    ["no answer", toBackend, { error: "ECONNREFUSED" }, "fail", /ECONNREFUSED/],
  ];
  for (const [name, expected, measured, verdict, message] of cases) {
    it(name, () => {
      const result = judgeRouting([expected], [measured]);
      assert.equal(result.verdict, verdict, result.measured);
      if (message) assert.match(result.measured, message);
    });
  }
  it("no routes: skipped, not passed", () => assert.equal(judgeRouting([], []).verdict, "skip"));
});

describe("entry points of TCP frontends: each probe passes only on what it looks for", () => {
  const url = "tcp://127.0.0.1:8444";
  const expected: EntrypointExpectation[] = [
    { frontend: "redis", url: "tcp://127.0.0.1:6380", servers: [], anyServer: true, tcp: { probe: "redis", backend: "redis" } },
    { frontend: "tls_services", url, servers: [], anyServer: true, tcp: { probe: "tls", serverName: "billing.data.test", backend: "billing" } },
    { frontend: "tls_services", url, servers: [], anyServer: true, tcp: { probe: "refused", serverName: "unknown.invalid" } },
  ];
  const measured = (ok: [boolean, boolean, boolean]): EntrypointMeasurement[] => [
    { url: "tcp://127.0.0.1:6380", tcp: { ok: ok[0], saw: ok[0] ? '"+PONG"' : '"-NOAUTH Authentication required."' } },
    { url, tcp: { serverName: "billing.data.test", ok: ok[1], saw: ok[1] ? "a certificate for DNS:billing.data.test" : "a certificate for DNS:ledger.data.test, not billing.data.test" } },
    { url, tcp: { serverName: "unknown.invalid", ok: ok[2], saw: ok[2] ? "the connection ended without a handshake (ECONNRESET)" : "a handshake completed (certificate for DNS:billing.data.test)" } },
  ];
  it("passes when every probe saw what it looks for, counting ports and probes apart", () => {
    const result = judgeEntrypoints(expected, measured([true, true, true]));
    assert.equal(result.verdict, "pass");
    assert.match(result.expected, /^2 ports of 2 frontends answer from their backend \(3 connections to TCP ports/);
  });
  it("fails naming the probe, its SNI name and what it saw instead", () => {
    const result = judgeEntrypoints(expected, measured([false, false, false]));
    assert.equal(result.verdict, "fail");
    assert.equal(result.measured, [
      'redis tcp://127.0.0.1:6380: Redis answers PING with +PONG (backend redis), but "-NOAUTH Authentication required."',
      "tls_services tcp://127.0.0.1:8444 (SNI billing.data.test): a handshake for billing.data.test completes with a verified certificate for that name (backend billing), but a certificate for DNS:ledger.data.test, not billing.data.test",
      "tls_services tcp://127.0.0.1:8444 (SNI unknown.invalid): a handshake for unknown.invalid is refused, but a handshake completed (certificate for DNS:billing.data.test)",
    ].join("; "));
  });
});

describe("judgeTcpFailover: DOWN and UP within the check's bounds, no connection lost", () => {
  const e: TcpFailoverExpectation = { frontend: "tls_services", url: "tcp://127.0.0.1:8444", probe: { probe: "tls", serverName: "billing.data.test", backend: "billing" }, backend: "billing", victim: "billing-1", victimUrl: "tcp://127.0.0.1:7201", interMs: 500, fall: 2, rise: 1, checkTimeoutMs: 500, lossless: true };
  const ok = (t: number) => ({ t, ok: true, saw: "a certificate for DNS:billing.data.test" });
  const base = { probes: [ok(0), ok(600), ok(1200), ok(2500), ok(3000)], killedAt: 500, killDoneAt: 550, downAt: 1400, listeningAt: 2600, upAt: 3200 };
  const cases: [string, Partial<typeof base> & { probes?: { t: number; ok: boolean; saw: string }[] }, Partial<TcpFailoverExpectation>, Verdict, RegExp][] = [
    ["within the bounds, none lost", {}, {}, "pass", /^DOWN after 900 ms, UP after 600 ms; 5 connections, none failed$/],
    ["never DOWN", { downAt: undefined }, {}, "fail", /billing-1 was never marked DOWN/],
    ["DOWN too late (bound: 2 × 500 + 500 + 1000 ms)", { downAt: 3001 }, {}, "fail", /DOWN after 2501 ms, over 2500 ms/],
    ["UP too late (bound: 1 × 500 + 500 + 1000 ms)", { upAt: 4601 }, {}, "fail", /UP after 2001 ms, over 2000 ms/],
    ["a connection lost while lossless", { probes: [ok(0), { t: 700, ok: false, saw: "ECONNRESET" }, ok(3000)] }, {}, "fail", /1 of 3 connections failed \(first: ECONNRESET\)/],
    ["a connection lost before DOWN, without retries: allowed", { probes: [ok(0), { t: 700, ok: false, saw: "ECONNRESET" }, ok(3000)] }, { lossless: false }, "pass", /3 connections, 1 failed: open to the server as it died, or before DOWN \(no retries take them elsewhere\)$/],
    ["a connection open to the server as it died, while lossless: cut, allowed (TCP has nothing to retry)", { probes: [ok(0), { t: 520, ok: false, saw: "ECONNRESET" }, ok(3000)] }, {}, "pass", /3 connections, 1 failed: open to the server as it died$/],
  ];
  for (const [name, m, over, verdict, measured] of cases) {
    it(name, () => {
      const result = judgeTcpFailover({ ...e, ...over }, { ...base, ...m } as never);
      assert.equal(result.verdict, verdict);
      assert.match(result.measured, measured);
    });
  }
  it("skips, saying why, when no TCP backend can fail over", () => assert.equal(judgeTcpFailover(undefined, undefined).verdict, "skip"));
  it("several backends: one verdict, each backend's own measurement, failing when any fails", () => {
    const ledger = { ...e, backend: "ledger", victim: "ledger-1" };
    const both = judgeTcpFailovers([{ e, m: base as never }, { e: ledger, m: { ...base, downAt: undefined } as never }]);
    assert.equal(both.verdict, "fail");
    assert.match(both.measured, /^billing: DOWN after 900 ms, UP after 600 ms; 5 connections, none failed; ledger: FAIL: ledger-1 was never marked DOWN/);
    assert.equal(judgeTcpFailovers([{ e, m: base as never }, { e: ledger, m: base as never }]).verdict, "pass");
    assert.equal(judgeTcpFailovers([]).verdict, "skip");
  });
});

describe("runInTurn: the assertions that only look run side by side, those that disturb one at a time after them", () => {
  const pass = (assertion: string) => ({ assertion, verdict: "pass", expected: "-", measured: "-" }) as AssertionResult;
  /** Resolves once `count` runners have started; rejects if they did not all start within the bound (one after another). */
  function barrier(count: number) {
    let started = 0;
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return async () => {
      if (++started === count) open();
      let bound: NodeJS.Timeout | undefined;
      try {
        await Promise.race([opened, new Promise((_, reject) => (bound = setTimeout(() => reject(new Error(`only ${started} of ${count} started side by side`)), 2000)))]);
      } finally {
        clearTimeout(bound);
      }
    };
  }

  it("the looking ones all start before any ends; each disturbing one starts alone, after them, in the order given", async () => {
    const together = barrier(3);
    const events: string[] = [];
    let running = 0;
    const looking = (name: string) => ({ disturbs: false, run: async () => { running++; events.push(`start ${name}`); await together(); running--; events.push(`end ${name}`); return pass(name); } });
    const disturbing = (name: string) => ({ disturbs: true, run: async () => { assert.equal(running, 0, `${name} started beside another`); running++; events.push(`start ${name}`); await new Promise((r) => setImmediate(r)); running--; events.push(`end ${name}`); return pass(name); } });
    const runners = { a: looking("a"), failover: disturbing("failover"), b: looking("b"), persistence: disturbing("persistence"), c: looking("c") };
    const results = await runInTurn(["a", "persistence", "b", "failover", "c"] as const, runners, {});
    assert.deepEqual(results.map((r) => r.assertion), ["a", "persistence", "b", "failover", "c"], "results in the order chosen");
    assert.deepEqual(events.slice(0, 3).sort(), ["start a", "start b", "start c"]);
    assert.deepEqual(events.slice(6), ["start persistence", "end persistence", "start failover", "end failover"]);
  });

  it("a looking one that throws: the others end before the run rejects, and nothing that disturbs starts", async () => {
    const ended: string[] = [];
    const runners = {
      broken: { disturbs: false, run: async () => { throw new Error("probe failed"); } },
      slow: { disturbs: false, run: async () => { await new Promise((r) => setImmediate(r)); ended.push("slow"); return pass("slow"); } },
      failover: { disturbs: true, run: async () => { ended.push("failover"); return pass("failover"); } },
    };
    await assert.rejects(runInTurn(["broken", "slow", "failover"] as const, runners, {}), /probe failed/);
    assert.deepEqual(ended, ["slow"]);
  });
});
