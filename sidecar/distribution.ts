// The continuous distribution check: from HAProxy's own per-server counters between polls, each
// server's share of its backend's requests over a sliding window, against the share its weight and
// state imply. It needs no synthetic traffic, so it runs in production. Also: where the running
// HAProxy differs from what the topology says (weights, admin state, servers), i.e. drift.
//
// Which algorithms can be judged: under roundrobin, static-rr and random every request is a turn
// shared by weight, so the observed share must follow the weight share. Under leastconn the share
// follows how long requests last on each server, under source/uri/hdr/url_param it follows the
// clients' keys, and "first" fills servers in order: for these the observed share is exported but no
// expected share or skew, since a weight does not predict it.
import { field, type StatRow } from "../haproxy/show-stat.ts";
import { serverState } from "./exposition.ts";
import { parseStateFile, type StateFileFormat } from "../lib/state-file.ts";

/** The algorithms whose traffic shares follow the servers' weights. */
export const WEIGHT_SHARED_ALGORITHMS: readonly string[] = ["roundrobin", "static-rr", "random"];

/** Below this many requests in the window a share says little: no skew is judged. */
export const MIN_JUDGED_REQUESTS = 20;

/** What the topology says of each backend, as the sidecar reads it (written by npm start, apply and the agent). */
export interface ExpectedDistribution {
  backends: {
    name: string;
    algorithm: string;
    /** Its check passes on the primary only: exactly one server UP is healthy (absent: false). */
    primaryOnly?: boolean;
    /** discovered: a slot of a DNS-discovered group, in maintenance whenever DNS gives it no address. */
    servers: { name: string; weight: number; disabled: boolean; backup: boolean; discovered?: boolean }[];
  }[];
}

/**
 * The expected-distribution file: written by npm start, every apply and the apply agent; read here
 * (again whenever it changes).
 */
export const EXPECTED_DISTRIBUTION_FORMAT: StateFileFormat<ExpectedDistribution> = {
  describes: "the topology's weights for the distribution check and drift",
  version: 1,
  validate: (document) => {
    const backends = document.backends;
    if (!Array.isArray(backends)) throw new Error('no "backends" list');
    backends.forEach((b, i) => {
      const ok =
        typeof b?.name === "string" &&
        typeof b?.algorithm === "string" &&
        Array.isArray(b?.servers) &&
        b.servers.every((s: unknown) => {
          const server = s as { name?: unknown; weight?: unknown; disabled?: unknown; backup?: unknown };
          return typeof server?.name === "string" && typeof server.weight === "number" && typeof server.disabled === "boolean" && typeof server.backup === "boolean";
        });
      if (!ok) throw new Error(`backends[${i}] needs name, algorithm and servers of { name, weight, disabled, backup }`);
    });
    return document as unknown as ExpectedDistribution;
  },
  fix: "apply the topology again (npm run apply), which rewrites it",
};

/** The expected distribution in `text`; a STATE_FILE_* error naming `file` when it is not one. */
export function parseExpectedDistribution(text: string, file: string): ExpectedDistribution {
  return parseStateFile(file, text, EXPECTED_DISTRIBUTION_FORMAT);
}

/** One server as HAProxy reports it in one poll. */
export interface ServerSample {
  proxy: string;
  server: string;
  /** Cumulative sessions sent to the server (stot): the counter shares are taken from. */
  sessions: number;
  state: ReturnType<typeof serverState>;
  /** The weight set by configuration or the runtime API (uweight), before slowstart scaling. */
  weight: number;
}

export function serverSamples(rows: readonly StatRow[]): ServerSample[] {
  return rows
    .filter((r) => r.kind === "server")
    .map((r) => ({
      proxy: r.proxy,
      server: r.name,
      sessions: Number(field(r, "stot") ?? 0),
      state: serverState(field(r, "status") ?? ""),
      weight: Number(field(r, "uweight") ?? field(r, "weight") ?? 0),
    }));
}

export interface ServerShare {
  proxy: string;
  server: string;
  observed: number;
  /** Absent where the algorithm's shares do not follow weights. */
  expected?: number;
}

export interface BackendJudgement {
  proxy: string;
  /** Requests the backend's servers took in the window. */
  requests: number;
  /** max |observed − expected| over its servers; absent when it cannot be judged (see `why`). */
  skew?: number;
  why?: string;
}

export interface DriftItem {
  proxy: string;
  server: string;
  reason: "missing" | "unexpected" | "weight" | "state";
}

export interface DistributionJudgement {
  shares: ServerShare[];
  backends: BackendJudgement[];
}

const key = (s: { proxy: string; server: string }) => `${s.proxy}/${s.server}`;

/**
 * Pure: two polls (the oldest in the window and the newest) and the expected topology → each
 * server's observed and expected share, and each backend's skew.
 */
