// A discovered group scaled under load (the discovery example's default resolver settings): how long
// a new DNS record takes to get traffic, how long a removed one keeps it, and what fails meanwhile.
// Three rounds of 2 → 5 → 1 while 8 connections keep sending.
import { localGroupRuntime } from "../infra/runtime/group-runtime.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTopology } from "../infra/model/parse.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { recordedProcesses, startLocalStack } from "../infra/runtime/stack.ts";
import { groupSlots, scaleGroup, trafficBoundMs, removalBoundMs } from "../infra/gitops/scale.ts";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { pollUntil } from "../lib/poll.ts";
import { backgroundTraffic, TrafficClient } from "../verification/traffic.ts";
import { topology as example } from "../infra/topologies/discovery.ts";
import { median, type BenchRow } from "./table.ts";

const ROUNDS = 3;

export async function discoveryBench(): Promise<BenchRow[]> {
  const topology = parseTopology(await withFreePorts(structuredClone(example) as any));
  const group = topology.backends[0]!.discovery!;
  const runDir = mkdtempSync(join(tmpdir(), "lb-discovery-bench-"));
  const stack = await startLocalStack(topology, { runDir });
  const client = new TrafficClient(`http://127.0.0.1:${topology.frontends[0]!.binds[0]!.port}/`, { connections: 8 });
  const traffic = backgroundTraffic(client, { concurrency: 8, maxMs: 300_000, maxRequests: 2_000_000 });
  const recordToUp: number[] = [];
  const recordToFirstAnswer: number[] = [];
  const removalToMaintenance: number[] = [];
  const removalToLastAnswer: number[] = [];
  const log = () => {};
  // Traffic samples are timed from the traffic's start; the scale's report in epoch milliseconds.
  const epochOf = (t: number) => trafficStart + t;
  const trafficStart = Date.now() - traffic.now();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const up = await scaleGroup(backend(topology), 5, { runDir, runtime: (running) => localGroupRuntime(runDir, running), log });
      await new Promise((r) => setTimeout(r, 2000));
      // The scale publishes the records once the new instances serve: the times count from there.
      for (const i of up.instances) {
        recordToUp.push(i.dnsToHaproxyMs);
        const first = traffic.samples().find((s) => epochOf(s.t) >= up.recordsAddedAt! && s.server === i.instance);
        if (first) recordToFirstAnswer.push(epochOf(first.t) - up.recordsAddedAt!);
      }
      const down = await scaleGroup(backend(topology), 1, { runDir, runtime: (running) => localGroupRuntime(runDir, running), log });
      for (const i of down.instances) {
        removalToMaintenance.push(i.dnsToHaproxyMs);
        const last = traffic.samples().filter((s) => s.server === i.instance).at(-1);
        removalToLastAnswer.push(last ? Math.max(0, epochOf(last.t) - down.recordsRemovedAt!) : 0);
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  } finally {
    await traffic.stop();
    await client.close();
    await stack.stop();
    rmSync(runDir, { recursive: true, force: true });
  }
  const samples = traffic.samples();
  const failed = samples.filter((s) => s.error !== undefined || s.status !== 200).length;
  const range = (xs: number[]) => `${Math.min(...xs)}–${Math.max(...xs)} ms`;
  const settings = `resolve every ${group.resolver.resolveEvery}, hold obsolete ${group.resolver.holdObsolete}, inter ${group.inter}, rise ${group.rise}`;
  return [
    { group: "discovery", case: "new DNS record → server UP in a slot (median)", value: `${median(recordToUp)} ms`, note: `${range(recordToUp)} over ${recordToUp.length} instances; bound ${trafficBoundMs(group, topology.defaults.timeouts.check)} ms (${settings})` },
    { group: "discovery", case: "new DNS record → first answer from it (median)", value: `${median(recordToFirstAnswer)} ms`, note: `${range(recordToFirstAnswer)}, 8 connections of traffic` },
    { group: "discovery", case: "record removed → slot in maintenance (median)", value: `${median(removalToMaintenance)} ms`, note: `${range(removalToMaintenance)}; bound ${removalBoundMs(group)} ms` },
    { group: "discovery", case: "record removed → last answer from it (median)", value: `${median(removalToLastAnswer)} ms`, note: `${range(removalToLastAnswer)}; its process stops only after` },
    { group: "discovery", case: `failed requests during ${ROUNDS} × (2 → 5 → 1) under load`, value: `${failed}`, note: `of ${samples.length} (goal 0)` },
  ];
}

const backend = (topology: ReturnType<typeof parseTopology>) => topology.backends.find((b) => b.discovery)!.name;

/**
 * The name server dies and stays dead: how long HAProxy keeps the discovered servers, with HAProxy's
 * own hold (30 s for timeout/refused/other) and with the model's holdDuringOutage (5 m).
 */
export async function dnsOutageBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const watchMs = 45_000;
  for (const hold of ["30s", "5m"]) {
    const input = structuredClone(example) as any;
    input.backends[0].discovery.resolver = { holdDuringOutage: hold };
    const topology = parseTopology(await withFreePorts(input));
    const runDir = mkdtempSync(join(tmpdir(), "lb-dns-outage-bench-"));
    const stack = await startLocalStack(topology, { runDir });
    try {
      const dns = ((await recordedProcesses(runDir)) ?? []).find((p) => p.name === "dnsmasq")!;
      const killedAt = Date.now();
      process.kill(dns.pid, "SIGKILL");
      const group = topology.backends[0]!.discovery!;
      const allGone = await pollUntil(async () => (groupSlots(await runtimeCommand({ path: stack.plan.sockets.admin }, "show stat"), topology.backends[0]!.name, group).every((s) => !s.status.startsWith("UP")) ? true : undefined), { timeoutMs: watchMs, intervalMs: 200 });
      rows.push({
        group: "discovery",
        case: `name server dead → every discovered server in maintenance (hold ${hold} during an outage${hold === "30s" ? ", HAProxy's default" : ", the model's"})`,
        value: allGone ? `${((Date.now() - killedAt) / 1000).toFixed(1)} s` : `not within ${watchMs / 1000} s`,
        note: allGone ? "the backend then answers 503: a DNS outage became an LB outage" : "the servers keep their addresses and keep serving",
      });
    } finally {
      await stack.stop();
      rmSync(runDir, { recursive: true, force: true });
    }
  }
  return rows;
}
