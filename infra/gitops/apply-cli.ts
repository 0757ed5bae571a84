// npm run apply -- [--topology FILE] [--run-dir DIR] [--dry-run] [--no-verify] [--json FILE] [--report DIR]
// Against the local stack running from the run directory: plan from what it runs, validate, apply
// the smallest change, verify by traffic, roll back by itself on failure.
import { appendFile, cp, mkdir } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseCliArgs, runMain } from "../../lib/cli.ts";
import { runtimeCommand } from "../../haproxy/runtime-api.ts";
import { parseDuration } from "../../haproxy/duration.ts";
import { runAssertions } from "../../sidecar/assertions/run.ts";
import { renderHtmlReport, renderTable } from "../../sidecar/assertions/report.ts";
import { ApplyNeedsRestartError, StackNotRunningError } from "../errors.ts";
import { writeFileAtomic } from "../files.ts";
import { DEFAULT_TOPOLOGY_FILE, loadTopologyFile } from "../model/load.ts";
import type { Topology } from "../model/schema.ts";
import { REPO_ROOT } from "../repo.ts";
import { DEFAULT_ERROR_PAGES_DIR } from "../render/haproxy-check.ts";
import { renderHaproxyConfig } from "../render/render.ts";
import { ERROR_PAGE_DIR, haproxySockets, localTarget } from "../render/targets.ts";
import { checkEveryTarget } from "../render/validate.ts";
import { APPLIED_FILE, APPLY_HISTORY_FILE, HAPROXY_CONFIG_FILE, readApplied, recordApplied, sha256 } from "../runtime/applied.ts";
import { planLocalStack, PROMETHEUS_CONFIG_FILE, type ComponentPlan, type LocalStackPlan } from "../runtime/plan.ts";
import { recordedProcesses, startComponents, stopComponents } from "../runtime/stack.ts";
import { checkSettleMs, expectationsFromTopology, localStackAccess } from "../runtime/verify.ts";
import { acquireApplyLock } from "./apply-lock.ts";
import { applyTopology, type ApplyIO, type ApplyResult } from "./apply.ts";
import { makePlan } from "./plan.ts";
import { formatPlan } from "./format.ts";

const USAGE = `usage: npm run apply -- [--topology FILE] [--run-dir DIR] [--dry-run] [--no-verify] [--json FILE] [--report DIR]

  --topology FILE  the topology to apply (default ${DEFAULT_TOPOLOGY_FILE})
  --run-dir DIR    the running local stack (default .run)
  --dry-run        print the plan and stop
  --no-verify      skip the traffic checks after the change (and after a rollback)
  --json FILE      write the result as JSON
  --report DIR     write the verification's HTML report there (default reports/)`;

/** Test seam: an apply that pauses after this step, so a test can kill it there. */
const PAUSE_AFTER = process.env.APPLY_PAUSE_AFTER;

interface LocalApply {
  runDir: string;
  /** The running stack's global section: where its sockets are. */
  running: Topology["global"];
  sidecar: boolean;
  step: (step: string) => Promise<void>;
  log: (line: string) => void;
}

