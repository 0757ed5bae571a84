// The model's verdict on an imported topology, each of its problems pinned to the line of the
// original config that set the field (IMPORT_REFUSED), never to a field the user never wrote.
import { where } from "../../haproxy/config-parser.ts";
import { ImportRefusedError, TopologyInvalidError } from "../errors.ts";
import { parseTopology } from "../model/parse.ts";
import type { Topology } from "../model/schema.ts";
import type { ImportResult } from "./import.ts";

/**
 * The model's verdict on an imported topology: valid, or refused with each problem pinned to the line
 * that set its field (the longest field path that line set).
 */
export function validateImported(result: ImportResult): Topology {
  try {
    return parseTopology(result.topology);
  } catch (error) {
    if (!(error instanceof TopologyInvalidError)) throw error;
    const lines = [...result.fieldLines.keys()].sort((a, b) => b.length - a.length);
    throw new ImportRefusedError(
      error.problems.map((p) => {
        // The model names list items by index in brackets ("global.logs[0]"); the lines' fields by dots.
        const path = p.path.replace(/\[(\d+)\]/g, ".$1");
        const field = lines.find((f) => path === f || path.startsWith(`${f}.`));
        const at = field ? result.fieldLines.get(field)! : undefined;
        const account = at && result.accounts.find((a) => a.at === at);
        return at ? `${where(at)}: ${account?.directive}: ${p.message}` : `${p.path}: ${p.message}`;
      }),
    );
  }
}

