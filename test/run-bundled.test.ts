// lib/run-bundled.mjs, which npm run apply and plan go through: a command runs from its bundle, and the
// bundle is never older than its sources. Run in a scratch project (the launcher, a two-module
// command, the repository's node_modules), so that editing sources here touches nothing real.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { REPO_ROOT } from "../infra/repo.ts";

const project = mkdtempSync(join(tmpdir(), "lb-run-bundled-"));
mkdirSync(join(project, "lib"));
mkdirSync(join(project, "cmd"));
copyFileSync(join(REPO_ROOT, "lib/run-bundled.mjs"), join(project, "lib/run-bundled.mjs"));
symlinkSync(join(REPO_ROOT, "node_modules"), join(project, "node_modules"));
writeFileSync(join(project, "package-lock.json"), "{}\n");
writeFileSync(join(project, "cmd/cli.ts"), `import { message } from "./message.ts";\nconst args: string[] = process.argv.slice(2);\nprocess.stdout.write(\`\${message} \${JSON.stringify(args)}\\n\`);\n`);
const setMessage = (text: string) => writeFileSync(join(project, "cmd/message.ts"), text);
setMessage(`export const message: string = "first";\n`);
afterAll(() => rmSync(project, { recursive: true, force: true }));

const run = (...args: string[]) => spawnSync(process.execPath, [join(project, "lib/run-bundled.mjs"), "cmd/cli.ts", ...args], { cwd: tmpdir(), encoding: "utf8", timeout: 30_000 });
const bundle = join(project, "dist/cmd-cli.mjs");

describe("lib/run-bundled.mjs", () => {
  it("builds the bundle on first use and runs it with the command's own arguments", () => {
    const result = run("--flag", "a b");
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, `first ["--flag","a b"]\n`);
    assert.ok(existsSync(bundle));
  });

  it("runs the same bundle again while no input changed", () => {
    const built = statSync(bundle).mtimeMs;
    assert.equal(run().stdout, "first []\n");
    assert.equal(statSync(bundle).mtimeMs, built, "not rebuilt");
  });

  it("rebuilds when a module the command imports changed: a stale bundle never runs", () => {
    setMessage(`export const message: string = "second";\n`);
    assert.equal(run().stdout, "second []\n");
  });

  it("a source that does not compile: BUNDLE_FAILED with esbuild's file and line, the previous bundle kept, no scratch file left", () => {
    setMessage(`export const message: string = ;\n`);
    const result = run();
    assert.equal(result.status, 1);
    assert.match(result.stderr, /cmd\/message\.ts:1:\d+/);
    assert.match(result.stderr, /error BUNDLE_FAILED: cmd\/cli\.ts could not be bundled/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
    assert.deepEqual(readdirSync(join(project, "dist")).sort(), ["cmd-cli.inputs.json", "cmd-cli.mjs"]);
    setMessage(`export const message: string = "third";\n`);
    assert.equal(run().stdout, "third []\n");
  });

  it("two commands with the same file name keep a bundle each", () => {
    mkdirSync(join(project, "other"), { recursive: true });
    writeFileSync(join(project, "other/cli.ts"), `process.stdout.write("other\\n");\n`);
    const other = spawnSync(process.execPath, [join(project, "lib/run-bundled.mjs"), "other/cli.ts"], { cwd: tmpdir(), encoding: "utf8", timeout: 30_000 });
    assert.equal(other.stdout, "other\n", other.stderr);
    assert.equal(run().stdout, "third []\n");
    assert.ok(existsSync(join(project, "dist/other-cli.mjs")));
  });
});
