// The repository's commands as package.json's scripts run them: "tsx FILE [ARGS]", or from the
// command's bundle, "node lib/run-bundled.mjs FILE [ARGS]" (npm run apply, plan); and the arguments
// to node that run one of them the same way from anywhere.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface CommandScript {
  script: string;
  /** The command's entry point, relative to the repository. */
  file: string;
  /** Arguments the script itself passes first ("start" for npm start). */
  args: string[];
  bundled: boolean;
}

export const BUNDLE_LAUNCHER = "lib/run-bundled.mjs";

export function commandScripts(root: string): CommandScript[] {
  const scripts = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts as Record<string, string>;
  return Object.entries(scripts).flatMap(([script, command]) => {
    const match = /^(tsx|node lib\/run-bundled\.mjs) (\S+\.ts)((?: [a-z-]+)*)$/.exec(command);
    return match ? [{ script, file: match[2]!, args: match[3]!.trim().split(" ").filter(Boolean), bundled: match[1] !== "tsx" }] : [];
  });
}

/** node's arguments that run `file` as its npm script does, by absolute paths (tsx by its file URL). */
export function nodeArguments(root: string, file: string): string[] {
  const bundled = commandScripts(root).some((c) => c.file === file && c.bundled);
  return bundled ? [join(root, BUNDLE_LAUNCHER), file] : ["--import", import.meta.resolve("tsx"), join(root, file)];
}
