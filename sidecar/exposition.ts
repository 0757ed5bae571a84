// A snapshot of HAProxy ("show info" + "show stat") → Prometheus text exposition, with the names,
// labels, order and value conventions of HAProxy 2.6's built-in exporter, so that dashboards and
// alerts written for it work unchanged. Pure: the whole text is built once per poll and served
// from memory, because a per-series prom-client gauge is far too slow at 10,000 servers.
import type { MetricDef } from "./metric-def.ts";
import { BACKEND_METRICS, FRONTEND_METRICS, PROCESS_METRICS, SERVER_METRICS } from "./promex-table.ts";
import { field, type ParsedStat, type StatRow } from "../haproxy/show-stat.ts";

export interface HaproxySnapshot {
  info: ReadonlyMap<string, string>;
  stat: ParsedStat;
  /** Servers in maintenance taken out of `stat` before parsing, per backend: still counted in its MAINT totals. */
  maintenanceServers?: ReadonlyMap<string, number>;
}

/** The state labels the exporter prints, in its order. */
export const FRONTEND_STATES = ["DOWN", "UP"] as const;
export const BACKEND_STATES = ["DOWN", "UP"] as const;
export const SERVER_STATES = ["DOWN", "UP", "MAINT", "DRAIN", "NOLB"] as const;
export const CHECK_STATES = [
  "HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP",
  "L7TOUT", "L7RSP", "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK",
] as const;
const RESPONSE_CLASSES = [["hrsp_1xx", "1xx"], ["hrsp_2xx", "2xx"], ["hrsp_3xx", "3xx"], ["hrsp_4xx", "4xx"], ["hrsp_5xx", "5xx"], ["hrsp_other", "other"]] as const;

export interface RenderResult {
  /** Cells that should hold a number and did not: reported, exported as NaN. */
  badCells: number;
}

/** Receives the exposition in order, a piece at a time. */
export type ExpositionSink = (piece: string) => void;

/**
 * Pieces stay under this size so that they die young: strings above ~128 KB go to V8's
 * large-object space, are freed only by a full GC, and made the resident size grow by 100+ MB.
 */
const PIECE_CHARS = 32 * 1024;

/** "UP 1/3" (still up, failing checks) → UP, "DOWN 1/2" (coming up) → DOWN, "MAINT (via x/y)" → MAINT. */
export function serverState(status: string): (typeof SERVER_STATES)[number] {
  if (status.startsWith("MAINT")) return "MAINT";
  if (status.startsWith("DRAIN")) return "DRAIN";
  if (status.startsWith("NOLB")) return "NOLB";
  if (status.startsWith("DOWN")) return "DOWN";
  return "UP"; // UP, "UP n/m", "no check"
}

/** "* L7OK" (a check in progress) → L7OK; "" when the server has no check. */
export const checkState = (checkStatus: string) => (checkStatus.startsWith("* ") ? checkStatus.slice(2) : checkStatus);

const NUMBER = /^-?[0-9]+(\.[0-9]+)?$/;

const escapeLabel = (value: string) => (/[\\"\n]/.test(value) ? value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n") : value);

/** The scopes of HAProxy 2.6's exporter (`/metrics?scope=...`); the sidecar has no stick-table series. */
export const EXPORTER_SCOPES = ["global", "frontend", "backend", "server", "sticktable"] as const;
export type ExporterScope = (typeof EXPORTER_SCOPES)[number];

/** What a scrape asks for, as HAProxy's exporter reads its query string. */
export interface ExpositionFilter {
  scopes: ReadonlySet<ExporterScope>;
  /** Skip servers in maintenance (`no-maint`). */
  noMaint: boolean;
}

export const EVERYTHING: ExpositionFilter = { scopes: new Set(EXPORTER_SCOPES), noMaint: false };

/**
 * Pure: a query string → the filter, with the exporter's meaning: no `scope` means every scope;
 * each `scope=NAME` adds one, `scope=*` adds all, an empty `scope=` clears what came before.
 * Returns a message for a scope HAProxy does not know (it answers 400 too).
 */
