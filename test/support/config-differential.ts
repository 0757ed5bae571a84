// Two configs side by side on the real HAProxy, the same requests to each: an original haproxy.cfg
// (its binds and servers moved to loopback) and the config rendered from its imported topology
// (moved the same way). Stand-in servers say which backend and server answered and what they
// received; the answers are compared field by field.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { createServer } from "node:net";
import { basename, join } from "node:path";
import { parseConfig } from "../../haproxy/config-parser.ts";
import type { ImportFiles } from "../../infra/import/context.ts";
import { importConfig, refusals } from "../../infra/import/import.ts";
import { validateImported } from "../../infra/import/validate.ts";
import { parseTopology } from "../../infra/model/parse.ts";
import type { Topology, TopologyInput } from "../../infra/model/schema.ts";
import { writeMapFiles } from "../../infra/render/map-files.ts";
import { renderHaproxyConfig } from "../../infra/render/render.ts";
import { mapFiles } from "../../infra/render/routing.ts";
import { ERROR_PAGE_DIR, LUA_DIR, localTarget } from "../../infra/render/targets.ts";
import { findFreePortRange } from "../../infra/runtime/ports.ts";
import { killProcessGroup, startProcess } from "../../infra/runtime/processes.ts";
import { pollUntil } from "../../lib/poll.ts";

export interface DiffRequest {
  /** Which bind line (of the original, in order) it is sent to. */
  bind: number;
  method: string;
  host: string;
  path: string;
  tls: boolean;
  headers: [string, string][];
}

/** What one request got: HAProxy's answer, and what the server behind it received. */
export interface Answer {
  /** 0 when the connection failed: `error` says how. */
  status: number;
  error?: string;
  location?: string;
  backend?: string;
  /** The response headers asked for (lower-case), absent ones as null. */
  responseHeaders: Record<string, string | null>;
  /** The body HAProxy wrote itself (no server answered). */
  body?: string;
  /** What the server received: its path and the request headers asked for. */
  received?: { path: string; headers: Record<string, string | null> };
}

/** The PROXY protocol header at the start of `data` (v1 text or v2 binary): its length, or undefined while incomplete. */
function proxyHeaderLength(data: Buffer): number | undefined {
  if (data.subarray(0, 6).toString("latin1") === "PROXY ") {
    const end = data.indexOf("\r\n");
    return end < 0 ? undefined : end + 2;
  }
  if (data.length < 16) return undefined;
  const length = 16 + data.readUInt16BE(14);
  return data.length < length ? undefined : length;
}

/** A stand-in for one server: on its own loopback port unless told where (a name server points at it). */
export interface StandIn {
  backend: string;
  server: string;
  tls?: boolean;
  proxy?: boolean;
  address?: string;
  port?: number;
}

/** One stand-in server per backend/server name, on its own loopback port; over TLS (with `pem`) where `tls` says, after a PROXY protocol header where `proxy` says. */
export async function startStandIns(servers: readonly StandIn[], pem?: string): Promise<{ port: (backend: string, server: string) => number; close: () => Promise<void> }> {
  const ports = new Map<string, number>();
  const running: (http.Server | ReturnType<typeof createServer>)[] = [];
  for (const { backend, server, tls, proxy, address, port } of servers) {
    const answer = (req: http.IncomingMessage, res: http.ServerResponse) => {
      req.resume();
      const body = JSON.stringify({ backend, server, path: req.url, headers: req.headers });
      res.writeHead(200, { "X-Backend": backend, "X-Server": server, Server: "stand-in/1", "Content-Type": "application/json" }).end(body);
    };
    const web = tls ? https.createServer({ cert: pem, key: pem }, answer) : http.createServer(answer);
    // A server behind send-proxy reads the header first, then speaks HTTP on the rest of the stream.
    const standIn = proxy
      ? createServer((socket) => {
          let buffered = Buffer.alloc(0);
          const read = (chunk: Buffer) => {
            buffered = Buffer.concat([buffered, chunk]);
            const length = proxyHeaderLength(buffered);
            if (length === undefined) return;
            socket.off("data", read);
            socket.pause();
            socket.unshift(buffered.subarray(length));
            web.emit("connection", socket);
            socket.resume();
          };
          socket.on("data", read);
        })
      : web;
    await new Promise<void>((listening) => standIn.listen(port ?? 0, address ?? "127.0.0.1", listening));
    running.push(standIn);
    ports.set(`${backend}/${server}`, (standIn.address() as { port: number }).port);
  }
  return {
    port: (backend, server) => ports.get(`${backend}/${server}`)!,
    close: async () => void (await Promise.all(running.map((s) => new Promise<void>((closed) => s.close(() => closed()))))),
  };
}

