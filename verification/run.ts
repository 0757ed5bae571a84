// Runs the end-to-end assertions against a live HAProxy: real traffic, real faults. Everything it
// touches is passed in (the runtime API, a way to kill and restart a server), so the same code runs
// against the local runtime or anything else that can provide those.
import { setTimeout as sleep } from "node:timers/promises";
import { parseShowStat, serverStates } from "../haproxy/show-stat.ts";
import {
  judgeDistribution, judgeEntrypoints, judgeRouting, judgeFailover, judgeHealth, judgePersistence, judgeRecovery, judgeSecurity, judgeTcpFailovers,
  canRedispatch, failoverBoundMs, recoveryBoundMs,
  ASSERTIONS, type AssertionName, type AssertionResult, type Expectations, type TcpFailoverExpectation, type TcpFailoverMeasurement, type TrafficSample,
} from "./judge.ts";
import { pollUntil } from "../lib/poll.ts";
import { backgroundTraffic, burst, freshLoopbackSource, TrafficClient } from "./traffic.ts";
import { measureSecurity, probeEntrypoint, probeRoute, probeTcp } from "./probes.ts";

export interface StackAccess {
  /** HAProxy's runtime API: one command, its answer. */
  api: (command: string) => Promise<string>;
  /** Stops a web server for real: its process is killed, not drained. */
  killServer(name: string): Promise<void>;
  /** Starts it again. */
  startServer(name: string): Promise<void>;
  /** The server's own health URL, to tell when it listens again. */
  serverHealthUrl(name: string): string | Promise<string>;
  /** Prometheus's /api/v1/targets and the scrape jobs it must have, when Prometheus belongs to the check. */
  prometheus?: { targetsUrl: string; jobs: string[] };
  log(line: string): void;
}

export interface RunOptions {
  only: readonly AssertionName[];
  /** Requests for the distribution assertion. */
  requests: number;
}

export interface TimelineEvent {
  t: number;
  label: string;
}

export interface VerifyRun {
  results: AssertionResult[];
  /** The failover/recovery traffic, for the report's chart. */
  timeline: { samples: TrafficSample[]; events: TimelineEvent[] };
}

async function statuses(backend: string, access: StackAccess): Promise<Map<string, string>> {
  const states = serverStates(parseShowStat(await access.api("show stat")));
  return new Map(states.filter((s) => s.backend === backend).map((s) => [s.server, s.status]));
}

/** Requests HAProxy has sent to each server of the backend since it started ("show stat" stot). */
async function requestsPerServer(expect: Expectations, access: StackAccess): Promise<Map<string, number>> {
  const states = serverStates(parseShowStat(await access.api("show stat")));
  return new Map(states.filter((s) => s.backend === expect.backend).map((s) => [s.server, s.sessionsTotal]));
}

/** Polls HAProxy until `server`'s status satisfies `wanted`; the time it did (by `now`), or undefined. */
async function waitForStatus(backend: string, access: StackAccess, server: string, wanted: (status: string) => boolean, timeoutMs: number, now: () => number): Promise<number | undefined> {
  return pollUntil(async () => {
    const status = (await statuses(backend, access)).get(server);
    return status !== undefined && wanted(status) ? now() : undefined;
  }, { timeoutMs, intervalMs: 50 });
}

/** What every assertion of one run shares: failover and recovery judge the same kill and restart. */
interface RunContext {
  expect: Expectations;
  access: StackAccess;
  options: RunOptions;
  faultRun?: Promise<FaultRun>;
}

interface AssertionRunner {
  /**
   * It changes what others would measure (takes a server down, kills one, spends a client's rate
   * limit): it runs alone, after the assertions that only look, which run side by side.
   */
  disturbs: boolean;
  run: (context: RunContext) => Promise<AssertionResult>;
}

const faultRun = (context: RunContext) => (context.faultRun ??= failoverAndRecovery(context.expect, context.access));

