// npm start [-- --topology FILE] [--run-dir DIR] [--detach]   |   npm stop [-- --run-dir DIR]
import { existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseCliArgs, runMain } from "../../lib/cli.ts";
import { UsageError } from "../../lib/errors.ts";
import { formatTable } from "../../lib/text-table.ts";
import { DEFAULT_TOPOLOGY_FILE, loadTopologyFile } from "../model/load.ts";
import { REPO_ROOT } from "../repo.ts";
import { startLocalStack, stopLocalStack, type LocalStack } from "./stack.ts";
import { runAssertions } from "../../sidecar/assertions/run.ts";
import { renderTable } from "../../sidecar/assertions/report.ts";
import { allPassed } from "../../sidecar/assertions/judge.ts";
import { expectationsFromTopology, localStackAccess, START_CHECKS } from "./verify.ts";

const USAGE = `usage: npm start [-- --topology FILE] [--run-dir DIR] [--detach]
       npm stop  [-- --run-dir DIR]

  --topology FILE  a .ts/.js module exporting "topology", or a .json document (default ${DEFAULT_TOPOLOGY_FILE})
  --run-dir DIR    where the stack keeps its config, sockets, logs and state (default .run)
  --detach         start in the background and return; npm stop stops it`;

const DEFAULT_RUN_DIR = join(REPO_ROOT, ".run");

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseCliArgs(
    rest,
    {
      topology: { type: "string", default: DEFAULT_TOPOLOGY_FILE },
      "run-dir": { type: "string", default: DEFAULT_RUN_DIR },
      detach: { type: "boolean", default: false },
    },
    USAGE,
  );
  const runDir = resolve(values["run-dir"]);
  if (command === "stop") {
    const stopped = await stopLocalStack(runDir);
    console.log(stopped > 0 ? `stopped ${stopped} processes from ${runDir}` : `no stack running from ${runDir}`);
    return 0;
  }
  if (command !== "start") throw new UsageError(`unknown command ${JSON.stringify(command ?? "")}\n${USAGE}`);

  const stack = await startVerified(values.topology, runDir);
  if (stack === undefined) return 1;
  if (values.detach) {
    console.log(`\ndetached: stop it with npm stop${runDir === DEFAULT_RUN_DIR ? "" : ` -- --run-dir ${runDir}`}`);
    return 0;
  }
  return runInForeground(stack);
}

/** Starts the stack and runs the quick assertions; undefined (and nothing left running) when they fail. */
async function startVerified(topologyFile: string, runDir: string): Promise<LocalStack | undefined> {
  const topology = await loadTopologyFile(topologyFile);
  const started = Date.now();
  const stack = await startLocalStack(topology, {
    runDir,
    sidecar: existsSync(join(REPO_ROOT, "sidecar/cli.ts")),
    source: relative(REPO_ROOT, resolve(topologyFile)),
    log: (line) => console.error(line),
  });
  const upSeconds = ((Date.now() - started) / 1000).toFixed(1);
  // The quick assertions before saying "up"; npm run verify runs failover and recovery too.
  try {
    const access = localStackAccess(stack.plan, (l) => console.error(l));
    const run = await runAssertions(expectationsFromTopology(topology), access, START_CHECKS);
    if (!allPassed(run.results)) {
      console.error(`${renderTable(run.results)}\n\nthe running stack does not behave as the topology says; stopping it`);
      await stack.stop();
      return undefined;
    }
    console.log(describe(stack, upSeconds, renderTable(run.results)));
    return stack;
  } catch (error) {
    await stack.stop();
    throw error;
  }
}

/** Stays until SIGINT or SIGTERM, then stops everything in reverse order. */
function runInForeground(stack: LocalStack): Promise<number> {
  console.log("\nrunning; Ctrl-C stops everything");
  return new Promise((done) => {
    let shuttingDown = false;
    // Tell the user when a component dies on its own (a failover test kills web servers on purpose).
    for (const p of stack.processes) {
      p.exited.then(() => {
        if (!shuttingDown) console.error(`${p.spec.name} (pid ${p.pid}) exited: ${p.exit?.code ?? p.exit?.signal}`);
      });
    }
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
  return [
    `stack "${stack.plan.topology.name}" is up in ${upSeconds} s; every server is UP in HAProxy`,
    "",
    formatTable([["component", "address", "pid", "log"], ...rows]),
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
