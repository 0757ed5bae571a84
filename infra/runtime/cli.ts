// npm start [-- --topology FILE] [--run-dir DIR] [--detach]  |  npm stop  |  npm run status
//
// npm start runs the stack under a supervisor that restarts crashed components: this process in the
// foreground, or (--detach) a copy of it in the background that reports to this one until the stack
// is up, then carries on alone with its output in logs/supervisor.log.
import { fork } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describeFailure, parseCliArgs, runMain } from "../../lib/cli.ts";
import { UsageError } from "../../lib/errors.ts";
import { StateFileError } from "../../lib/state-file.ts";
import { pollUntil } from "../../lib/poll.ts";
import { formatTable } from "../../lib/text-table.ts";
import { DEFAULT_TOPOLOGY_FILE, loadTopologyFile } from "../model/load.ts";
import { REPO_ROOT } from "../repo.ts";
import { StackAlreadyRunningError } from "../errors.ts";
import { serving, startLocalStack, stopAll, stopLocalStack, type LocalStack } from "./stack.ts";
import { readState, updateState, type StackState } from "./state.ts";
import { markedProcessGroups, RUN_DIR_MARKER } from "./processes.ts";
import { STACK_STATE_FILE } from "./declaration.ts";
import { Supervisor } from "./supervisor.ts";
import { formatStatus, healthy, observeStack } from "./status.ts";
import { runAssertions } from "../../verification/run.ts";
import { renderTable } from "../../verification/report.ts";
import { allPassed } from "../../verification/judge.ts";
import { expectationsFromTopology, readLocalDiscoveredServers, localCa, localStackAccess, recordVerifyReport, START_CHECKS } from "./verify.ts";
import { picksPrimary } from "../model/checks.ts";

const USAGE = `usage: npm start [-- --topology FILE] [--run-dir DIR] [--certs-dir DIR] [--detach]
       npm stop  [-- --run-dir DIR]
       npm run status [-- --run-dir DIR]

  --topology FILE  a .ts/.js module exporting "topology", or a .json document (default ${DEFAULT_TOPOLOGY_FILE})
  --run-dir DIR    where the stack keeps its config, sockets, logs and state (default .run)
  --certs-dir DIR  where the PEM files the TLS binds name are (default: a development CA in the run
                   directory signs one for each; its certificate is printed for curl --cacert)
  --detach         start in the background and return; npm stop stops it

npm start on a stack that is already there repairs it: it supervises it again if its supervisor is
gone, and restarts the components that are gone or failed. npm run status exits 0 when every
component runs under a live supervisor, 1 when not, 3 when no stack runs.`;

const DEFAULT_RUN_DIR = join(REPO_ROOT, ".run");
const SUPERVISOR_LOG = join("logs", "supervisor.log");
/** How long a repair may take: components restart with backoff, HAProxy's checks settle. */
const REPAIR_TIMEOUT_MS = 60_000;

