// npm run apply's engine: the smallest change that takes the load balancer from what it runs to the
// new topology, verified by traffic, undone by itself when anything fails. Everything it touches is
// passed in (ApplyIO), so the same steps can run wherever HAProxy runs.
import { configuredWeight, type Topology } from "../model/schema.ts";
import { EMPTY_SERVER_STATE } from "../render/targets.ts";
import type { AssertionResult } from "../../verification/judge.ts";
import { allPassed } from "../../verification/judge.ts";
import { judgeReload, parseShowProc, type ShowProc } from "../../haproxy/master-cli.ts";
import { parsePeersSections } from "../../haproxy/show-peers.ts";
import { withConfiguredWeights } from "../../haproxy/server-state.ts";
import { RuntimeCommandRefusedError, ShowServersStateGarbledError } from "../../haproxy/errors.ts";
import { replaceMapEntries, runCommands as runtimeCommands } from "../../haproxy/runtime-commands.ts";
import { pollUntil } from "../../lib/poll.ts";
import { checkSettleMs } from "../runtime/verify.ts";
import { runtimeApiCommands, tableReplacements, type TopologyChange } from "./changes.ts";
import type { Plan } from "./plan.ts";
import type { Target } from "./component-actions.ts";

/** The steps, in order; each is written to the lock as it is reached, so a crash says where it stopped. */
export const APPLY_STEPS = ["planned", "components-started", "runtime-applied", "config-written", "reloaded", "verified", "recorded"] as const;
export type ApplyStep = (typeof APPLY_STEPS)[number];

export interface ApplyIO {
  /** Whose actions of the plan this edge carries out (the local stack's, or HAProxy's in the Docker stack for the apply agent). */
  target: "local" | "docker";
  /** HAProxy's admin runtime API: one command, its answer. */
  admin(command: string): Promise<string>;
  /** HAProxy's master CLI. */
  master(command: string): Promise<string>;
  /**
   * Writes haproxy.cfg for one side atomically (a reader sees the old file or the new one, never
   * half), with the files it names (error pages, certificates) in place first.
   */
  writeConfig(side: Side): Promise<void>;
  /** Keeps the config that works now beside it (haproxy.cfg.last-good), for the rollback and for people. */
  keepLastGood(text: string): Promise<void>;
  /** Saves the servers' states (show servers state) where HAProxy's server-state-file reads them at a reload. */
  saveServerState(text: string): Promise<void>;
  /** The config this target renders for one side of the change. */
  render(side: Side): string;
  /** The plan between two topologies, with the generated files this target has. */
  plan(base: Topology, head: Topology): Plan;
  /** Starts the components the plan creates, as `head` describes them; returns how to stop them again. */
  startComponents(names: string[], head: Topology): Promise<() => Promise<void>>;
  /** Stops the components the plan destroys (after the reload has drained them). */
  stopComponents(names: string[]): Promise<void>;
  /** Restarts the components (not HAProxy) the plan restarts, as `head` describes them; returns how to restart them as `base` did. */
  restartComponents(names: string[], base: Topology, head: Topology): Promise<() => Promise<void>>;
  /** The quick end-to-end assertions (APPLY_CHECKS), with the topology's expectations. */
  verify(topology: Topology): Promise<AssertionResult[]>;
  checkpoint(step: ApplyStep): Promise<void>;
  log(line: string): void;
}

export type ApplyOutcome = "no-changes" | "applied" | "rolled-back" | "rollback-failed";

export type ApplyMethod = "runtime" | "reload" | "restart" | "record";

export interface ApplyResult {
  outcome: ApplyOutcome;
  plan: Plan;
  /**
   * runtime: every change through the admin socket; reload: a new worker; restart: HAProxy's config
   * is unchanged, only other components restart (or start, or stop); record: nothing the local stack
   * runs changes (other targets' components do), the topology is recorded as applied.
   */
  method?: ApplyMethod;
  /** What failed, when it did. */
  failure?: string;
  /** What was undone, and whether the old state serves again. */
  rollback?: string;
  verification: AssertionResult[];
}

