// The Lua scripts a topology loads: files the repository keeps in templates/lua/, read by name.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { LuaScriptMissingError } from "../errors.ts";
import type { Topology } from "../model/schema.ts";
import { DEFAULT_LUA_DIR } from "./haproxy-check.ts";

/** Each script the topology loads, read; a missing one is refused naming its field. */
export function readLuaScripts(topology: Pick<Topology, "lua">, dir: string = DEFAULT_LUA_DIR): { file: string; text: string }[] {
  return topology.lua.scripts.map((script, i) => {
    const path = join(dir, script.file);
    try {
      return { file: script.file, text: readFileSync(path, "utf8") };
    } catch {
      throw new LuaScriptMissingError(`lua.scripts[${i}].file`, path);
    }
  });
}
