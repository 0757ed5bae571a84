// Real HTTP traffic through the frontend with undici: bounded in count, time and concurrency,
// every reply tagged with the server that answered (apps/ sets X-Served-By).
import { Pool } from "undici";
import type { TrafficSample } from "./judge.ts";

export interface Reply {
  server?: string;
  status?: number;
  /** The persistence cookie HAProxy set, as "NAME=value". */
  setCookie?: string;
  error?: string;
}

export interface ClientOptions {
  /** Parallel connections (and so requests in flight) at most. */
  connections: number;
  /** A source address on this machine (127.0.0.2, ...): a distinct client for balance source. */
  localAddress?: string;
  timeoutMs?: number;
}

export class TrafficClient {
  private readonly pool: Pool;
  private readonly timeoutMs: number;

  constructor(url: string, options: ClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.pool = new Pool(new URL(url).origin, {
      connections: options.connections,
      // A top-level option: inside `connect` undici ignores it, and every client would be 127.0.0.1.
      localAddress: options.localAddress,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
  }

  async get(path = "/", headers: Record<string, string> = {}): Promise<Reply> {
    try {
      const response = await this.pool.request({ path, method: "GET", headers, signal: AbortSignal.timeout(this.timeoutMs) });
      await response.body.dump();
      const served = response.headers["x-served-by"];
      const cookie = response.headers["set-cookie"];
      return {
        status: response.statusCode,
        server: typeof served === "string" ? served : undefined,
        setCookie: (Array.isArray(cookie) ? cookie[0] : cookie)?.split(";")[0],
      };
    } catch (error) {
      return { error: (error as { code?: string }).code ?? (error as Error).message };
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** `count` requests, at most `concurrency` in flight. */
export async function burst(client: TrafficClient, count: number, concurrency: number, request: (i: number) => Promise<Reply> = () => client.get()): Promise<Reply[]> {
  const replies: Reply[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      replies[i] = await request(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return replies;
}

export interface BackgroundTraffic {
  /** Milliseconds since the traffic started. */
  now(): number;
  samples(): readonly TrafficSample[];
  /** Stops sending and waits for the requests in flight. */
  stop(): Promise<TrafficSample[]>;
}

/** Steady traffic until stop(), `maxMs` or `maxRequests`, whichever comes first. */
export function backgroundTraffic(client: TrafficClient, options: { concurrency: number; maxMs: number; maxRequests: number }): BackgroundTraffic {
  const started = performance.now();
  const now = () => Math.round(performance.now() - started);
  const samples: TrafficSample[] = [];
  let stopped = false;
  let sent = 0;
  const worker = async () => {
    while (!stopped && sent < options.maxRequests && now() < options.maxMs) {
      sent++;
      const reply = await client.get();
      samples.push({ t: now(), server: reply.server, status: reply.status, error: reply.error });
    }
  };
  const workers = Promise.all(Array.from({ length: options.concurrency }, worker));
  return {
    now,
    samples: () => samples,
    stop: async () => {
      stopped = true;
      await workers;
      return samples;
    },
  };
}
