// "show map <map>": one entry per line, "<reference> <key> <value>" (the reference is an address).
// Keys and values the stack writes hold no spaces; a value may in general, so it is the rest of the line.
import { ShowMapGarbledError } from "./errors.ts";

export interface MapEntry {
  key: string;
  value: string;
}

export function parseShowMap(text: string, map: string): MapEntry[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const m = /^(0x[0-9a-f]+) (\S+) (.*)$/.exec(line);
      if (!m) throw new ShowMapGarbledError(map, line);
      return { key: m[2]!, value: m[3]! };
    });
}