export interface Placement {
  /** Health checks off on both sides: stand-ins speak HTTP, not each server's protocol; routing is what is compared. */
  withoutChecks?: boolean;
  /** The loopback port of the original's n-th bind line (and the imported frontends' binds, in the same order). */
  bindPorts: number[];
  serverPort: (backend: string, server: string) => number;
  /** The certificate every TLS bind serves. */
  certificate: string;
  /** The first of PEER_PORTS loopback ports for the peers' lines: the local peer listens on one; nothing answers on the others. */
  peersPort: number;
}

/** Ports set aside for a peers section's lines. */
export const PEER_PORTS = 8;

/** At most this many connections: what this machine's file descriptor limit allows HAProxy. */
const TEST_MAXCONN = 2000;

/** Global lines a test cannot keep: they fork, change user or name paths of the original machine. */
const HOST_ONLY = /^(daemon|user|group|pidfile|chroot|stats\s+socket|log\s)/;

/** The original config, its binds and servers on loopback, what needs root or the original's paths left out. */
export function placeOriginal(text: string, placement: Placement): string {
  let section = "";
  let proxy = "";
  let bind = 0;
  let peer = 0;
  return text
    .split("\n")
    .flatMap((line) => {
      const words = line.trim().split(/\s+/);
      if (/^\S/.test(line) && words[0]) [section, proxy] = [words[0], words[1] ?? ""];
      const body = line.trim();
      if (section === "global" && HOST_ONLY.test(body)) return [];
      // This machine's file descriptors hold fewer connections than a production box's.
      if (section === "global" && words[0] === "maxconn") return [`    maxconn ${Math.min(Number(words[1]), TEST_MAXCONN)}`];
      // A peers section's lines on loopback ports of their own: the local peer listens, the others are never reached.
      if (section === "peers" && (words[0] === "peer" || words[0] === "server") && words[2]) return [`    ${words[0]} ${words[1]} 127.0.0.1:${placement.peersPort + peer++}`];
      if (section === "peers" && words[0] === "bind") return [`    bind 127.0.0.1:${placement.peersPort + PEER_PORTS - 1}`];
      if (words[0] === "bind") {
        const options = words.slice(2).map((w, i, all) => (all[i - 1] === "crt" ? placement.certificate : w));
        return [`    bind 127.0.0.1:${placement.bindPorts[bind++]} ${options.join(" ")}`.trimEnd()];
      }
      if (words[0] === "server" && words[1] && (section === "backend" || section === "listen")) {
        const options = placement.withoutChecks ? words.slice(3).filter((w) => w !== "check") : words.slice(3);
        return [`    server ${words[1]} 127.0.0.1:${placement.serverPort(proxy, words[1])} ${options.join(" ")}`.trimEnd()];
      }
      if (placement.withoutChecks && words[0] === "default-server") return [`    ${words.filter((w) => w !== "check").join(" ")}`];
      return [line];
    })
    .join("\n");
}

/** The imported topology, placed the same way: binds in order on the same ports, servers at their stand-ins. */
export function placeImported(topology: TopologyInput, placement: Placement & { certificateName: string; monitoringPort: number }): TopologyInput {
  let bind = 0;
  const maxconn = topology.global?.maxconn;
  return {
    ...topology,
    ...(maxconn !== undefined && { global: { ...topology.global, maxconn: Math.min(maxconn, TEST_MAXCONN) } }),
    frontends: topology.frontends.map((f) => ({ ...f, binds: f.binds.map((b) => ({ ...b, address: "127.0.0.1", port: placement.bindPorts[bind++]!, lastPort: undefined, ...(b.tlsCertificate !== undefined && { tlsCertificate: placement.certificateName }) })) })),
    backends: topology.backends.map((b) => ({ ...b, servers: (b.servers ?? []).map((s) => ({ ...s, address: "127.0.0.1", port: placement.serverPort(b.name, s.name), unixSocket: undefined, external: true, ...(placement.withoutChecks && { check: false }) })) })),
    monitoring: { ...topology.monitoring, port: placement.monitoringPort },
    ...(topology.peers && { peers: { ...topology.peers, port: placement.peersPort, remotes: (topology.peers.remotes ?? []).map((r, i) => ({ ...r, address: "127.0.0.1", port: placement.peersPort + 1 + i })) } }),
  } as TopologyInput;
}

