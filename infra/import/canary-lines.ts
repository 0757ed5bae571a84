// A backend's canary as the stack writes it, read back: the canary's slow answers counted per server
// (a timer, a track-sc into the lb_slow_<backend> table, a gpc0 increment past the bound), and its pin
// (use-server CANARY if TEST, spread at random over several canary servers). What HAProxy is never
// told (the steps, their interval, the analysis's other bounds) keeps the model's defaults.
import type { Location, Section } from "../../haproxy/config-parser.ts";
import { conditionOf, inlineConditions, joinAclLines } from "./conditions.ts";
import { type Context, type Outcome, text } from "./context.ts";

/** The table the stack counts a backend's slow answers in. */
export const SLOW_ANSWER_TABLE_PREFIX = "lb_slow_";
/** Sized by the backend's servers and slots. */
const SLOW_TABLE_LINE = /^stick-table type string len 64 size \d+ expire 24h store gpc0$/;

/** backend lb_slow_NAME holding only the slow-answer table: the stack's, for NAME's canary. */
export const isSlowAnswerTable = (section: Section): boolean =>
  section.kind === "backend" && (section.name ?? "").startsWith(SLOW_ANSWER_TABLE_PREFIX) && section.directives.length === 1 && SLOW_TABLE_LINE.test(text(section.directives[0]!));

/** An http-response line of the canary's slow-answer counting, in the backend it counts for. */
export function slowAnswerLine(rule: string, ctx: Context): Outcome | undefined {
  const backend = ctx.backend;
  if (!backend || ctx.frontend) return undefined;
  if (rule === 'set-var-fmt(txn.lb_response_ms) "%Tr"' || rule === "set-var-fmt(txn.lb_response_ms) %Tr") return { field: `backends.${backend.name}.canary.analysis.maxResponseMs` };
  const bound = new RegExp(`^(?:track-sc\\d srv_name table ${SLOW_ANSWER_TABLE_PREFIX}${backend.name}|sc-inc-gpc0\\(\\d\\)) if \\{ var\\(txn\\.lb_response_ms\\) -m int gt (\\d+) \\}$`).exec(rule);
  if (!bound) return undefined;
  ctx.canary.maxResponseMs = Number(bound[1]);
  return { field: `backends.${backend.name}.canary.analysis.maxResponseMs` };
}

/** use-server SERVER if TEST: a request the pin matches goes to a canary server. */
export function useServerLine(words: string[], ctx: Context): Outcome {
  const [server, keyword, ...test] = words;
  if (!ctx.backend || ctx.frontend) return { refused: "use-server belongs to a backend", otherKind: true };
  if (keyword !== "if" || !server) return { refused: "use-server SERVER if CONDITION is what the model reads (a canary's pin)" };
  // Several canary servers share the pinned requests at random: the lines with rand() are the spread, the others the fallback.
  const spread = test.length >= 5 && test.slice(-5).join(" ").match(/^\{ rand\(\d+\) eq \d+ \}$/);
  const parsed = conditionOf(["if", ...(spread ? test.slice(0, -5) : test)], ctx, "backend");
  if ("refused" in parsed) return parsed;
  ctx.canary.pins.push({ server, when: inlineConditions(parsed.when, ctx.acls) as Record<string, unknown>, at: ctx.at! });
  return spread ? { decided: "pinned requests are spread at random over the canary's servers" } : { field: `backends.${ctx.backend.name}.canary.pin` };
}

/**
 * The backend's canary, from its lines: its servers the pinned ones (or, without a pin, those at weight 0,
 * which the stack gives a canary until a rollout), its pin, its response-time bound. Refuses pins that
 * send requests to servers of no canary (one condition, the canary's servers).
 */
export function settleCanary(ctx: Context, refuseLine: (at: Location, why: string) => void): void {
  const backend = ctx.backend;
  const { pins, maxResponseMs } = ctx.canary;
  if (!backend || (pins.length === 0 && maxResponseMs === undefined)) return;
  const servers = [...new Set(pins.map((p) => p.server))];
  const tests = [...new Map(pins.map((p) => [JSON.stringify(p.when), p.when])).values()];
  const every = servers.every((s) => tests.every((t) => pins.some((p) => p.server === s && JSON.stringify(p.when) === JSON.stringify(t))));
  if (pins.length && !every) {
    for (const pin of pins) refuseLine(pin.at, "use-server lines that do not send one condition's requests to every server of them: the model pins requests to a canary (its servers, one condition)");
    return;
  }
  const listed = (backend.servers as { name: string; weight?: number }[]) ?? [];
  // Pins to a discovered group's slots (NAME1..NAMEn): the group is the canary.
  const group = backend.discovery as { name: string; maxServers: number; weight?: number } | undefined;
  const slots = group ? Array.from({ length: group.maxServers }, (_, i) => `${group.name}${i + 1}`) : [];
  const ofGroup = group !== undefined && (servers.length ? servers.every((s) => slots.includes(s)) : group.weight === 0);
  const canaryServers = servers.length ? servers : listed.filter((s) => s.weight === 0).map((s) => s.name);
  backend.canary = {
    ...(ofGroup ? { group: group.name } : { servers: canaryServers }),
    ...(tests.length && { pin: joinAclLines(tests) }),
    ...(maxResponseMs !== undefined && { analysis: { maxResponseMs } }),
  };
}
