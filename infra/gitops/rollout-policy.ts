// A canary rollout's pure parts: each step's server weights, the PromQL that measures the canary
// over an interval, and the verdict on what it measured (pass, fail, or inconclusive: never
// promote blind).
import { parseDuration } from "../../haproxy/duration.ts";
import type { Canary, CanaryAnalysis } from "../model/canary.ts";
import { canaryServerNames, groupSlotNames, type Backend, type Topology } from "../model/schema.ts";
import type { RolloutState } from "../../sidecar/rollouts.ts";

/** HAProxy's largest server weight. */
const MAX_WEIGHT = 256;

export type Weights = Record<string, number>;

type WeightedServer = Pick<Backend["servers"][number], "name" | "weight" | "backup" | "disabled">;

const active = (s: WeightedServer) => !s.backup && !s.disabled && s.weight > 0;

/**
 * The weight of each active server when the canary takes `percent` of the traffic: the canary's
 * servers share it in proportion to their own weights, the stable servers the rest in theirs,
 * scaled to HAProxy's 1..256. 0 is the stable set alone and 100 the canary alone, each at its own weights.
 */
export function stepWeights(servers: readonly WeightedServer[], canary: readonly string[], percent: number): Weights {
  const live = servers.filter(active);
  const [inCanary, stable] = [live.filter((s) => canary.includes(s.name)), live.filter((s) => !canary.includes(s.name))];
  const sum = (list: WeightedServer[]) => list.reduce((n, s) => n + s.weight, 0);
  const [c, s] = [sum(inCanary), sum(stable)];
  // Canary share = c·fc / (c·fc + s·fs) = percent / 100 with fs = 100 − percent, fc = percent·s / c.
  const raw = new Map<string, number>([
    ...stable.map((x) => [x.name, percent >= 100 ? 0 : percent <= 0 ? x.weight : x.weight * (100 - percent)] as const),
    ...inCanary.map((x) => [x.name, percent <= 0 ? 0 : percent >= 100 ? x.weight : (x.weight * percent * s) / c] as const),
  ]);
  const top = Math.max(...raw.values());
  const scale = top > MAX_WEIGHT ? MAX_WEIGHT / top : 1;
  return Object.fromEntries([...raw].map(([name, w]) => [name, w === 0 ? 0 : Math.max(1, Math.round(w * scale))]));
}

/**
 * A backend's weights when its canary takes `percent`: its listed servers and the discovered slots
 * in traffic now (`slotsInTraffic`) weighed as stepWeights does. Every slot of the group takes the
 * weight of one in traffic, so that an instance DNS adds mid-step enters at its share; with none in
 * traffic yet, the slots are weighed as if one were.
 */
export function backendStepWeights(backend: Pick<Backend, "servers" | "discovery" | "canary">, percent: number, slotsInTraffic: readonly string[]): Weights {
  const group = backend.discovery;
  const slots = group ? groupSlotNames(group) : [];
  const filled = slots.filter((slot) => slotsInTraffic.includes(slot));
  const weighed = filled.length === 0 && slots.length > 0 ? [slots[0]!] : filled;
  const members: WeightedServer[] = [...backend.servers, ...weighed.map((name) => ({ name, weight: group!.weight, backup: false, disabled: false }))];
  const weights = stepWeights(members, canaryServerNames(backend), percent);
  const slotWeight = weighed.length ? weights[weighed[0]!] : undefined;
  for (const slot of slots) {
    if (slotWeight === undefined) delete weights[slot];
    else weights[slot] = slotWeight;
  }
  return weights;
}

/**
 * The weights a rollout in progress has set (running or paused, with a step still to pass): what
 * drift and the distribution check expect of the backend instead of its configured weights.
 * Undefined once it is promoted or aborted (the configured weights hold again), or for a backend gone.
 */
export function rolloutWeights(topology: Pick<Topology, "backends">, state: Pick<RolloutState, "backend" | "canary" | "steps" | "step" | "phase" | "weights">): Weights | undefined {
  const backend = topology.backends.find((b) => b.name === state.backend);
  if (!backend || (state.phase !== "running" && state.phase !== "paused") || state.step >= state.steps.length) return undefined;
  return state.weights ?? stepWeights(backend.servers, state.canary, state.steps[state.step]!);
}

/** What a rollout's state makes of its backend at runtime: what drift expects instead of the configuration. */
export interface RolloutExpectation {
  phase: RolloutState["phase"];
  /** The current step's share, while it runs or pauses. */
  percent?: number;
  /** The current step's weights, while it runs or pauses. */
  weights?: Weights;
  /** Servers an abort put in maintenance (onAbort: move-sessions). */
  maintenance?: string[];
}

