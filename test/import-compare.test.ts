// The round trip's second proof: every config import accepts, beside the config its topology renders,
// section by section and directive by directive, shows no difference beyond the normalisations the
// report lists. And the comparison sees a difference where there is one: each break below is a
// render that no longer says what the original said.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { parseConfig } from "../haproxy/config-parser.ts";
import { compareWithOriginal, DIFFERENCES } from "../infra/import/compare.ts";
import { compareRendered } from "../infra/import/equivalence.ts";
import { importConfig, refusals } from "../infra/import/import.ts";
import { filesNamedBy } from "../infra/import/named-files.ts";
import { validateImported } from "../infra/import/validate.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { localTarget } from "../infra/render/targets.ts";
import { REPO_ROOT, runCli } from "./support/run-cli.ts";

const FIXTURES = join(REPO_ROOT, "test/fixtures/import");
/** Every config import accepts: the corpus, and the fixtures other than the ones written to be refused. */
const ACCEPTED = [
  ...readdirSync(join(FIXTURES, "corpus")).filter((f) => f.endsWith(".cfg")).map((f) => `corpus/${f}`),
  ...["addresses.cfg", "consul-services.cfg", "legacy-1.5.cfg", "peers-bind-form.cfg", "rules-edge.cfg", "several-defaults.cfg", "shop-edge.cfg"],
].sort();

function compared(name: string) {
  const path = join(FIXTURES, name);
  const parsed = parseConfig([{ file: name, text: readFileSync(path, "utf8") }]);
  const files = filesNamedBy(path);
  const result = importConfig(parsed, "imported", files);
  assert.deepEqual(refusals(result.accounts), []);
  return { result, comparison: compareRendered(parsed, result, validateImported(result), files) };
}

describe("every config import accepts, beside what its topology renders", () => {
  for (const name of ACCEPTED) {
    it(`${name}: no difference beyond the listed normalisations; every line of the original compared once`, () => {
      const { result, comparison } = compared(name);
      assert.deepEqual(comparison.differences, []);
      const shown = comparison.sections.flatMap((s) => s.lines).filter((l) => l.original).map((l) => `${l.original!.at.line}`);
      assert.deepEqual(shown.sort(), result.accounts.map((a) => `${a.at.line}`).sort());
    });
  }
});

/** A small config, its render edited by `edit`: the comparison's differences. */
function differencesAfter(edit: (rendered: string) => string, original = SMALL): string[] {
  const parsed = parseConfig([{ file: "small.cfg", text: original }]);
  const result = importConfig(parsed);
  const rendered = edit(renderHaproxyConfig(validateImported(result), localTarget("/run/lb")));
  const renderedParsed = parseConfig([{ file: "rendered.cfg", text: rendered }]);
  return compareWithOriginal({ parsed, accounts: result.accounts }, { parsed: renderedParsed, accounts: importConfig(renderedParsed).accounts }, result.additions).differences;
}

const SMALL = `global
    log 10.0.0.5:514 local0
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend www
    bind :80
    http-request deny if { path_beg /admin }
    use_backend api if { path_beg /api/ }
    default_backend app
backend app
    option httpchk GET /health
    server app-1 10.0.0.11:8080 check weight 3
    server app-2 10.0.0.12:8080 check
backend api
    server api-1 10.0.0.21:8080 check
`;

