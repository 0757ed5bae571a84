// Reading a topology file: a TypeScript/JavaScript module that exports it, or a JSON document.
import { readFile } from "node:fs/promises";
import { extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { TopologyLoadError } from "../errors.ts";
import { parseTopology } from "./parse.ts";
import type { Topology } from "./schema.ts";

/** The topology that pull requests edit. */
export const DEFAULT_TOPOLOGY_FILE = "infra/topology.ts";

export async function loadTopologyFile(file: string): Promise<Topology> {
  return parseTopology(await readTopologyInput(file));
}

/** The unvalidated value a file holds: a JSON document, or a module's `topology` (or default) export. */
export async function readTopologyInput(file: string): Promise<unknown> {
  const path = resolve(file);
  if (extname(path) === ".json") {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      throw new TopologyLoadError(file, (error as Error).message);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new TopologyLoadError(file, `not valid JSON (${(error as Error).message})`);
    }
    return withoutSchemaReference(value);
  }
  let module: Record<string, unknown>;
  try {
    module = await import(TYPESCRIPT.test(path) ? await bundled(path) : pathToFileURL(path).href);
  } catch (error) {
    throw new TopologyLoadError(file, (error as Error).message);
  }
  const value = module.topology ?? module.default;
  if (value === undefined) throw new TopologyLoadError(file, 'the module exports neither "topology" nor a default export');
  return value;
}

const TYPESCRIPT = /\.[cm]?tsx?$/;

/**
 * A TypeScript topology module, with what it imports, as one JavaScript module (a data: URL): the same
 * whether a command runs under tsx or from its bundle (plain node, which cannot import TypeScript).
 * A topology is data: its import.meta.url names the bundle, not the file.
 */
async function bundled(path: string): Promise<string> {
  const { buildSync, stop } = await import("esbuild");
  let result: ReturnType<typeof buildSync>;
  try {
    result = buildSync({ entryPoints: [path], bundle: true, platform: "node", format: "esm", target: "node20", write: false, logLevel: "silent" });
  } catch (error) {
    const first = (error as { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] }).errors?.[0];
    throw new Error(first ? `${first.location ? `${first.location.file}:${first.location.line}:${first.location.column + 1}: ` : ""}${first.text}` : (error as Error).message);
  } finally {
    // The sync API keeps esbuild's service (a child process) for the next build; none follows here.
    void stop();
  }
  return `data:text/javascript;base64,${Buffer.from(result.outputFiles![0]!.contents).toString("base64")}`;
}

/**
 * A JSON topology may name its JSON Schema ("$schema": "docs/reference/topology.schema.json") so that
 * an editor checks it as it is typed; the reference is for the editor, not part of the topology.
 */
function withoutSchemaReference(value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value) || !("$schema" in value)) return value;
  const { $schema: _reference, ...topology } = value as Record<string, unknown>;
  return topology;
}