class StepFailed extends Error {}

/** HAProxy's refusal of a runtime command fails the step (and rolls the apply back). */
async function asStep(work: Promise<void>): Promise<void> {
  try {
    await work;
  } catch (error) {
    if (error instanceof RuntimeCommandRefusedError) throw new StepFailed(error.problem);
    throw error;
  }
}

const runCommands = (io: ApplyIO, commands: string[]) => asStep(runtimeCommands((command) => io.admin(command), commands));

/** The commands of each change the runtime API makes on `target`, and those that undo it, in order. */
function runtimeSteps(changes: readonly TopologyChange[], target: "local" | "docker"): { apply: string[]; undo: string[] }[] {
  return changes.flatMap((c) => {
    const apply = runtimeApiCommands(c.path, c.to, target);
    return apply ? [{ apply, undo: runtimeApiCommands(c.path, c.from, target) ?? [] }] : [];
  });
}

/** Replaces a map's entries in one atomic step: no request sees half a table. */
const replaceMap = (io: ApplyIO, file: string, lines: readonly string[]) => asStep(replaceMapEntries((command) => io.admin(command), file, lines));

async function showProc(io: ApplyIO): Promise<ShowProc> {
  return parseShowProc(await io.master("show proc"));
}

/**
 * How long a reload may take to show in "show proc": the new master parses the config again and, for
 * servers named by host (init-addr last,libc,none), resolves each through libc; a name server that is
 * slow then (podman's restarts as containers join its network) held a measured reload for 20 s. The old
 * worker serves meanwhile, so waiting is safe; giving up would roll back a reload that took.
 */
const RELOAD_SHOWS_WITHIN_MS = 45_000;

/**
 * How long a worker that just started may take to be ready to hand its stick tables over: HAProxy's
 * resync timeout (5 s), waiting for an old worker or a remote peer to teach it, and a little more.
 */
const PEERS_RESYNC_WITHIN_MS = 6_000;

/**
 * Waits until every peers section has finished its resync: only then does a worker hand its stick
 * tables to the next one at a reload (right after a start, a reload would begin them empty). The
 * reload goes ahead after the bound either way, and says what it loses.
 */
async function awaitPeersResync(io: ApplyIO): Promise<void> {
  const resyncing = async () => parsePeersSections(await io.admin("show peers")).filter((s) => !s.disabled && !s.resynced).map((s) => s.name);
  let waiting = await resyncing();
  if (!waiting.length) return;
  io.log(`peers ${waiting.join(", ")}: waiting for the running worker's resync to finish, so that it hands its stick tables to the new one`);
  const done = await pollUntil(async () => ((waiting = await resyncing()).length ? undefined : true), { timeoutMs: PEERS_RESYNC_WITHIN_MS, intervalMs: 100 });
  if (!done) io.log(`peers ${waiting.join(", ")}: still resyncing after ${PEERS_RESYNC_WITHIN_MS / 1000} s; the new worker's stick tables start empty`);
}

/**
 * The servers' states as the running worker knows them, for the new worker (load-server-state-from-file),
 * compared against the weights `running` configures: a weight the change sets wins over one set at runtime.
 */
async function saveServerState(io: ApplyIO, running: Topology): Promise<void> {
  const weights = new Map(running.backends.flatMap((b) => b.servers.map((s) => [`${b.name}/${s.name}`, configuredWeight(b, s)] as const)));
  try {
    await io.saveServerState(withConfiguredWeights(await io.admin("show servers state"), (backend, server) => weights.get(`${backend}/${server}`)));
  } catch (error) {
    if (!(error instanceof ShowServersStateGarbledError)) throw error;
    io.log(`${error.message}; the new worker starts every server as its config says`);
    await io.saveServerState(EMPTY_SERVER_STATE);
  }
}

