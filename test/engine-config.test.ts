// The container engine's configuration for the local deployer: limits read from /proc, never assumed.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "vitest";
import { parseProcLimits, renderContainersConf } from "../infra/containers/engine-config.ts";

const limits = (openFiles: string, processes: string) => `Limit                     Soft Limit           Hard Limit           Units
Max processes             ${processes}            processes
Max open files            ${openFiles}            files
`;

describe("parseProcLimits", () => {
  it("reads this process's own /proc/self/limits", () => {
    const parsed = parseProcLimits(readFileSync("/proc/self/limits", "utf8"));
    assert.ok(parsed.openFiles.soft === undefined || parsed.openFiles.soft > 0);
    assert.ok(parsed.openFiles.hard === undefined || parsed.openFiles.hard >= (parsed.openFiles.soft ?? 0));
  });
  it("numbers and unlimited", () => {
    assert.deepEqual(parseProcLimits(limits("1024                 524288", "unlimited            unlimited")), {
      openFiles: { soft: 1024, hard: 524288 },
      processes: { soft: undefined, hard: undefined },
    });
  });
  it("names a row that is missing", () => assert.throws(() => parseProcLimits("Limit Soft Hard\n"), /no "Max open files" row/));
});

describe("renderContainersConf", () => {
  it("runc, and default ulimits capped at the caller's hard limits", () => {
    const conf = renderContainersConf(parseProcLimits(limits("20000 20000", "96365 96365")));
    assert.match(conf, /^\[containers\]\ndefault_ulimits = \["nofile=20000:20000", "nproc=4096:4096"\]$/m);
    assert.match(conf, /^\[engine\]\nruntime = "runc"$/m);
  });
  it("unlimited hard limits keep the containers' own defaults", () => {
    assert.match(renderContainersConf(parseProcLimits(limits("1024 unlimited", "unlimited unlimited"))), /"nofile=1048576:1048576", "nproc=4096:4096"/);
  });
});