describe("the comparison sees what a render would get wrong", () => {
  it("the render as it is: no difference", () => {
    assert.deepEqual(differencesAfter((r) => r), []);
  });
  const cases: { what: string; edit: (rendered: string) => string; expected: RegExp }[] = [
    { what: "a server dropped", edit: (r) => r.replace(/^\s+server app-2 .*\n/m, ""), expected: /^small\.cfg:16: server app-2 .*: lost/ },
    { what: "two servers swapped", edit: (r) => r.replace(/^(\s+server app-1 .*\n)(\s+server app-2 .*\n)/m, "$2$1"), expected: /^small\.cfg:(15|16): server app-\d .*: out of order/ },
    { what: "a server's weight changed", edit: (r) => r.replace("weight 3", "weight 2"), expected: /^small\.cfg:15: server app-1 .*: changed/ },
    { what: "a status expectation the original never had (HAProxy took any 2xx or 3xx)", edit: (r) => r.replace(/(option httpchk GET \/health\n)/, "$1    http-check expect status 200\n"), expected: /^rendered rendered\.cfg:\d+: http-check expect status 200: added/ },
    { what: "the syslog format changed (HAProxy's default is RFC 3164)", edit: (r) => r.replace("log 10.0.0.5:514 format rfc3164 local0", "log 10.0.0.5:514 format raw local0"), expected: /^small\.cfg:2: log 10\.0\.0\.5:514 local0: changed/ },
    { what: "a setting nobody asked for", edit: (r) => r.replace(/^(defaults\n)/m, "$1    option redispatch\n"), expected: /^rendered rendered\.cfg:\d+: option redispatch: added/ },
    { what: "the routes' marks in another order (first match changes)", edit: (r) => r.replace(/^(\s+http-request set-var\(txn\.route\) int\(0\).*\n)(\s+http-request set-var\(txn\.route\) int\(1\).*\n)/m, "$2$1"), expected: /^small\.cfg:(10|11): .*: out of order/ },
    { what: "a route's action gone", edit: (r) => r.replace(/^\s+use_backend api .*\n/m, ""), expected: /^small\.cfg:11: use_backend api .*: lost/ },
  ];
  for (const { what, edit, expected } of cases) {
    it(`${what}: a difference, named at its line`, () => {
      const differences = differencesAfter(edit);
      assert.ok(differences.some((d) => expected.test(d)), `expected ${expected} among:\n${differences.join("\n")}`);
    });
  }
  it("peers: a remote peer's address changed, or the tables no longer shared: a difference, named at its line", () => {
    const peered = SMALL.replace("global\n", "global\n    localpeer lb1\n").replace("defaults\n", "peers mesh\n    peer lb1 10.0.0.1:10000\n    peer lb2 10.0.0.2:10000\ndefaults\n").replace("\nbackend app\n", "\nbackend app\n    stick-table type ip size 1k expire 30m peers mesh\n    stick on src\n");
    assert.deepEqual(differencesAfter((r) => r, peered), []);
    assert.match(differencesAfter((r) => r.replace("peer lb2 10.0.0.2:10000", "peer lb2 10.0.0.3:10000"), peered).join("\n"), /^small\.cfg:6: peer lb2 10\.0\.0\.2:10000: changed/m);
    assert.match(differencesAfter((r) => r.replace(" expire 30m peers mesh", " expire 30m"), peered).join("\n"), /^small\.cfg:\d+: stick-table type ip size 1k expire 30m peers mesh: changed/m);
  });
  it("a ring with nothing but its server: the stack's ring settings are its own, no difference", () => {
    assert.deepEqual(differencesAfter((r) => r, SMALL.replace("    log 10.0.0.5:514 local0\n", "    log ring@central local0\nring central\n    server syslog1 10.0.0.9:6514\n")), []);
  });
  it("the kinds that are differences are the ones the tests above produce", () => {
    assert.deepEqual([...DIFFERENCES].sort(), ["added", "changed", "lost", "out of order"]);
  });
});

describe("npm run import --report", () => {
  it("puts both configs side by side after the accounting, section by section, each line with how it stands", async () => {
    const dir = mkdtempSync(join(tmpdir(), "import-compare-"));
    try {
      const report = join(dir, "report.md");
      const run = await runCli("infra/import/cli.ts", [join(FIXTURES, "corpus/https-edge.cfg"), "--out", join(dir, "edge.json"), "--report", report]);
      assert.equal(run.code, 0, run.stderr);
      const text = readFileSync(report, "utf8");
      assert.match(text, /\n## Side by side: the original and what its topology renders\n\n\d+ same, .* No difference beyond the normalisations above\.\n/);
      assert.match(text, /\n### frontend edge\n\n\| original \| rendered \| how \|\n/);
      assert.match(text, /\| 32: `server www-1 10\.102\.0\.11:8080 check` \| \d+: `server www-1 10\.102\.0\.11:8080 check inter 2s fall 3 rise 2 weight 1` \| defaults stated \|/);
      assert.match(text, /\| 23: `http-request redirect scheme https code 301 unless \{ ssl_fc \}` \| .*`http-request redirect scheme https code 301 if \{ var\(txn\.route\) -m int 0 \}` \| rewritten: first match made explicit/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
