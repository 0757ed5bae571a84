// npm run docs: writes the reference pages generated from the code (--check: says which are stale,
// writes nothing); --html DIR renders the whole documentation to HTML as a reader sees it.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseCliArgs, runMain } from "../../lib/cli.ts";
import { REPO_ROOT } from "../repo.ts";
import { generatedFiles } from "./generate.ts";
import { renderSite } from "./site.ts";

const USAGE = `usage: npm run docs [-- --check] [--html DIR]

  (no flag)     rewrites the generated reference (docs/reference/, docs/operations/alerts.md) from the code
  --check       writes nothing; lists the generated files that differ from the code and exits 1 if any do
  --html DIR    also renders README.md and docs/ to HTML in DIR (e.g. dist/docs), one page per Markdown file`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(argv, { check: { type: "boolean", default: false }, html: { type: "string" } }, USAGE);
  const files = await generatedFiles(REPO_ROOT);
  const stale = [...files].filter(([path, content]) => read(join(REPO_ROOT, path)) !== content).map(([path]) => path);
  if (values.check) {
    if (stale.length === 0) {
      process.stdout.write(`docs: the ${files.size} generated files match the code\n`);
      return 0;
    }
    process.stdout.write(`docs: stale (run npm run docs and commit the result):\n${stale.map((p) => `  ${p}`).join("\n")}\n`);
    return 1;
  }
  for (const path of stale) {
    // Written whole: a temporary file renamed over the page, never a half-written one.
    const target = join(REPO_ROOT, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(`${target}.tmp`, files.get(path)!);
    renameSync(`${target}.tmp`, target);
  }
  process.stdout.write(stale.length ? `docs: rewrote ${stale.join(", ")}\n` : `docs: the ${files.size} generated files were up to date\n`);
  if (values.html !== undefined) {
    const out = resolve(values.html);
    const pages = renderSite(REPO_ROOT, out);
    process.stdout.write(`docs: ${pages.length} pages in ${out} (open ${join(out, "index.html")})\n`);
  }
  return 0;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

runMain(main);
