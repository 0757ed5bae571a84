// The documentation cannot go stale: every generated page equals what the code says now, every
// topology field has a description and an example, the published JSON Schema accepts the example
// topologies (and refuses broken ones), every alert links its runbook section, and the docs, rendered
// to HTML, have no link in Chromium that leads nowhere.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, posix } from "node:path";
import { pathToFileURL } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, it } from "vitest";
import { REPO_ROOT } from "../infra/repo.ts";
import { findOnPath } from "../infra/runtime/processes.ts";
import { RUNBOOK_PAGE } from "../infra/model/schema.ts";
import { loadTopologyFile } from "../infra/model/load.ts";
import { ALERTS, alertRuleGroups, runbookAnchor } from "../infra/render/alert-rules.ts";
import { errorCatalogue } from "../infra/docs/error-catalogue.ts";
import { FIELD_EXAMPLES } from "../infra/docs/field-examples.ts";
import { exampleTopologyInputs, generatedFiles } from "../infra/docs/generate.ts";
import { renderSite } from "../infra/docs/site.ts";
import { TOPOLOGY_SCHEMA_FILE, needsExample, type FieldDoc, type TypeDoc, topologyJsonSchema, topologyTypes, undocumentedFields } from "../infra/docs/topology-reference.ts";
import { CHROMIUM_ARGS } from "./support/browser.ts";

const schema = topologyJsonSchema();
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema(schema);
const validateTopology = ajv.getSchema(TOPOLOGY_SCHEMA_FILE)!;

