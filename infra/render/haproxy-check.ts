// The second validation layer: the real HAProxy parses the rendered text (haproxy -c).
import { execFile } from "node:child_process";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BinaryMissingError, HaproxyConfigRejectedError } from "../errors.ts";
import { TEMPLATES_DIR } from "./render.ts";
import { CERTIFICATE_DIR, ERROR_PAGE_DIR } from "./targets.ts";

export interface HaproxyCheckOptions {
  /** The directory the config's errors/ points at; the project's error pages by default. */
  errorPagesDir?: string;
  /** The directory the config's certs/ points at (TLS binds need their PEM files to exist). */
  certificatesDir?: string;
  haproxyBinary?: string;
}

export interface HaproxyCheckResult {
  /** HAProxy's [WARNING] lines: the config is valid, but something deserves a look. */
  warnings: string[];
}

export const DEFAULT_ERROR_PAGES_DIR = join(TEMPLATES_DIR, ERROR_PAGE_DIR);

/**
 * Runs `haproxy -c` on `configText` in a scratch directory laid out as at run time (the config
 * with errors/ and certs/ beside it), so that the check reads the same relative paths.
 */
export async function checkHaproxyConfig(configText: string, options: HaproxyCheckOptions = {}): Promise<HaproxyCheckResult> {
  const dir = await mkdtemp(join(tmpdir(), "haproxy-check-"));
  try {
    const configPath = join(dir, "haproxy.cfg");
    await writeFile(configPath, configText);
    await symlink(options.errorPagesDir ?? DEFAULT_ERROR_PAGES_DIR, join(dir, ERROR_PAGE_DIR));
    if (options.certificatesDir) await symlink(options.certificatesDir, join(dir, CERTIFICATE_DIR));
    const { code, output } = await run(options.haproxyBinary ?? "haproxy", ["-c", "-f", configPath]);
    if (code !== 0) throw new HaproxyConfigRejectedError(output.replaceAll(dir + "/", ""), offendingLines(output, configText));
    return { warnings: output.split("\n").filter((line) => line.includes("[WARNING]")).map((l) => l.replaceAll(dir + "/", "")) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The config lines HAProxy's messages point at ("[haproxy.cfg:12]"), numbered. */
export function offendingLines(haproxyOutput: string, configText: string): string[] {
  const lines = configText.split("\n");
  const numbers = new Set<number>();
  for (const match of haproxyOutput.matchAll(/\[[^\]\s]*haproxy\.cfg:(\d+)\]/g)) numbers.add(Number(match[1]));
  return [...numbers].sort((a, b) => a - b).map((n) => `${String(n).padStart(5)} | ${lines[n - 1] ?? ""}`);
}

function run(binary: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (error && (error as NodeJS.ErrnoException).code === "ENOENT") return reject(new BinaryMissingError(binary, "haproxy"));
      if (error && typeof error.code !== "number") return reject(error);
      resolve({ code: error ? (error.code as number) : 0, output });
    });
  });
}
