// The local stack's lifecycle: pre-flight checks, start in order with a health gate after each
// component, stop in reverse. A start that fails stops whatever it had started.
import { readFileSync } from "node:fs";
import { cp, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connect } from "node:net";
import type { Topology } from "../model/schema.ts";
import { notReady } from "./readiness.ts";
import { dnsServing } from "./dns.ts";
import { BinaryMissingError, ComponentFailedError, LoginHashUnsetError, StackAlreadyRunningError, StackNotRunningError, StatsCredentialsUnsetError } from "../errors.ts";
import { PortInUseError } from "../../lib/errors.ts";
import { StateFileError } from "../../lib/state-file.ts";
import { pollUntil } from "../../lib/poll.ts";
import { writeFileAtomic } from "../files.ts";
import { DEFAULT_ERROR_PAGES_DIR, DEFAULT_LUA_DIR } from "../render/haproxy-check.ts";
import { checkTopologyConfig } from "../render/validate.ts";
import { EMPTY_SERVER_STATE, ERROR_PAGE_DIR, LUA_DIR, SERVER_STATE_FILE, localTarget } from "../render/targets.ts";
import { writeMapFiles } from "../render/map-files.ts";
import { readLuaScripts } from "../render/lua.ts";
import { statsPageServed } from "../render/view.ts";
import { checkErrorPages } from "../render/error-pages.ts";
import { provisionCertificates, provisionServerCertificate, type ProvisionedCertificates } from "./certificates.ts";
import { runtimeCommand } from "../../haproxy/runtime-api.ts";
import { parseShowStat, serverStates, type ServerState } from "../../haproxy/show-stat.ts";
import { parseDuration } from "../../haproxy/duration.ts";
import { upWithinMs } from "../../haproxy/check-timing.ts";
import { HAPROXY_CONFIG_FILE, recordApplied, sha256 } from "./applied.ts";
import { DEFAULT_TOPOLOGY_FILE } from "../model/load.ts";
import { DASHBOARD_FILE, STACK_STATE_FILE, declareLocalStack, type Listener, type LocalComponent, type LocalStackDeclaration } from "./declaration.ts";
import { isPortFree, portOwner } from "./ports.ts";
import { findOnPath, isAlive, killProcessGroup, lastLines, markedProcessGroups, processCommandLine, startProcess, stopProcessGroup, type ManagedProcess } from "./processes.ts";
import { readState, recordProcess, stillRecordedProcess, updateProcess, updateState, type RecordedProcess, type StackState } from "./state.ts";

export interface StartOptions {
  runDir: string;
  sidecar?: boolean;
  /** Progress lines ("starting web-a..."); silent by default. */
  log?: (line: string) => void;
  /** What the topology came from, for generated-file headers. */
  source?: string;
  /** Where the TLS binds' PEM files are; without it, development certificates are made. */
  certsDir?: string;
}

export class LocalStack {
  private stopping: Promise<void> | undefined;

  constructor(
    readonly plan: LocalStackDeclaration,
    readonly processes: ManagedProcess[],
    readonly certificates: ProvisionedCertificates = { dir: "", given: [], generated: [] },
  ) {}

