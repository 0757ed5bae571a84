// A canary's response-time check, the sidecar's part: for a backend with a canary, HAProxy counts
// each server's answers slower than the check's bound in a stick table of its own (gpc0, keyed by
// the server's name); after each poll the sidecar reads those tables and exports the counts as
// haproxy_sidecar_server_slow_responses_total, 0 for a server with none yet, so that every series
// exists from the start and increase() sees each one. The table's name is the sidecar's to own.
import { Counter, type Registry } from "prom-client";
import type { StatRow } from "../haproxy/show-stat.ts";
import { parseTableEntries, parseTableList } from "../haproxy/show-table.ts";

const TABLE_PREFIX = "lb_slow_";

/** The stick table (a section of its own) where HAProxy counts `backend`'s slow answers. */
export const slowAnswersTable = (backend: string) => `${TABLE_PREFIX}${backend}`;

/** Whether a proxy HAProxy lists is a slow-answer table's section (not a backend of the topology's). */
export const isSlowAnswersTable = (proxy: string) => proxy.startsWith(TABLE_PREFIX);

/** The gpc0 counts per proxy and server: every server of a proxy that has a table, 0 where it has no entry. */
export type SlowAnswerCounts = Map<string, Map<string, number>>;

/** Pure: the counts from the tables' answers and the servers show stat listed. */
export function slowAnswerCounts(tables: readonly { table: string; text: string }[], rows: readonly StatRow[]): SlowAnswerCounts {
  const counts: SlowAnswerCounts = new Map();
  for (const { table, text } of tables) {
    const proxy = table.slice(TABLE_PREFIX.length);
    const entries = new Map(parseTableEntries(text, table).map((e) => [e.key, e.data.gpc0 ?? 0]));
    counts.set(proxy, new Map(rows.filter((r) => r.kind === "server" && r.proxy === proxy).map((r) => [r.name, entries.get(r.name) ?? 0])));
  }
  return counts;
}

/** Reads the slow-answer tables after each poll and exports the last counts read. */
export class SlowAnswers {
  private counts: SlowAnswerCounts = new Map();
  /** The failure last logged: a socket that refuses show table for an hour logs once. */
  private lastFailure: string | undefined;

  constructor(
    private readonly api: (command: string) => Promise<string>,
    registry: Registry,
    private readonly log: (line: string) => void,
  ) {
    const self = this;
    new Counter({
      name: "haproxy_sidecar_server_slow_responses_total",
      help: "Answers slower than the backend canary's response-time bound (HAProxy's Tr), per server; only backends with a canary",
      labelNames: ["proxy", "server"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [proxy, servers] of self.counts) for (const [server, count] of servers) this.inc({ proxy, server }, count);
      },
    });
  }

  /** After a poll: the tables' counts for the servers it listed. A failure keeps the last counts. */
  async observe(rows: readonly StatRow[]): Promise<void> {
    try {
      const tables = parseTableList(await this.api("show table")).filter((t) => isSlowAnswersTable(t.name));
      const answers = await Promise.all(tables.map(async (t) => ({ table: t.name, text: await this.api(`show table ${t.name}`) })));
      this.counts = slowAnswerCounts(answers, rows);
      this.lastFailure = undefined;
    } catch (error) {
      const message = (error as Error).message;
      if (message !== this.lastFailure) this.log(`slow-answer counts not read (kept from the last poll; said once until it changes): ${message}`);
      this.lastFailure = message;
    }
  }
}
