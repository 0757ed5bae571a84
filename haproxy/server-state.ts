// "show servers state": the servers' states in the format of HAProxy's server-state-file (version 1:
// a version line, a "# " header naming the columns, one line of space-separated fields per server),
// which a reload's new worker reads (load-server-state-from-file).
import { ShowServersStateGarbledError } from "./errors.ts";

const FORMAT_VERSION = "1";

/** The weight a server's config line gives it, by backend and server name; undefined leaves the line as saved. */
export type ConfiguredWeights = (backend: string, server: string) => number | undefined;

/**
 * The saved states with each server's srv_iweight set to the weight the running topology configures.
 * A new worker restores the weight a server had at runtime (srv_uweight) only where the saved
 * srv_iweight equals its own config's weight, so that a change in the config wins over the runtime
 * API. But a worker's srv_iweight is the weight of the config it started from, and an apply at runtime
 * leaves that behind: a later reload returning the weight to that old value would bring the runtime
 * weight back instead. Set to what the running topology says, the comparison is the topology's.
 */
export function withConfiguredWeights(state: string, configured: ConfiguredWeights): string {
  const lines = state.split("\n");
  if (lines[0] !== FORMAT_VERSION) throw new ShowServersStateGarbledError(`${JSON.stringify((lines[0] ?? "").slice(0, 40))} where the version line belongs`);
  const header = lines[1] ?? "";
  if (!header.startsWith("# ")) throw new ShowServersStateGarbledError(`${JSON.stringify(header.slice(0, 40))} where the column header belongs`);
  const columns = header.slice(2).split(" ");
  const [backend, server, iweight] = ["be_name", "srv_name", "srv_iweight"].map((name) => {
    const at = columns.indexOf(name);
    if (at < 0) throw new ShowServersStateGarbledError(`a header without the column ${name}`);
    return at;
  }) as [number, number, number];
  return [
    ...lines.slice(0, 2),
    ...lines.slice(2).map((line) => {
      if (line === "") return line;
      const fields = line.split(" ");
      if (fields.length !== columns.length) throw new ShowServersStateGarbledError(`a line of ${fields.length} fields under ${columns.length} columns: ${JSON.stringify(line.slice(0, 60))}`);
      const weight = configured(fields[backend]!, fields[server]!);
      if (weight !== undefined) fields[iweight] = String(weight);
      return fields.join(" ");
    }),
  ].join("\n");
}
