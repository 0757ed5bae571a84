// The house rules of the layout, checked on the import graph: data flows one way (lib ← haproxy ←
// sidecar, verification ← infra), the sidecar never reads the model, and no module imports itself back in a cycle.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "vitest";
import { REPO_ROOT } from "../infra/repo.ts";

const LAYERS = ["lib", "haproxy", "sidecar", "verification", "infra"] as const;
/**
 * What each top-level folder may import from the project (besides itself): the sidecar reads HAProxy
 * and nothing of the stack; the verification engine (traffic, probes, judges) reads HAProxy too, and
 * the stack's commands (start, apply, verify, containers) use both.
 */
const MAY_IMPORT: Record<(typeof LAYERS)[number], readonly string[]> = {
  lib: [],
  haproxy: ["lib"],
  sidecar: ["lib", "haproxy"],
  verification: ["lib", "haproxy"],
  infra: ["lib", "haproxy", "sidecar", "verification"],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Project-relative file → the project files it imports (static imports and re-exports). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const layer of LAYERS) {
    for (const file of sourceFiles(join(REPO_ROOT, layer))) {
      const text = readFileSync(file, "utf8");
      const targets = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+"(\.{1,2}\/[^"]+)"/gm)].map((m) => relative(REPO_ROOT, resolve(dirname(file), m[1]!)));
      graph.set(relative(REPO_ROOT, file), targets);
    }
  }
  return graph;
}

describe("the import graph", () => {
  const graph = importGraph();

  it("reads every module of lib, haproxy, sidecar and infra", () => {
    assert.ok(graph.size > 40, `only ${graph.size} modules`);
    assert.ok(graph.get("infra/runtime/stack.ts")!.includes("haproxy/runtime-api.ts"));
  });

  it("flows one way: each folder imports only the folders below it", () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const layer = file.split("/")[0] as (typeof LAYERS)[number];
      for (const target of targets) {
        const to = target.split("/")[0]!;
        if (to !== layer && !MAY_IMPORT[layer].includes(to)) wrong.push(`${file} → ${target}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("has no cycle", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const visit = (file: string, stack: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "open") return void cycles.push([...stack.slice(stack.indexOf(file)), file].join(" → "));
      state.set(file, "open");
      for (const target of graph.get(file) ?? []) visit(target, [...stack, file]);
      state.set(file, "done");
    };
    for (const file of graph.keys()) visit(file, []);
    assert.deepEqual(cycles, []);
  });
});
