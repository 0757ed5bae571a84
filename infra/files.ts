// File writes that never leave a half-written file where a reader (HAProxy, a user) looks.
import { randomBytes } from "node:crypto";
import { link, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** A temporary name beside `path`, so that the final rename stays on one file system (atomic). */
export function siblingTempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
}

/** Writes `text` to `path` atomically: to a temporary sibling first, flushed, then renamed over. */
export async function writeFileAtomic(path: string, text: string, options: { mode?: number } = {}): Promise<void> {
  const temp = siblingTempPath(path);
  try {
    // Created with its final mode: a secret is never readable by others, not even for a moment.
    const handle = await open(temp, "wx", options.mode ?? 0o644);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Creates `path` with `text`, failing with EEXIST when it exists: written to a temporary sibling
 * first and linked into place, so the file appears whole or not at all (a lock never reads empty).
 */
export async function createFileExclusive(path: string, text: string): Promise<void> {
  const temp = siblingTempPath(path);
  try {
    await writeFileAtomic(temp, text);
    await link(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
}
