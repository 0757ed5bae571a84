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
  /**
   * The frontend limits requests per client address: send at most this many from one source, then
   * move to the next loopback address, so that the assertions' own traffic is never throttled.
   */
  perSource?: number;
  timeoutMs?: number;
  /** The CA certificate (PEM) an HTTPS frontend's chain must verify against. */
  ca?: string;
  /** X-Served-At → HAProxy's server name, where it differs from X-Served-By (Expectations.serverNames). */
  serverNames?: Record<string, string>;
}

/**
 * Loopback sources no client of this process has used, from a random place in 127.0.0.0/8: a run
 * right after another does not reuse addresses the frontend still counts.
 */
let nextSource = 2 + Math.floor(Math.random() * 200) * 65_536;
export function freshLoopbackSource(): string {
  nextSource = nextSource >= 254 * 65_536 ? 2 : nextSource + 1;
  if (nextSource % 256 === 0 || nextSource % 256 === 255) return freshLoopbackSource();
  return `127.${(nextSource >> 16) & 255}.${(nextSource >> 8) & 255}.${nextSource & 255}`;
}

/**
 * The HAProxy server that answered: the name the instance gives (X-Served-By), unless the address it
 * was reached at (X-Served-At) is one HAProxy knows by another name (a discovered group's slot).
 */
export function serverName(servedBy: string | undefined, servedAt: string | undefined, serverNames: Record<string, string> = {}): string | undefined {
  return (servedAt !== undefined ? serverNames[servedAt] : undefined) ?? servedBy;
}

export class TrafficClient {
  private pool: Pool;
  private readonly timeoutMs: number;
  private readonly origin: string;
  /** Requests sent from the current source, and the pools left behind to close. */
  private sentFromSource = 0;
  private readonly retired: Pool[] = [];

  constructor(url: string, private readonly options: ClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.origin = new URL(url).origin;
    this.pool = this.newPool(options.localAddress ?? (options.perSource !== undefined ? freshLoopbackSource() : undefined));
  }

  private newPool(localAddress: string | undefined): Pool {
    return new Pool(this.origin, {
      connections: this.options.connections,
      // A top-level option: inside `connect` undici ignores it, and every client would be 127.0.0.1.
      localAddress,
      connect: this.options.ca ? { ca: this.options.ca } : undefined,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
  }

  /** The pool to send the next request from: a new source once this one has used its budget. */
  private nextPool(): Pool {
    const { perSource, localAddress } = this.options;
    if (perSource !== undefined && localAddress === undefined && this.sentFromSource >= perSource) {
      this.retired.push(this.pool);
      this.pool = this.newPool(freshLoopbackSource());
      this.sentFromSource = 0;
    }
    this.sentFromSource++;
    return this.pool;
  }

  async get(path = "/", headers: Record<string, string> = {}): Promise<Reply> {
    try {
      const response = await this.nextPool().request({ path, method: "GET", headers, signal: AbortSignal.timeout(this.timeoutMs) });
      await response.body.dump();
      const served = response.headers["x-served-by"];
      const at = response.headers["x-served-at"];
      const cookie = response.headers["set-cookie"];
      return {
        status: response.statusCode,
        server: serverName(typeof served === "string" ? served : undefined, typeof at === "string" ? at : undefined, this.options.serverNames),
        setCookie: (Array.isArray(cookie) ? cookie[0] : cookie)?.split(";")[0],
      };
    } catch (error) {
      return { error: (error as { code?: string }).code ?? (error as Error).message };
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.pool, ...this.retired.splice(0)].map((pool) => pool.close()));
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
