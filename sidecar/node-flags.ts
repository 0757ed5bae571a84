// How Node.js runs the sidecar, sized by the servers HAProxy reports: every launcher (the local
// runtime, the Docker stack, the bench) takes its flags from here.

/**
 * A poll at 10,000 servers needs 20 to 32 MB of heap (it fails at 20 MB, passes at 32). Without a
 * limit V8 lets the garbage of successive polls and scrapes grow the old generation by 40 to 65 MB
 * before it collects, which is where resident peaks of 148 to 160 MB came from; with this limit
 * (81 MB at 10,000 servers: twice the need, plus room for the rest) they were 95 to 101 MB, gzip or
 * identity scrapers alike (npm run bench, scrapers).
 */
export function sidecarHeapLimitMb(servers: number): number {
  return Math.ceil(32 + (servers * 5) / 1024);
}

/** A smaller young generation too: ~15 MB less resident at 10,000 servers. */
export function sidecarNodeFlags(servers: number): string[] {
  return ["--max-semi-space-size=2", `--max-old-space-size=${sidecarHeapLimitMb(servers)}`];
}