/** One runner per assertion, keyed by its name: a new name without a runner does not compile. */
const RUNNERS: Record<AssertionName, AssertionRunner> = {
  health: { disturbs: false, run: ({ expect, access }) => health(expect, access) },
  distribution: { disturbs: false, run: ({ expect, access, options }) => unattributable("distribution", expect) ?? distribution(expect, access, options.requests) },
  entrypoints: {
    disturbs: false,
    run: async ({ expect }) => {
      const measured = [];
      for (const ep of expect.entrypoints ?? []) measured.push(await probeEntrypoint(ep, expect.ca, sourceFor(expect), expect.serverNames));
      return expect.entrypoints ? judgeEntrypoints(expect.entrypoints, measured) : { assertion: "entrypoints", verdict: "skip", expected: "-", measured: "the expectations list no entry points" };
    },
  },
  routing: {
    disturbs: false,
    run: async ({ expect }) => {
      const measured = [];
      for (const e of expect.routing ?? []) measured.push(await probeRoute(e, expect.ca, expect.serverNames ?? {}, expect.requestTimeoutMs));
      return judgeRouting(expect.routing ?? [], measured);
    },
  },
  // Its cookie-pinned clients would skew the distribution's turns, and it takes a server down.
  persistence: { disturbs: true, run: ({ expect, access }) => unattributable("persistence", expect) ?? persistence(expect, access) },
  security: {
    disturbs: true,
    run: async ({ expect, access }) => {
      const serverRequests = async () => [...(await requestsPerServer(expect, access)).values()].reduce((a, b) => a + b, 0);
      return judgeSecurity(expect.security, expect.security ? await measureSecurity(expect.frontendUrl, expect.security, expect.ca, sourceFor(expect), { serverRequests }) : {});
    },
  },
  failover: { disturbs: true, run: async (context) => unattributable("failover", context.expect) ?? (await faultRun(context)).failover },
  recovery: { disturbs: true, run: async (context) => unattributable("recovery", context.expect) ?? (await faultRun(context)).recovery },
  tcpFailover: {
    disturbs: true,
    run: async ({ expect, access }) => {
      // One backend at a time: each kills a server of its own, and the next starts from a whole stack.
      const runs: { e: TcpFailoverExpectation; m: TcpFailoverMeasurement }[] = [];
      for (const e of expect.tcpFailovers ?? []) runs.push({ e, m: await tcpFailover(e, expect.ca, access) });
      return judgeTcpFailovers(runs);
    },
  },
};

/**
 * Connections through a TCP frontend, one after another, while one server of its backend is killed
 * and started again: what each showed, and when HAProxy marked the server DOWN and UP.
 */
async function tcpFailover(e: TcpFailoverExpectation, ca: string | undefined, access: StackAccess): Promise<TcpFailoverMeasurement> {
  const started = performance.now();
  const now = () => performance.now() - started;
  const probes: TcpFailoverMeasurement["probes"] = [];
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const t = now();
      const outcome = await probeTcp(new URL(e.url), e.probe, ca);
      probes.push({ t, ...outcome });
      await sleep(20);
    }
  })();
  const waitFor = (wanted: (s: string) => boolean, timeoutMs: number) => waitForStatus(e.backend, access, e.victim, wanted, timeoutMs, now);
  let killedAt = 0;
  let killDoneAt = 0;
  let downAt: number | undefined;
  let listeningAt = 0;
  let upAt: number | undefined;
  try {
    await sleep(500);
    killedAt = now();
    await access.killServer(e.victim);
    killDoneAt = now();
    access.log(`killed ${e.victim}; waiting for HAProxy to mark it DOWN`);
    downAt = await waitFor((s) => s.startsWith("DOWN"), e.interMs * (e.fall + 2) + e.checkTimeoutMs + 5000);
    await sleep(1000);
    // Always started again, so that verify leaves the stack as it found it.
    await access.startServer(e.victim);
    await pollUntil(async () => ((await probeTcp(new URL(e.victimUrl), { probe: "connect" }, undefined)).ok ? true : undefined), { timeoutMs: 20_000, intervalMs: 50 });
    listeningAt = now();
    upAt = await waitFor((s) => s === "UP", e.interMs * (e.rise + 2) + 10_000);
    await sleep(500);
  } finally {
    stop = true;
    await loop;
  }
  return { probes, killedAt, killDoneAt, ...(downAt !== undefined && { downAt }), listeningAt, ...(upAt !== undefined && { upAt }) };
}