function localIO({ runDir, running, sidecar, step, log }: LocalApply): ApplyIO {
  const target = localTarget(runDir);
  const sockets = haproxySockets(running, target);
  const planFor = (t: Topology) => planLocalStack(t, { runDir, sidecar });
  const webs = (t: Topology) => planFor(t).components.filter((c) => c.kind === "web");
  /** Components other than HAProxy that would start differently: command, arguments, environment, or Prometheus's configuration. */
  const changedComponents = (base: Topology, head: Topology) => {
    const [from, to] = [planFor(base), planFor(head)];
    const before = new Map(from.components.map((c) => [c.name, c]));
    const differs = (c: ComponentPlan) => specOf(before.get(c.name)!) !== specOf(c) || (c.kind === "prometheus" && from.prometheusConfig !== to.prometheusConfig);
    return to.components.filter((c) => c.kind !== "haproxy" && before.has(c.name) && differs(c));
  };
  /** Restarts `components` as `plan` says, writing Prometheus's configuration first when it is one of them. */
  const restart = async (plan: LocalStackPlan, components: ComponentPlan[]) => {
    if (components.length === 0) return;
    log(`restarting ${components.map((c) => c.name).join(", ")}`);
    if (components.some((c) => c.kind === "prometheus")) await writeFileAtomic(join(runDir, PROMETHEUS_CONFIG_FILE), plan.prometheusConfig);
    await stopComponents(runDir, components.map((c) => c.name));
    await startComponents(plan, components);
  };
  return {
    admin: (command) => runtimeCommand({ path: sockets.admin }, command, { timeoutMs: 5000 }),
    master: (command) => runtimeCommand({ path: sockets.master }, command, { timeoutMs: 5000 }),
    writeConfig: async (text) => {
      await cp(DEFAULT_ERROR_PAGES_DIR, join(runDir, ERROR_PAGE_DIR), { recursive: true });
      await writeFileAtomic(join(runDir, HAPROXY_CONFIG_FILE), text);
    },
    render: (side) => renderHaproxyConfig(side.topology, target, { source: side.source }),
    startAddedComponents: async (base, head) => {
      const before = new Set(webs(base).map((w) => w.name));
      const added = webs(head).filter((w) => !before.has(w.name));
      if (added.length) log(`starting ${added.map((w) => w.name).join(", ")}`);
      await startComponents(planLocalStack(head, { runDir, sidecar }), added);
      return () => stopComponents(runDir, added.map((w) => w.name));
    },
    restartChangedComponents: async (base, head) => {
      const changed = changedComponents(base, head);
      await restart(planFor(head), changed);
      return () => restart(planFor(base), planFor(base).components.filter((c) => changed.some((x) => x.name === c.name)));
    },
    stopRemovedComponents: async (base, head) => {
      const after = new Set(webs(head).map((w) => w.name));
      const removed = webs(base).filter((w) => !after.has(w.name)).map((w) => w.name);
      if (removed.length) log(`stopping ${removed.join(", ")}`);
      await stopComponents(runDir, removed);
    },
    verify: async (t) => (await runAssertions(expectationsFromTopology(t), localStackAccess(planLocalStack(t, { runDir, sidecar }), log), { only: ["health", "distribution", "persistence"], requests: 200 })).results,
    settleMs: checkSettleMs,
    hardStopAfterMs: (t) => parseDuration(t.global.hardStopAfter),
    checkpoint: async (s) => {
      await step(s);
      if (s === PAUSE_AFTER) {
        log(`APPLY_PAUSE_AFTER=${s}: pausing (a test's seam)`);
        await sleep(120_000);
      }
    },
    log,
  };
}

const specOf = (c: ComponentPlan) => JSON.stringify([c.command, c.args, c.env ?? {}, c.ports]);

/** HAProxy's own command line (the master socket, the config path) cannot change under a running master. */
function refuseHaproxyRestart(base: Topology, head: Topology, runDir: string): void {
  const haproxy = (t: Topology) => planLocalStack(t, { runDir, sidecar: false }).components.find((c) => c.kind === "haproxy")!;
  if (specOf(haproxy(base)) !== specOf(haproxy(head))) {
    throw new ApplyNeedsRestartError("HAProxy's command line changes (global.masterSocket): HAProxy itself must restart; run npm stop, then npm start");
  }
}

