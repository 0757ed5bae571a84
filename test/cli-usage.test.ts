// Every CLI of the project (each npm script that runs a TypeScript file) answers a mistyped flag
// with "error USAGE: ...", its usage, and exit code 2: never a stack trace. The list is read from
// package.json, so a new CLI is covered the day its script is added.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "vitest";
import { REPO_ROOT, runCli } from "./support/run-cli.ts";

const scripts = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts as Record<string, string>;
/** "start" → ["infra/runtime/cli.ts", "start"]: the file and the arguments the script passes first. */
const clis = Object.entries(scripts)
  .map(([name, command]) => [name, /^tsx (\S+\.ts)((?: [a-z-]+)*)$/.exec(command)] as const)
  .filter((entry): entry is readonly [string, RegExpExecArray] => entry[1] !== null)
  .map(([name, match]) => ({ name, file: match[1]!, args: match[2]!.trim().split(" ").filter(Boolean) }));

const STACK_TRACE_LINE = /^\s+at .+[:(]/m;

describe("every CLI, given a flag it does not take", () => {
  it("the list of CLIs is read from package.json", () => {
    assert.ok(clis.length >= 7, `found only ${clis.map((c) => c.name).join(", ")}`);
    for (const name of ["start", "stop", "render", "verify", "sidecar", "synth", "bench"]) assert.ok(clis.some((c) => c.name === name), `npm run ${name} is not a tsx CLI in package.json`);
  });

  for (const cli of clis) {
    it(`npm run ${cli.name} -- --detatch: error USAGE, its usage, exit 2, no stack trace`, async () => {
      const result = await runCli(cli.file, [...cli.args, "--detatch"]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /^error USAGE: Unknown option '--detatch'/);
      assert.match(result.stderr, /\nusage: npm (run )?[a-z]+/);
      assert.doesNotMatch(result.stderr, STACK_TRACE_LINE);
      assert.equal(result.stdout, "");
    });
  }

  it("--help prints the usage on stdout and exits 0", async () => {
    const result = await runCli("infra/render/cli.ts", ["--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^usage: npm run render/);
  });
});
