// Route tables kept current where no apply agent runs beside HAProxy (the Kubernetes stack): the
// ConfigMap's map files change in place in each pod (the kubelet swaps them in), and a follower
// beside HAProxy puts each changed map into HAProxy through the pod's admin socket in one atomic
// version, so an entry needs no new pod. The I/O is passed in.
import { parseShowMap } from "../../haproxy/show-map.ts";
import { replaceMapEntries } from "../../haproxy/runtime-commands.ts";

export interface MapFollowIo {
  /** A map file's text as the pod sees it; undefined while it is not there. */
  read(file: string): Promise<string | undefined>;
  /** One runtime-API command to this pod's HAProxy, and its answer. */
  admin(command: string): Promise<string>;
  log(line: string): void;
}

export type MapFollowOutcome = { file: string; action: "kept" | "missing" } | { file: string; action: "replaced"; entries: number };

/** A map file's entries as HAProxy loads them: "key value" lines, blank lines and comments left out. */
export const mapFileEntries = (text: string): string[] =>
  text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => line.replace(/\s+/, " "));

/**
 * One look: each map whose file differs from what HAProxy holds (entries and their order: the first
 * prefix that fits wins) is replaced whole. `files` are the maps as the config names them. `seen`
 * keeps each file's text as HAProxy was last made to hold it: an unchanged file is not compared again
 * (a table of thousands of entries, every few seconds, in every pod).
 */
export async function followMaps(files: readonly string[], io: MapFollowIo, seen: Map<string, string> = new Map()): Promise<MapFollowOutcome[]> {
  const outcomes: MapFollowOutcome[] = [];
  for (const file of files) {
    const text = await io.read(file);
    if (text === undefined) {
      outcomes.push({ file, action: "missing" });
      continue;
    }
    if (seen.get(file) === text) {
      outcomes.push({ file, action: "kept" });
      continue;
    }
    const wanted = mapFileEntries(text);
    const held = parseShowMap(await io.admin(`show map ${file}`), file).map((e) => `${e.key} ${e.value}`);
    if (held.length === wanted.length && held.every((line, i) => line === wanted[i])) {
      seen.set(file, text);
      outcomes.push({ file, action: "kept" });
      continue;
    }
    await replaceMapEntries((command) => io.admin(command), file, wanted);
    seen.set(file, text);
    io.log(`${file}: ${wanted.length} entries, replaced at runtime (HAProxy held ${held.length})`);
    outcomes.push({ file, action: "replaced", entries: wanted.length });
  }
  return outcomes;
}
