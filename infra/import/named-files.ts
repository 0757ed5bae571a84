// The files a config names (its maps), read for npm run import: the I/O edge of a pure importer.
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { ImportFiles } from "./import.ts";

/**
 * The files a config names (maps): where it says, relative to the config's directory, or, for a
 * path of the machine it came from (/etc/haproxy/maps/hosts.map), by its name beside the config.
 */
export function filesNamedBy(config: string): ImportFiles {
  const dir = dirname(resolve(config));
  return {
    read(path) {
      for (const candidate of [resolve(dir, path), join(dir, basename(path))]) {
        if (existsSync(candidate)) return readFileSync(candidate, "utf8");
      }
      return undefined;
    },
  };
}

