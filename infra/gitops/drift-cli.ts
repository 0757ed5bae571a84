// npm run drift -- [--run-dir DIR] [--topology FILE] [--format text|json]
// What the running local stack does that the working tree's topology does not say. Exit 0 in sync,
// 2 drifted, 1 when it cannot tell.
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseCliArgs, runMain } from "../../lib/cli.ts";
import { UsageError } from "../../lib/errors.ts";
import { runtimeCommand } from "../../haproxy/runtime-api.ts";
import { parseShowProc } from "../../haproxy/master-cli.ts";
import { parseShowStat } from "../../haproxy/show-stat.ts";
import { parseShowMap, type MapEntry } from "../../haproxy/show-map.ts";
import { mapFiles } from "../render/routing.ts";
import { StackNotRunningError } from "../errors.ts";
import { DEFAULT_TOPOLOGY_FILE, loadTopologyFile } from "../model/load.ts";
import { REPO_ROOT } from "../repo.ts";
import { renderHaproxyConfig } from "../render/render.ts";
import { haproxySockets, localTarget } from "../render/targets.ts";
import { HAPROXY_CONFIG_FILE, readApplied, sha256 } from "../runtime/applied.ts";
import { changeLine } from "./format.ts";
import { judgeDrift, observe, type DriftReport } from "./drift.ts";
import { rolloutExpectation, type RolloutExpectation } from "./rollout-policy.ts";
import { readStateFile } from "../../lib/state-file.ts";
import { ROLLOUT_STATE_FORMAT, rolloutStateFile } from "../../sidecar/rollouts.ts";

const USAGE = `usage: npm run drift -- [--run-dir DIR] [--topology FILE] [--format text|json]

  --run-dir DIR    the local stack to look at (default .run)
  --topology FILE  what it should run (default ${DEFAULT_TOPOLOGY_FILE})
  --format         text (default) or json
exit 0: in sync; 2: drifted; 1: cannot tell (no stack running)`;

const DRIFTED_EXIT_CODE = 2;

function formatText(report: DriftReport): string {
  const count = report.drift.length + report.notApplied.length + report.configFile.length;
  const lines = [report.inSync ? "In sync. The running load balancer matches the topology." : `Drift: ${count} difference${count === 1 ? "" : "s"} between the running load balancer and the topology.`];
  if (report.drift.length) lines.push("", "Changed behind the topology's back (running → topology):", ...report.drift.map(changeLine));
  if (report.configFile.length) lines.push("", "The configuration file:", ...report.configFile.map((l) => `! ${l}`));
  if (report.notApplied.length) lines.push("", "In the topology, not applied yet (running → topology; npm run apply):", ...report.notApplied.map(changeLine));
  if (report.operational.length) lines.push("", "Operational state (not drift):", ...report.operational.map((l) => `  ${l}`));
  return `${lines.join("\n")}\n`;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(
    argv,
    { "run-dir": { type: "string", default: join(REPO_ROOT, ".run") }, topology: { type: "string", default: DEFAULT_TOPOLOGY_FILE }, format: { type: "string", default: "text" } },
    USAGE,
  );
  if (values.format !== "text" && values.format !== "json") throw new UsageError(`--format ${JSON.stringify(values.format)}: use text or json\n${USAGE}`);
  const runDir = resolve(values["run-dir"]);
  const desired = await loadTopologyFile(values.topology);
  const applied = await readApplied(runDir);
  const target = localTarget(runDir);
  let statText: string;
  try {
    statText = await runtimeCommand({ path: haproxySockets((applied?.topology ?? desired).global, target).admin }, "show stat");
  } catch (error) {
    throw new StackNotRunningError(runDir, `HAProxy's stats socket does not answer: ${(error as Error).message}`);
  }
  const onDisk = await readFile(join(runDir, HAPROXY_CONFIG_FILE), "utf8").catch(() => "");
  // Old workers draining after a reload: operational state, shown, never drift.
  const proc = await runtimeCommand({ path: haproxySockets((applied?.topology ?? desired).global, target).master }, "show proc", { timeoutMs: 2000 }).then(parseShowProc, () => undefined);
  // Each route table HAProxy loaded, as it holds it now (entries changed at runtime show here).
  const admin = haproxySockets((applied?.topology ?? desired).global, target).admin;
  const maps = new Map<string, MapEntry[]>();
  for (const { path } of mapFiles(applied?.topology ?? desired)) maps.set(path, parseShowMap(await runtimeCommand({ path: admin }, `show map ${path}`, { timeoutMs: 5000 }), path));
  // A rollout in progress sets its step's weights through the runtime API: those are expected, not drift.
  const rollouts = new Map<string, RolloutExpectation>();
  // The canary is the working tree's (npm run rollout -- --topology) or the applied topology's.
  const withCanary = (name: string) => [desired, applied?.topology].find((t) => t?.backends.some((b) => b.name === name && b.canary));
  for (const name of new Set([...desired.backends, ...(applied?.topology.backends ?? [])].filter((b) => b.canary).map((b) => b.name))) {
    const state = await readStateFile(rolloutStateFile(runDir, name), ROLLOUT_STATE_FORMAT);
    const expectation = state && rolloutExpectation(withCanary(name)!, state);
    if (expectation) rollouts.set(name, expectation);
  }
  const observation = { ...observe(parseShowStat(statText)), drainingWorkers: proc?.oldWorkers.map((w) => w.pid) ?? [], maps, rollouts };
  const report = judgeDrift(desired, applied?.topology, observation, {
    loaded: applied?.haproxyConfigSha256,
    onDisk: sha256(onDisk),
    rendered: sha256(renderHaproxyConfig(desired, target, { source: applied?.source })),
  });
  process.stdout.write(values.format === "json" ? `${JSON.stringify(report, null, 2)}\n` : formatText(report));
  return report.inSync ? 0 : DRIFTED_EXIT_CODE;
}

runMain(main);
