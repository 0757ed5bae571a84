// The round trip's second proof: the imported topology is rendered (for the local target, what npm
// start runs, unless told another), the rendered config is read back by the same importer, and the
// two configs are compared section by section and directive by directive (./compare.ts).
import { parseConfig, type ParsedConfig } from "../../haproxy/config-parser.ts";
import type { Topology } from "../model/schema.ts";
import { renderHaproxyConfig } from "../render/render.ts";
import { mapFiles } from "../render/routing.ts";
import { localTarget, type RenderTarget } from "../render/targets.ts";
import { compareWithOriginal, type Comparison } from "./compare.ts";
import { importConfig, type ImportFiles, type ImportResult } from "./import.ts";

/** Where the comparison's render places its sockets: a name only, nothing is started. */
const COMPARISON_RUN_DIR = "/run/lb";

/**
 * The original beside what its topology renders. `files` reads what the original names (maps, error
 * pages, Lua); the render's own maps are read from what it writes.
 */
export function compareRendered(original: ParsedConfig, result: ImportResult, topology: Topology, files: ImportFiles, target: RenderTarget = localTarget(COMPARISON_RUN_DIR)): Comparison {
  const rendered = parseConfig([{ file: "haproxy.cfg (rendered)", text: renderHaproxyConfig(topology, target) }]);
  const maps = mapFiles(topology);
  const back = importConfig(rendered, topology.name, { read: (path) => maps.find((m) => m.path === path)?.content ?? files.read(path) });
  return compareWithOriginal({ parsed: original, accounts: result.accounts }, { parsed: rendered, accounts: back.accounts }, result.additions);
}