export interface Ask {
  responseHeaders: string[];
  requestHeaders: string[];
  errorsAreAnswers?: boolean;
}

function send(request: DiffRequest, port: number, ask: Ask): Promise<Answer> {
  const module = request.tls ? https : http;
  return new Promise((resolve, reject) => {
    const req = module.request(
      { host: "127.0.0.1", port, method: request.method, path: request.path, headers: ["Host", request.host, ...request.headers.flat()], setHost: false, agent: false, rejectUnauthorized: false, timeout: 5000, ...(request.tls && { servername: request.host.replace(/:\d+$/, "") }) },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => {
          const backend = res.headers["x-backend"] as string | undefined;
          const responseHeaders = Object.fromEntries(ask.responseHeaders.map((h) => [h, (res.headers[h] as string | undefined) ?? null]));
          const seen = backend !== undefined && request.method !== "HEAD" ? (JSON.parse(body) as { path: string; headers: Record<string, string> }) : undefined;
          resolve({
            status: res.statusCode!,
            ...(res.headers.location !== undefined && { location: res.headers.location }),
            ...(backend !== undefined && { backend }),
            responseHeaders,
            ...(backend === undefined && { body }),
            ...(seen && { received: { path: seen.path, headers: Object.fromEntries(ask.requestHeaders.map((h) => [h, seen.headers[h] ?? null])) } }),
          });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("no answer within 5 s")));
    // A refused or cut connection is an answer too: both configs must refuse or cut the same ones.
    req.on("error", (error: NodeJS.ErrnoException) => (ask.errorsAreAnswers ? resolve({ status: 0, error: error.code ?? error.message, responseHeaders: {} }) : reject(error)));
    req.end();
  });
}

/** A port free now (HAProxy binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs `config` on the real HAProxy in `dir`, sends every request to its bind's port, and stops it. */
export async function answersOf(config: string, dir: string, name: string, requests: readonly DiffRequest[], bindPorts: readonly number[], ask: Ask, ready?: (bindPorts: readonly number[]) => Promise<void>): Promise<Answer[]> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.cfg`);
  // A listener of the test's own says HAProxy is up: probing a TCP bind would open a server connection and move a roundrobin's turn.
  const probe = await freePort();
  writeFileSync(file, `${config}\n\nlisten lb_test_probe\n    mode http\n    bind 127.0.0.1:${probe}\n    http-request return status 200\n`);
  const haproxy = await startProcess({ name: `haproxy-${name}`, command: "haproxy", args: ["-f", file], logFile: join(dir, `${name}.log`) });
  try {
    const up = await pollUntil(() => fetch(`http://127.0.0.1:${probe}/`).then((r) => (r.ok ? true : undefined), () => undefined), { timeoutMs: 5000, intervalMs: 20 });
    if (!up) throw new Error(`HAProxy never answered on its probe port ${probe} (${name}): see ${join(dir, `${name}.log`)}`);
    await ready?.(bindPorts);
    const answers: Answer[] = [];
    for (const request of requests) answers.push(await send(request, bindPorts[request.bind]!, ask));
    return answers;
  } finally {
    await killProcessGroup(haproxy.pid);
  }
}