export function parseExpositionQuery(query: URLSearchParams): ExpositionFilter | { problem: string } {
  const asked = query.getAll("scope");
  let scopes = new Set<ExporterScope>(asked.length === 0 ? EXPORTER_SCOPES : []);
  for (const scope of asked) {
    if (scope === "*") scopes = new Set(EXPORTER_SCOPES);
    else if (scope === "") scopes = new Set();
    else if ((EXPORTER_SCOPES as readonly string[]).includes(scope)) scopes.add(scope as ExporterScope);
    else return { problem: `unknown scope ${JSON.stringify(scope)}: use ${EXPORTER_SCOPES.join(", ")} or *` };
  }
  return { scopes, noMaint: query.has("no-maint") };
}

/** The whole exposition as one string: for tests and small topologies. */
export function renderHaproxyExpositionText(snapshot: HaproxySnapshot, filter: ExpositionFilter = EVERYTHING): RenderResult & { text: string } {
  const pieces: string[] = [];
  const { badCells } = renderHaproxyExposition(snapshot, (piece) => pieces.push(piece), filter);
  return { text: pieces.join(""), badCells };
}

/** Formats cells as the exporter prints them, counting those that should be numbers and are not. */
class CellFormatter {
  badCells = 0;

  /** NaN when empty, seconds where the column holds milliseconds. */
  value(raw: string | undefined, unit: MetricDef["unit"]): string {
    if (raw === undefined || raw === "") return "NaN";
    if (!NUMBER.test(raw)) {
      this.badCells++;
      return "NaN";
    }
    return unit === "ms" ? (Number(raw) / 1000).toFixed(6) : raw;
  }
}

interface RowsByKind {
  frontends: StatRow[];
  backends: StatRow[];
  servers: StatRow[];
  /** A backend's servers, for the aggregated state counts. */
  serversOf: Map<string, StatRow[]>;
}

function rowsByKind(stat: ParsedStat): RowsByKind {
  const rows: RowsByKind = { frontends: [], backends: [], servers: [], serversOf: new Map() };
  for (const row of stat.rows) {
    if (row.kind === "frontend") rows.frontends.push(row);
    else if (row.kind === "backend") rows.backends.push(row);
    else if (row.kind === "server") {
      rows.servers.push(row);
      let list = rows.serversOf.get(row.proxy);
      if (!list) rows.serversOf.set(row.proxy, (list = []));
      list.push(row);
    }
  }
  return rows;
}

const header = (def: MetricDef) => `# HELP ${def.name} ${def.help}\n# TYPE ${def.name} ${def.type}\n`;

/** One state series per possible state, 1 for the current one, as the exporter prints them. */
const stateLines = (name: string, labels: string, states: readonly string[], current: (state: string) => number) =>
  states.map((s) => `${name}{${labels},state="${s}"} ${current(s)}\n`).join("");

