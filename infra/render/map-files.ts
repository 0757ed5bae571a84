// The route tables' map files on disk, beside a config: the one writer, for every target that has files.
import { mkdir, readdir, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { writeFileAtomic } from "../files.ts";
import { MAP_DIR, type MapFile } from "./routing.ts";

/**
 * Writes the map files under `configDir` (each atomically) and removes those of tables that are
 * gone, so that what HAProxy reads on its next reload is exactly the topology's.
 */
export async function writeMapFiles(configDir: string, maps: readonly MapFile[]): Promise<void> {
  const dir = join(configDir, MAP_DIR);
  await mkdir(dir, { recursive: true });
  for (const map of maps) await writeFileAtomic(join(configDir, map.path), map.content);
  const wanted = new Set(maps.map((m) => basename(m.path)));
  for (const file of await readdir(dir)) if (file.endsWith(".map") && !wanted.has(file)) await rm(join(dir, file), { force: true });
}
