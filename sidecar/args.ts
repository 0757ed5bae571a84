// The sidecar's command-line values, parsed with messages that say what to type instead.
import { durationProblem, parseDuration } from "../haproxy/duration.ts";
import { UsageError } from "../lib/errors.ts";

/** A poll interval or timeout, in HAProxy's duration grammar (the model's): "500ms", "2s", "1h". */
export function parseInterval(flag: string, text: string): number {
  const problem = durationProblem(text);
  if (problem !== undefined) throw new UsageError(`--${flag}: ${problem}`);
  return parseDuration(text);
}

/** "9101" or "127.0.0.1:9101" → where to listen; the host defaults to loopback, never every address. */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:(.+):)?([0-9]{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new UsageError(`--listen: "${text}" is not a listen address: use PORT or HOST:PORT`);
  return { host: match[1] ?? "127.0.0.1", port };
}