  /**
   * Stops every component in reverse start order; safe to call more than once. The state file is
   * the authority: a server that npm run verify or the supervisor restarted has a new pid there.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const recorded = (await readState(this.plan.runDir))?.processes ?? [];
      const own = this.processes.filter((p) => !recorded.some((r) => r.pid === p.pid)).map((p) => recordProcess(p.spec.name, p.pid));
      await stopAll([...own, ...recorded]);
      await updateState(this.plan.runDir, () => null);
    })();
    return this.stopping;
  }
}

/** Writes the files `components` read at start (atomically, each with its mode). */
export async function writeConfigFiles(runDir: string, components: readonly LocalComponent[]): Promise<void> {
  for (const { file, content, mode } of components.flatMap((c) => c.configFiles)) await writeFileAtomic(join(runDir, file), content, { mode });
}

/** The development certificates the stack's own TLS servers serve with. */
async function provisionServerCertificates(runDir: string, components: readonly LocalComponent[]): Promise<void> {
  for (const { certificate } of components) if (certificate) await provisionServerCertificate(runDir, certificate.file, certificate.names);
}

/** Starts one component's process (not waiting for it to serve); every start of a component goes here. */
export async function launchComponent(component: LocalComponent): Promise<ManagedProcess> {
  if (component.pidFile !== undefined) await rm(component.pidFile, { force: true });
  return startProcess(component);
}

export async function startLocalStack(topology: Topology, options: StartOptions): Promise<LocalStack> {
  const log = options.log ?? (() => {});
  const plan = declareLocalStack(topology, { runDir: options.runDir, sidecar: options.sidecar ?? false, source: options.source });

  // Pre-flight: nothing is started until everything that can be checked has been.
  await refuseIfRunning(plan.runDir);
  for (const component of plan.components) assertBinary(component.command, component.debianPackage);
  for (const component of plan.components) {
    for (const port of component.ports) {
      if (!(await isPortFree(port))) throw new PortInUseError(port, component.name, await portOwner(port));
    }
  }
  requireStatsCredentials(topology, plan.runDir);
  requireLoginHashes(topology);
  await checkErrorPages(topology, DEFAULT_ERROR_PAGES_DIR);
  readLuaScripts(topology);
  await mkdir(plan.runDir, { recursive: true });
  const certificates = await provisionCertificates(plan.runDir, topology, options.certsDir);
  await provisionServerCertificates(plan.runDir, plan.components);
  await checkTopologyConfig(topology, plan.haproxyConfig, { certificatesDir: certificates.dir, maps: plan.haproxyMaps });

  await mkdir(join(plan.runDir, "logs"), { recursive: true });
  await rm(join(plan.runDir, ERROR_PAGE_DIR), { recursive: true, force: true });
  await cp(DEFAULT_ERROR_PAGES_DIR, join(plan.runDir, ERROR_PAGE_DIR), { recursive: true });
  await cp(DEFAULT_LUA_DIR, join(plan.runDir, LUA_DIR), { recursive: true });
  await writeMapFiles(plan.runDir, plan.haproxyMaps);
  await writeFileAtomic(join(plan.runDir, HAPROXY_CONFIG_FILE), plan.haproxyConfig);
  // A fresh start judges every server afresh: no state of an earlier stack carries over.
  await writeFileAtomic(join(plan.runDir, SERVER_STATE_FILE), EMPTY_SERVER_STATE);
  await writeConfigFiles(plan.runDir, plan.components);
  await writeFileAtomic(join(plan.runDir, DASHBOARD_FILE), plan.dashboard);
  for (const component of plan.components) await writeFile(component.logFile, "");

  const started: ManagedProcess[] = [];
  const startedAt = new Date().toISOString();
  try {
    for (const component of plan.components) {
      log(`starting ${component.name}...`);
      const managed = await launchComponent(component);
      managed.child.unref();
      started.push(managed);
      await updateState(plan.runDir, () => ({ startedAt, processes: started.map((p) => recordProcess(p.spec.name, p.pid, plan.components.find((c) => c.name === p.spec.name))) }));
      await waitUntilReady(component, managed, plan);
      if (component.kind === "haproxy") {
        await recordApplied(plan.runDir, { appliedAt: new Date().toISOString(), source: options.source ?? DEFAULT_TOPOLOGY_FILE, topology, haproxyConfigSha256: sha256(plan.haproxyConfig) });
      }
    }
  } catch (error) {
    log(`start failed; stopping ${started.map((p) => p.spec.name).reverse().join(", ") || "nothing"}`);
    await stopAll(started.map((p) => recordProcess(p.spec.name, p.pid)));
    await updateState(plan.runDir, () => null);
    throw error;
  }
  return new LocalStack(plan, started, certificates);
}

/**
 * HAProxy reads the stats page's login from its environment, which it inherits from this process
 * (and, after a crash, from the supervisor): an unset variable would mean an empty login.
 */
function requireStatsCredentials(topology: Topology, runDir: string, env: NodeJS.ProcessEnv = process.env): void {
  const auth = topology.monitoring.statsAuth;
  if (auth && statsPageServed(topology.monitoring, localTarget(runDir))) {
    for (const variable of [auth.userFromEnv, auth.passwordFromEnv]) if (!env[variable]) throw new StatsCredentialsUnsetError(variable);
  }
  for (const frontend of topology.frontends) {
    const page = frontend.statsPage;
    if (page) for (const variable of [page.userFromEnv, page.passwordFromEnv]) if (!env[variable]) throw new StatsCredentialsUnsetError(variable, `frontends.${frontend.name}.statsPage`);
  }
}

/**
 * Every userlist user's password hash is in the environment, as a crypt(3) hash ("$6$...", "$5$...",
 * "$2y$..."): in its variable, or in the file VARIABLE_FILE names (Docker's convention for secrets),
 * read into the variable here so that HAProxy, started from this environment, finds it.
 */
export function requireLoginHashes(topology: Topology, env: NodeJS.ProcessEnv = process.env): void {
  for (const list of topology.userlists) {
    for (const user of list.users) {
      const field = `userlists.${list.name}.users.${user.name}.passwordHashFromEnv`;
      const file = env[`${user.passwordHashFromEnv}_FILE`];
      if (!env[user.passwordHashFromEnv] && file) {
        try {
          env[user.passwordHashFromEnv] = readFileSync(file, "utf8").trim();
        } catch {
          throw new LoginHashUnsetError(field, user.passwordHashFromEnv, `is not set, and ${user.passwordHashFromEnv}_FILE names ${file}, which cannot be read`);
        }
      }
      const value = env[user.passwordHashFromEnv];
      if (!value) throw new LoginHashUnsetError(field, user.passwordHashFromEnv, "is not set");
      if (!/^\$[0-9a-z]+\$/.test(value)) throw new LoginHashUnsetError(field, user.passwordHashFromEnv, "does not hold a password hash (it should start like $6$)");
    }
  }
}

/** What npm stop did: processes stopped, and what it had to do without the state file. */
export interface StopOutcome {
  stopped: number;
  /** The state file could not be read: the processes were found by their marker instead. */
  unreadable?: StateFileError;
  /** Processes of the stack that the state file did not name (found by their marker), stopped too. */
  unrecorded: number;
}

/**
 * npm stop: stops the stack recorded in the run directory. Its supervisor, when alive, is asked
 * first (it stops the components itself and would otherwise restart them); whatever remains is
 * stopped here, and so is every process that carries the run directory's marker, recorded or not.
 */
export async function stopLocalStack(runDir: string): Promise<StopOutcome> {
  let state: StackState | undefined;
  try {
    state = await readState(runDir);
  } catch (error) {
    if (!(error instanceof StateFileError)) throw error;
    return { stopped: await stopMarked(runDir, { supervisorsToo: true }), unreadable: error, unrecorded: 0 };
  }
  if (!state) return { stopped: 0, unrecorded: await stopMarked(runDir, { supervisorsToo: true }) };
  const ours = state.processes.filter(stillRecordedProcess).length;
  const { supervisor } = state;
  if (supervisor && stillRecordedProcess(supervisor)) {
    process.kill(supervisor.pid, "SIGTERM");
    await pollUntil(() => (isAlive(supervisor.pid) ? undefined : true), { timeoutMs: SUPERVISOR_STOP_MS, intervalMs: 50 });
  }
  const left = await readState(runDir).catch(() => undefined);
  if (left) {
    await stopAll(left.processes);
    if (supervisor && stillRecordedProcess(supervisor)) await stopProcessGroup(supervisor.pid);
  }
  await updateState(runDir, () => null);
  return { stopped: ours, unrecorded: await stopMarked(runDir, { supervisorsToo: false }) };
}

/**
 * Stops every process group carrying the run directory's marker, newest first. A supervisor (the
 * npm start that started them) is killed first: without a readable record it could not stop them
 * in order, and would start them again.
 */
async function stopMarked(runDir: string, { supervisorsToo }: { supervisorsToo: boolean }): Promise<number> {
  const groups = markedProcessGroups(runDir);
  if (supervisorsToo) {
    const supervisors = new Set([...groups.map((g) => g.pgid), ...groups.map((g) => g.parent)].filter((pid) => pid > 1 && pid !== process.pid && /runtime\/cli\.ts start/.test(processCommandLine(pid))));
    for (const pid of supervisors) await killProcessGroup(pid);
  }
  const rest = markedProcessGroups(runDir);
  await stopAll(rest.map((g) => ({ pid: g.pgid })));
  if (supervisorsToo) {
    const file = join(runDir, STACK_STATE_FILE);
    // Kept for a person to look at, out of the way of the next npm start.
    await rename(file, `${file}.unreadable`).catch(() => undefined);
  }
  return rest.length;
}

/** How long a supervisor may take to stop the stack (each component has 10 s before SIGKILL). */
const SUPERVISOR_STOP_MS = 60_000;

/** The processes of the stack running from `runDir` (alive or not), in start order; undefined if none. */
export async function recordedProcesses(runDir: string): Promise<RecordedProcess[] | undefined> {
  return (await readState(runDir))?.processes;
}

/** Records that component `name` now runs as `pid` (restarted by hand: verify's recovery test). */
export async function recordRestart(runDir: string, name: string, pid: number): Promise<void> {
  const state = await updateProcess(runDir, name, (p) => recordProcess(name, pid, undefined, p));
  if (!state) throw new StackNotRunningError(runDir);
}

/**
 * Marks component `name` as stopped on purpose, so that the supervisor leaves it down (verify's
 * failover test kills a server and must see HAProxy take it out); recordRestart brings it back.
 */
export async function holdComponent(runDir: string, name: string): Promise<void> {
  const state = await updateProcess(runDir, name, (p) => ({ ...p, state: "stopped" }));
  if (!state) throw new StackNotRunningError(runDir);
}

/**
 * Starts components of a running stack (web servers a change adds), each gated on its readiness,
 * and records them before HAProxy in the state file so that npm stop stops them after it.
 */
export async function startComponents(plan: LocalStackDeclaration, components: LocalComponent[]): Promise<void> {
  if (!(await readState(plan.runDir))) throw new StackNotRunningError(plan.runDir);
  await provisionServerCertificates(plan.runDir, components);
  for (const component of components) {
    await writeFile(component.logFile, "", { flag: "a" });
    const managed = await launchComponent(component);
    managed.child.unref();
    await updateState(plan.runDir, (state) => {
      if (!state) return undefined;
      // Web servers start before HAProxy (and stop after it); the others after it.
      const processes = [...state.processes];
      const haproxyAt = processes.findIndex((p) => p.name === "haproxy");
      processes.splice(component.kind === "web" && haproxyAt >= 0 ? haproxyAt : processes.length, 0, recordProcess(component.name, managed.pid, component));
      return { ...state, processes };
    });
    await waitUntilReady(component, managed, plan);
  }
}

/**
 * Stops components of a running stack by name (web servers a change removes) and forgets them.
 * They are marked stopped first, so that a supervisor does not restart them meanwhile.
 */
export async function stopComponents(runDir: string, names: string[]): Promise<void> {
  const marked = await updateState(runDir, (state) => state && { ...state, processes: state.processes.map((p) => (names.includes(p.name) ? { ...p, state: "stopped" as const } : p)) });
  if (!marked) throw new StackNotRunningError(runDir);
  await stopAll(marked.processes.filter((p) => names.includes(p.name)));
  await updateState(runDir, (state) => state && { ...state, processes: state.processes.filter((p) => !names.includes(p.name)) });
}

/** Stops recorded processes in reverse start order; a pid now used by another process is never signalled. */
export async function stopAll(inStartOrder: { pid: number; startTicks?: number }[]): Promise<void> {
  for (const p of [...inStartOrder].reverse()) {
    if (stillRecordedProcess(p) || !isAlive(p.pid)) await stopProcessGroup(p.pid);
  }
}

async function refuseIfRunning(runDir: string): Promise<void> {
  const state = await readState(runDir);
  const alive = state?.processes.filter(stillRecordedProcess) ?? [];
  if (state && alive.length > 0) {
    const gone = state.processes.filter((p) => !alive.includes(p)).map((p) => p.name);
    throw new StackAlreadyRunningError(runDir, alive.map((p) => `${p.name} (pid ${p.pid})`), gone);
  }
}

function assertBinary(command: string, debianPackage: string): void {
  if (!command.includes("/") && findOnPath(command) === undefined) throw new BinaryMissingError(command, debianPackage);
}

// --- health gates ---------------------------------------------------------------------------------

async function httpOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Whether a component serves: its ready URL answers 2xx, or (HAProxy) its stats socket answers,
 * which its worker does only once it has bound its frontends.
 */
export async function serving(component: LocalComponent): Promise<boolean> {
  if (component.readyUrl !== undefined) return httpOk(component.readyUrl);
  if (component.readyDns !== undefined) return dnsServing(component.readyDns.server, component.readyDns.name);
  if (component.readyConnect !== undefined) return accepts(component.readyConnect);
  if (component.readySocket === undefined) return true;
  try {
    await runtimeCommand({ path: component.readySocket }, "show info", { timeoutMs: 1000 });
    return true;
  } catch {
    return false;
  }
}

/** Whether something accepts a connection on host:port or a unix socket within a second. */
function accepts(listener: Listener): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ ...listener, timeout: 1000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true)).once("error", () => done(false)).once("timeout", () => done(false));
  });
}

