// "show table" (the list: one "# table: NAME, type: T, size:N, used:N" line per table) and
// "show table NAME" (that header, then one line per entry: "<reference>: key=K use=N exp=MS <data>=V ...").
// Keys the stack tracks (server names) hold no spaces.
import { ShowTableGarbledError } from "./errors.ts";

export interface TableSummary {
  name: string;
  type: string;
  size: number;
  used: number;
}

export interface TableEntry {
  key: string;
  /** The stored counters by name (gpc0, http_req_rate(10000), server_id...), as numbers. */
  data: Record<string, number>;
  /** The stored names (server_key, the server a client sticks to), absent when there are none. */
  text?: Record<string, string>;
}

const HEADER = /^# table: ([^,\s]+), type: ([^,\s]+), size:(\d+), used:(\d+)$/;
const ENTRY = /^0x[0-9a-f]+: key=(\S+) use=\d+ exp=\d+((?: [^=\s]+=\S+)*)$/;

function header(line: string, command: string): TableSummary {
  const m = HEADER.exec(line);
  if (!m) throw new ShowTableGarbledError(command, line);
  return { name: m[1]!, type: m[2]!, size: Number(m[3]), used: Number(m[4]) };
}

/** The tables HAProxy holds, from "show table". */
export function parseTableList(text: string): TableSummary[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => header(line, "show table"));
}

/** One table's entries, from "show table NAME". */
export function parseTableEntries(text: string, table: string): TableEntry[] {
  const command = `show table ${table}`;
  const [first, ...rest] = text.split("\n").filter((line) => line.trim() !== "");
  if (first === undefined) throw new ShowTableGarbledError(command, "");
  header(first, command);
  return rest.map((line) => {
    const m = ENTRY.exec(line);
    if (!m) throw new ShowTableGarbledError(command, line);
    const data: Record<string, number> = {};
    const text: Record<string, string> = {};
    for (const pair of m[2]!.trim().split(" ").filter(Boolean)) {
      const at = pair.indexOf("=");
      const [name, value] = [pair.slice(0, at), pair.slice(at + 1)];
      if (/^\d+$/.test(value)) data[name] = Number(value);
      else text[name] = value;
    }
    return { key: m[1]!, data, ...(Object.keys(text).length && { text }) };
  });
}
