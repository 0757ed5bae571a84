// npm run apply -- [--topology FILE] [--run-dir DIR] [--dry-run] [--no-verify] [--no-rollout] [--json FILE] [--report DIR]
// Against the local stack running from the run directory: plan from what it runs, validate, apply
// the smallest change, verify by traffic, roll back by itself on failure; then start the rollout of
// each canary the change brought.
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { parseCliArgs, runMain } from "../../lib/cli.ts";
import { renderHtmlReport, renderTable } from "../../verification/report.ts";
import { StackNotRunningError } from "../errors.ts";
import { writeFileAtomic } from "../files.ts";
import { DEFAULT_TOPOLOGY_FILE, loadTopologyFile } from "../model/load.ts";
import type { Topology } from "../model/schema.ts";
import { REPO_ROOT } from "../repo.ts";
import { checkEveryTarget } from "../render/validate.ts";
import { APPLIED_FILE, readApplied, topologyHash } from "../runtime/applied.ts";
import { recordedProcesses } from "../runtime/stack.ts";
import type { ApplyResult } from "./apply.ts";
import { APPLY_EXIT_CODES, runApply } from "./apply-run.ts";
import { localIO, refuseHaproxyRestart } from "./local-io.ts";
import { makePlan } from "./plan.ts";
import { formatPlan } from "./format.ts";
import { readSavedPlan, savePlanText } from "./saved-plan.ts";
import { UsageError } from "../../lib/errors.ts";
import { parseTopology } from "../model/parse.ts";

const USAGE = `usage: npm run apply -- [--topology FILE | --plan FILE] [--run-dir DIR] [--dry-run [--out FILE]] [--no-verify] [--no-rollout] [--json FILE] [--report DIR]

  --topology FILE  the topology to plan and apply in one go (default ${DEFAULT_TOPOLOGY_FILE})
  --plan FILE      a saved plan (npm run plan -- --out FILE, or --dry-run --out FILE): applied exactly,
                   refused when what runs is no longer its base
  --run-dir DIR    the running local stack (default .run)
  --dry-run        print the plan and stop
  --out FILE       with --dry-run: save the plan there, for --plan
  --no-verify      skip the traffic checks after the change (and after a rollback)
  --no-rollout     a canary the change brings is not rolled out now (npm run rollout -- BACKEND later)
  --json FILE      write the result as JSON
  --report DIR     write the verification's HTML report there (default reports/)`;