/** Reloads from the worker `running` describes through the master CLI, and waits until "show proc" shows it took, or says why not. */
async function reload(io: ApplyIO, running: Topology, topology: Topology): Promise<void> {
  await awaitPeersResync(io);
  const before = await showProc(io);
  await saveServerState(io, running);
  await io.master("reload").catch(() => undefined); // 2.6 answers nothing and closes: "show proc" tells
  let reason = "no answer from the master CLI";
  const outcome = await pollUntil(async () => {
    const judged = judgeReload(before, await showProc(io));
    if (judged.took) return judged;
    reason = judged.reason;
    return /failed/.test(judged.reason) ? judged : undefined;
  }, { timeoutMs: RELOAD_SHOWS_WITHIN_MS, intervalMs: 100 });
  if (!outcome?.took) throw new StepFailed(`the reload did not take: ${reason}`);
  // The old worker finishes its connections and leaves by itself, within hard-stop-after (HAProxy's
  // own bound): the apply does not wait for it; show proc (and npm run status) shows it meanwhile.
  const draining = before.workers.map((w) => w.pid);
  if (draining.length) io.log(`old worker ${draining.join(", ")} drains its connections (at most ${topology.global.hardStopAfter}, hard-stop-after)`);
}

/**
 * Settings whose change moves no server's state: a runtime change sets none, and a reload hands every
 * server's state to the new worker (server-state-file). What a check reads (a server's address, its
 * check, a backend's mode or TLS, the connect and check timeouts) is not among them.
 */
const STATE_KEEPING: readonly RegExp[] = [
  /^frontends\./,
  /^global\.(maxconn|logs|nbthread|hardStopAfter|closeSpreadTime|maxRequestHeaders|bufferSize|tls)\b/,
  /^defaults\.(httplog|dontlognull|retries|redispatch|idleCloseOnResponse|maxRequestBodyBytes|retryOn|timeouts\.(client|server|queue|httpRequest|httpKeepAlive|tunnel|clientFin|serverFin))\b/,
  /^backends\.[^.]+\.(balance|balanceKey|hashType|cookie|retries|redispatch|retryOn|cache|timeouts|connectionMode|httpReuse|stickOnSource|requestRules|responseRules|afterResponseRules|tcpKeepAlive|answer)\b/,
  /^backends\.[^.]+\.servers\.[^.]+\.(weight|maxconn)$/,
  /^monitoring\./,
  /^peers\./,
  /^services\./,
];

/**
 * How long the health checks need before traffic can judge the change: none when every change keeps
 * the servers' states (at runtime, or through a reload that hands them over); otherwise every check's
 * settle time.
 */
export function settleMs(plan: Plan, method: ApplyMethod | undefined, topology: Topology): number {
  // A discovered group's slots are judged afresh at a reload (they follow the name server, not a saved state).
  const handedOver = method === "runtime" || (method === "reload" && !topology.backends.some((b) => b.discovery));
  const stateKept = handedOver && plan.changes.every((c) => STATE_KEEPING.some((kept) => kept.test(c.path)));
  return stateKept ? 0 : checkSettleMs(topology);
}

async function verify(io: ApplyIO, topology: Topology, waitMs = checkSettleMs(topology)): Promise<AssertionResult[]> {
  await new Promise((r) => setTimeout(r, waitMs));
  const results = await io.verify(topology);
  if (!allPassed(results)) throw new StepFailed(`verification failed: ${results.filter((r) => r.verdict === "fail").map((r) => `${r.assertion} (${r.measured})`).join("; ")}`);
  return results;
}

/** One side of a change: the topology, and the file it came from (named in the config's header). */
export interface Side {
  topology: Topology;
  source: string;
}

