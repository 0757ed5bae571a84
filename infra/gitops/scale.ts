// npm run scale: a discovered group's instances on the local stack, grown or shrunk with no change
// to haproxy.cfg. DNS is the only thing HAProxy hears: a new instance is started and serving before
// its record appears; a leaving one loses its record first, HAProxy puts its slot in maintenance
// (requests in flight finish), and its process stops only once HAProxy has drained it.
import { parseDuration } from "../../haproxy/duration.ts";
import { field, parseShowStat } from "../../haproxy/show-stat.ts";
import { pollUntil } from "../../lib/poll.ts";
import { ScaleNotFollowedError, ScaleNotPossibleError, StackNotRunningError } from "../errors.ts";
import { recordRemovalMs, resolutionMs, type ServerGroup, type Topology } from "../model/schema.ts";
import { readApplied, recordApplied } from "../runtime/applied.ts";
import { groupInstances, type GroupInstance } from "../runtime/declaration.ts";
import type { GroupRuntime } from "../runtime/group-runtime.ts";
import { acquireApplyLock } from "./apply-lock.ts";

/** What a scale does, decided from the counts alone. */
export interface ScaleSteps {
  backend: string;
  from: number;
  to: number;
  start: GroupInstance[];
  stop: GroupInstance[];
}

/** Pure: the instances to start (the new numbers) or stop (the highest numbers first go). */
export function scaleSteps(topology: Topology, backend: string, to: number): ScaleSteps {
  const group = topology.backends.find((b) => b.name === backend)?.discovery;
  const groups = topology.backends.filter((b) => b.discovery).map((b) => b.name);
  if (!group) throw new ScaleNotPossibleError(`backend "${backend}" has no discovery group to scale; ${groups.length ? `groups: ${groups.join(", ")}` : "this topology has none (add discovery to a backend)"}`);
  if (!Number.isInteger(to) || to < 0 || to > group.maxServers) {
    throw new ScaleNotPossibleError(`${to} instances of ${backend}: use a whole number from 0 to ${group.maxServers} (its maxServers: the slots HAProxy reserved; raising it is a reload, through npm run apply)`);
  }
  const from = group.instances;
  const all = groupInstances(topology, backend, Math.max(from, to));
  return { backend, from, to, start: all.slice(from, to), stop: all.slice(to, from).reverse() };
}

/**
 * How long HAProxy may take to send traffic to a new record: the next resolution (resolveEvery,
 * plus a retry if an answer was lost), then enough passing checks (rise × inter, each up to the
 * check timeout), plus a second of slack for the poll.
 */
export function trafficBoundMs(group: ServerGroup, checkTimeout: string | undefined): number {
  const check = checkTimeout ? parseDuration(checkTimeout) : parseDuration(group.inter);
  return resolutionMs(group.resolver) + group.rise * parseDuration(group.inter) + check + 1000;
}

/** How long a removed record takes to put its slot in maintenance: the next resolution, then hold obsolete, plus slack. */
export function removalBoundMs(group: ServerGroup): number {
  return recordRemovalMs(group.resolver) + 1000;
}

export interface InstanceOutcome {
  instance: string;
  address: string;
  action: "started" | "stopped";
  /** Started: from its DNS record to HAProxy sending it traffic (UP in a slot). Stopped: from removing its record to its slot in maintenance. */
  dnsToHaproxyMs: number;
  /** Stopped: from maintenance to no connection left on its slot (then its process stopped). */
  drainMs?: number;
  slot: string;
}

export interface ScaleResult extends Omit<ScaleSteps, "start" | "stop"> {
  instances: InstanceOutcome[];
  /** When the new instances' records were published, and the leaving ones' removed (epoch ms). */
  recordsAddedAt?: number;
  recordsRemovedAt?: number;
}

interface SlotState {
  slot: string;
  address: string;
  status: string;
  /** Connections on it now. */
  current: number;
}

/** Pure: a group's slots as HAProxy reports them in "show stat". */
export function groupSlots(showStat: string, backend: string, group: Pick<ServerGroup, "name">): SlotState[] {
  return parseShowStat(showStat)
    .rows.filter((r) => r.kind === "server" && r.proxy === backend && r.name.startsWith(group.name) && /^\d+$/.test(r.name.slice(group.name.length)))
    .map((r) => ({ slot: r.name, address: field(r, "addr") ?? "", status: field(r, "status") ?? "", current: Number(field(r, "scur") ?? 0) }));
}

export interface ScaleOptions {
  /** Where the apply lock and the record of what runs are. */
  runDir: string;
  /** The stack the group runs on, given what runs now (the local stack: localGroupRuntime). */
  runtime: (running: Topology) => Promise<GroupRuntime>;
  log: (line: string) => void;
}