export function rolloutExpectation(topology: Pick<Topology, "backends">, state: Pick<RolloutState, "backend" | "canary" | "steps" | "step" | "phase" | "weights">): RolloutExpectation | undefined {
  const weights = rolloutWeights(topology, state);
  if (weights) return { phase: state.phase, percent: state.steps[state.step]!, weights };
  const backend = topology.backends.find((b) => b.name === state.backend);
  if (state.phase === "aborted" && backend?.canary?.onAbort === "move-sessions") return { phase: state.phase, maintenance: state.canary };
  return undefined;
}

/** The canary's share of the traffic the weights give (what the distribution check should see). */
export const canaryShare = (weights: Weights, canary: readonly string[]): number => {
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  return total === 0 ? 0 : Object.entries(weights).filter(([n]) => canary.includes(n)).reduce((a, [, w]) => a + w, 0) / total;
};

/** Server names as a PromQL regular expression (names are [A-Za-z0-9_.:-]: only "." needs escaping); a group's slots by their prefix. */
const serverRegex = (names: readonly string[], group?: string) => [...names.map((n) => n.replace(/\./g, "\\\\.")), ...(group === undefined ? [] : [`${group.replace(/\./g, "\\\\.")}[1-9][0-9]*`])].join("|");

/** The canary's and the stable set's servers as PromQL regular expressions for server=~"...". */
export function serverPatterns(backend: Pick<Backend, "servers" | "discovery" | "canary">): { canary: string; stable: string } {
  const canary = backend.canary!;
  const group = backend.discovery?.name;
  const listedCanary = canary.servers ?? [];
  const stable = backend.servers.filter((s) => !listedCanary.includes(s.name)).map((s) => s.name);
  return canary.group !== undefined ? { canary: serverRegex([], group), stable: serverRegex(stable) } : { canary: serverRegex(listedCanary), stable: serverRegex(stable, group) };
}

export interface AnalysisQueries {
  requests: string;
  errors: string;
  /** The canary's answers slower than maxResponseMs (counted by HAProxy, exported by the sidecar). */
  slow: string;
  stableRequests: string;
  stableErrors: string;
  custom: { name: string; query: string; max?: number; min?: number }[];
}

/** The PromQL that measures the canary (and, for context, the stable servers) over the last `window`. */
export function analysisQueries(backend: Pick<Backend, "name" | "servers" | "discovery" | "canary">, window: string): AnalysisQueries {
  const canary = backend.canary!;
  const patterns = serverPatterns(backend);
  const answers = (servers: string, code?: string) => `sum(increase(haproxy_server_http_responses_total{proxy="${backend.name}",server=~"${servers}"${code ? `,code="${code}"` : ""}}[${window}]))`;
  const fill = (q: string) => q.replaceAll("$backend", backend.name).replaceAll("$canary", patterns.canary).replaceAll("$stable", patterns.stable).replaceAll("$window", window);
  return {
    requests: answers(patterns.canary),
    errors: answers(patterns.canary, "5xx"),
    slow: `sum(increase(haproxy_sidecar_server_slow_responses_total{proxy="${backend.name}",server=~"${patterns.canary}"}[${window}]))`,
    stableRequests: answers(patterns.stable),
    stableErrors: answers(patterns.stable, "5xx"),
    custom: canary.analysis.queries.map((q) => ({ name: q.name, query: fill(q.query), ...(q.max !== undefined && { max: q.max }), ...(q.min !== undefined && { min: q.min }) })),
  };
}

/** What one analysis measured; undefined where Prometheus had no value. */
export interface AnalysisMeasurement {
  requests?: number;
  errors?: number;
  slow?: number;
  stableRequests?: number;
  stableErrors?: number;
  custom: { name: string; value?: number; max?: number; min?: number }[];
}

export type Verdict = "pass" | "fail" | "inconclusive";