/** The lines of one metric family for one row; `plain` is the row's cell for simple families. */
function seriesLines(def: MetricDef, row: StatRow, labels: string, plain: string | undefined, cells: CellFormatter, serversOf: RowsByKind["serversOf"], parked: ReadonlyMap<string, number> | undefined): string {
  const name = def.name;
  switch (def.source) {
    case "status": {
      const status = field(row, "status") ?? "";
      if (row.kind === "frontend") return stateLines(name, labels, FRONTEND_STATES, (s) => (s === (status === "STOP" ? "DOWN" : "UP") ? 1 : 0));
      if (row.kind === "backend") return stateLines(name, labels, BACKEND_STATES, (s) => (s === (status === "UP" ? "UP" : "DOWN") ? 1 : 0));
      const state = serverState(status);
      return stateLines(name, labels, SERVER_STATES, (s) => (s === state ? 1 : 0));
    }
    case "check_status": {
      const state = checkState(field(row, "check_status") ?? "");
      return state === "" ? "" : stateLines(name, labels, CHECK_STATES, (s) => (s === state ? 1 : 0)); // "": no health check
    }
    case "check_code":
      return (field(row, "check_status") ?? "") === "" ? "" : `${name}{${labels}} ${cells.value(field(row, "check_code") || "0", undefined)}\n`;
    case "check_duration":
      return (field(row, "check_duration") ?? "") === "" ? "" : `${name}{${labels}} ${cells.value(field(row, "check_duration"), "ms")}\n`;
    case "hrsp_":
      return RESPONSE_CLASSES.map(([column, code]) => `${name}{${labels},code="${code}"} ${cells.value(field(row, column), undefined)}\n`).join("");
    case "agg_server_status":
    case "agg_server_check_status":
    case "agg_check_status": {
      // The backend's servers counted by state (or by check state), every state printed.
      const byCheck = def.source === "agg_check_status";
      const counts = new Map<string, number>();
      for (const s of serversOf.get(row.proxy) ?? []) {
        const state = byCheck ? checkState(field(s, "check_status") ?? "") : serverState(field(s, "status") ?? "");
        counts.set(state, (counts.get(state) ?? 0) + 1);
      }
      // Parked servers are in maintenance, their checks paused: MAINT by state, no check state.
      if (!byCheck) counts.set("MAINT", (counts.get("MAINT") ?? 0) + (parked?.get(row.proxy) ?? 0));
      return stateLines(name, labels, byCheck ? CHECK_STATES : SERVER_STATES, (s) => counts.get(s) ?? 0);
    }
    default:
      return `${name}{${labels}} ${cells.value(plain, def.unit)}\n`;
  }
}

/**
 * Renders into `emit` piece by piece, so that a caller can compress each at once and no string of
 * the whole exposition (38 MB at 10,000 servers) is ever built.
 */
export function renderHaproxyExposition(snapshot: HaproxySnapshot, emit: ExpositionSink, filter: ExpositionFilter = EVERYTHING): RenderResult {
  const cells = new CellFormatter();
  let out = "";
  for (const def of filter.scopes.has("global") ? PROCESS_METRICS : []) {
    out += header(def);
    if (def.source === "Build info") out += `${def.name}{version="${escapeLabel(snapshot.info.get("Version") ?? "")}"} 1\n`;
    else out += `${def.name} ${cells.value(snapshot.info.get(def.source), def.unit)}\n`;
  }

  const { frontends, backends, servers, serversOf } = rowsByKind(snapshot.stat);
  const scopes: [ExporterScope, readonly MetricDef[], StatRow[], (row: StatRow) => string][] = [
    ["frontend", FRONTEND_METRICS, frontends, (r) => `proxy="${escapeLabel(r.proxy)}"`],
    ["backend", BACKEND_METRICS, backends, (r) => `proxy="${escapeLabel(r.proxy)}"`],
    [
      "server",
      SERVER_METRICS,
      filter.noMaint ? servers.filter((r) => serverState(field(r, "status") ?? "") !== "MAINT") : servers,
      (r) => `proxy="${escapeLabel(r.proxy)}",server="${escapeLabel(r.name)}"`,
    ],
  ];
  for (const [scope, defs, rows, labelsOf] of scopes) {
    if (!filter.scopes.has(scope)) continue;
    const labels = rows.map(labelsOf);
    const isHttp = rows.map((r) => field(r, "mode") === "http");
    // Every row of one answer shares its column index: look each column up once per family.
    const columns = rows[0]?.columns ?? new Map<string, number>();
    for (const def of defs) {
      out += header(def);
      const index = columns.get(def.source);
      for (let i = 0; i < rows.length; i++) {
        if (def.httpOnly && !isHttp[i]) continue;
        const row = rows[i]!;
        out += seriesLines(def, row, labels[i]!, index === undefined ? undefined : row.values[index], cells, serversOf, snapshot.maintenanceServers);
        if (out.length >= PIECE_CHARS) {
          emit(out);
          out = "";
        }
      }
    }
  }
  emit(out);
  return { badCells: cells.badCells };
}
