// Runs one of the project's TypeScript CLIs the way its npm script does (from its bundle through
// lib/run-bundled.mjs, or under tsx), collecting output.
import { spawn } from "node:child_process";
import { nodeArguments } from "../../infra/commands.ts";
import { REPO_ROOT } from "../../infra/repo.ts";

export { REPO_ROOT };

/** node's arguments that run `script` as npm does. */
export const cliCommand = (script: string): string[] => nodeArguments(REPO_ROOT, script);

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(script: string, args: string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // By absolute paths, so that a CLI runs from any working directory (a scratch git repository).
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