/** One config to import and run beside its import. */
export interface SideBySideCase {
  file: string;
  text: string;
  /** The files it names (maps), as npm run import reads them. */
  files?: ImportFiles;
  /** The requests to send, from the imported topology (its binds in order, its routes' hosts and paths). */
  requests: (topology: Topology) => DiffRequest[];
  ask: Ask;
  /** Health checks off on both sides (stand-ins speak HTTP, not each server's protocol). */
  withoutChecks?: boolean;
  /** The certificate TLS binds serve, and TLS stand-ins present (PEM, key included). */
  certificate: { file: string; pem: string };
  /** Backends whose stand-ins speak TLS (the servers do). */
  tlsBackends?: (topology: Topology) => ReadonlySet<string>;
  /** The original as it runs here (its map paths moved to where the test keeps them, say). */
  adaptOriginal?: (text: string) => string;
  /** Answers as they are compared (which server, where the balance depends on timing, left out). */
  comparable?: (answers: Answer[], topology: Topology) => Answer[];
  /** The imported topology as it runs here (its discovered groups asking the test's name server, say), before it is placed. */
  adaptImported?: (topology: TopologyInput) => TopologyInput;
  /** Servers the config finds through DNS: their stand-ins, where the test's name server says they are. */
  discovered?: StandIn[];
  /** Resolves once HAProxy (either config) is ready for the requests: its discovered servers found, say. */
  ready?: (bindPorts: readonly number[]) => Promise<void>;
}

/**
 * Imports the config (refusing nothing), places the original and the imported topology's config on
 * loopback with stand-in servers, sends the same requests to each, and says which answers differ.
 */
export async function sideBySide(dir: string, c: SideBySideCase): Promise<{ topology: Topology; before: Answer[]; differences: string[]; sent: DiffRequest[] }> {
  const result = importConfig(parseConfig([{ file: c.file, text: c.text }]), c.file.replace(/\.cfg$/, ""), c.files);
  assert.deepEqual(refusals(result.accounts), []);
  const topology = validateImported(result);
  const tls = c.tlsBackends?.(topology) ?? new Set<string>();
  const standIns = await startStandIns([...topology.backends.flatMap((b) => b.servers.map((s) => ({ backend: b.name, server: s.name, tls: tls.has(b.name), proxy: b.sendProxy !== undefined }))), ...(c.discovered ?? [])], c.certificate.pem);
  try {
    const bindCount = topology.frontends.reduce((n, f) => n + f.binds.length, 0);
    const first = await findFreePortRange(bindCount + 1 + PEER_PORTS);
    const placement = { bindPorts: Array.from({ length: bindCount }, (_, i) => first + i), serverPort: standIns.port, certificate: c.certificate.file, withoutChecks: c.withoutChecks, peersPort: first + bindCount + 1 };
    const original = placeOriginal((c.adaptOriginal ?? ((t) => t))(c.text), placement);
    await writeMapFiles(dir, mapFiles(topology));
    // The error pages the config names, where the rendered config reads them (beside it).
    mkdirSync(join(dir, ERROR_PAGE_DIR), { recursive: true });
    for (const page of result.errorPages) writeFileSync(join(dir, ERROR_PAGE_DIR, page.name), page.text);
    // And the Lua scripts it loads.
    mkdirSync(join(dir, LUA_DIR), { recursive: true });
    for (const script of result.luaScripts) writeFileSync(join(dir, LUA_DIR, script.name), script.text);
    const rendered = renderHaproxyConfig(parseTopology(placeImported((c.adaptImported ?? ((t) => t))(topology), { ...placement, certificateName: basename(c.certificate.file), monitoringPort: first + bindCount })), localTarget(dir));
    const sent = c.requests(topology);
    const comparable = (answers: Answer[]) => (c.comparable ? c.comparable(answers, topology) : answers);
    const before = comparable(await answersOf(original, dir, "original", sent, placement.bindPorts, c.ask, c.ready));
    const after = comparable(await answersOf(rendered, dir, "imported", sent, placement.bindPorts, c.ask, c.ready));
    const differences = sent.flatMap((r, i) => (JSON.stringify(before[i]) === JSON.stringify(after[i]) ? [] : [`${r.method} ${r.tls ? "https" : "http"}://${r.host}${r.path} (bind ${r.bind}) ${JSON.stringify(r.headers)}:\n  original ${JSON.stringify(before[i])}\n  imported ${JSON.stringify(after[i])}`]));
    return { topology, before, differences, sent };
  } finally {
    await standIns.close();
  }
}