export interface AnalysisVerdict {
  verdict: Verdict;
  /** Each check's finding, for the log, the status and the alert. */
  findings: string[];
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/** The verdict on one interval: any failed check fails it; else any missing number leaves it inconclusive. */
export function judgeAnalysis(analysis: CanaryAnalysis, m: AnalysisMeasurement): AnalysisVerdict {
  const failed: string[] = [];
  const unknown: string[] = [];
  const passed: string[] = [];
  if (m.requests === undefined || m.errors === undefined) unknown.push("no data for the canary's answers (Prometheus has no series yet, or is not answering)");
  else if (m.requests < analysis.minRequests) unknown.push(`the canary answered ${Math.round(m.requests)} requests, fewer than ${analysis.minRequests}: too few to judge`);
  else {
    const success = 1 - m.errors / m.requests;
    const stable = m.stableRequests ? ` (stable servers: ${pct(1 - (m.stableErrors ?? 0) / m.stableRequests)})` : "";
    (success < analysis.successRatio ? failed : passed).push(`success ratio ${pct(success)} of ${Math.round(m.requests)} answers, ${success < analysis.successRatio ? "below" : "at least"} ${pct(analysis.successRatio)}${stable}`);
  }
  const p = `p${analysis.responsePercentile}`;
  if (m.slow === undefined) unknown.push(`no count of the canary's slow answers (haproxy_sidecar_server_slow_responses_total): its ${p} response time is unknown`);
  else if (m.requests !== undefined && m.requests >= analysis.minRequests) {
    // The percentile is within the bound exactly when at most (100 − percentile) % of the answers are slower.
    const [share, allowed] = [m.slow / m.requests, (100 - analysis.responsePercentile) / 100];
    (share > allowed ? failed : passed).push(`${p} response time ${share > allowed ? "over" : "within"} ${analysis.maxResponseMs} ms: ${pct(share)} of the answers slower (at most ${pct(allowed)})`);
  }
  for (const q of m.custom) {
    if (q.value === undefined) unknown.push(`${q.name}: no value`);
    else if ((q.max !== undefined && q.value > q.max) || (q.min !== undefined && q.value < q.min)) failed.push(`${q.name} = ${q.value}, outside ${q.min ?? "-∞"}..${q.max ?? "∞"}`);
    else passed.push(`${q.name} = ${q.value}`);
  }
  const verdict: Verdict = failed.length ? "fail" : unknown.length ? "inconclusive" : "pass";
  return { verdict, findings: [...failed, ...unknown, ...passed] };
}

/**
 * What runs once a canary is promoted, as a topology: the canary's servers at their own weights,
 * the former stable servers at 0 (kept, drained, until a change removes them), no canary left.
 */
export function promotedTopology(topology: Topology, backendName: string): Topology {
  return {
    ...topology,
    backends: topology.backends.map((b) => {
      if (b.name !== backendName || !b.canary) return b;
      const { canary, ...rest } = b;
      const groupIsCanary = canary.group !== undefined;
      return {
        ...rest,
        servers: b.servers.map((s) => (canary.servers?.includes(s.name) ? s : { ...s, weight: 0 })),
        ...(b.discovery && { discovery: groupIsCanary ? b.discovery : { ...b.discovery, weight: 0 } }),
      };
    }),
  };
}

/** What a plan shows of a canary a change brings or alters: its steps, its checks, how long it takes at least. */
export interface RolloutPreview {
  backend: string;
  canary: string[];
  steps: number[];
  interval: string;
  /** Every step passing at its first analysis: steps × interval. */
  atLeastMs: number;
  checks: string[];
  command: string;
}

/** What makes a release: the servers that run it and the steps it takes. Its pin, checks and onAbort only tune the next rollout. */
const release = (canary: Canary | undefined) => canary && JSON.stringify([canary.servers, canary.group, canary.steps]);

/** The rollouts a change starts: a canary that appears, or whose servers or steps change. */
export function rolloutPreviews(base: Pick<Topology, "backends"> | undefined, head: Pick<Topology, "backends">): RolloutPreview[] {
  return head.backends.flatMap((b) => {
    const before = base?.backends.find((x) => x.name === b.name)?.canary;
    if (!b.canary || release(before) === release(b.canary)) return [];
    const a = b.canary.analysis;
    return [{
      backend: b.name,
      canary: b.canary.group !== undefined ? [`group ${b.canary.group}`] : b.canary.servers!,
      steps: b.canary.steps,
      interval: b.canary.interval,
      atLeastMs: b.canary.steps.length * parseDuration(b.canary.interval),
      checks: [`success ratio ≥ ${(a.successRatio * 100).toFixed(1)} %`, `p${a.responsePercentile} response time ≤ ${a.maxResponseMs} ms`, `at least ${a.minRequests} requests per interval`, ...a.queries.map((q) => `${q.name} within ${q.min ?? "-∞"}..${q.max ?? "∞"}`), `abort after ${b.canary.failureLimit} failed analyses`],
      command: `npm run rollout -- ${b.name}`,
    }];
  });
}

/** "flask_servers: web-c at 10 → 50 → 100 % every 20s (at least 60 s): success ratio ≥ 99.0 %, ...; npm run rollout -- flask_servers" */
export const rolloutPreviewLine = (r: RolloutPreview) => `${r.backend}: ${r.canary.join(", ")} at ${r.steps.join(" → ")} % every ${r.interval} (at least ${Math.round(r.atLeastMs / 1000)} s): ${r.checks.join(", ")}; then ${r.command}`;
