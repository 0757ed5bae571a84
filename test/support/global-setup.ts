// Every process the suite starts carries one marker in its environment (children inherit it), set
// here before vitest forks its workers. The summary reporter looks for it after the last file.
import { randomUUID } from "node:crypto";
import { LEAK_MARKER_VARIABLE } from "./leftover-processes.ts";

export default function setup(): void {
  process.env[LEAK_MARKER_VARIABLE] = randomUUID();
}
