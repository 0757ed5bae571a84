// npm start [-- --topology FILE] [--run-dir DIR] [--detach]   |   npm stop [-- --run-dir DIR]
import { existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { runMain } from "../cli-main.ts";
import { DEFAULT_TOPOLOGY_FILE, loadTopologyFile } from "../model/load.ts";
import { REPO_ROOT } from "../repo.ts";
import { startLocalStack, stopLocalStack, type LocalStack } from "./stack.ts";
import { runAssertions } from "../../sidecar/assertions/run.ts";
import { renderTable } from "../../sidecar/assertions/report.ts";
import { expectationsFromTopology, localStackAccess } from "./verify.ts";

const USAGE = `usage: npm start [-- --topology FILE] [--run-dir DIR] [--detach]
       npm stop  [-- --run-dir DIR]`;

async function main(argv: string[]): Promise<number> {
  const [command = "start", ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      topology: { type: "string", default: DEFAULT_TOPOLOGY_FILE },
      "run-dir": { type: "string", default: join(REPO_ROOT, ".run") },
      detach: { type: "boolean", default: false },
    },
    strict: true,
  });
  const runDir = resolve(values["run-dir"]);

  if (command === "stop") {
    const stopped = await stopLocalStack(runDir);
    console.log(stopped > 0 ? `stopped ${stopped} processes from ${runDir}` : `no stack running from ${runDir}`);
    return 0;
  }
  if (command !== "start") {
    console.error(USAGE);
    return 2;
  }

  const topology = await loadTopologyFile(values.topology);
  const started = Date.now();
  const stack = await startLocalStack(topology, {
    runDir,
    sidecar: existsSync(join(REPO_ROOT, "sidecar/cli.ts")),
    source: relative(REPO_ROOT, resolve(values.topology)),
    log: (line) => console.error(line),
  });
  const upSeconds = ((Date.now() - started) / 1000).toFixed(1);

  // The quick assertions before saying "up"; npm run verify runs failover and recovery too.
  let verified: string;
  try {
    const run = await runAssertions(expectationsFromTopology(topology), localStackAccess(stack.plan, (l) => console.error(l)), { only: ["distribution", "persistence"], requests: 200 });
    verified = renderTable(run.results);
    if (!run.results.every((r) => r.passed)) {
      console.error(`${verified}\n\nthe running stack does not behave as the topology says; stopping it`);
      await stack.stop();
      return 1;
    }
  } catch (error) {
    await stack.stop();
    throw error;
  }
  console.log(describe(stack, upSeconds, verified));

  if (values.detach) {
    console.log(`\ndetached: stop it with npm stop${values["run-dir"] === join(REPO_ROOT, ".run") ? "" : ` -- --run-dir ${runDir}`}`);
    return 0;
  }
  console.log("\nrunning; Ctrl-C stops everything");
  return new Promise((done) => {
    // Tell the user when a component dies on its own (a failover test kills web servers on purpose).
    for (const p of stack.processes) {
      p.exited.then(() => {
        if (!shuttingDown) console.error(`${p.spec.name} (pid ${p.pid}) exited: ${p.exit?.code ?? p.exit?.signal}`);
      });
    }
    let shuttingDown = false;
    const keepAlive = setInterval(() => {}, 1 << 30);
    const shutdown = (signal: string) => {
      if (shuttingDown) return;
      shuttingDown = true;
      console.error(`\n${signal}: stopping ${stack.processes.map((p) => p.spec.name).reverse().join(", ")}`);
      stack.stop().then(() => {
        clearInterval(keepAlive);
        done(0);
      });
    };
    process.on("SIGINT", () => shutdown("SIGINT"));
    process.on("SIGTERM", () => shutdown("SIGTERM"));
  });
}

function describe(stack: LocalStack, upSeconds: string, verified: string): string {
  const rows = stack.processes.map((p) => {
    const plan = stack.plan.components.find((c) => c.name === p.spec.name)!;
    return [plan.name, plan.url, String(p.pid), relative(process.cwd(), plan.logFile)];
  });
  const table = [["component", "address", "pid", "log"], ...rows];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  const lines = table.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  return [
    `stack "${stack.plan.topology.name}" is up in ${upSeconds} s; every server is UP in HAProxy`,
    "",
    ...lines,
    "",
    "where to look:",
    ...stack.plan.links.map((l) => `  ${l.label.padEnd(20)} ${l.urls.join("  ")}`),
    `  ${"run directory".padEnd(20)} ${stack.plan.runDir}`,
    "",
    "verified (npm run verify for failover and recovery too):",
    verified,
  ].join("\n");
}

runMain(main);
