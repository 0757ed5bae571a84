// The bench's reading of wrk output, on output captured from Debian's wrk 4.1.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "vitest";
import { parseWrkOutput } from "../bench/wrk.ts";
import { minimalConfig } from "../bench/traffic.bench.ts";
import { checkHaproxyConfig } from "../infra/render/haproxy-check.ts";

const fixture = (name: string) => readFileSync(new URL(`fixtures/wrk/${name}`, import.meta.url), "utf8");

describe("parseWrkOutput", () => {
  it("reads throughput, median and p99 latency, and the request count", () => {
    const result = parseWrkOutput(fixture("non-2xx.txt"));
    assert.deepEqual(result, { requestsPerSecond: 1151.07, p50Ms: 3.13, p99Ms: 12.12, requests: 1152, errors: 1152, socketErrors: 0, non2xx: 1152 });
  });

  it("counts socket errors (connect, read, write, timeout) apart from non-2xx answers", () => {
    const text = fixture("latency.txt").replace(/^(Requests\/sec:)/m, "  Socket errors: connect 1, read 7, write 2, timeout 3\n$1");
    const result = parseWrkOutput(text);
    assert.deepEqual([result.socketErrors, result.non2xx, result.errors], [13, 0, 13]);
  });

  it("counts no errors when every response was 2xx", () => {
    assert.equal(parseWrkOutput(fixture("latency.txt")).errors, 0);
  });

  it("converts microsecond and second latencies to milliseconds", () => {
    const text = fixture("latency.txt").replace(/^(\s+50%\s+)\S+$/m, "$1850.00us").replace(/^(\s+99%\s+)\S+$/m, "$11.50s");
    const result = parseWrkOutput(text);
    assert.equal(result.p50Ms, 0.85);
    assert.equal(result.p99Ms, 1500);
  });

  it("names what is missing when the output is not wrk's", () => {
    assert.throws(() => parseWrkOutput("Segmentation fault"), /wrk output has no Requests\/sec/);
  });
});

describe("the bench's minimal hand-written config", () => {
  it("is accepted by the real HAProxy", async () => {
    await checkHaproxyConfig(minimalConfig(20001, [{ name: "web-a", port: 20002 }, { name: "web-b", port: 20003 }]));
  });

  it("runs one thread when asked, and HAProxy accepts that too", async () => {
    const config = minimalConfig(20001, [{ name: "web-a", port: 20002 }], { nbthread: 1 });
    assert.match(config, /^global\n(?: {4}\S.*\n)* {4}nbthread 1\n/);
    assert.doesNotMatch(minimalConfig(20001, [{ name: "web-a", port: 20002 }]), /nbthread/);
    await checkHaproxyConfig(config);
  });
});