export async function scaleGroup(backend: string, to: number, options: ScaleOptions): Promise<ScaleResult> {
  const { runDir, log } = options;
  const lock = await acquireApplyLock(runDir, log);
  try {
    const applied = await readApplied(runDir);
    if (!applied) throw new StackNotRunningError(runDir, "npm run scale works on the local stack: start it with npm start");
    const plan = scaleSteps(applied.topology, backend, to);
    const group = applied.topology.backends.find((b) => b.name === backend)!.discovery!;
    const head: Topology = structuredClone(applied.topology);
    head.backends.find((b) => b.name === backend)!.discovery!.instances = to;
    const runtime = await options.runtime(applied.topology);
    const slots = async () => groupSlots(await runtime.admin("show stat"), backend, group);
    const publish = () => runtime.publishRecords(head);
    const recordRunning = () => recordApplied(runDir, { ...applied, appliedAt: new Date().toISOString(), topology: head });
    const outcomes: InstanceOutcome[] = [];
    const times: Pick<ScaleResult, "recordsAddedAt" | "recordsRemovedAt"> = {};
    const checkTimeout = applied.topology.defaults.timeouts.check;

    if (plan.start.length > 0) {
      log(`starting ${plan.start.map((i) => `${i.name} (${i.address})`).join(", ")}`);
      await runtime.startInstances(head, plan.start.map((i) => i.name));
      const published = Date.now();
      times.recordsAddedAt = published;
      await publish();
      // They run and DNS names them: that is what runs now, even if HAProxy is slow to follow.
      await recordRunning();
      log(`published their records; waiting for HAProxy (bound ${trafficBoundMs(group, checkTimeout)} ms each)`);
      for (const instance of plan.start) {
        const address = `${instance.address}:${instance.port}`;
        const up = await pollUntil(async () => (await slots()).find((s) => s.address === address && s.status.startsWith("UP")), { timeoutMs: trafficBoundMs(group, checkTimeout), intervalMs: 50 });
        if (!up) throw new ScaleNotFollowedError(`HAProxy did not take ${instance.name} (${address}) into ${backend} within ${trafficBoundMs(group, checkTimeout)} ms of its DNS record: npm run drift and logs/haproxy.log say why; the instance keeps running and npm run scale again retries`);
        outcomes.push({ instance: instance.name, address, action: "started", dnsToHaproxyMs: Date.now() - published, slot: up.slot });
      }
    }

    if (plan.stop.length > 0) {
      const before = await slots();
      const leaving = plan.stop.map((i) => ({ instance: i, address: `${i.address}:${i.port}`, slot: before.find((s) => s.address === `${i.address}:${i.port}`)?.slot }));
      const removed = Date.now();
      times.recordsRemovedAt = removed;
      await publish();
      log(`removed the records of ${plan.stop.map((i) => i.name).join(", ")}; HAProxy drains them`);
      for (const leaver of leaving) {
        const bound = removalBoundMs(group);
        const out = await pollUntil(async () => ((await slots()).some((s) => s.address === leaver.address && !s.status.startsWith("MAINT")) ? undefined : true), { timeoutMs: bound, intervalMs: 50 });
        if (!out) throw new ScaleNotFollowedError(`HAProxy still sends traffic to ${leaver.instance.name} (${leaver.address}) ${bound} ms after its record was removed: the instance keeps running; npm run drift says what HAProxy holds`);
        const inMaintenance = Date.now();
        // Requests in flight finish on the old address: wait for none, as long as a response may take.
        const drainBound = parseDuration(applied.topology.defaults.timeouts.server) + 1000;
        const drained = leaver.slot === undefined || (await pollUntil(async () => ((await slots()).find((s) => s.slot === leaver.slot)?.current ?? 0) === 0 || undefined, { timeoutMs: drainBound, intervalMs: 50 }));
        if (!drained) log(`${leaver.instance.name} still had connections ${drainBound} ms after it left: stopping it anyway (timeout server has passed)`);
        outcomes.push({ instance: leaver.instance.name, address: leaver.address, action: "stopped", dnsToHaproxyMs: inMaintenance - removed, drainMs: Date.now() - inMaintenance, slot: leaver.slot ?? "-" });
      }
      await runtime.stopInstances(plan.stop.map((i) => i.name));
    }

    // What runs now: the next apply plans from it, and verify finds the instances.
    await recordRunning();
    return { backend, from: plan.from, to: plan.to, instances: outcomes, ...times };
  } finally {
    await lock.release();
  }
}
