// Topologies for tests: the project's default, and small edits of it.
import { topology as defaultTopology } from "../../infra/topology.ts";
import type { TopologyInput } from "../../infra/model/schema.ts";

/** A deep copy of the default topology that a test may change freely. */
export function seedTopology(): TopologyInput {
  return structuredClone(defaultTopology);
}

/** The default topology with `edit` applied to a copy. */
export function editedTopology(edit: (t: any) => void): TopologyInput {
  const copy = seedTopology();
  edit(copy);
  return copy;
}