function describe(result: ApplyResult): string {
  const lines = [formatPlan(result.plan, "text").trimEnd(), ""];
  if (result.verification.length) lines.push(renderTable(result.verification), "");
  switch (result.outcome) {
    case "no-changes":
      lines.push("nothing to apply");
      break;
    case "applied":
      lines.push(`applied ${{ runtime: "at runtime (no reload)", reload: "by a hitless reload", restart: "by restarting what changed (HAProxy untouched)", record: "as a record: nothing the local stack runs changes" }[result.method!]}${result.verification.length ? ", verified by traffic" : ""}`);
      break;
    case "rolled-back":
      lines.push(`FAILED: ${result.failure}`, `rolled back: ${result.rollback}`);
      break;
    case "rollback-failed":
      lines.push(`FAILED: ${result.failure}`, `!!! ${result.rollback}`, "!!! the stack may be half-applied: haproxy.cfg, applied.json and the logs are left as they are for a human; npm run drift shows what runs");
  }
  return `${lines.join("\n")}\n`;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(
    argv,
    {
      topology: { type: "string" },
      plan: { type: "string" },
      out: { type: "string" },
      "run-dir": { type: "string", default: join(REPO_ROOT, ".run") },
      "dry-run": { type: "boolean", default: false },
      "no-verify": { type: "boolean", default: false },
      "no-rollout": { type: "boolean", default: false },
      json: { type: "string" },
      report: { type: "string", default: join(REPO_ROOT, "reports") },
    },
    USAGE,
  );
  const runDir = resolve(values["run-dir"]);
  const log = (line: string) => process.stderr.write(`apply: ${line}\n`);
  if (values.plan !== undefined && values.topology !== undefined) throw new UsageError(`--plan and --topology: a saved plan carries its topology; give one of them\n${USAGE}`);
  if (values.out !== undefined && !values["dry-run"]) throw new UsageError(`--out saves the plan of a --dry-run\n${USAGE}`);
  const saved = values.plan === undefined ? undefined : { file: values.plan, plan: await readSavedPlan(resolve(values.plan)) };
  const topologyFile = values.topology ?? DEFAULT_TOPOLOGY_FILE;
  // A saved plan's head is checked again as any topology is: this version must accept it.
  const head = saved ? { topology: parseTopology(saved.plan.head.topology), source: saved.plan.head.source } : { topology: await loadTopologyFile(topologyFile), source: relative(REPO_ROOT, resolve(topologyFile)) };
  const before = await runningStack(runDir);
  if (values["dry-run"]) {
    const plan = saved?.plan.plan ?? makePlan(before.applied.topology, head.topology);
    process.stdout.write(`${formatPlan(plan, "text")}\ndry run: nothing was applied\n`);
    if (values.out) {
      await writeFileAtomic(resolve(values.out), savePlanText(plan, { topologySha256: topologyHash(before.applied.topology), from: `the stack running from ${runDir}`, topology: before.applied.topology }, head));
      process.stderr.write(`apply: plan saved to ${values.out}: npm run apply -- --plan ${values.out}\n`);
    }
    return 0;
  }
  refuseHaproxyRestart(before.applied.topology, head.topology, runDir);
  // A config HAProxy would reject never reaches the running process: checked (haproxy -c, its own
  // processes) while the lock is taken and the plan made, and awaited before the first change.
  const validated = checkEveryTarget(head.topology);
  // Never rejects: however runApply ends (a refusal that comes first, the lock's, is the one told), the
  // check's processes and scratch files are gone before the command is.
  const checkEnded = validated.then(() => undefined, () => undefined);

  const result = await runApply({
    stateDir: runDir,
    head,
    verify: !values["no-verify"],
    log,
    saved,
    validated,
    io: async (applied, step) => {
      // Read again under the lock: another apply may have finished in the meantime.
      const { processes } = await runningStack(runDir);
      return localIO({ runDir, running: applied.topology.global, sidecar: processes.some((p) => p.name === "sidecar"), step, log });
    },
  }).finally(() => checkEnded);
  // A head HAProxy refuses is refused even where nothing was to change.
  await validated;
  await writeOutputs(result, head.topology, values.json, values.report);
  process.stdout.write(describe(result));
  if (result.outcome === "applied" && result.plan.rollouts?.length) {
    if (values["no-rollout"]) for (const r of result.plan.rollouts) process.stdout.write(`the canary of ${r.backend} waits: ${r.command}\n`);
    else for (const started of startRollouts(runDir, result.plan.rollouts.map((r) => r.backend))) process.stdout.write(`${started}\n`);
  }
  return APPLY_EXIT_CODES[result.outcome];
}

/**
 * The rollout of each canary the change brought, started as npm run rollout would be, detached: it
 * outlives apply by its steps × interval, writes its state (npm run rollout -- BACKEND --status)
 * and its output to rollout-BACKEND.log in the run directory, and ends by itself, promoted or aborted.
 */
function startRollouts(runDir: string, backends: readonly string[]): string[] {
  return backends.map((backend) => {
    const logFile = join(runDir, `rollout-${backend}.log`);
    const out = openSync(logFile, "a");
    try {
      const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "infra/gitops/rollout-cli.ts"), backend, "--run-dir", runDir], { cwd: REPO_ROOT, detached: true, stdio: ["ignore", out, out] });
      child.unref();
      return `the rollout of ${backend}'s canary started (pid ${child.pid}, output in ${logFile}): npm run rollout -- ${backend} --status, or --abort`;
    } finally {
      closeSync(out);
    }
  });
}

/** What the stack in the run directory runs, or STACK_NOT_RUNNING. */
async function runningStack(runDir: string) {
  const [applied, processes] = [await readApplied(runDir), await recordedProcesses(runDir)];
  if (!applied || !processes) throw new StackNotRunningError(runDir, `no ${APPLIED_FILE} or stack.json there`);
  return { applied, processes };
}

async function writeOutputs(result: ApplyResult, head: Topology, json: string | undefined, reportDir: string): Promise<void> {
  if (json) await writeFileAtomic(resolve(json), `${JSON.stringify(result, null, 2)}\n`);
  if (result.verification.length === 0) return;
  await mkdir(resolve(reportDir), { recursive: true });
  await writeFileAtomic(join(resolve(reportDir), "apply.html"), renderHtmlReport({ topology: head.name, generatedAt: new Date().toISOString(), results: result.verification, samples: [], events: [] }));
}

runMain(main);
