// npm run import -- FILE... [--out FILE.json|FILE.ts] [--report FILE.md]: an existing haproxy.cfg
// (several files in HAProxy's -f order) becomes a topology, or is refused line by line. The result
// must validate and render to a config the real HAProxy accepts before anything is written.
import { readFileSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { parseConfig } from "../../haproxy/config-parser.ts";
import { parseCliArgs, runMain } from "../../lib/cli.ts";
import { UsageError } from "../../lib/errors.ts";
import { ImportNotEquivalentError, ImportRefusedError } from "../errors.ts";
import { writeFileAtomic } from "../files.ts";
import { checkEveryTarget } from "../render/validate.ts";
import { ERROR_PAGE_DIR, LUA_DIR } from "../render/targets.ts";
import { accountingReport, importConfig, refusals, type ImportResult } from "./import.ts";
import type { Comparison } from "./compare.ts";
import { compareRendered } from "./equivalence.ts";
import { filesNamedBy } from "./named-files.ts";
import { checkOriginal, withHaproxyObjections } from "./original-check.ts";
import { runImportedServers, SERVER_MODES, type ServerMode } from "./run-servers.ts";
import { validateImported } from "./validate.ts";
import { REPO_ROOT } from "../repo.ts";

const USAGE = `usage: npm run import -- FILE... [--out FILE.json|FILE.ts] [--report FILE.md] [--servers external|run]

  FILE...           haproxy.cfg files, in the order HAProxy loads them (-f a -f b)
  --out FILE        write the topology: a .json document or a .ts module (default: print the JSON)
  --report FILE     write the accounting of every line (mapped, normalised, decided by the stack, refused),
                    then the original and what its topology renders side by side, section by section
  --servers MODE    external (the default): the servers are the real ones, at their addresses, which the
                    stack balances and checks but does not run; run: the stack runs a server of its own for
                    each (named after it, on its port or the next free one), to try the topology with npm
                    start; a server whose check does not say what it speaks stays external

Nothing is written when a line cannot be imported (each is listed as FILE:LINE: directive: why), nor
when what the topology renders differs from the original beyond what the report says
(IMPORT_NOT_EQUIVALENT).`;

/**
 * A topology module beside `out`, importing defineTopology from wherever the repository's model is,
 * each section's and server's comments written above what it became.
 */
function tsModule(result: ImportResult, sources: string[], out: string): string {
  const model = relative(dirname(resolve(out)), join(REPO_ROOT, "infra/model/define.ts"));
  return `// Imported from ${sources.join(", ")} by npm run import: the topology is now the source of truth.\nimport { defineTopology } from "${model.startsWith(".") ? model : `./${model}`}";\n\nexport const topology = defineTopology(${withComments(result.topology, "", result.comments, "")});\n`;
}

/** JSON as TypeScript, with "// comment" lines above the items `comments` names by path (a named item: its name). */
function withComments(value: unknown, path: string, comments: ReadonlyMap<string, string[]>, indent: string): string {
  const inner = `${indent}  `;
  const above = (p: string) => (comments.get(p) ?? []).map((c) => `${inner}// ${c}\n`).join("");
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const items = value.map((item, i) => {
      const name = (item as { name?: unknown })?.name;
      const itemPath = `${path}.${typeof name === "string" ? name : i}`;
      return `${above(itemPath)}${inner}${withComments(item, itemPath, comments, inner)}`;
    });
    return `[\n${items.join(",\n")},\n${indent}]`;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return "{}";
    const fields = entries.map(([k, v]) => {
      const fieldPath = path ? `${path}.${k}` : k;
      // A top-level section (global, defaults) keeps its comments above its field.
      return `${path ? "" : above(fieldPath)}${inner}${/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? k : JSON.stringify(k)}: ${withComments(v, fieldPath, comments, inner)}`;
    });
    return `{\n${fields.join(",\n")},\n${indent}}`;
  }
  return JSON.stringify(value);
}

/**
 * Writes each file the config names (error pages, Lua scripts) that its templates/ folder lacks; one there
 * already must be the same file. Returns the files written.
 */
