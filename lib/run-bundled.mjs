// node lib/run-bundled.mjs ENTRY.ts [ARGS...]: runs one of the project's commands from an esbuild
// bundle of it (dist/NAME.mjs), built again first whenever the bundle is missing or any of its inputs
// changed since it was built (esbuild's own list of them, kept beside it, plus this file and the
// lockfiles: npm gives installed files old mtimes).
//
// Why: under tsx a command first transforms and links its hundreds of modules through a loader before
// main runs, a second idle and several under load; the gitops loop (npm run apply, plan) pays it on
// every change. A bundle starts as plain node does. Plain JavaScript, so that nothing is loaded first.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** Inputs that esbuild's list does not name but that change what a bundle would be. */
const ALWAYS = [relative(ROOT, fileURLToPath(import.meta.url)), "package-lock.json", "node_modules/.package-lock.json"];

const [entry, ...args] = process.argv.slice(2);
if (!entry || !entry.endsWith(".ts")) {
  process.stderr.write("usage: node lib/run-bundled.mjs ENTRY.ts [ARGS...]\n");
  process.exit(2);
}
// Named by the whole path (infra/gitops/apply-cli.ts: infra-gitops-apply-cli), so that two entries never share a bundle;
// one level below the root, as the sources are: a module's paths from import.meta.url hold in both.
const name = entry.replace(/\.ts$/, "").replaceAll("/", "-");
const bundle = join(ROOT, "dist", `${name}.mjs`);
const inputsFile = join(ROOT, "dist", `${name}.inputs.json`);

/** The bundle is there and none of its inputs changed (or went) since its build started. */
function fresh() {
  let record;
  try {
    statSync(bundle);
    record = JSON.parse(readFileSync(inputsFile, "utf8"));
  } catch {
    return false;
  }
  if (typeof record?.startedAt !== "number" || !Array.isArray(record.inputs) || record.entry !== entry) return false;
  for (const input of [...record.inputs, ...ALWAYS]) {
    try {
      if (statSync(join(ROOT, input)).mtimeMs >= record.startedAt) return false;
    } catch {
      return false;
    }
  }
  return true;
}

async function build() {
  const { build: esbuild } = await import("esbuild");
  const startedAt = Date.now();
  const scratch = `${bundle}.${process.pid}.tmp`;
  mkdirSync(join(ROOT, "dist"), { recursive: true });
  const { metafile } = await esbuild({
    entryPoints: [join(ROOT, entry)],
    absWorkingDir: ROOT,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: scratch,
    metafile: true,
    logLevel: "warning",
    // esbuild runs its own binary beside its package: imported from node_modules, never bundled.
    external: ["esbuild"],
    // Bundled CommonJS dependencies call require.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  // Renamed into place, each whole: a command started meanwhile runs the old bundle or the new one.
  writeFileSync(`${inputsFile}.${process.pid}.tmp`, JSON.stringify({ entry, startedAt, inputs: Object.keys(metafile.inputs) }));
  renameSync(scratch, bundle);
  renameSync(`${inputsFile}.${process.pid}.tmp`, inputsFile);
}

if (!fresh()) {
  try {
    await build();
  } catch (error) {
    // esbuild has printed each problem with its file and line (logLevel warning).
    process.stderr.write(`error BUNDLE_FAILED: ${entry} could not be bundled (${error.errors?.length ?? 1} error(s) above): fix them, or run it under tsx (npx tsx ${entry})\n`);
    process.exit(1);
  }
}
process.argv = [process.argv[0], resolve(bundle), ...args];
await import(pathToFileURL(bundle).href);
