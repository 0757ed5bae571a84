// Topologies for tests: the project's default, and small edits of it.
import assert from "node:assert/strict";
import { topology as defaultTopology } from "../../infra/topology.ts";
import type { TopologyInput } from "../../infra/model/schema.ts";
import { parseTopology } from "../../infra/model/parse.ts";
import { TopologyInvalidError } from "../../infra/errors.ts";

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

/** Every problem the model finds in `input`, as "path: message"; [] when it is valid. Any other error is thrown. */
export function topologyProblems(input: unknown): string[] {
  try {
    parseTopology(input);
  } catch (error) {
    if (!(error instanceof TopologyInvalidError)) throw error;
    assert.equal(error.code, "TOPOLOGY_INVALID");
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}
