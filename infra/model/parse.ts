// Turning untrusted input (a TypeScript module's export, a JSON document) into a Topology.
import { Topology, NAME_PATTERN } from "./schema.ts";
import { TopologyInvalidError, type TopologyProblem } from "../errors.ts";

/** Validates a topology; throws TopologyInvalidError listing every problem at once. */
export function parseTopology(input: unknown): Topology {
  const result = Topology.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    path: formatPath(issue.path as (string | number)[], input),
    message: issue.code === "unrecognized_keys" ? `${issue.message}: remove it or check its spelling` : issue.message,
  }));
  throw new TopologyInvalidError(dedupe(problems));
}

// Topology files written before define.ts import it from here.
export { defineTopology } from "./define.ts";

/**
 * ["frontends", 0, "defaultBackend"] → "frontends.http_front.defaultBackend": list positions are
 * replaced by the element's name when it has a valid one, because that is what a reviewer sees.
 */
export function formatPath(path: readonly (string | number)[], input: unknown): string {
  let node: unknown = input;
  let out = "";
  for (const segment of path) {
    const child = node !== null && typeof node === "object" ? (node as Record<string | number, unknown>)[segment] : undefined;
    if (typeof segment === "number") {
      const name = child !== null && typeof child === "object" ? (child as { name?: unknown }).name : undefined;
      out += typeof name === "string" && NAME_PATTERN.test(name) ? `.${name}` : `[${segment}]`;
    } else {
      out += out === "" ? segment : `.${segment}`;
    }
    node = child;
  }
  return out === "" ? "(topology)" : out;
}

function dedupe(problems: TopologyProblem[]): TopologyProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\n${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
