// npm run rollout -- BACKEND [--topology FILE] [--run-dir DIR] [--status | --abort] [--json]
// A backend's canary on the running local stack, step by step: weights through HAProxy's runtime
// API, each step judged in the stack's Prometheus; promoted (exit 0) or aborted (exit 1).
import { join, resolve } from "node:path";
import { parseCliArgs, runMain } from "../../lib/cli.ts";
import { UsageError } from "../../lib/errors.ts";
import { RolloutNotPossibleError, StackNotRunningError } from "../errors.ts";
import { loadTopologyFile } from "../model/load.ts";
import { readApplied } from "../runtime/applied.ts";
import { REPO_ROOT } from "../repo.ts";
import { abortRollout, runRollout, type RolloutState } from "./rollout.ts";
import { localRolloutIo } from "./rollout-io.ts";


const USAGE = `usage: npm run rollout -- BACKEND [--topology FILE] [--run-dir DIR] [--status | --abort] [--json]

  BACKEND          a backend whose topology declares a canary
  --topology FILE  the topology with the canary (default: the one the stack runs)
  --run-dir DIR    the running local stack (default .run)
  --status         the rollout's state: its step, phase, failures and each analysis
  --abort          every weight back on the stable servers at once (the running command stops)
  --json           print the state as JSON

Exit status: 0 promoted (or --status, --abort done), 1 aborted.`;

export function describeRollout(state: RolloutState): string {
  const lines = [`${state.backend}: ${state.phase}${state.reason ? ` (${state.reason})` : ""}; step ${Math.min(state.step + 1, state.steps.length)} of ${state.steps.length} (${state.steps.join(", ")} %), ${state.failures} failed analyses, pid ${state.pid}, started ${state.startedAt}`];
  for (const h of state.history) lines.push(`  ${h.at} step ${h.step + 1} (${h.percent} %): ${h.verdict}: ${h.findings.join("; ")}`);
  return `${lines.join("\n")}\n`;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs(argv, { topology: { type: "string" }, "run-dir": { type: "string", default: join(REPO_ROOT, ".run") }, status: { type: "boolean", default: false }, abort: { type: "boolean", default: false }, json: { type: "boolean", default: false } }, USAGE, true);
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length) throw new UsageError(`give one backend\n${USAGE}`);
  if (values.status && values.abort) throw new UsageError(`--status and --abort exclude each other\n${USAGE}`);
  const runDir = resolve(values["run-dir"]);
  const applied = await readApplied(runDir);
  if (!applied) throw new StackNotRunningError(runDir, "npm run rollout works on the local stack");
  const topology = values.topology ? await loadTopologyFile(resolve(values.topology)) : applied.topology;
  const backend = topology.backends.find((b) => b.name === name);
  if (!backend) throw new UsageError(`${JSON.stringify(name)} is not a backend of the topology: use one of ${topology.backends.map((b) => b.name).join(", ")}`);
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} rollout: ${line}\n`);
  const io = localRolloutIo(runDir, topology, name, log);
  const print = (state: RolloutState | undefined, none: string) => process.stdout.write(values.json ? `${JSON.stringify(state ?? null, null, 2)}\n` : state ? describeRollout(state) : `${none}\n`);
  if (values.status) {
    print(await io.readState(), `${name}: no rollout has run`);
    return 0;
  }
  if (!backend.canary) {
    throw new RolloutNotPossibleError(values.topology
      ? `backends.${name} has no canary in ${values.topology}: declare one (servers, steps, interval, analysis) to roll it out`
      : `the running stack's backends.${name} has no canary (never applied, or promoted since): give the topology that declares it with --topology FILE`);
  }
  if (values.abort) {
    print(await abortRollout(backend, io), `${name}: no rollout in progress`);
    return 0;
  }
  const state = await runRollout(backend, io);
  print(state, "");
  return state.phase === "promoted" ? 0 : 1;
}

runMain(main);
