// A frontend's keyed rate limits as the stack writes them, read back. Each limit counts in a table of
// its own (a backend section rate_FRONTEND_NAME holding only its stick table, which says the key's kind,
// the window and what is counted), on a stick counter of its own:
//   connections: tcp-request connection track-scN src table T [if ...], then a reject past the limit;
//   requests, errors: marks of its condition (txn.limit_J), track-scN KEY table T, a flag past the limit
//   (txn.limit_J_hit), the 429 and its Retry-After.
import type { Location, Section } from "../../haproxy/config-parser.ts";
import { type Context, type Draft, type Outcome, text, values } from "./context.ts";
import { tableSharing } from "./peers.ts";
import { conditionOfMarks, markCondition } from "./route-marks.ts";

const TABLE_LINE = /^stick-table type (ipv6|string len 256) size (\d+) expire (\S+) store (http_req_rate|http_err_rate|conn_rate)\(\3\)$/;
const COUNTS = { http_req_rate: "requests", http_err_rate: "errors", conn_rate: "connections" } as const;

/** backend rate_FRONTEND_NAME holding only a rate table: the stack's, for a keyed rate limit. */
export function readRateTable(section: Section, draft: Draft): boolean {
  const line = section.kind === "backend" && (section.name ?? "").startsWith("rate_") && section.directives.length === 1 ? section.directives[0]! : undefined;
  const shared = line && tableSharing(values(line.words));
  const m = shared && shared.words[0] === "stick-table" ? TABLE_LINE.exec(shared.words.join(" ")) : null;
  if (!m) return false;
  draft.peers.tables.push({ at: line!.at, peers: shared!.peers });
  draft.rateTables.set(section.name!, { at: [section.at, section.directives[0]!.at], tableSize: Number(m[2]), window: m[3]!, count: COUNTS[m[4] as keyof typeof COUNTS] });
  return true;
}

/** A line of a keyed limit in a frontend (http-request or tcp-request words, without the keyword); undefined when it is none. */
export function keyedLimitLine(words: readonly string[], ctx: Context): Outcome | undefined {
  const frontend = ctx.frontend;
  if (!frontend) return undefined;
  const line = words.join(" ");
  const field = { field: `frontends.${frontend.name}.rateLimits` };
  const limits = ctx.keyedLimits;
  // connections
  const connection = /^connection track-sc(\d) src table (\S+)(?: if((?: \S+)+))?$/.exec(line);
  if (connection) {
    const parsed = markCondition((connection[3] ?? "").trim().split(" ").filter(Boolean), ctx);
    if ("refused" in parsed) return parsed;
    const limit = limits.find((l) => l.table === connection[2]) ?? (limits.push({ table: connection[2]!, counter: Number(connection[1]), key: "source", alternatives: [], at: ctx.at! }), limits.at(-1)!);
    limit.alternatives.push(parsed.when);
    return field;
  }
  const rejected = /^connection reject if \{ sc_conn_rate\((\d)\) gt (\d+) \}$/.exec(line);
  const byCounter = (counter: number) => limits.find((l) => l.counter === counter && l.limit === undefined);
  if (rejected && byCounter(Number(rejected[1]))) {
    byCounter(Number(rejected[1]))!.limit = Number(rejected[2]);
    return field;
  }
  // requests, errors: the condition's marks, the tracking, the flag, the refusal
  const applies = /^set-var\(txn\.limit_(\d+)\) bool\(true\)(?: if((?: \S+)+))?$/.exec(line);
  if (applies) {
    const parsed = markCondition((applies[2] ?? "").trim().split(" ").filter(Boolean), ctx);
    if ("refused" in parsed) return parsed;
    ctx.limitMarks.set(applies[1]!, [...(ctx.limitMarks.get(applies[1]!) ?? []), parsed.when]);
    return field;
  }
  const tracked = /^track-sc(\d) (src|path|req\.hdr\(([A-Za-z0-9-]+)\)) table (\S+)(?: if \{ var\(txn\.limit_(\d+)\) -m bool \})?$/.exec(line);
  if (tracked) {
    const alternatives = tracked[5] === undefined ? [undefined] : ctx.limitMarks.get(tracked[5]);
    if (!alternatives) return { refused: `no mark sets txn.limit_${tracked[5]} above` };
    limits.push({ table: tracked[4]!, counter: Number(tracked[1]), key: tracked[2] === "src" ? "source" : tracked[2] === "path" ? "path" : { header: tracked[3]! }, alternatives, at: ctx.at! });
    return field;
  }
  const hit = /^set-var\(txn\.limit_\d+_hit\) bool\(true\) if \{ sc_(?:http_req_rate|http_err_rate)\((\d)\) gt (\d+) \}$/.exec(line);
  if (hit && byCounter(Number(hit[1]))) {
    byCounter(Number(hit[1]))!.limit = Number(hit[2]);
    return field;
  }
  if (/^deny deny_status 429 if \{ var\(txn\.limit_\d+_hit\) -m bool \}$/.test(line) || /^set-header Retry-After \d+ if \{ var\(txn\.limit_\d+_hit\) -m bool \}$/.test(line)) return field;
  return undefined;
}

/** The frontend's keyed limits, once every section (and so every rate table) is read; a part missing is refused at its line. */
export function settleKeyedLimits(frontend: Record<string, unknown> & { name: string }, limits: Context["keyedLimits"], acls: Context["acls"], draft: Draft, refuseLine: (at: Location, why: string) => void): void {
  const settled: Record<string, unknown>[] = [];
  // The stack gives the limits their stick counters in the topology's order (connections are tracked first in the file).
  for (const limit of [...limits].sort((a, b) => a.counter - b.counter)) {
    const table = draft.rateTables.get(limit.table);
    const prefix = `rate_${frontend.name}_`;
    if (!table || !limit.table.startsWith(prefix) || limit.limit === undefined) {
      refuseLine(limit.at, !table ? `no rate table ${limit.table} (a backend section holding only its stick-table)` : limit.limit === undefined ? "a rate limit tracked but never refused past a limit" : `the table ${limit.table} is not named rate_${frontend.name}_NAME`);
      continue;
    }
    draft.rateTablesUsed.add(limit.table);
    const when = conditionOfMarks(limit.alternatives, acls);
    settled.push({ name: limit.table.slice(prefix.length), key: limit.key, count: table.count, limit: limit.limit, window: table.window, tableSize: table.tableSize, ...(when && { when }) });
  }
  if (settled.length) frontend.rateLimits = [...((frontend.rateLimits as unknown[]) ?? []), ...settled];
}
