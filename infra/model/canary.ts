// Progressive delivery, the model's part: a backend's canary is some of its servers (the new
// version) that take a growing share of its traffic, step by step, each step judged by its metrics
// in Prometheus before the next. Blue/green is one step of 100.
import { z } from "zod";
import { durationProblem } from "../../haproxy/duration.ts";
import { Name, intIn, show } from "./names.ts";
import { Condition, kindsIn, TCP_CONDITION_KINDS } from "./routing.ts";

const Interval = z.string().check((ctx) => {
  const problem = durationProblem(ctx.value);
  if (problem !== undefined) ctx.issues.push({ code: "custom", input: ctx.value, message: problem });
});

/** A check of the canary's own series: a PromQL expression and the bound its value must keep. */
export const CanaryQuery = z
  .strictObject({
    name: Name.describe("What the rollout's status calls it."),
    query: z.string().min(1).max(2000).refine((q) => !/[\r\n]/.test(q), { error: "a query is one line" }).describe("PromQL with placeholders: $backend, $canary and $stable (the servers' names as a regular expression for server=~\"...\"), $window (the interval, e.g. 30s). One number, or one series."),
    max: z.number().optional().describe("The value must be at most this."),
    min: z.number().optional().describe("The value must be at least this."),
  })
  .refine((q) => q.max !== undefined || q.min !== undefined, { error: "a query needs a bound: max, min or both" }).meta({ id: "CanaryQuery" });

export const CanaryAnalysis = z.strictObject({
  successRatio: z.number().gt(0, { error: (iss) => `${show(iss.input)} is not a ratio: use a number above 0, at most 1` }).max(1, { error: (iss) => `${show(iss.input)} is not a ratio: use a number above 0, at most 1` }).default(0.99).describe("The share of the canary's answers that are not 5xx, at least (Flagger's request-success-rate: 99 %)."),
  maxResponseMs: intIn(1, 600_000, "a response time in ms").default(500).describe("The canary's response time at responsePercentile, at most (Flagger's request-duration: p99 ≤ 500 ms), from HAProxy's own timer Tr (the request sent to the server until its response headers came back). HAProxy counts, per server, the answers slower than this; the check holds while at most (100 − responsePercentile) % of the canary's answers in an interval are among them."),
  responsePercentile: z.number().min(50, { error: (iss) => `${show(iss.input)} is not a percentile to judge: use 50 to 99.9` }).max(99.9, { error: (iss) => `${show(iss.input)} is not a percentile to judge: use 50 to 99.9` }).default(99).describe("The percentile of the canary's response times that maxResponseMs bounds."),
  minRequests: intIn(1, 1_000_000, "a request count").default(20).describe("Fewer answers from the canary than this in an interval judge nothing: the step waits (inconclusive)."),
  queries: z.array(CanaryQuery).default([]).describe("More checks, each a PromQL query and the bound its value must keep."),
}).meta({ id: "CanaryAnalysis" });

export const Canary = z.strictObject({
  servers: z.array(Name).min(1, { error: "a canary needs at least one server" }).optional().describe("The backend's servers that run the new version (listed in the backend's servers); or group."),
  group: Name.optional().describe("The backend's discovered group (its discovery's name) runs the new version: its slots are the canary, the listed servers the stable set. Each step's weights follow the slots DNS fills."),
  steps: z.array(intIn(1, 100, "a share in percent")).min(1).default([5, 10, 25, 50, 100]).describe("The canary's share of the backend's traffic at each step, in percent, rising to 100."),
  interval: Interval.default("30s").describe("How long each step runs before it is judged."),
  failureLimit: intIn(1, 100, "a failure count").default(1).describe("Failed analyses (not inconclusive ones) before the rollout aborts."),
  analysis: CanaryAnalysis.prefault({}).describe("How each step is judged: from HAProxy's own counters, and optional Prometheus queries."),
  pin: Condition.optional().describe("Requests that match go to the canary whatever the step, even before a rollout (at weight 0): testers pin themselves with a header or a cookie, e.g. { header: { name: \"X-Canary\", equals: \"always\" } }. Several canary servers share them at random. After an abort they follow onAbort, as sessions do."),
  onAbort: z.enum(["move-sessions", "keep-sessions"], { error: (iss) => `${show(iss.input)} is not what an abort does to pinned sessions: use "move-sessions" or "keep-sessions"` }).default("move-sessions").describe("Sessions the persistence cookie (or a pin) holds on the canary when a rollout aborts: \"move-sessions\" puts the canary's servers in maintenance, so that their cookies are no longer honoured and each such session's next request goes to a stable server (the next rollout puts them back); \"keep-sessions\" leaves them at weight 0, where pinned sessions finish on the canary."),
}).meta({ id: "Canary" });

export type Canary = z.output<typeof Canary>;
export type CanaryAnalysis = z.output<typeof CanaryAnalysis>;

/** A pinned group renders a rule per slot: beyond this many slots, every request would test too many. */
export const MAX_PINNED_SLOTS = 100;

/** What the backend around a canary offers it: its listed servers' names and its discovered group. */
export interface CanaryBackend {
  serverNames: readonly string[];
  group?: { name: string; maxServers: number };
}

/** What a backend's canary must say of its servers and steps, as issues with their paths under the canary. */
export function canaryIssues(canary: Canary, backend: CanaryBackend): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  const { serverNames, group } = backend;
  if ((canary.servers === undefined) === (canary.group === undefined)) issues.push({ path: [], message: "a canary is either servers (listed) or group (discovered): give exactly one" });
  if (canary.group !== undefined) {
    if (group === undefined) issues.push({ path: ["group"], message: `${show(canary.group)}: this backend discovers no group: add discovery, or list the canary's servers` });
    else if (group.name !== canary.group) issues.push({ path: ["group"], message: `${show(canary.group)} is not this backend's discovered group: its group is ${show(group.name)}` });
    else {
      if (serverNames.length === 0) issues.push({ path: ["group"], message: "a group canary needs listed servers beside it: they are the stable set to compare with and fall back to" });
      if (canary.pin !== undefined && group.maxServers > MAX_PINNED_SLOTS) issues.push({ path: ["pin"], message: `a pin on a group renders a rule per slot: at most ${MAX_PINNED_SLOTS} slots (maxServers is ${group.maxServers})` });
    }
  }
  if (canary.pin !== undefined) {
    const kinds = kindsIn(canary.pin);
    const wrong = [...new Set(kinds.filter((k) => TCP_CONDITION_KINDS.includes(k) || k === "condition"))];
    if (wrong.length) issues.push({ path: ["pin"], message: `${wrong.join(", ")}: a pin tests the request itself (header, query, path, host, source...): a backend has no named conditions and sees no TLS ClientHello` });
  }
  const listed = canary.servers ?? [];
  listed.forEach((name, i) => {
    if (!serverNames.includes(name)) issues.push({ path: ["servers", i], message: `${show(name)} is not a server of this backend: list it in servers first` });
  });
  if (listed.length > 0 && group === undefined && serverNames.every((n) => listed.includes(n))) issues.push({ path: ["servers"], message: "every server is in the canary: keep at least one stable server to compare with and fall back to" });
  canary.steps.forEach((step, i) => {
    if (i > 0 && step <= canary.steps[i - 1]!) issues.push({ path: ["steps", i], message: `${step} does not rise above ${canary.steps[i - 1]}: steps go up to 100` });
  });
  if (canary.steps.at(-1) !== 100) issues.push({ path: ["steps"], message: "the last step is 100: the canary takes all the traffic before it is promoted" });
  return issues;
}
