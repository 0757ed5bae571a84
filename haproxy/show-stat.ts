// Pure parsers for the runtime API's answers. A bad line is reported and skipped, never fatal
// for the rest; only an answer with no usable structure at all throws StatParseError.
import { StatParseError } from "./errors.ts";

export type ProxyKind = "frontend" | "backend" | "server" | "listener";
const KINDS: Record<string, ProxyKind> = { "0": "frontend", "1": "backend", "2": "server", "3": "listener" };

/** One row of "show stat": the proxy, the object within it, and its cells in header order. */
export interface StatRow {
  proxy: string;
  name: string;
  kind: ProxyKind;
  /** Raw cells; read them by column name with field(). Columns a newer HAProxy adds are kept too. */
  values: readonly string[];
  /** Column name → position, shared by every row of one answer. */
  columns: ReadonlyMap<string, number>;
}

export interface LineProblem {
  line: number;
  reason: string;
}

export interface ParsedStat {
  rows: StatRow[];
  problems: LineProblem[];
}

/** A cell by column name; undefined when this HAProxy has no such column. */
export function field(row: StatRow, column: string): string | undefined {
  const index = row.columns.get(column);
  return index === undefined ? undefined : row.values[index];
}

/** Splits one CSV line; HAProxy quotes a field that holds a comma or a quote. */
export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(",");
  const out: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") out.push(field), (field = "");
    else field += c;
  }
  out.push(field);
  return out;
}

export function parseShowStat(text: string): ParsedStat {
  const lines = text.split("\n");
  const headerLine = lines[0] ?? "";
  if (!headerLine.startsWith("# ")) {
    throw new StatParseError(`"show stat" answered without its "# pxname,svname,..." header: got ${JSON.stringify(headerLine.slice(0, 80))}`);
  }
  const columns = splitCsvLine(headerLine.slice(2));
  if (columns[0] !== "pxname" || columns[1] !== "svname") {
    throw new StatParseError(`"show stat" header does not start with pxname,svname: got ${JSON.stringify(headerLine.slice(0, 80))}`);
  }
  const typeColumn = columns.indexOf("type");
  if (typeColumn < 0) throw new StatParseError(`"show stat" header has no "type" column: got ${JSON.stringify(headerLine.slice(0, 80))}`);
  const index = new Map<string, number>();
  columns.forEach((column, c) => {
    if (column !== "" && column !== "-" && !index.has(column)) index.set(column, c);
  });
  const rows: StatRow[] = [];
  const problems: LineProblem[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    const values = splitCsvLine(line);
    // Every line ends with a comma, so a complete one has as many fields as the header.
    if (values.length !== columns.length) {
      problems.push({ line: i + 1, reason: `${values.length} fields where the header has ${columns.length}` });
      continue;
    }
    const kind = KINDS[values[typeColumn] ?? ""];
    if (!kind || values[0] === "" || values[1] === "") {
      problems.push({ line: i + 1, reason: `no proxy, name or known type (type=${JSON.stringify(values[typeColumn])})` });
      continue;
    }
    rows.push({ proxy: values[0]!, name: values[1]!, kind, values, columns: index });
  }
  return { rows, problems };
}

/** A "show stat" answer with the lines of servers in maintenance taken out, and how many each backend had. */
export interface WithoutMaintenance {
  text: string;
  maintenanceServers: Map<string, number>;
}

/**
 * Pure: takes out the lines of servers in maintenance without parsing every line. Only a server can
 * be in MAINT (frontends are OPEN/STOP, backends UP/DOWN), and the status cell is reached by counting
 * commas: the cells before it (names, counters) hold no comma or quote. A line where they would is
 * kept for the full parser. At 10,000 parked server-template slots this turns a scrape's parse of
 * every line into a scan of them.
 */
export function withoutMaintenanceServers(text: string): WithoutMaintenance {
  const maintenanceServers = new Map<string, number>();
  const firstBreak = text.indexOf("\n");
  const status = firstBreak < 0 ? -1 : text.slice(2, firstBreak).split(",").indexOf("status");
  if (status < 0) return { text, maintenanceServers };
  const kept: string[] = [text.slice(0, firstBreak)];
  let start = firstBreak + 1;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    let cell = start;
    for (let c = 0; c < status && cell >= start; c++) cell = text.indexOf(",", cell) + 1;
    const quoted = text.slice(start, cell).includes('"');
    if (cell > start && cell < end && !quoted && text.startsWith("MAINT", cell)) {
      const proxy = text.slice(start, text.indexOf(",", start));
      maintenanceServers.set(proxy, (maintenanceServers.get(proxy) ?? 0) + 1);
    } else kept.push(text.slice(start, end));
    start = end + 1;
  }
  return { text: kept.join("\n"), maintenanceServers };
}

/** A column as a number; undefined when empty or not a number (HAProxy leaves non-applicable cells empty). */
export function numberField(row: StatRow, column: string): number | undefined {
  const raw = field(row, column);
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

/** A server's state, as the rest of the stack needs it. */
export interface ServerState {
  backend: string;
  server: string;
  /** UP, DOWN, MAINT, DRAIN, NOLB, "UP 1/3" (going down), "DOWN 1/2" (coming up), "no check"... */
  status: string;
  weight: number;
  checkStatus: string;
  address: string;
  /** Requests sent to this server since HAProxy started. */
  sessionsTotal: number;
}

export function serverStates(parsed: ParsedStat): ServerState[] {
  return parsed.rows
    .filter((r) => r.kind === "server")
    .map((r) => ({
      backend: r.proxy,
      server: r.name,
      status: field(r, "status") ?? "",
      weight: numberField(r, "weight") ?? 0,
      checkStatus: field(r, "check_status") ?? "",
      address: field(r, "addr") ?? "",
      sessionsTotal: numberField(r, "stot") ?? 0,
    }));
}

/** "show info": "Name: value" lines. Lines without a colon are reported and skipped. */
export function parseShowInfo(text: string): { info: Map<string, string>; problems: LineProblem[] } {
  const info = new Map<string, string>();
  const problems: LineProblem[] = [];
  text.split("\n").forEach((line, i) => {
    if (line === "") return;
    const colon = line.indexOf(":");
    if (colon <= 0) problems.push({ line: i + 1, reason: "no \"Name: value\" pair" });
    else info.set(line.slice(0, colon), line.slice(colon + 1).trim());
  });
  if (info.size === 0) throw new StatParseError(`"show info" answered with no "Name: value" line`);
  return { info, problems };
}
