// What TLS termination costs, side by side in one run on the same stack and backends: wrk over
// kept-alive connections (HTTP against HTTPS: the handshake amortized, the record layer paid), and
// one new connection per request from Node (plain; TLS with a full handshake each time; TLS resuming
// the previous session), where the handshake is the cost. Rounds are interleaved.
import { request as httpRequest, Agent as HttpAgent } from "node:http";
import { request as httpsRequest, Agent as HttpsAgent } from "node:https";
import type { TLSSocket } from "node:tls";
import { mkdtempSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTopology } from "../infra/model/parse.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { startLocalStack } from "../infra/runtime/stack.ts";
import { topology as seed } from "../infra/topology.ts";
import { median, ms, type BenchRow } from "./table.ts";
import { runWrk, type WrkResult } from "./wrk.ts";

const ROUNDS = 3;
const WRK_SECONDS = 4;
const CONNECTIONS = 16;
/** Requests per round of the new-connection-per-request runs, and how many in flight. */
const REQUESTS = 1500;
const CONCURRENCY = 8;

interface ClientRun {
  requestsPerSecond: number;
  p99Ms: number;
  failed: number;
  /** TLS connections that resumed a session (0 for plain HTTP). */
  resumed: number;
}

/** REQUESTS GETs, each on its own connection (Connection: close), CONCURRENCY at a time. */
async function newConnectionPerRequest(url: string, agent: HttpAgent | HttpsAgent): Promise<ClientRun> {
  const latencies: number[] = [];
  let failed = 0;
  let resumed = 0;
  let next = 0;
  const get = () =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      const send = url.startsWith("https:") ? httpsRequest : httpRequest;
      const req = send(url, { agent, headers: { connection: "close" }, timeout: 5000 }, (res) => {
        res.resume();
        res.on("end", () => {
          latencies.push(performance.now() - started);
          if (res.statusCode !== 200) failed++;
          resolve();
        });
      });
      req.on("socket", (socket) => socket.once("secureConnect", () => (resumed += (socket as TLSSocket).isSessionReused() ? 1 : 0)));
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", () => {
        failed++;
        resolve();
      });
      req.end();
    });
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < REQUESTS) {
      next++;
      await get();
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { requestsPerSecond: REQUESTS / seconds, p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? NaN, failed, resumed };
}

export async function httpsBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const scratch = mkdtempSync(join(tmpdir(), "lb-bench-https-"));
  const input = structuredClone(seed) as any;
  input.frontends[0].binds = [{ address: "*", port: 60000 }, { address: "*", port: 60443, tlsCertificate: "site.pem" }];
  const topology = parseTopology(await withFreePorts(input));
  const stack = await startLocalStack(topology, { runDir: join(scratch, "stack") });
  try {
    const ca = readFileSync(stack.certificates.devCaFile!, "utf8");
    const [plain, tls] = topology.frontends[0]!.binds.map((b) => b.port) as [number, number];
    const urls = { http: `http://127.0.0.1:${plain}/`, https: `https://127.0.0.1:${tls}/` };

    // Kept-alive connections: wrk (it does not verify the chain; the handshake happens once per connection).
    for (const url of Object.values(urls)) await runWrk(url, { seconds: 1, connections: CONNECTIONS });
    const wrk = { http: [] as WrkResult[], https: [] as WrkResult[] };
    for (let round = 0; round < ROUNDS; round++) for (const key of ["http", "https"] as const) wrk[key].push(await runWrk(urls[key], { seconds: WRK_SECONDS, connections: CONNECTIONS }));
    const rps = (runs: WrkResult[]) => median(runs.map((r) => r.requestsPerSecond));
    for (const key of ["http", "https"] as const) {
      const runs = wrk[key];
      rows.push({
        group: "https",
        case: `kept-alive ${key.toUpperCase()} (wrk): req/s`,
        value: `${Math.round(rps(runs))}`,
        note: `p99 ${ms(median(runs.map((r) => r.p99Ms)))}; ${runs.reduce((s, r) => s + r.errors, 0)} errors; median of ${ROUNDS}×${WRK_SECONDS}s, ${CONNECTIONS} conns`,
      });
    }
    rows.push({ group: "https", case: "kept-alive HTTPS ÷ HTTP", value: (rps(wrk.https) / rps(wrk.http)).toFixed(2), note: "the record layer's cost (AES-GCM on 2 cores)" });

    // A new connection per request: where the handshake is paid every time, or resumed.
    const clients = {
      "HTTP": () => newConnectionPerRequest(urls.http, new HttpAgent({ keepAlive: false })),
      "HTTPS, full handshake each time": () => newConnectionPerRequest(urls.https, new HttpsAgent({ keepAlive: false, ca, maxCachedSessions: 0 })),
      "HTTPS, session resumed": () => newConnectionPerRequest(urls.https, new HttpsAgent({ keepAlive: false, ca, maxCachedSessions: 100 })),
    };
    const runs = new Map<string, ClientRun[]>(Object.keys(clients).map((k) => [k, []]));
    for (const run of Object.values(clients)) await run(); // warm-up
    for (let round = 0; round < ROUNDS; round++) for (const [name, run] of Object.entries(clients)) runs.get(name)!.push(await run());
    const clientRps = (name: string) => median(runs.get(name)!.map((r) => r.requestsPerSecond));
    for (const [name, results] of runs) {
      const resumed = results.reduce((s, r) => s + r.resumed, 0);
      rows.push({
        group: "https",
        case: `new connection per request, ${name}: req/s`,
        value: `${Math.round(clientRps(name))}`,
        note: `p99 ${ms(median(results.map((r) => r.p99Ms)))}; ${results.reduce((s, r) => s + r.failed, 0)} failed${name.startsWith("HTTPS") ? `; ${((100 * resumed) / (ROUNDS * REQUESTS)).toFixed(0)} % resumed` : ""}; median of ${ROUNDS}×${REQUESTS}, ${CONCURRENCY} in flight (Node client)`,
      });
    }
    rows.push({ group: "https", case: "new connections: full handshake ÷ HTTP", value: (clientRps("HTTPS, full handshake each time") / clientRps("HTTP")).toFixed(2), note: "TLSv1.3, P-256 certificate" });
    rows.push({ group: "https", case: "new connections: resumed ÷ full handshake", value: (clientRps("HTTPS, session resumed") / clientRps("HTTPS, full handshake each time")).toFixed(2), note: "what session resumption saves" });
  } finally {
    await stack.stop();
    await rm(scratch, { recursive: true, force: true });
  }
  return rows;
}
