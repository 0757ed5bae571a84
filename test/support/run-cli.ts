// Runs one of the project's TypeScript CLIs the way its npm script does (from its bundle through
// lib/run-bundled.mjs, or under tsx), collecting output.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../infra/repo.ts";

export { REPO_ROOT };

const TSX_LOADER = import.meta.resolve("tsx");
const LAUNCHER = "lib/run-bundled.mjs";
/** The CLIs package.json runs from their bundles. */
const BUNDLED = new Set(
  Object.values(JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts as Record<string, string>).flatMap((line) => {
    const [program, launcher, script] = line.split(" ");
    return program === "node" && launcher === LAUNCHER ? [script!] : [];
  }),
);

/** node's arguments that run `script` as npm does. */
export function cliCommand(script: string): string[] {
  return BUNDLED.has(script) ? [join(REPO_ROOT, LAUNCHER), script] : ["--import", TSX_LOADER, `${REPO_ROOT}${script}`];
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(script: string, args: string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // By absolute paths (tsx by its file URL), so that a CLI runs from any working directory (a scratch git repository).
    const child = spawn(process.execPath, [...cliCommand(script), ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: options.timeoutMs ?? 60_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
