// Runtime-API commands judged by their answers, and a map's entries replaced in one atomic step
// (HAProxy 2.6's versioned maps: a new version filled aside and committed at once, so no request
// sees half a table). The connection to HAProxy is passed in (a command in, its answer out).
import { RuntimeCommandRefusedError } from "./errors.ts";

/** A runtime-API answer that is not one of success (HAProxy 2.6 answers errors as text). */
export function runtimeAnswerProblem(command: string, answer: string): string | undefined {
  const text = answer.trim();
  if (text === "" || /^(IP changed from|no need to change the addr|port changed from)/.test(text)) return undefined;
  return `"${command}" was answered "${text.split("\n")[0]}"`;
}

/**
 * The most bytes of entries one "add map" carries: the runtime API reads a command and its payload
 * into one buffer (tune.bufsize, 16 kB by default), so a large table goes in several.
 */
export const MAP_PAYLOAD_BYTES = 8192;

/** Lines in batches of at most `bytes` (a longer line alone). */
export function payloadBatches(lines: readonly string[], bytes: number): string[][] {
  const batches: string[][] = [];
  let size = 0;
  for (const line of lines) {
    if (batches.length === 0 || size + line.length + 1 > bytes) {
      batches.push([]);
      size = 0;
    }
    batches.at(-1)!.push(line);
    size += line.length + 1;
  }
  return batches;
}

/** Runs each command in turn; the first answer that is not a success stops them (RuntimeCommandRefusedError). */
export async function runCommands(admin: (command: string) => Promise<string>, commands: readonly string[]): Promise<void> {
  for (const command of commands) {
    const problem = runtimeAnswerProblem(command, await admin(command));
    if (problem) throw new RuntimeCommandRefusedError(problem);
  }
}

/** Replaces every entry of `file` (as the config names it) with `lines` ("key value"). */
export async function replaceMapEntries(admin: (command: string) => Promise<string>, file: string, lines: readonly string[]): Promise<void> {
  const answer = await admin(`prepare map ${file}`);
  const version = /New version created: ([0-9]+)/.exec(answer)?.[1];
  if (version === undefined) throw new RuntimeCommandRefusedError(`"prepare map ${file}" was answered "${answer.trim().split("\n")[0]}"`);
  for (const batch of payloadBatches(lines, MAP_PAYLOAD_BYTES)) await runCommands(admin, [`add map @${version} ${file} <<\n${batch.join("\n")}\n`]);
  await runCommands(admin, [`commit map @${version} ${file}`]);
}