function describe(result: ApplyResult): string {
  const lines = [formatPlan(result.plan, "text").trimEnd(), ""];
  if (result.verification.length) lines.push(renderTable(result.verification), "");
  switch (result.outcome) {
    case "no-changes":
      lines.push("nothing to apply");
      break;
    case "applied":
      lines.push(`applied ${{ runtime: "at runtime (no reload)", reload: "by a hitless reload", restart: "by restarting what changed (HAProxy untouched)" }[result.method!]}${result.verification.length ? ", verified by traffic" : ""}`);
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
      topology: { type: "string", default: DEFAULT_TOPOLOGY_FILE },
      "run-dir": { type: "string", default: join(REPO_ROOT, ".run") },
      "dry-run": { type: "boolean", default: false },
      "no-verify": { type: "boolean", default: false },
      json: { type: "string" },
      report: { type: "string", default: join(REPO_ROOT, "reports") },
    },
    USAGE,
  );
  const runDir = resolve(values["run-dir"]);
  const log = (line: string) => process.stderr.write(`apply: ${line}\n`);
  const head = { topology: await loadTopologyFile(values.topology), source: relative(REPO_ROOT, resolve(values.topology)) };
  const before = await runningStack(runDir);
  if (values["dry-run"]) {
    process.stdout.write(`${formatPlan(makePlan(before.applied.topology, head.topology), "text")}\ndry run: nothing was applied\n`);
    return 0;
  }
  // A config HAProxy would reject never reaches the running process.
  await checkEveryTarget(head.topology);
  refuseHaproxyRestart(before.applied.topology, head.topology, runDir);

  const lock = await acquireApplyLock(runDir, log);
  try {
    // Read again under the lock: another apply may have finished in the meantime.
    const { applied, processes } = await runningStack(runDir);
    const io = localIO({ runDir, running: applied.topology.global, sidecar: processes.some((p) => p.name === "sidecar"), step: lock.step, log });
    const started = Date.now();
    const result = await applyTopology(io, { base: { topology: applied.topology, source: applied.source }, head, verify: !values["no-verify"] });
    if (result.outcome === "applied") {
      await recordApplied(runDir, { appliedAt: new Date().toISOString(), source: head.source, topology: head.topology, haproxyConfigSha256: sha256(io.render(head)) });
      await lock.step("recorded");
    }
    await appendHistory(runDir, applied.topology, head.topology, result, Date.now() - started);
    await writeOutputs(result, head.topology, values.json, values.report);
    process.stdout.write(describe(result));
    return EXIT_CODES[result.outcome];
  } finally {
    await lock.release();
  }
}

/** 0 applied or nothing to do; 1 failed and rolled back; 3 the rollback failed too (a human is needed). */
const EXIT_CODES: Record<ApplyResult["outcome"], number> = { applied: 0, "no-changes": 0, "rolled-back": 1, "rollback-failed": 3 };

/** What the stack in the run directory runs, or STACK_NOT_RUNNING. */
async function runningStack(runDir: string) {
  const [applied, processes] = [await readApplied(runDir), await recordedProcesses(runDir)];
  if (!applied || !processes) throw new StackNotRunningError(runDir, `no ${APPLIED_FILE} or stack.json there`);
  return { applied, processes };
}

function appendHistory(runDir: string, base: Topology, head: Topology, result: ApplyResult, durationMs: number): Promise<void> {
  const line = {
    time: new Date().toISOString(),
    base: sha256(JSON.stringify(base)).slice(0, 16),
    new: sha256(JSON.stringify(head)).slice(0, 16),
    classes: [...new Set(result.plan.changes.map((c) => c.class))],
    outcome: result.outcome,
    method: result.method,
    durationMs,
  };
  return appendFile(join(runDir, APPLY_HISTORY_FILE), `${JSON.stringify(line)}\n`);
}

async function writeOutputs(result: ApplyResult, head: Topology, json: string | undefined, reportDir: string): Promise<void> {
  if (json) await writeFileAtomic(resolve(json), `${JSON.stringify(result, null, 2)}\n`);
  if (result.verification.length === 0) return;
  await mkdir(resolve(reportDir), { recursive: true });
  await writeFileAtomic(join(resolve(reportDir), "apply.html"), renderHtmlReport({ topology: head.name, generatedAt: new Date().toISOString(), results: result.verification, samples: [], events: [] }));
}

runMain(main);
