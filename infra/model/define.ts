// What a topology module imports: a type and nothing else, so that loading a topology file loads
// only that file (load.ts bundles it), not the model's validation.
import type { TopologyInput } from "./schema.ts";

/** Identity with a type: lets topology files omit every field that has a default. */
export function defineTopology(topology: TopologyInput): TopologyInput {
  return topology;
}