export interface ApplyOptions {
  /** What runs now. */
  base: Side;
  head: Side;
  /** Run the quick assertions after the change (and after a rollback). */
  verify: boolean;
  /** The plan to carry out (a saved one, checked against what runs by the caller); made here otherwise. */
  plan?: Plan;
  /**
   * A check of the head still running beside the plan (haproxy -c on every target): nothing changes
   * before it has passed, and its refusal is the apply's.
   */
  validated?: Promise<void>;
}

/** What the plan's actions for `target` make apply do, HAProxy's first. */
export function applyMethod(plan: Plan, target: Target): ApplyMethod | undefined {
  const local = plan.actions.filter((a) => a.target === target);
  const haproxy = local.find((a) => a.component === "haproxy")?.action;
  if (haproxy === "runtime" || haproxy === "reload") return haproxy;
  if (local.length > 0) return "restart";
  return plan.changes.length > 0 ? "record" : undefined;
}

export async function applyTopology(io: ApplyIO, options: ApplyOptions): Promise<ApplyResult> {
  const [base, head] = [options.base.topology, options.head.topology];
  const plan = options.plan ?? io.plan(base, head);
  await options.validated;
  await io.checkpoint("planned");
  const method = applyMethod(plan, io.target);
  if (method === undefined) return { outcome: "no-changes", plan, verification: [] };
  const names = (action: string) => plan.actions.filter((a) => a.target === io.target && a.action === action && a.component !== "haproxy").map((a) => a.component);
  const undo: (() => Promise<void>)[] = [];
  try {
    undo.push(await io.startComponents(names("create"), head));
    await io.checkpoint("components-started");
    undo.push(await io.restartComponents(names("restart"), base, head));
    if (method === "runtime") {
      for (const step of runtimeSteps(plan.changes, io.target)) {
        undo.push(() => runCommands(io, step.undo));
        await runCommands(io, step.apply);
      }
      for (const table of tableReplacements(base, head)) {
        undo.push(() => replaceMap(io, table.file, table.previous));
        io.log(`route table ${table.file}: ${table.lines.length} entries, replaced at runtime`);
        await replaceMap(io, table.file, table.lines);
      }
      undo.push(() => io.writeConfig(options.base));
      await io.checkpoint("runtime-applied");
      // The file follows, so that a later reload keeps what the socket set.
      await io.writeConfig(options.head);
      await io.checkpoint("config-written");
    } else if (method === "reload") {
      await io.keepLastGood(io.render(options.base));
      undo.push(async () => {
        await io.writeConfig(options.base);
        await reload(io, head, base);
      });
      await io.writeConfig(options.head);
      await io.checkpoint("config-written");
      await reload(io, base, head);
      await io.checkpoint("reloaded");
    }
    io.log(`${{ runtime: "applied at runtime", reload: "reloaded", restart: "restarted what changed", record: "nothing the local stack runs changes" }[method]}; verifying with traffic`);
    const verification = options.verify ? await verify(io, head, settleMs(plan, method, head)) : [];
    await io.checkpoint("verified");
    await io.stopComponents(names("destroy"));
    return { outcome: "applied", plan, method, verification };
  } catch (error) {
    const failure = (error as Error).message;
    io.log(`failed: ${failure}; rolling back`);
    return { ...(await rollBack(io, base, undo, options.verify)), plan, method, failure };
  }
}

async function rollBack(io: ApplyIO, base: Topology, undo: (() => Promise<void>)[], verifyAfter: boolean): Promise<Pick<ApplyResult, "outcome" | "rollback" | "verification">> {
  try {
    for (const step of undo.reverse()) await step();
    const verification = verifyAfter ? await verify(io, base) : [];
    return { outcome: "rolled-back", rollback: `undone in reverse (${undo.length} steps); the stack is back on the previous topology${verifyAfter ? ", verified by traffic" : ""}`, verification };
  } catch (error) {
    return { outcome: "rollback-failed", rollback: `ROLLBACK FAILED: ${(error as Error).message}`, verification: [] };
  }
}