/** Where this CLI's lines go: the terminal, or (detached) the waiting npm start and a log file. */
interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** Messages from a detached supervisor to the npm start that launched it. */
type DetachedMessage = { stream: "out" | "err"; line: string } | { ready: true; healthy: boolean };

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseCliArgs(
    rest,
    {
      topology: { type: "string", default: DEFAULT_TOPOLOGY_FILE },
      "run-dir": { type: "string", default: DEFAULT_RUN_DIR },
      detach: { type: "boolean", default: false },
      "certs-dir": { type: "string" },
    },
    USAGE,
  );
  const runDir = resolve(values["run-dir"]);
  const start: StartRequest = { topologyFile: values.topology, runDir, certsDir: values["certs-dir"] && resolve(values["certs-dir"]) };
  switch (command) {
    case "stop": {
      const { stopped, unreadable, unrecorded } = await stopLocalStack(runDir);
      if (unreadable) console.error(`${unreadable.file} could not be read (${unreadable.code}); the stack's processes were found by their ${RUN_DIR_MARKER} instead, and the file was kept as ${STACK_STATE_FILE}.unreadable`);
      if (unrecorded > 0 && !unreadable) console.error(`${unrecorded} process groups of ${runDir} were not in ${STACK_STATE_FILE}: found by their ${RUN_DIR_MARKER} and stopped`);
      console.log(stopped + unrecorded > 0 ? `stopped ${stopped + unrecorded} processes from ${runDir}` : `no stack running from ${runDir}`);
      return 0;
    }
    case "status":
      return printStatus(runDir);
    case "start":
      if (values.detach) return launchDetached(runDir, rest.filter((a) => a !== "--detach"));
      if (process.send !== undefined) return runDetachedSupervisor(start);
      return superviseInForeground(start, { out: (l) => console.log(l), err: (l) => console.error(l) });
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command ?? "")}\n${USAGE}`);
  }
}

async function printStatus(runDir: string): Promise<number> {
  let state: StackState | undefined;
  try {
    state = await readState(runDir);
  } catch (error) {
    if (!(error instanceof StateFileError)) throw error;
    const marked = markedProcessGroups(runDir);
    console.log(`${error.message}\n${marked.length} process groups of ${runDir} run (found by their ${RUN_DIR_MARKER}: ${marked.map((g) => g.pgid).join(", ") || "none"})`);
    return 1;
  }
  if (!state) {
    console.log(`no stack running from ${runDir}`);
    return 3;
  }
  const view = observeStack(state);
  console.log(`stack from ${runDir}, started ${state.startedAt}\n${formatStatus(view, Date.now())}`);
  return healthy(view) ? 0 : 1;
}

/** What npm start was asked to start. */
interface StartRequest {
  topologyFile: string;
  runDir: string;
  certsDir?: string;
}

/** Starts the stack (or takes over the one that is there) and supervises it until SIGINT or SIGTERM. */
async function superviseInForeground(start: StartRequest, output: Output): Promise<number> {
  const { runDir } = start;
  const up = await bringUp(start, output);
  if (up === undefined) return 1;
  if (up.supervisor === undefined) return up.healthy ? 0 : 1;
  output.out(`\nrunning; Ctrl-C stops everything`);
  await supervise(up.supervisor, runDir, output);
  return 0;
}

/**
 * The detached supervisor: npm start --detach forked it with an IPC channel. Its lines go to the
 * parent until the stack is up, and to logs/supervisor.log always.
 */
async function runDetachedSupervisor(start: StartRequest): Promise<number> {
  const { runDir } = start;
  const logFile = join(runDir, SUPERVISOR_LOG);
  // Sends complete in order: waiting for the last one before exiting loses none.
  let sent = Promise.resolve();
  const send = (message: DetachedMessage) => {
    if (process.connected) sent = new Promise((done) => process.send!(message, () => done()));
  };
  const line = (stream: "out" | "err") => (text: string) => {
    appendFileSync(logFile, `${new Date().toISOString()} ${text}\n`);
    send({ stream, line: text });
  };
  const output: Output = { out: line("out"), err: line("err") };
  let up: Awaited<ReturnType<typeof bringUp>>;
  try {
    up = await bringUp(start, output);
  } catch (error) {
    const { text, exitCode } = describeFailure(error);
    output.err(text);
    await sent;
    return exitCode;
  }
  if (up?.supervisor === undefined) {
    await sent;
    return up?.healthy ? 0 : 1;
  }
  output.out(`\ndetached: npm run status shows it, npm stop stops it${runDir === DEFAULT_RUN_DIR ? "" : ` (add -- --run-dir ${runDir})`}; supervisor log: ${logFile}`);
  send({ ready: true, healthy: up.healthy });
  await sent;
  process.disconnect();
  await supervise(up.supervisor, runDir, output);
  return 0;
}

/** npm start --detach: forks the supervisor, relays what it says until the stack is up, returns. */
async function launchDetached(runDir: string, args: string[]): Promise<number> {
  mkdirSync(join(runDir, "logs"), { recursive: true });
  const child = fork(fileURLToPath(import.meta.url), ["start", ...args], {
    cwd: process.cwd(),
    env: { ...process.env, [RUN_DIR_MARKER]: runDir },
    detached: true,
    stdio: ["ignore", "ignore", "ignore", "ipc"],
  });
  return new Promise((done) => {
    child.on("message", (message: DetachedMessage) => {
      if ("ready" in message) {
        child.disconnect();
        child.unref();
        done(message.healthy ? 0 : 1);
      } else if (message.stream === "out") console.log(message.line);
      else console.error(message.line);
    });
    // "close", not "exit": it comes after the last message.
    child.on("close", (code, signal) => done(code ?? (signal ? 1 : 0)));
  });
}

interface Up {
  /** The supervisor this process now runs; undefined when the stack's own supervisor did the repair. */
  supervisor?: Supervisor;
  healthy: boolean;
}

/**
 * Starts a verified stack under a new supervisor, or repairs the one in the run directory: a live
 * supervisor is asked to retry what failed; a stack whose supervisor is gone is taken over (its
 * components that are gone are restarted). Undefined when a fresh stack failed its checks.
 */
async function bringUp(start: StartRequest, output: Output): Promise<Up | undefined> {
  const { runDir } = start;
  const existing = await readState(runDir);
  const view = existing && observeStack(existing);
  if (view && view.components.some((c) => c.state === "running")) {
    if (view.supervisor?.alive) {
      if (healthy(view)) throw new StackAlreadyRunningError(runDir, view.components.map((c) => `${c.name} (pid ${c.pid})`));
      output.err(`${formatStatus(view, Date.now())}\n\nasking the supervisor (pid ${view.supervisor.pid}) to restart what failed`);
      process.kill(view.supervisor.pid, "SIGHUP");
      await waitHealthy(runDir);
      return { healthy: await printRepaired(runDir, output) };
    }
    output.err(`${formatStatus(view, Date.now())}\n\n${view.supervisor ? "its supervisor is gone" : "it runs without a supervisor"}: taking it over, and restarting what is gone`);
    const supervisor = new Supervisor(runDir, [], { log: output.err });
    await supervisor.start();
    // Failed components get another chance from the new supervisor too.
    await supervisor.retryFailed();
    await waitHealthy(runDir);
    return { supervisor, healthy: await printRepaired(runDir, output) };
  }
  const stack = await startVerified(start, output);
  if (stack === undefined) return undefined;
  const supervisor = new Supervisor(runDir, stack.processes, { log: output.err });
  await supervisor.start();
  return { supervisor, healthy: true };
}

/** Until every component runs under a live supervisor and serves. */
const waitHealthy = (runDir: string) =>
  pollUntil(async () => {
    const state = await readState(runDir);
    if (!state || !healthy(observeStack(state))) return undefined;
    const answers = await Promise.all(state.processes.map((p) => (p.component ? serving(p.component) : true)));
    return answers.every(Boolean) ? true : undefined;
  }, { timeoutMs: REPAIR_TIMEOUT_MS, intervalMs: 200 });

async function printRepaired(runDir: string, output: Output): Promise<boolean> {
  const state = await readState(runDir);
  const view = state && observeStack(state);
  const ok = view !== undefined && healthy(view);
  output.out(`${ok ? "repaired" : "NOT repaired"}:\n${view ? formatStatus(view, Date.now()) : "(no state left)"}`);
  return ok;
}

/** Until SIGINT or SIGTERM: SIGHUP retries failed components; the end stops everything in reverse order. */
function supervise(supervisor: Supervisor, runDir: string, output: Output): Promise<void> {
  const keepAlive = setInterval(() => {}, 1 << 30);
  process.on("SIGHUP", () => void supervisor.retryFailed());
  return new Promise((done) => {
    let shuttingDown = false;
    const shutdown = async (signal: string) => {
      if (shuttingDown) return;
      shuttingDown = true;
      await supervisor.stop();
      // An unreadable record: npm stop finds the processes by their marker; here, the ones this process knows.
      const recorded = (await readState(runDir).catch(() => undefined))?.processes ?? [];
      output.err(`\n${signal}: stopping ${recorded.map((p) => p.name).reverse().join(", ")}`);
      await stopAll(recorded);
      await updateState(runDir, () => null);
      clearInterval(keepAlive);
      done();
    };
    process.on("SIGINT", () => void shutdown("SIGINT"));
    process.on("SIGTERM", () => void shutdown("SIGTERM"));
  });
}

/** Starts the stack and runs the quick assertions; undefined (and nothing left running) when they fail. */
async function startVerified({ topologyFile, runDir, certsDir }: StartRequest, output: Output): Promise<LocalStack | undefined> {
  const topology = await loadTopologyFile(topologyFile);
  const started = Date.now();
  const stack = await startLocalStack(topology, {
    runDir,
    sidecar: existsSync(join(REPO_ROOT, "sidecar/cli.ts")),
    source: relative(REPO_ROOT, resolve(topologyFile)),
    certsDir,
    log: output.err,
  });
  const upSeconds = ((Date.now() - started) / 1000).toFixed(1);
  // The quick assertions before saying "up"; npm run verify runs failover and recovery too.
  try {
    const access = localStackAccess(stack.plan, output.err);
    const run = await runAssertions(expectationsFromTopology(topology, { ca: localCa(runDir, topology), discovered: await readLocalDiscoveredServers(stack.plan) }), access, START_CHECKS);
    if (!allPassed(run.results)) {
      output.err(`${renderTable(run.results)}\n\nthe running stack does not behave as the topology says; stopping it`);
      await stack.stop();
      return undefined;
    }
    // Left where npm run verify leaves its results: the dashboard's assertion panel shows data from the start.
    await recordVerifyReport(runDir, { topology: topology.name, generatedAt: new Date().toISOString(), passed: true, results: run.results });
    output.out(describe(stack, upSeconds, renderTable(run.results)));
    return stack;
  } catch (error) {
    await stack.stop();
    throw error;
  }
}

/** Which certificates the TLS binds serve, and the CA to trust for the development ones. */
function certificateLines({ certificates, plan }: LocalStack): string[] {
  const lines = certificates.given.length ? [`  ${"TLS certificates".padEnd(20)} ${certificates.given.join(", ")} from --certs-dir`] : [];
  const managed = plan.topology.certificates.map((c) => c.file);
  const development = certificates.generated.filter((f) => !managed.includes(f));
  if (certificates.devCaFile && development.length) {
    const ca = relative(process.cwd(), certificates.devCaFile).startsWith("..") ? certificates.devCaFile : relative(process.cwd(), certificates.devCaFile);
    lines.push(`  ${"TLS (development)".padEnd(20)} ${development.join(", ")} signed by ${ca}: curl --cacert ${ca} https://localhost:PORT/`);
  }
  if (managed.length) lines.push(`  ${"TLS (ACME)".padEnd(20)} ${managed.join(", ")} obtained and renewed by the issuer: npm run certs -- status`);
  return lines;
}

function describe(stack: LocalStack, upSeconds: string, verified: string): string {
  const rows = stack.processes.map((p) => {
    const plan = stack.plan.components.find((c) => c.name === p.spec.name)!;
    return [plan.name, plan.url, String(p.pid), relative(process.cwd(), plan.logFile)];
  });
  return [
    `stack "${stack.plan.topology.name}" is up in ${upSeconds} s; every server is UP in HAProxy${stack.plan.topology.backends.some(picksPrimary) ? " (one primary where a check finds it)" : ""}`,
    "",
    formatTable([["component", "address", "pid", "log"], ...rows]),
    "",
    "where to look:",
    ...stack.plan.links.map((l) => `  ${l.label.padEnd(20)} ${l.urls.join("  ")}`),
    `  ${"run directory".padEnd(20)} ${stack.plan.runDir}`,
    ...certificateLines(stack),
    "",
    "verified (npm run verify for failover and recovery too):",
    verified,
  ].join("\n");
}

runMain(main);