async function placeNamedFiles(result: ImportResult): Promise<string[]> {
  const wanted = [...result.errorPages.map((f) => ({ ...f, dir: ERROR_PAGE_DIR, what: "page", line: "errorfile" })), ...result.luaScripts.map((f) => ({ ...f, dir: LUA_DIR, what: "script", line: "lua-load" }))];
  const clashes: string[] = [];
  const missing: { file: string; text: string }[] = [];
  for (const named of wanted) {
    const file = join(REPO_ROOT, "templates", named.dir, named.name);
    const existing = await readFile(file, "utf8").catch(() => undefined);
    if (existing === undefined) missing.push({ file, text: named.text });
    else if (existing !== named.text) clashes.push(`templates/${named.dir}/${named.name}: the repository has another ${named.what} of that name: rename the config's file (and its ${named.line} line)`);
  }
  if (clashes.length) throw new ImportRefusedError(clashes);
  for (const named of missing) await writeFileAtomic(named.file, named.text);
  return missing.map((p) => p.file);
}

/** A file the repository's templates hold (an error page, a Lua script), by the path a rendered config names it. */
function readTemplate(path: string): string | undefined {
  try {
    return readFileSync(join(REPO_ROOT, "templates", path), "utf8");
  } catch {
    return undefined;
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs(argv, { out: { type: "string" }, report: { type: "string" }, servers: { type: "string", default: "external" } }, USAGE, true);
  if (positionals.length === 0) throw new UsageError(`name at least one config file\n${USAGE}`);
  const servers = values.servers as ServerMode;
  if (!SERVER_MODES.includes(servers)) throw new UsageError(`--servers ${values.servers}: use ${SERVER_MODES.join(" or ")}\n${USAGE}`);
  if (values.out && !/\.(json|ts)$/.test(values.out)) throw new UsageError(`--out ${values.out}: write a .json or a .ts file\n${USAGE}`);
  const files = await Promise.all(positionals.map(async (file) => ({ file: relative(process.cwd(), file) || file, text: await readFile(file, "utf8") })));
  const parsed = parseConfig(files);
  const named = filesNamedBy(positionals[0]!);
  const imported = importConfig(parsed, basename(positionals[0]!).replace(/\.cfg$/, "").replace(/[^A-Za-z0-9_.:-]/g, "_").slice(0, 64) || "imported", named);
  // What HAProxy itself rejects in the original is said in its words, at the line.
  let result = { ...imported, accounts: withHaproxyObjections(imported.accounts, await checkOriginal(files)) };
  // The report is written whatever happens next: the accounting, and both configs side by side once they compare.
  const report = async (comparison?: Comparison) => void (values.report && (await writeFileAtomic(values.report, accountingReport(result.accounts, result.additions, comparison))));
  const refused = refusals(result.accounts);
  if (refused.length) {
    await report();
    throw new ImportRefusedError(refused);
  }
  let topology;
  try {
    topology = validateImported(result);
    if (servers === "run") {
      result = runImportedServers(result, topology);
      topology = validateImported(result);
    }
  } catch (error) {
    await report();
    throw error;
  }
  // The round trip's second proof: the original beside what the topology renders, directive by directive.
  const comparison = compareRendered(parsed, result, topology, { read: (path) => readTemplate(path) ?? named.read(path) });
  await report(comparison);
  if (comparison.differences.length) throw new ImportNotEquivalentError(comparison.differences);
  // The error pages and Lua scripts the config names join the repository's (templates/), where every target reads them:
  // placed for the check, kept only when the topology is written, taken away again if anything fails.
  const placed = await placeNamedFiles(result);
  try {
    // The round trip's first proof: what the topology renders, the real HAProxy accepts, on every target.
    await checkEveryTarget(topology);
  } catch (error) {
    await Promise.all(placed.map((file) => rm(file, { force: true })));
    throw error;
  }
  if (!values.out) await Promise.all(placed.map((file) => rm(file, { force: true })));
  const text = values.out?.endsWith(".ts") ? tsModule(result, files.map((f) => f.file), values.out) : `${JSON.stringify(result.topology, null, 2)}\n`;
  if (values.out) {
    await mkdir(dirname(resolve(values.out)), { recursive: true });
    await writeFileAtomic(values.out, text);
  }
  else process.stdout.write(text);
  const counts = (["mapped", "normalised", "decided"] as const).map((o) => `${result.accounts.filter((a) => a.outcome === o).length} ${o}`).join(", ");
  process.stderr.write(`imported ${result.accounts.length} lines (${counts})${values.out ? ` into ${values.out}` : ""}; haproxy -c accepts what it renders\n`);
  return 0;
}

runMain(main);
