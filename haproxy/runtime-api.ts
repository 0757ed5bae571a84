// HAProxy's runtime API: a line protocol on a unix or TCP socket (not HTTP), one command per
// connection. The answer ends with an empty line; a connection closed before that is truncated.
import { connect, type Socket } from "node:net";
import {
  StatsSocketFailedError,
  StatsSocketMissingError,
  StatsSocketPermissionError,
  StatsSocketRefusedError,
  StatsSocketTimeoutError,
  StatsSocketTruncatedError,
} from "./errors.ts";
import { UsageError } from "../lib/errors.ts";

export type StatsEndpoint = { path: string } | { host: string; port: number };

/** "/run/haproxy/admin.sock", "unix:/run/...", or "127.0.0.1:9999". */
export function parseEndpoint(text: string): StatsEndpoint {
  if (text.startsWith("unix:")) return { path: text.slice(5) };
  if (text.startsWith("/") || text.startsWith(".")) return { path: text };
  const match = /^(.+):(\d{1,5})$/.exec(text);
  if (!match) throw new UsageError(`--stats-socket: "${text}" is not a stats socket: use a unix socket path or host:port`);
  return { host: match[1]!, port: Number(match[2]) };
}

export const describeEndpoint = (e: StatsEndpoint) => ("path" in e ? e.path : `${e.host}:${e.port}`);

export interface RuntimeApiOptions {
  /** The whole exchange, connect to last byte, must fit in this. */
  timeoutMs?: number;
}

/** Sends one command and returns HAProxy's complete answer (without its closing empty line). */
export function runtimeCommand(endpoint: StatsEndpoint, command: string, options: RuntimeApiOptions = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const where = describeEndpoint(endpoint);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const socket: Socket = "path" in endpoint ? connect({ path: endpoint.path }) : connect({ host: endpoint.host, port: endpoint.port });
    const finish = (error: Error | undefined, answer?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(new StatsSocketTimeoutError(where, timeoutMs)), timeoutMs);
    // Half-close after the command: the master CLI answers only once it sees the end of input.
    socket.on("connect", () => socket.end(`${command}\n`));
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
    });
    socket.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      if (!text.endsWith("\n\n") && text !== "\n") return finish(new StatsSocketTruncatedError(where, received));
      finish(undefined, text.slice(0, -1));
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") finish(new StatsSocketMissingError(where));
      else if (error.code === "ECONNREFUSED") finish(new StatsSocketRefusedError(where));
      else if (error.code === "EACCES" || error.code === "EPERM") finish(new StatsSocketPermissionError(where));
      else if (error.code === "ECONNRESET" || error.code === "EPIPE") finish(new StatsSocketTruncatedError(where, received));
      else finish(new StatsSocketFailedError(where, error.message));
    });
  });
}
