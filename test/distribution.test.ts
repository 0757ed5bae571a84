// The continuous distribution check and drift, as pure functions: shares from HAProxy's counters
// against the shares weights imply, and where the running HAProxy differs from the topology.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import fc from "fast-check";
import {
  findDrift,
  primaryCounts,
  judgeDistribution,
  MIN_JUDGED_REQUESTS,
  parseExpectedDistribution,
  SampleWindow,
  type ExpectedDistribution,
  type ServerSample,
} from "../sidecar/distribution.ts";
import { parseExpositionQuery, EXPORTER_SCOPES } from "../sidecar/exposition.ts";
import { expectedDistribution, expectedDistributionText } from "../infra/runtime/applied.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { seedTopology } from "./support/topologies.ts";
import { topology as dataTopology } from "../infra/topologies/data.ts";

const sample = (server: string, sessions: number, over: Partial<ServerSample> = {}): ServerSample => ({ proxy: "be", server, sessions, state: "UP", weight: 1, ...over });
const expected = (algorithm: string, servers: { name: string; weight?: number; disabled?: boolean; backup?: boolean }[]): ExpectedDistribution => ({
  backends: [{ name: "be", algorithm, servers: servers.map((s) => ({ name: s.name, weight: s.weight ?? 1, disabled: s.disabled ?? false, backup: s.backup ?? false })) }],
});

describe("judgeDistribution: each server's share of its backend over the window, against its weight", () => {
  const cases: { name: string; before: ServerSample[]; after: ServerSample[]; expect: ExpectedDistribution; skew?: number; why?: RegExp; shares?: Record<string, [number, number | undefined]> }[] = [
    {
      name: "equal weights, equal traffic: no skew",
      before: [sample("a", 100), sample("b", 100)],
      after: [sample("a", 150), sample("b", 150)],
      expect: expected("roundrobin", [{ name: "a" }, { name: "b" }]),
      skew: 0,
      shares: { a: [0.5, 0.5], b: [0.5, 0.5] },
    },
    {
      name: "weights 1:1 in the topology, 3:1 in HAProxy's traffic: skew 0.25",
      before: [sample("a", 0), sample("b", 0)],
      after: [sample("a", 75), sample("b", 25)],
      expect: expected("roundrobin", [{ name: "a" }, { name: "b" }]),
      skew: 0.25,
      shares: { a: [0.75, 0.5], b: [0.25, 0.5] },
    },
    {
      name: "weights 3:1 followed: no skew",
      before: [sample("a", 0), sample("b", 0)],
      after: [sample("a", 75), sample("b", 25)],
      expect: expected("static-rr", [{ name: "a", weight: 3 }, { name: "b", weight: 1 }]),
      skew: 0,
    },
    {
      name: "a DOWN server is expected to take nothing, the others its share",
      before: [sample("a", 0), sample("b", 0), sample("c", 0, { state: "DOWN" })],
      after: [sample("a", 50), sample("b", 50), sample("c", 0, { state: "DOWN" })],
      expect: expected("roundrobin", [{ name: "a" }, { name: "b" }, { name: "c" }]),
      skew: 0,
      shares: { a: [0.5, 0.5], b: [0.5, 0.5], c: [0, 0] },
    },
    {
      name: "a backup server is expected to take nothing while an active one is UP",
      before: [sample("a", 0), sample("spare", 0)],
      after: [sample("a", 40), sample("spare", 0)],
      expect: expected("roundrobin", [{ name: "a" }, { name: "spare", backup: true }]),
      skew: 0,
    },
    {
      name: "and everything once no active server is UP",
      before: [sample("a", 0, { state: "DOWN" }), sample("spare", 0)],
      after: [sample("a", 0, { state: "DOWN" }), sample("spare", 40)],
      expect: expected("roundrobin", [{ name: "a" }, { name: "spare", backup: true }]),
      skew: 0,
    },
    {
      name: "leastconn: shares observed, none expected, no skew",
      before: [sample("a", 0), sample("b", 0)],
      after: [sample("a", 90), sample("b", 10)],
      expect: expected("leastconn", [{ name: "a" }, { name: "b" }]),
      why: /leastconn does not share requests by weight/,
      shares: { a: [0.9, undefined], b: [0.1, undefined] },
    },
    {
      name: "too few requests to judge",
      before: [sample("a", 0), sample("b", 0)],
      after: [sample("a", MIN_JUDGED_REQUESTS - 2), sample("b", 1)],
      expect: expected("roundrobin", [{ name: "a" }, { name: "b" }]),
      why: /fewer than 20 requests/,
    },
    {
      name: "a server that changed state in the window",
      before: [sample("a", 0), sample("b", 0, { state: "DOWN" })],
      after: [sample("a", 60), sample("b", 5)],
      expect: expected("roundrobin", [{ name: "a" }, { name: "b" }]),
      why: /changed state/,
    },
    {
      name: "a counter that went backwards (HAProxy restarted) counts from zero",
      before: [sample("a", 5000), sample("b", 5000)],
      after: [sample("a", 30), sample("b", 30)],
      expect: expected("roundrobin", [{ name: "a" }, { name: "b" }]),
      skew: 0,
    },
    {
      name: "no requests at all",
      before: [sample("a", 7), sample("b", 7)],
      after: [sample("a", 7), sample("b", 7)],
      expect: expected("roundrobin", [{ name: "a" }, { name: "b" }]),
      why: /no requests/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const judged = judgeDistribution(c.before, c.after, c.expect);
      const backend = judged.backends.find((b) => b.proxy === "be")!;
      if (c.skew !== undefined) {
        assert.equal(backend.why, undefined);
        assert.ok(Math.abs(backend.skew! - c.skew) < 1e-9, `skew ${backend.skew}, expected ${c.skew}`);
      } else {
        assert.equal(backend.skew, undefined);
        assert.match(backend.why!, c.why!);
      }
      for (const [server, [observed, share]] of Object.entries(c.shares ?? {})) {
        const s = judged.shares.find((x) => x.server === server)!;
        assert.ok(Math.abs(s.observed - observed) < 1e-9, `${server} observed ${s.observed}`);
        assert.equal(s.expected, share, `${server} expected`);
      }
    });
  }

  it("properties: observed shares sum to 1, expected shares sum to 1 when any weighted server is UP, skew is within [0, 1]", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ base: fc.nat(10_000), added: fc.nat(500), weight: fc.integer({ min: 0, max: 256 }), up: fc.boolean() }), { minLength: 1, maxLength: 8 }),
        (servers) => {
          const names = servers.map((_, i) => `s${i}`);
          const before = servers.map((s, i) => sample(names[i]!, s.base, { state: s.up ? "UP" : "DOWN" }));
          const after = servers.map((s, i) => sample(names[i]!, s.base + s.added, { state: s.up ? "UP" : "DOWN" }));
          const judged = judgeDistribution(before, after, expected("roundrobin", servers.map((s, i) => ({ name: names[i]!, weight: s.weight }))));
          const total = servers.reduce((a, s) => a + s.added, 0);
          if (total === 0) return judged.shares.length === 0;
          const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
          assert.ok(Math.abs(sum(judged.shares.map((s) => s.observed)) - 1) < 1e-9);
          if (servers.some((s) => s.up && s.weight > 0)) assert.ok(Math.abs(sum(judged.shares.map((s) => s.expected!)) - 1) < 1e-9);
          const skew = judged.backends[0]!.skew;
          return skew === undefined || (skew >= 0 && skew <= 1);
        },
      ),
    );
  });
});