export function judgeDistribution(oldest: readonly ServerSample[], newest: readonly ServerSample[], expected: ExpectedDistribution): DistributionJudgement {
  const before = new Map(oldest.map((s) => [key(s), s]));
  const shares: ServerShare[] = [];
  const backends: BackendJudgement[] = [];
  for (const backend of expected.backends) {
    const servers = newest.filter((s) => s.proxy === backend.name);
    if (servers.length === 0) continue;
    // A counter that went backwards (HAProxy restarted) restarts from zero.
    const delta = servers.map((s) => {
      const then = before.get(key(s))?.sessions ?? 0;
      return s.sessions >= then ? s.sessions - then : s.sessions;
    });
    const requests = delta.reduce((a, b) => a + b, 0);
    if (requests === 0) {
      backends.push({ proxy: backend.name, requests, why: "no requests in the window" });
      continue;
    }
    const weightShared = WEIGHT_SHARED_ALGORITHMS.includes(backend.algorithm);
    // Backup servers take traffic only while no active server is UP (and then share it by weight).
    const declared = new Map(backend.servers.map((s) => [s.name, s]));
    const activeUp = servers.some((s) => s.state === "UP" && declared.get(s.server)?.backup === false && !declared.get(s.server)?.disabled);
    const serving = (s: ServerSample) => {
      const d = declared.get(s.server);
      return d && s.state === "UP" && !d.disabled && d.backup !== activeUp ? d.weight : 0;
    };
    const totalWeight = servers.reduce((sum, s) => sum + serving(s), 0);
    servers.forEach((s, i) => {
      shares.push({
        proxy: s.proxy,
        server: s.server,
        observed: delta[i] / requests,
        ...(weightShared && totalWeight > 0 && { expected: serving(s) / totalWeight }),
      });
    });
    const stateChanged = servers.some((s) => before.has(key(s)) && before.get(key(s))!.state !== s.state);
    const why = !weightShared
      ? `${backend.algorithm} does not share requests by weight`
      : totalWeight === 0
        ? "no server with weight is UP"
        : requests < MIN_JUDGED_REQUESTS
          ? `fewer than ${MIN_JUDGED_REQUESTS} requests in the window`
          : stateChanged
            ? "a server changed state in the window"
            : undefined;
    const judged = shares.filter((s) => s.proxy === backend.name);
    backends.push({
      proxy: backend.name,
      requests,
      ...(why === undefined ? { skew: Math.max(...judged.map((s) => Math.abs(s.observed - (s.expected ?? 0)))) } : { why }),
    });
  }
  return { shares, backends };
}

/**
 * Pure: where the running HAProxy differs from the topology: a server missing or unexpected, a
 * weight set behind the topology's back, a server in maintenance or drain by hand (or enabled
 * while the topology disables it). A server DOWN by its checks is operational state, not drift.
 */
export function findDrift(samples: readonly ServerSample[], expected: ExpectedDistribution): DriftItem[] {
  const drift: DriftItem[] = [];
  for (const backend of expected.backends) {
    const running = new Map(samples.filter((s) => s.proxy === backend.name).map((s) => [s.server, s]));
    for (const server of backend.servers) {
      const sample = running.get(server.name);
      running.delete(server.name);
      if (!sample) drift.push({ proxy: backend.name, server: server.name, reason: "missing" });
      else if (server.discovered && sample.state === "MAINT") continue; // an empty slot (or one drained by DNS)
      else if (server.disabled !== (sample.state === "MAINT")) drift.push({ proxy: backend.name, server: server.name, reason: "state" });
      else if (!server.disabled && sample.state === "DRAIN") drift.push({ proxy: backend.name, server: server.name, reason: "state" });
      else if (sample.weight !== server.weight) drift.push({ proxy: backend.name, server: server.name, reason: "weight" });
    }
    for (const extra of running.keys()) drift.push({ proxy: backend.name, server: extra, reason: "unexpected" });
  }
  return drift;
}

/** A backend whose check finds the primary, and how many of its servers are UP now (1 is healthy). */
export interface PrimaryCount {
  proxy: string;
  up: number;
}

/** Pure: the UP servers of each backend whose check passes on the primary only. */
export function primaryCounts(samples: readonly ServerSample[], expected: ExpectedDistribution): PrimaryCount[] {
  return expected.backends.filter((b) => b.primaryOnly === true).map((b) => ({ proxy: b.name, up: samples.filter((s) => s.proxy === b.name && s.state === "UP").length }));
}

/** The polls inside the window: the oldest kept is the base the shares are measured from. */
export class SampleWindow {
  private readonly polls: { atMs: number; samples: ServerSample[] }[] = [];

  constructor(private readonly windowMs: number) {}

  add(atMs: number, samples: ServerSample[]): void {
    this.polls.push({ atMs, samples });
    // Keep the newest poll that is at least a window old, as the base.
    while (this.polls.length > 2 && this.polls[1].atMs <= atMs - this.windowMs) this.polls.shift();
  }

  /** The base and the newest poll; undefined before two polls. */
  span(): { oldest: ServerSample[]; newest: ServerSample[] } | undefined {
    if (this.polls.length < 2) return undefined;
    return { oldest: this.polls[0].samples, newest: this.polls[this.polls.length - 1].samples };
  }
}
