// Reading the base side of a plan from git objects: never a checkout, a stash or a change to the
// working tree. The one I/O edge of npm run plan.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { CodedError } from "../../lib/errors.ts";
import { readTopologyInput } from "../model/load.ts";

/** git refused: not a repository, a ref that names no commit. Run from a clone, or give --base a ref git knows (git fetch it first). */
export class GitError extends CodedError {
  readonly code = "GIT_FAILED";
  constructor(message: string) {
    super(message);
  }
}

function git(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    execFile("git", args, { cwd, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === "ENOENT") return fail(new GitError("git is not installed: apt-get install git"));
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function gitOk(cwd: string, args: string[]): Promise<string> {
  const result = await git(cwd, args);
  if (result.code !== 0) throw new GitError(`git ${args.join(" ")}: ${result.stderr.trim() || `exit ${result.code}`}`);
  return result.stdout.trim();
}

export async function repositoryRoot(cwd: string): Promise<string> {
  const result = await git(cwd, ["rev-parse", "--show-toplevel"]);
  if (result.code !== 0) throw new GitError(`${cwd} is not in a git repository: npm run plan compares against a git ref`);
  return result.stdout.trim();
}

/** The commit a ref names, or a GitError that says the ref names none. */
export async function resolveCommit(root: string, ref: string): Promise<string> {
  const result = await git(root, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
  if (result.code !== 0) throw new GitError(`--base ${JSON.stringify(ref)} names no commit in this repository: use a branch, a tag or a commit`);
  return result.stdout.trim();
}

/**
 * The default base: the merge base of HEAD with the default branch (origin's HEAD, else main or
 * master), or HEAD itself when there is none, as a pull request's review would compare.
 */
export async function defaultBase(root: string): Promise<string> {
  const candidates = [(await git(root, ["symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"])).stdout.trim(), "origin/main", "main", "origin/master", "master"].filter(Boolean);
  for (const branch of candidates) {
    if ((await git(root, ["rev-parse", "--verify", "--quiet", `${branch}^{commit}`])).code !== 0) continue;
    const base = await git(root, ["merge-base", "HEAD", branch]);
    if (base.code === 0) return base.stdout.trim();
  }
  return resolveCommit(root, "HEAD");
}

/** Whether the file differs from HEAD in the working tree (uncommitted changes). */
export async function hasUncommittedChanges(root: string, file: string): Promise<boolean> {
  return (await git(root, ["diff", "--quiet", "HEAD", "--", relative(root, resolve(file))])).code !== 0;
}

/**
 * The unvalidated topology that `file` held at `commit`, or undefined when the file did not exist
 * there (a topology added in this branch). A .ts topology may import other files of the repository:
 * the whole tree at that commit is extracted into a scratch directory inside the repository (so
 * that its imports resolve against this checkout's node_modules), loaded, and removed.
 */
export async function topologyInputAt(root: string, commit: string, file: string): Promise<unknown | undefined> {
  const path = relative(root, resolve(file));
  if ((await git(root, ["cat-file", "-e", `${commit}:${path}`])).code !== 0) return undefined;
  const scratch = await mkdtemp(join(root, ".plan-base-"));
  try {
    const archive = join(scratch, "tree.tar");
    await gitOk(root, ["archive", "--format=tar", `--output=${archive}`, commit]);
    await new Promise<void>((done, fail) =>
      execFile("tar", ["-xf", archive, "-C", scratch], (error, _out, stderr) => (error ? fail(new GitError(`could not unpack ${commit}: ${stderr}`)) : done())),
    );
    return await readTopologyInput(join(scratch, path));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