describe("findDrift: where the running HAProxy differs from the topology", () => {
  const topology = expected("roundrobin", [{ name: "a", weight: 2 }, { name: "b" }, { name: "off", disabled: true }]);
  const cases: [string, ServerSample[], string[]][] = [
    ["in sync, a server DOWN by its checks included", [sample("a", 0, { weight: 2 }), sample("b", 0, { state: "DOWN" }), sample("off", 0, { state: "MAINT" })], []],
    ["a weight set over the runtime API", [sample("a", 0, { weight: 3 }), sample("b", 0), sample("off", 0, { state: "MAINT" })], ["be/a weight"]],
    ["a server put in maintenance by hand", [sample("a", 0, { weight: 2 }), sample("b", 0, { state: "MAINT" }), sample("off", 0, { state: "MAINT" })], ["be/b state"]],
    ["a server drained by hand", [sample("a", 0, { weight: 2, state: "DRAIN" }), sample("b", 0), sample("off", 0, { state: "MAINT" })], ["be/a state"]],
    ["a disabled server enabled by hand", [sample("a", 0, { weight: 2 }), sample("b", 0), sample("off", 0)], ["be/off state"]],
    ["a server missing, another unknown to the topology", [sample("a", 0, { weight: 2 }), sample("off", 0, { state: "MAINT" }), sample("stray", 0)], ["be/b missing", "be/stray unexpected"]],
  ];
  for (const [name, samples, drift] of cases) {
    it(name, () => assert.deepEqual(findDrift(samples, topology).map((d) => `${d.proxy}/${d.server} ${d.reason}`), drift));
  }
});

