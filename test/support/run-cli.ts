// Runs one of the project's TypeScript CLIs the way npm scripts do (node + tsx), collecting output.
import { spawn } from "node:child_process";
import { REPO_ROOT } from "../../infra/repo.ts";

export { REPO_ROOT };

const TSX_LOADER = import.meta.resolve("tsx");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(script: string, args: string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // tsx by its file URL, so that a CLI runs from any working directory (a scratch git repository).
    const child = spawn(process.execPath, ["--import", TSX_LOADER, `${REPO_ROOT}${script}`, ...args], {
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
