// An image's trigger: sha256 over exactly what goes into it. For a bundled image that is esbuild's
// own list of the bundle's inputs (the project's files; node_modules is the lockfile's), never a
// whole folder, so a topology edit leaves the image, and the containers that run it, alone.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { buildSync, stop as stopEsbuild } from "esbuild";
import type { ImageSources } from "./declaration.ts";

/** The repository files an image is made of, relative to the root, sorted. */
export function imageInputFiles(repoRoot: string, sources: ImageSources): string[] {
  const files = new Set<string>();
  const add = (path: string): void => {
    if (statSync(path).isDirectory()) {
      for (const child of readdirSync(path)) if (child !== "__pycache__") add(join(path, child));
    } else files.add(relative(repoRoot, path));
  };
  for (const entry of sources.files) add(join(repoRoot, entry));
  for (const entry of sources.bundles) {
    const { metafile } = buildSync({ entryPoints: [join(repoRoot, entry)], absWorkingDir: repoRoot, bundle: true, platform: "node", format: "esm", target: "node20", write: false, metafile: true, logLevel: "silent", outfile: "bundle.mjs" });
    for (const input of Object.keys(metafile.inputs)) if (!input.split("/").includes("node_modules")) files.add(input);
  }
  // esbuild keeps a service process for the next build; no other follows here.
  if (sources.bundles.length) void stopEsbuild();
  return [...files].sort();
}

const hashes = new Map<string, string>();

/** sha256 over the image's input files, by relative path and content; computed once per process. */
export function imageSourceHash(repoRoot: string, sources: ImageSources): string {
  const key = JSON.stringify([repoRoot, sources]);
  let digest = hashes.get(key);
  if (digest === undefined) {
    const hash = createHash("sha256");
    for (const file of imageInputFiles(repoRoot, sources)) hash.update(`${file}\0`).update(readFileSync(join(repoRoot, file))).update("\0");
    hashes.set(key, (digest = hash.digest("hex")));
  }
  return digest;
}