describe("the generated reference", () => {
  it("every generated file is what npm run docs writes from the code now", async () => {
    const files = await generatedFiles(REPO_ROOT);
    assert.ok(files.size >= 6);
    const stale = [...files].filter(([path, content]) => readOrNone(join(REPO_ROOT, path)) !== content).map(([path]) => path);
    assert.deepEqual(stale, [], `stale: run npm run docs and commit ${stale.join(", ")}`);
  });

  it("every field of the topology has a description", () => {
    assert.deepEqual(undocumentedFields(topologyTypes(schema)), []);
  });

  it("every field without a default has an example: from the example topologies, or from the registry, which holds no entry it does not need", async () => {
    const types = topologyTypes(schema, await exampleTopologyInputs(REPO_ROOT));
    const fields = new Map<string, { type: TypeDoc; field: FieldDoc }>(types.flatMap((t) => t.fields.map((f) => [`${t.name}.${f.name}`, { type: t, field: f }] as const)));
    const missing = [...fields].filter(([key, { field }]) => needsExample(field) && field.example === undefined && !(key in FIELD_EXAMPLES)).map(([key]) => key);
    assert.deepEqual(missing, [], "add these to infra/docs/field-examples.ts");
    const unneeded = Object.keys(FIELD_EXAMPLES).filter((key) => {
      const found = fields.get(key);
      return found === undefined || found.field.example !== undefined || found.field.default !== undefined;
    });
    assert.deepEqual(unneeded, [], "these fields no longer exist, or a topology or a default illustrates them: remove them from the registry");
    for (const [key, example] of Object.entries(FIELD_EXAMPLES)) {
      const { type, field } = fields.get(key)!;
      const valid = ajv.validate({ $ref: `${TOPOLOGY_SCHEMA_FILE}${type.pointer}/properties/${field.name}` }, example);
      assert.ok(valid, `${key}: ${JSON.stringify(example)} is not valid: ${ajv.errorsText()}`);
    }
  });

  it("the published JSON Schema accepts every example topology, and refuses a mistyped field and a port given as text", async () => {
    const inputs = await exampleTopologyInputs(REPO_ROOT);
    assert.ok(inputs.length >= 7);
    for (const input of inputs) assert.ok(validateTopology(input), `${(input as { name: string }).name}: ${ajv.errorsText(validateTopology.errors)}`);
    const seed = inputs[0] as { frontends: { binds: { port: unknown }[] }[] };
    assert.equal(validateTopology({ ...seed, frontend: [] }), false);
    assert.equal(validateTopology({ ...seed, frontends: [{ ...seed.frontends[0], binds: [{ port: "80" }] }] }), false);
  });

  it("a topology.json that names the schema for its editor is checked by the schema and loads as a topology", async () => {
    const seed = (await exampleTopologyInputs(REPO_ROOT))[0] as Record<string, unknown>;
    const document = { $schema: `../${TOPOLOGY_SCHEMA_FILE}`, ...seed };
    assert.ok(validateTopology(document), ajv.errorsText(validateTopology.errors));
    const dir = mkdtempSync(join(tmpdir(), "topology-json-"));
    try {
      writeFileSync(join(dir, "topology.json"), JSON.stringify(document));
      assert.equal((await loadTopologyFile(join(dir, "topology.json"))).name, seed.name);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("every error class says what it means, and each code is one class's", () => {
    const errors = errorCatalogue(REPO_ROOT);
    assert.ok(errors.length > 40);
    assert.deepEqual(errors.filter((e) => e.meaning === "").map((e) => `${e.file}: ${e.className}`), [], "give these a doc comment");
    assert.equal(new Set(errors.map((e) => e.code)).size, errors.length);
  });

  it("every alert's runbook_url is its own section of the runbook page", () => {
    const page = readFileSync(join(REPO_ROOT, RUNBOOK_PAGE), "utf8");
    const alerts = alertRuleGroups(RUNBOOK_PAGE).groups.flatMap((g) => g.rules).filter((r) => "alert" in r);
    assert.equal(alerts.length, Object.keys(ALERTS).length);
    for (const rule of alerts) {
      assert.equal(rule.annotations.runbook_url, `${RUNBOOK_PAGE}#${runbookAnchor(rule.alert)}`);
      assert.match(page, new RegExp(`^## ${rule.alert}$`, "m"));
    }
  });
});

describe("the documentation as a reader sees it, in Chromium", () => {
  let site: string;
  let pages: string[];
  beforeAll(() => {
    site = mkdtempSync(join(tmpdir(), "docs-site-"));
    pages = renderSite(REPO_ROOT, site);
  });
  afterAll(() => rmSync(site, { recursive: true, force: true }));

  it("every link between pages, to an anchor or to a repository file resolves", async () => {
    assert.ok(pages.includes("index.html") && pages.includes("docs/reference/topology.html"));
    const browser = await chromium.launch({ executablePath: findOnPath("chromium"), args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      const idsOf = new Map<string, Set<string>>();
      const links: { from: string; href: string }[] = [];
      for (const html of pages) {
        await page.goto(pathToFileURL(join(site, html)).href);
        idsOf.set(html, new Set(await page.$$eval("[id]", (nodes) => nodes.map((n) => n.id))));
        for (const href of await page.$$eval("a[href]", (anchors) => anchors.map((a) => a.getAttribute("href")!))) links.push({ from: html, href });
      }
      const broken: string[] = [];
      for (const { from, href } of links) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // another site: not ours to check offline
        const [path = "", fragment] = href.split("#", 2);
        const target = path === "" ? from : posix.normalize(posix.join(posix.dirname(from), path));
        if (target.endsWith(".html") && !target.startsWith("..")) {
          const ids = idsOf.get(target);
          if (ids === undefined) broken.push(`${from}: ${href} (no such page)`);
          else if (fragment !== undefined && !ids.has(fragment)) broken.push(`${from}: ${href} (no such anchor)`);
        } else if (readOrNone(join(site, dirname(from), path)) === undefined && !isDirectory(join(site, dirname(from), path))) {
          broken.push(`${from}: ${href} (no such file in the repository)`);
        }
      }
      assert.ok(links.length > 200, `only ${links.length} links`);
      assert.deepEqual(broken, []);
    } finally {
      await browser.close();
    }
  });
});

function readOrNone(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function isDirectory(path: string): boolean {
  try {
    readFileSync(path);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EISDIR";
  }
}
