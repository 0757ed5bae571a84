// TCP services and TLS to servers, side by side in one run on the real local stack:
// (1) redis-benchmark (Debian's redis-tools) through HAProxy's TCP frontend ÷ straight to the
// primary, GET and SET, one request at a time and 16 pipelined; (2) a Redis primary switch: from the
// promotion to the first write HAProxy takes, and the writes refused meanwhile; (3) wrk through
// HAProxy to a server over TLS (re-encryption) ÷ to a plain one, kept-alive and a new server
// connection per request.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology } from "../infra/model/schema.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { startLocalStack, type LocalStack } from "../infra/runtime/stack.ts";
import { topology as data } from "../infra/topologies/data.ts";
import { killOnInterrupt } from "../lib/interrupt.ts";
import { median, ms, type BenchRow } from "./table.ts";
import { runWrk } from "./wrk.ts";
import { redisCommand } from "../lib/redis-command.ts";

const ROUNDS = 3;
const REQUESTS = 50_000;
const CLIENTS = 16;

/** redis-benchmark's requests per second for each test, from its --csv output. */
function redisBenchmark(port: number, tests: string, pipeline: number): Promise<Record<string, number>> {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-t", tests, "-n", String(REQUESTS), "-c", String(CLIENTS), "-P", String(pipeline), "--csv"];
  return new Promise((resolve, reject) => {
    killOnInterrupt(execFile("redis-benchmark", args, { timeout: 120_000 }, (error, stdout) => {
      if (error) return reject(new Error(`redis-benchmark ${args.join(" ")} failed: ${error.message}`));
      const rps: Record<string, number> = {};
      for (const line of stdout.split("\n")) {
        const cells = line.split(",").map((c) => c.replace(/"/g, ""));
        if (cells.length >= 2 && /^[0-9.]+$/.test(cells[1]!)) rps[cells[0]!] = Number(cells[1]);
      }
      resolve(rps);
    }));
  });
}


async function redisRows(topology: Topology): Promise<BenchRow[]> {
  const front = topology.frontends.find((f) => f.name === "redis")!.binds[0]!.port;
  const ports = topology.backends.find((b) => b.name === "redis")!.servers.map((s) => s.port);
  const rows: BenchRow[] = [];
  for (const pipeline of [1, 16]) {
    const through: Record<string, number[]> = { GET: [], SET: [] };
    const direct: Record<string, number[]> = { GET: [], SET: [] };
    // Alternated, so that the machine's drift touches both alike.
    for (let round = 0; round < ROUNDS; round++) {
      const d = await redisBenchmark(ports[0]!, "get,set", pipeline);
      const t = await redisBenchmark(front, "get,set", pipeline);
      for (const test of ["GET", "SET"]) {
        direct[test]!.push(d[test] ?? 0);
        through[test]!.push(t[test] ?? 0);
      }
    }
    for (const test of ["GET", "SET"]) {
      const ratio = median(through[test]!) / median(direct[test]!);
      rows.push({
        group: "tcp",
        case: `redis ${test}${pipeline > 1 ? `, ${pipeline} pipelined` : ""}: through HAProxy ÷ direct`,
        value: ratio.toFixed(2),
        note: `goal ≥ 0.90; ${Math.round(median(through[test]!))} vs ${Math.round(median(direct[test]!))} req/s, ${CLIENTS} clients, median of ${ROUNDS}`,
      });
    }
  }

  // The primary switch, back and forth: promote the replica, demote the primary, then write through HAProxy every 10 ms.
  const switches: { ms: number; refused: number }[] = [];
  let [primary, replica] = ports as [number, number];
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    await redisCommand(replica, "REPLICAOF NO ONE");
    await redisCommand(primary, `REPLICAOF 127.0.0.1 ${replica}`);
    let refused = 0;
    for (;;) {
      const answer = await redisCommand(front, `SET switch ${round}`).catch(() => "error");
      if (answer === "+OK") break;
      refused++;
      if (performance.now() - started > 30_000) throw new Error("no write was accepted within 30 s of the switch");
      await new Promise((r) => setTimeout(r, 10));
    }
    switches.push({ ms: performance.now() - started, refused });
    [primary, replica] = [replica, primary];
    // Let the checks settle before the next switch.
    await new Promise((r) => setTimeout(r, 2000));
  }
  rows.push({
    group: "tcp",
    case: "redis primary switch: promotion → first write through HAProxy",
    value: ms(median(switches.map((s) => s.ms))),
    note: `check every 500 ms, fall 2, rise 1; writes refused meanwhile (READONLY): ${switches.map((s) => s.refused).join(", ")}; median of ${ROUNDS}`,
  });
  return rows;
}

/** Two frontends each to a plain and a TLS server, kept-alive or a new server connection per request. */
function tlsTopology(): Topology {
  const t: any = structuredClone(data);
  const server = (name: string, port: number) => ({ name, address: name, port, inter: "1s", rise: 1 });
  const backends = [
    { name: "plain_ka", servers: [server("plain-1", 7301)] },
    { name: "tls_ka", tls: { caFile: "internal-ca.pem", serverName: "secure.internal" }, servers: [server("tls-1", 7302)] },
    { name: "plain_new", connectionMode: "server-close", servers: [server("plain-1", 7301)] },
    { name: "tls_new", connectionMode: "server-close", tls: { caFile: "internal-ca.pem", serverName: "secure.internal" }, servers: [server("tls-1", 7302)] },
  ].map((b) => ({ healthCheck: { http: { path: "/status" } }, ...b }));
  t.name = "tcp-bench";
  t.global = { ...t.global, logs: [] };
  t.frontends = backends.map((b, i) => ({ name: `f_${b.name}`, binds: [{ port: 7401 + i }], defaultBackend: b.name }));
  t.backends = backends;
  return parseTopology(t);
}

async function tlsRows(scratch: string): Promise<BenchRow[]> {
  const topology = parseTopology(await withFreePorts(tlsTopology()));
  const stack = await startLocalStack(topology, { runDir: join(scratch, "tls") });
  try {
    const url = (backend: string) => `http://127.0.0.1:${topology.frontends.find((f) => f.defaultBackend === backend)!.binds[0]!.port}/`;
    const rows: BenchRow[] = [];
    for (const [label, plain, tls] of [["kept-alive", "plain_ka", "tls_ka"], ["a new server connection per request", "plain_new", "tls_new"]] as const) {
      const rps: Record<string, number[]> = { [plain]: [], [tls]: [] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const backend of [plain, tls]) {
          const result = await runWrk(url(backend), { seconds: 3, connections: CLIENTS });
          if (result.errors > 0) throw new Error(`wrk to ${backend}: ${result.errors} errors`);
          rps[backend]!.push(result.requestsPerSecond);
        }
      }
      rows.push({
        group: "tcp",
        case: `TLS to the servers (re-encryption) ÷ plain, ${label}`,
        value: (median(rps[tls]!) / median(rps[plain]!)).toFixed(2),
        note: `${Math.round(median(rps[tls]!))} vs ${Math.round(median(rps[plain]!))} req/s to one gunicorn, wrk -c${CLIENTS}, median of ${ROUNDS}`,
      });
    }
    return rows;
  } finally {
    await stack.stop();
  }
}

export async function tcpBench(): Promise<BenchRow[]> {
  const scratch = mkdtempSync(join(tmpdir(), "lb-tcp-bench-"));
  try {
    const topology = parseTopology(await withFreePorts(data));
    const stack: LocalStack = await startLocalStack(topology, { runDir: join(scratch, "data") });
    let rows: BenchRow[];
    try {
      rows = await redisRows(topology);
    } finally {
      await stack.stop();
    }
    return [...rows, ...(await tlsRows(scratch))];
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
