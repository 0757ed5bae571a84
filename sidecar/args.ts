// The sidecar's command-line values, parsed with messages that say what to type instead.

/** "500ms", "2s", "1m" → milliseconds. */
export function parseInterval(text: string): number {
  const match = /^([0-9]+)(ms|s|m)$/.exec(text);
  if (!match || Number(match[1]) === 0) throw new Error(`"${text}" is not an interval: use e.g. 500ms, 2s or 1m`);
  return Number(match[1]) * { ms: 1, s: 1000, m: 60_000 }[match[2] as "ms" | "s" | "m"];
}

/** "9101" or "127.0.0.1:9101" → where to listen; the host defaults to loopback, never every address. */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:(.+):)?([0-9]{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new Error(`"${text}" is not a listen address: use PORT or HOST:PORT`);
  return { host: match[1] ?? "127.0.0.1", port };
}