/** A skip for an assertion that must tell servers apart, when the backend's answers cannot say which server gave them. */
function unattributable(assertion: AssertionName, expect: Expectations): Promise<AssertionResult> | undefined {
  if (expect.unattributable === undefined) return undefined;
  return Promise.resolve({ assertion, verdict: "skip", expected: "-", measured: expect.unattributable });
}

/** A client of the frontend under test, as every assertion sends: its CA, timeout and server names. */
const clientFor = (expect: Expectations, options: { connections: number; localAddress?: string; perSource?: number }) =>
  new TrafficClient(expect.frontendUrl, { ...options, ca: expect.ca, timeoutMs: expect.requestTimeoutMs, serverNames: expect.serverNames });

/** Under a per-client rate limit each probe comes from a fresh loopback address, else from 127.0.0.1. */
const sourceFor = (expect: Expectations) => () => (expect.perSource !== undefined ? freshLoopbackSource() : undefined);

/**
 * The assertions that only look run side by side; then those that disturb, one at a time, in the
 * order given. When one that looks throws, the others finish (their traffic ends) before the run does.
 */
export async function runInTurn<N extends string, C>(chosen: readonly N[], runners: Readonly<Record<N, { disturbs: boolean; run: (context: C) => Promise<AssertionResult> }>>, context: C): Promise<AssertionResult[]> {
  const byName = new Map<N, AssertionResult>();
  const looking = await Promise.allSettled(chosen.filter((n) => !runners[n].disturbs).map(async (n) => byName.set(n, await runners[n].run(context))));
  const thrown = looking.find((r) => r.status === "rejected");
  if (thrown) throw thrown.reason;
  for (const n of chosen.filter((n) => runners[n].disturbs)) byName.set(n, await runners[n].run(context));
  return chosen.map((n) => byName.get(n)!);
}

/** Runs the selected assertions, in the order of ASSERTIONS. */
export async function runAssertions(expect: Expectations, access: StackAccess, options: RunOptions): Promise<VerifyRun> {
  const context: RunContext = { expect, access, options };
  const results = await runInTurn(ASSERTIONS.filter((n) => options.only.includes(n)), RUNNERS, context);
  const fault = context.faultRun ? await context.faultRun : undefined;
  return { results, timeline: { samples: fault?.samples ?? [], events: fault?.events ?? [] } };
}

async function health(expect: Expectations, access: StackAccess): Promise<AssertionResult> {
  let known = new Map<string, string>();
  let socketAnswers = true;
  try {
    known = await statuses(expect.backend, access);
  } catch (error) {
    socketAnswers = false;
    access.log(`the stats socket did not answer: ${(error as Error).message}`);
  }
  let prometheusTargets: Map<string, string> | undefined;
  if (access.prometheus) {
    const { targetsUrl, jobs } = access.prometheus;
    // A Prometheus that just started knows its targets only after its first scrapes: wait, bounded.
    await pollUntil(async () => {
      prometheusTargets = await scrapeTargets(targetsUrl);
      return jobs.every((job) => prometheusTargets!.get(job) === "up") ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 });
  }
  return judgeHealth(expect, { socketAnswers, known, prometheusTargets, expectedJobs: access.prometheus?.jobs });
}

/** Prometheus's scrape jobs and their health; a Prometheus that does not answer says so as a job. */
async function scrapeTargets(targetsUrl: string): Promise<Map<string, string>> {
  const targets = new Map<string, string>();
  try {
    const body = (await (await fetch(targetsUrl, { signal: AbortSignal.timeout(5000) })).json()) as { data: { activeTargets: { labels: { job: string }; health: string }[] } };
    for (const target of body.data.activeTargets) targets.set(target.labels.job, target.health);
  } catch (error) {
    targets.set("prometheus", `not answering (${(error as Error).message})`);
  }
  return targets;
}

