// Running one of the machine's programs to completion (haproxy -c, openssl, podman, mmdebstrap):
// one place that says "not installed" the same way for all of them.
import { execFile } from "node:child_process";
import { BinaryMissingError } from "./errors.ts";

export interface ProgramResult {
  /** The exit code (0: success). */
  code: number;
  stdout: string;
  /** stdout then stderr, for messages. */
  output: string;
}

export interface ProgramOptions {
  /** The Debian package to name when the program is not installed. */
  debianPackage: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  maxBuffer?: number;
}

/** Runs `binary` with `args`; resolves with its exit code, rejects with BinaryMissingError when it is not installed. */
export function runProgram(binary: string, args: string[], options: ProgramOptions): Promise<ProgramResult> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { env: options.env, timeout: options.timeoutMs ?? 60_000, maxBuffer: options.maxBuffer ?? 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === "ENOENT") return reject(new BinaryMissingError(binary, options.debianPackage));
      // Killed (timeout) or not started: no exit code to report.
      if (error && typeof error.code !== "number") return reject(error);
      resolve({ code: error ? (error.code as number) : 0, stdout, output: `${stdout}${stderr}` });
    });
  });
}