/** How long HAProxy may take to mark every server UP: rise × inter for the slowest (a group's first resolution too), plus slack. */
function haproxyReadyTimeoutMs(topology: Topology): number {
  const slowest = Math.max(
    0,
    ...topology.backends.flatMap((b) => b.servers.map((s) => upWithinMs({ interMs: parseDuration(s.inter), rise: s.rise }))),
    ...topology.backends.flatMap((b) => (b.discovery ? [parseDuration(b.discovery.resolver.resolveEvery) + upWithinMs({ interMs: parseDuration(b.discovery.inter), rise: b.discovery.rise })] : [])),
  );
  return slowest + 15_000;
}

/** True when HAProxy reports every expected server UP; otherwise what it reports instead. */
async function haproxyReady(plan: LocalStackDeclaration): Promise<true | string> {
  let states: ServerState[];
  try {
    states = serverStates(parseShowStat(await runtimeCommand({ path: plan.sockets.admin }, "show stat")));
  } catch (error) {
    return `its stats socket does not answer (${(error as Error).message})`;
  }
  const problems = notReady(plan.topology, states);
  return problems.length === 0 ? true : `reports ${problems.join(", ")}`;
}

async function waitUntilReady(component: LocalComponent, managed: ManagedProcess, plan: LocalStackDeclaration): Promise<void> {
  const probe: () => Promise<boolean | string> = component.kind === "haproxy" ? () => haproxyReady(plan) : () => serving(component);
  const timeoutMs = component.kind === "haproxy" ? haproxyReadyTimeoutMs(plan.topology) : 20_000;
  let lastReason = "";
  const outcome = await pollUntil(async () => {
    if (managed.exit) return "exited" as const;
    const result = await probe();
    if (result === true) return "ready" as const;
    if (typeof result === "string") lastReason = result;
    return undefined;
  }, { timeoutMs, intervalMs: 100 });
  if (outcome === "ready") return;
  const log = lastLines(component.logFile);
  if (outcome === "exited") {
    const how = managed.exit!.code !== null ? `code ${managed.exit!.code}` : `signal ${managed.exit!.signal}`;
    throw new ComponentFailedError(component.name, `exited (${how}) before it was ready`, log, component.logFile);
  }
  throw new ComponentFailedError(component.name, `did not become healthy within ${Math.round(timeoutMs / 1000)} s${lastReason ? `: ${lastReason}` : ""}`, log, component.logFile);
}