describe("primaryCounts: a backend whose check finds the primary holds exactly one server UP", () => {
  const topology: ExpectedDistribution = { backends: [{ ...expected("first", [{ name: "a" }, { name: "b" }]).backends[0]!, primaryOnly: true }, { ...expected("roundrobin", [{ name: "w" }]).backends[0]!, name: "web" }] };
  const cases: [string, ServerSample[], number][] = [
    ["one primary, the replica DOWN by design", [sample("a", 0), sample("b", 0, { state: "DOWN" })], 1],
    ["none: every connection refused", [sample("a", 0, { state: "DOWN" }), sample("b", 0, { state: "DOWN" })], 0],
    ["two: a split brain", [sample("a", 0), sample("b", 0)], 2],
  ];
  for (const [name, samples, up] of cases) {
    it(name, () => assert.deepEqual(primaryCounts([...samples, { ...sample("w", 0), proxy: "web" }], topology), [{ proxy: "be", up }]));
  }
  it("the file says so for such a backend, and only for it", () => {
    const written = expectedDistribution(parseTopology(dataTopology));
    assert.deepEqual(written.backends.filter((b) => b.primaryOnly).map((b) => b.name), ["redis"]);
  });
});

describe("the expected-distribution file", () => {
  it("is what npm start and apply write for a topology, and what the sidecar reads back", () => {
    const written = expectedDistribution(parseTopology(seedTopology()));
    assert.deepEqual(parseExpectedDistribution(expectedDistributionText(parseTopology(seedTopology())), "f.json"), written);
    assert.deepEqual(written.backends[0], {
      name: "flask_servers",
      algorithm: "roundrobin",
      servers: [
        { name: "web-a", weight: 1, disabled: false, backup: false },
        { name: "web-b", weight: 1, disabled: false, backup: false },
      ],
    });
  });

  const v1 = (document: object) => JSON.stringify({ schemaVersion: 1, ...document });
  const bad: [string, string, string, RegExp][] = [
    ["an empty file", "", "STATE_FILE_CORRUPT", /f\.json \(.*\) is empty/],
    ["a file cut short", v1({ backends: [] }).slice(0, 20), "STATE_FILE_CORRUPT", /f\.json \(.*\) is not whole JSON, perhaps cut short/],
    ["a file of an older version", JSON.stringify({ backends: [] }), "STATE_FILE_VERSION", /f\.json was written by an older version of the stack \(schema without a version, this one reads 1\)/],
    ["a file of a newer version", JSON.stringify({ schemaVersion: 2, backends: [] }), "STATE_FILE_VERSION", /f\.json was written by a newer version/],
    ["no backends", v1({}), "STATE_FILE_CORRUPT", /f\.json .*: no "backends" list/],
    ["a server without a weight", v1({ backends: [{ name: "be", algorithm: "roundrobin", servers: [{ name: "a", disabled: false, backup: false }] }] }), "STATE_FILE_CORRUPT", /backends\[0\] needs name, algorithm and servers/],
  ];
  for (const [name, text, code, message] of bad) {
    it(`refuses ${name}, naming the file and what to do`, () => {
      assert.throws(() => parseExpectedDistribution(text, "f.json"), (error: Error & { code?: string }) => error.code === code && message.test(error.message) && /apply the topology again/.test(error.message) && !error.message.includes("\n"));
    });
  }
});

describe("SampleWindow: the base of the shares is the newest poll at least a window old", () => {
  it("keeps what the window needs and no more", () => {
    const window = new SampleWindow(10_000);
    assert.equal(window.span(), undefined);
    for (let t = 0; t <= 30_000; t += 1000) window.add(t, [sample("a", t / 1000)]);
    const span = window.span()!;
    assert.equal(span.oldest[0]!.sessions, 20, "the base is 10 s before the newest poll");
    assert.equal(span.newest[0]!.sessions, 30);
  });
});

describe("parseExpositionQuery: the exporter's scope= and no-maint", () => {
  const all = [...EXPORTER_SCOPES];
  const cases: [string, string[] | string, boolean][] = [
    ["", all, false],
    ["no-maint", all, true],
    ["no-maint=", all, true],
    ["scope=server", ["server"], false],
    ["scope=frontend&scope=backend", ["frontend", "backend"], false],
    ["scope=*", all, false],
    ["scope=*&scope=", [], false],
    ["scope=&scope=global", ["global"], false],
    ["scope=bogus", 'unknown scope "bogus": use global, frontend, backend, server, sticktable or *', false],
  ];
  for (const [query, scopes, noMaint] of cases) {
    it(`?${query}`, () => {
      const parsed = parseExpositionQuery(new URLSearchParams(query));
      if (typeof scopes === "string") return assert.deepEqual(parsed, { problem: scopes });
      assert.ok(!("problem" in parsed));
      assert.deepEqual([...parsed.scopes].sort(), [...scopes].sort());
      assert.equal(parsed.noMaint, noMaint);
    });
  }
});
