// A scratch copy of the repository (tracked and new files, node_modules linked), for tests that edit
// files a command reads from the repository itself, such as infra/topology.ts, without touching ours.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { REPO_ROOT } from "../../infra/repo.ts";

export interface RepoCopy {
  root: string;
  remove(): void;
}

export function copyRepository(): RepoCopy {
  const root = mkdtempSync(join(tmpdir(), "repo-copy-"));
  const listed = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO_ROOT, encoding: "utf8" });
  for (const file of listed.split("\0").filter(Boolean)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    try {
      copyFileSync(join(REPO_ROOT, file), join(root, file));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error; // deleted, not yet committed
    }
  }
  symlinkSync(join(REPO_ROOT, "node_modules"), join(root, "node_modules"));
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}