/** The distribution's requests in flight at once: on a busy stack its wait is the queue's, not the servers'. */
const DISTRIBUTION_CONNECTIONS = 16;

async function distribution(expect: Expectations, access: StackAccess, requests: number): Promise<AssertionResult> {
  const statusBefore = await statuses(expect.backend, access);
  // "UP 1/3" (a check failed, not yet marked DOWN) still takes its turns: it is a candidate too.
  const up = [...statusBefore].filter(([, s]) => s.startsWith("UP")).map(([name]) => name);
  const counts = new Map<string, number>();
  const serversByKey = new Map<string, Set<string>>();
  let failures = 0;
  const tally = (key: string | undefined, reply: { server?: string; status?: number }) => {
    if (reply.status !== 200 || !reply.server) return void failures++;
    counts.set(reply.server, (counts.get(reply.server) ?? 0) + 1);
    if (key !== undefined) {
      if (!serversByKey.has(key)) serversByKey.set(key, new Set());
      serversByKey.get(key)!.add(reply.server);
    }
  };

  if (expect.balance === "source") {
    // Distinct clients are distinct source addresses: the loopback range has plenty.
    const addresses = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 2}`);
    for (const address of addresses) {
      const client = clientFor(expect, { connections: 2, localAddress: address });
      for (const reply of await burst(client, Math.max(2, Math.floor(requests / addresses.length)), 2)) tally(address, reply);
      await client.close();
    }
  } else {
    const client = clientFor(expect, { connections: DISTRIBUTION_CONNECTIONS, perSource: expect.perSource });
    // The key the algorithm hashes, 16 values of it: a path, a query parameter, a header.
    const key = (i: number) => (["uri", "url_param", "hdr"].includes(expect.balance) ? `k${i % 16}` : undefined);
    const path = (i: number) => (expect.balance === "uri" ? `/d/${key(i)}` : expect.balance === "url_param" ? `/?${expect.balanceKey}=${key(i)}` : "/");
    const headers = (i: number): Record<string, string> => (expect.balance === "hdr" ? { [expect.balanceKey!]: key(i)! } : {});
    const before = await requestsPerServer(expect, access);
    const replies = await burst(client, requests, DISTRIBUTION_CONNECTIONS, (i) => client.get(path(i), headers(i)));
    replies.forEach((reply, i) => tally(key(i), reply));
    await client.close();
    if (expect.balance === "roundrobin") {
      // Weighted turns are HAProxy's over all the requests it balanced in that window: its own
      // counters see them all, where this client sees only its share of a stack that serves others too.
      // (leastconn follows connections, not turns: there the client's own view is judged.)
      const after = await requestsPerServer(expect, access);
      counts.clear();
      for (const [server, total] of after) if (total - (before.get(server) ?? 0) > 0) counts.set(server, total - (before.get(server) ?? 0));
    }
  }
  return judgeDistribution(expect, { counts, failures, serversByKey, up });
}

async function persistence(expect: Expectations, access: StackAccess): Promise<AssertionResult> {
  if (!expect.cookie) return judgePersistence(expect, { clients: [] });
  const client = clientFor(expect, { connections: 4, perSource: expect.perSource });
  try {
    // Four clients side by side, each one's requests in turn (its cookie comes from its first answer).
    const clients = await Promise.all(
      [0, 1, 2, 3].map(async () => {
        const first = await client.get();
        const cookie = first.setCookie?.startsWith(`${expect.cookie}=`) ? first.setCookie : undefined;
        const servedBy: string[] = [];
        for (let i = 0; i < 10; i++) {
          const reply = await client.get("/", cookie ? { cookie } : {});
          servedBy.push(reply.server ?? `(${reply.error ?? reply.status})`);
        }
        return { cookie, firstServer: first.server, servedBy };
      }),
    );
    const pinned = clients.find((c) => c.cookie && c.firstServer);
    let downServer: { server: string; status: number; servedBy: string | undefined } | undefined;
    if (pinned && canRedispatch(expect)) {
      const server = pinned.firstServer!;
      const now = () => Date.now();
      await access.api(`set server ${expect.backend}/${server} health down`);
      try {
        await waitForStatus(expect.backend, access, server, (s) => s.startsWith("DOWN"), 5000, now);
        const reply = await client.get("/", { cookie: pinned.cookie! });
        downServer = { server, status: reply.status ?? 0, servedBy: reply.server };
      } finally {
        await access.api(`set server ${expect.backend}/${server} health up`);
        const s = expect.servers.find((x) => x.name === server);
        await waitForStatus(expect.backend, access, server, (st) => st === "UP", s ? recoveryBoundMs(s) + 5000 : 15_000, now);
      }
    }
    return judgePersistence(expect, { clients: clients.map(({ cookie, firstServer, servedBy }) => ({ gotCookie: cookie !== undefined, firstServer, servedBy })), downServer });
  } finally {
    await client.close();
  }
}

interface FaultRun {
  samples: TrafficSample[];
  events: TimelineEvent[];
  failover: AssertionResult;
  recovery: AssertionResult;
}

async function failoverAndRecovery(expect: Expectations, access: StackAccess): Promise<FaultRun> {
  const victim = expect.servers.find((s) => s.active)!;
  const events: TimelineEvent[] = [];
  const client = clientFor(expect, { connections: 8, perSource: expect.perSource });
  const traffic = backgroundTraffic(client, { concurrency: 8, maxMs: 60_000, maxRequests: 500_000 });
  let downAt: number | undefined;
  let listeningAt = 0;
  let upAt: number | undefined;
  let killedAt = 0;
  let restartedAt = Number.POSITIVE_INFINITY;
  try {
    await sleep(1000);
    killedAt = traffic.now();
    await access.killServer(victim.name);
    events.push({ t: killedAt, label: `${victim.name} killed` });
    access.log(`killed ${victim.name}; waiting for HAProxy to mark it DOWN`);
    downAt = await waitForStatus(expect.backend, access, victim.name, (s) => s.startsWith("DOWN"), failoverBoundMs(expect, victim) + 5000, traffic.now);
    if (downAt !== undefined) events.push({ t: downAt, label: `${victim.name} DOWN` });
    // Traffic after DOWN, to show it all goes to the others: at least 1.5 s of it, and some answers.
    // Requests HAProxy had sent to a server that vanished without a reset (a stopped container) wait
    // out timeout connect before their retry, holding every client connection meanwhile.
    await sleep(1500);
    const answeredAfterDown = () => traffic.samples().filter((s) => downAt !== undefined && s.t > downAt && s.status !== undefined).length;
    await pollUntil(() => (answeredAfterDown() >= 20 ? true : undefined), { timeoutMs: (expect.requestTimeoutMs ?? 5000) + 2000, intervalMs: 100 });

    // Always start it again, so that verify leaves the stack as it found it.
    restartedAt = traffic.now();
    await access.startServer(victim.name);
    await pollUntil(async () => ((await fetch(await access.serverHealthUrl(victim.name), { signal: AbortSignal.timeout(500) })).ok ? true : undefined), { timeoutMs: 20_000, intervalMs: 50 });
    listeningAt = traffic.now();
    events.push({ t: listeningAt, label: `${victim.name} answers again` });
    access.log(`restarted ${victim.name}; waiting for HAProxy to mark it UP`);
    upAt = await waitForStatus(expect.backend, access, victim.name, (s) => s === "UP", recoveryBoundMs(victim) + 10_000, traffic.now);
    if (upAt !== undefined) events.push({ t: upAt, label: `${victim.name} UP` });
    await sleep(1500);
  } finally {
    await traffic.stop();
    await client.close();
  }
  const samples = [...traffic.samples()];
  return {
    samples,
    events,
    failover: judgeFailover(expect, { server: victim.name, samples, killedAt, restartedAt, downAt }),
    recovery: judgeRecovery(expect, { server: victim.name, samples, listeningAt, upAt }),
  };
}
