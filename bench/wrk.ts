// Running Debian's wrk against a URL, bounded in time, and reading its summary.
import { execFile, spawn } from "node:child_process";
import { killOnInterrupt } from "../lib/interrupt.ts";

export interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Non-2xx/3xx responses plus socket errors: a throughput figure with errors is not comparable. */
  errors: number;
  /** Connect, read, write and timeout errors: connections that broke. */
  socketErrors: number;
  /** Answers that were not 2xx or 3xx. */
  non2xx: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** Reads `wrk --latency` output; throws naming what is missing when the output is not wrk's. */
export function parseWrkOutput(text: string): WrkResult {
  const number = (pattern: RegExp, what: string) => {
    const match = pattern.exec(text);
    if (!match) throw new Error(`wrk output has no ${what}:\n${text}`);
    return match;
  };
  const latency = (percent: string) => {
    const [, value, unit] = number(new RegExp(`^\\s+${percent}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m"), `${percent}% latency`);
    return Number(value) * UNIT_MS[unit!]!;
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const socketErrorCount = socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const non2xxCount = non2xx ? Number(non2xx[1]) : 0;
  return {
    requestsPerSecond: Number(number(/^Requests\/sec:\s+([\d.]+)/m, "Requests/sec")[1]),
    p50Ms: latency("50"),
    p99Ms: latency("99"),
    requests: Number(number(/^\s+(\d+) requests in /m, "request count")[1]),
    errors: socketErrorCount + non2xxCount,
    socketErrors: socketErrorCount,
    non2xx: non2xxCount,
  };
}

export interface WrkOptions {
  seconds: number;
  connections: number;
  threads?: number;
  /** Request headers, "Name: value" (a Host to route on). */
  headers?: string[];
}

export function runWrk(url: string, options: WrkOptions): Promise<WrkResult> {
  const args = ["--latency", `-t${options.threads ?? 1}`, `-c${options.connections}`, `-d${options.seconds}s`, "--timeout", "5s", ...(options.headers ?? []).flatMap((h) => ["-H", h]), url];
  return new Promise((resolve, reject) => {
    killOnInterrupt(execFile("wrk", args, { timeout: (options.seconds + 30) * 1000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`wrk ${args.join(" ")} failed: ${error.message}\n${stderr}`));
      try {
        resolve(parseWrkOutput(stdout));
      } catch (parseError) {
        reject(parseError);
      }
    }));
  });
}

/** wrk in the background until stopped (SIGINT; 10 minutes at most), its summary parsed then. */
export function startWrk(url: string, connections: number): { stop: () => Promise<WrkResult> } {
  const child = killOnInterrupt(spawn("wrk", ["--latency", "-t1", `-c${connections}`, "-d600s", "--timeout", "5s", url], { stdio: ["ignore", "pipe", "pipe"] }));
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  return {
    stop: async () => {
      child.kill("SIGINT");
      await new Promise((r) => child.once("close", r));
      return parseWrkOutput(out);
    },
  };
}
