// The measurements behind the entrypoints and security assertions: one request per port, TLS
// handshakes, the rate limit and the allowlist from distinct loopback sources. I/O only; judge.ts
// decides what the numbers mean.
import http from "node:http";
import https from "node:https";
import { connect as netConnect } from "node:net";
import { checkServerIdentity, connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { setTimeout as sleep } from "node:timers/promises";
import { Pool } from "undici";
import type { EntrypointExpectation, EntrypointMeasurement, TcpProbe, RoutingExpectation, RoutingMeasurement, SecurityExpectation, SecurityMeasurement } from "./judge.ts";
import { freshLoopbackSource, serverName } from "./traffic.ts";

const TIMEOUT_MS = 5000;

export interface OneReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

/** One GET from `localAddress` (a loopback source), trusting `ca` for HTTPS; never follows redirects. */
export async function requestOnce(url: string, options: { localAddress?: string; ca?: string; path?: string; serverName?: string } = {}): Promise<OneReply> {
  const connect = options.ca || options.serverName ? { ...(options.ca && { ca: options.ca }), ...(options.serverName && { servername: options.serverName }) } : undefined;
  const pool = new Pool(new URL(url).origin, { connections: 1, localAddress: options.localAddress, connect, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
  try {
    const response = await pool.request({ path: options.path ?? `${new URL(url).pathname}${new URL(url).search}`, method: "GET", signal: AbortSignal.timeout(TIMEOUT_MS) });
    await response.body.dump();
    return { status: response.statusCode, headers: response.headers };
  } finally {
    await pool.close();
  }
}

const header = (reply: OneReply, name: string) => {
  const value = reply.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** A TLS handshake only: what the server chose, and whether the chain verifies against `ca`. */
function handshake(url: URL, options: ConnectionOptions): Promise<{ authorized: boolean; authorizationError?: string; protocol?: string; alpn?: string } | { error: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false, ...options }, () => {
      resolve({ authorized: socket.authorized, authorizationError: socket.authorizationError?.toString(), protocol: socket.getProtocol() ?? undefined, alpn: socket.alpnProtocol || undefined });
      socket.end();
    });
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error("handshake timed out")));
    socket.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
}

/** The version just below `minVersion`, which a client may still offer (OpenSSL's security level 0 lets it). */
const BELOW = { "TLSv1.2": "TLSv1.1", "TLSv1.3": "TLSv1.2" } as const;

/** Where a probe's request comes from: 127.0.0.1 (undefined), or a fresh loopback address each time under a per-client rate limit. */
export type SourceChoice = () => string | undefined;

export async function probeEntrypoint(ep: EntrypointExpectation, ca: string | undefined, source: SourceChoice, serverNames: Record<string, string> = {}): Promise<EntrypointMeasurement> {
  if (ep.tcp) return { url: ep.url, tcp: { serverName: ep.tcp.serverName, ...(await probeTcp(new URL(ep.url), ep.tcp, ca, source())) } };
  const measurement: EntrypointMeasurement = { url: ep.url };
  try {
    const reply = await requestOnce(ep.url, { ca, localAddress: source(), ...(ep.tls?.serverName && { serverName: ep.tls.serverName }) });
    Object.assign(measurement, { status: reply.status, server: serverName(header(reply, "x-served-by"), header(reply, "x-served-at"), serverNames), location: header(reply, "location"), hsts: header(reply, "strict-transport-security") });
  } catch (error) {
    measurement.error = (error as { code?: string }).code ?? (error as Error).message;
  }
  if (ep.tls) {
    const url = new URL(ep.url);
    const named = ep.tls.serverName ? { servername: ep.tls.serverName } : {};
    const chosen = await handshake(url, { ca, ALPNProtocols: ["h2", "http/1.1"], ...named });
    const offered = BELOW[ep.tls.minVersion as keyof typeof BELOW];
    const below = offered ? await handshake(url, { ca, minVersion: offered, maxVersion: offered, ciphers: "DEFAULT@SECLEVEL=0", ...named }) : undefined;
    // Refused means the server's protocol_version alert, not a client that could not offer it.
    const outcome = below === undefined ? undefined : "error" in below ? (below.error === "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION" ? "refused" : `failed otherwise (${below.error})`) : `accepted (${below.protocol})`;
    measurement.tls = "error" in chosen ? { authorized: false, authorizationError: chosen.error } : { ...chosen, belowMinimum: offered && outcome ? { offered, outcome } : undefined };
  }
  return measurement;
}

/**
 * One request of the routing matrix, exactly as written (its own Host header, method, source), over
 * node's own client: fetch may not set Host. Never follows a redirect.
 */
export function probeRoute(e: RoutingExpectation, ca: string | undefined, serverNames: Record<string, string>, timeoutMs = TIMEOUT_MS): Promise<RoutingMeasurement> {
  const url = new URL(e.url);
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve) => {
    const req = client.request(
      { host: url.hostname, port: Number(url.port), method: e.method, path: e.target, headers: [["Host", e.host], ...e.headers].flat(), setHost: false, agent: false, localAddress: e.source || undefined, ca, timeout: timeoutMs },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk.length + body.length <= 4096 ? chunk : ""));
        res.on("end", () => {
          const one = (name: string) => (Array.isArray(res.headers[name]) ? res.headers[name][0] : (res.headers[name] as string | undefined));
          resolve({ status: res.statusCode, server: serverName(one("x-served-by"), one("x-served-at"), serverNames), location: one("location"), body });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    req.end();
  });
}

/** Above this, reaching the limit would be a load test, not a check: the rate limit is then not measured. */
export const RATE_LIMIT_MEASURABLE = 2000;

export interface SecurityProbeAccess {
  /** HAProxy's requests to each server of the backend so far (stot), to tell whether a request reached one. */
  serverRequests(): Promise<number>;
}

export async function measureSecurity(url: string, expected: SecurityExpectation, ca: string | undefined, source: SourceChoice, access: SecurityProbeAccess): Promise<SecurityMeasurement> {
  const m: SecurityMeasurement = {};
  if (expected.cookie) {
    const reply = await requestOnce(url, { ca, localAddress: source() });
    m.cookie = { setCookie: header(reply, "set-cookie") };
  }
  if (expected.allowlist && "outsideSource" in expected.allowlist) {
    const before = await access.serverRequests();
    const outside = await requestOnce(url, { ca, localAddress: expected.allowlist.outsideSource });
    const reachedServer = (await access.serverRequests()) > before;
    const inside = await requestOnce(url, { ca, localAddress: "127.0.0.1" });
    m.allowlist = { outsideStatus: outside.status, reachedServer, insideStatus: inside.status };
  }
  const limit = expected.rateLimit;
  if (limit) {
    if (limit.requests > RATE_LIMIT_MEASURABLE) {
      m.rateLimit = { statuses: [], skipped: `the limit (${limit.requests} per window) is above ${RATE_LIMIT_MEASURABLE}: reaching it would be a load test` };
    } else {
      const [client, other] = [freshLoopbackSource(), freshLoopbackSource()];
      const pool = new Pool(new URL(url).origin, { connections: 4, localAddress: client, connect: ca ? { ca } : undefined });
      const statuses: number[] = [];
      let retryAfter: string | undefined;
      try {
        // A few past the limit, 4 in flight: HAProxy counts each request as it tracks it.
        const total = limit.requests + 5;
        let next = 0;
        await Promise.all(Array.from({ length: 4 }, async () => {
          while (next < total) {
            next++;
            const response = await pool.request({ path: "/", method: "GET", signal: AbortSignal.timeout(TIMEOUT_MS) });
            await response.body.dump();
            statuses.push(response.statusCode);
            if (response.statusCode === 429) retryAfter ??= header({ status: 429, headers: response.headers }, "retry-after");
          }
        }));
      } finally {
        await pool.close();
      }
      const otherSourceStatus = (await requestOnce(url, { ca, localAddress: other })).status;
      // Nothing from the client for a whole window: its rate has decayed to 0.
      await sleep(limit.retryAfterSeconds * 1000 + 500);
      const afterWindowStatus = (await requestOnce(url, { ca, localAddress: client })).status;
      m.rateLimit = { statuses, retryAfter, otherSourceStatus, afterWindowStatus };
    }
  }
  return m;
}

/** Opens a connection to a TCP port and, by the probe, speaks a few bytes of its protocol. */
export function probeTcp(url: URL, p: TcpProbe, ca: string | undefined, localAddress?: string): Promise<{ ok: boolean; saw: string }> {
  const target = { host: url.hostname, port: Number(url.port), localAddress };
  if (p.probe === "tls" || p.probe === "refused") {
    return new Promise((resolve) => {
      const socket = tlsConnect({ ...target, servername: p.serverName, ca, rejectUnauthorized: false }, () => {
        const certificate = socket.getPeerCertificate();
        const names = certificate.subjectaltname ?? certificate.subject?.CN ?? "no name";
        const mismatch = p.serverName ? checkServerIdentity(p.serverName, certificate) : undefined;
        socket.end();
        if (p.probe === "refused") return resolve({ ok: false, saw: `a handshake completed (certificate for ${names})` });
        // Node's verdict covers the name too: the name is judged on its own, the chain by what remains.
        if (mismatch) return resolve({ ok: false, saw: `a certificate for ${names}, not ${p.serverName}` });
        if (!socket.authorized) return resolve({ ok: false, saw: `a certificate whose chain does not verify (${socket.authorizationError})` });
        resolve({ ok: true, saw: `a certificate for ${names}` });
      });
      socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error(`no handshake within ${TIMEOUT_MS} ms`)));
      socket.on("error", (error: NodeJS.ErrnoException) => resolve({ ok: p.probe === "refused", saw: `the connection ended without a handshake (${error.code ?? error.message})` }));
    });
  }
  const hello = p.probe === "redis" ? Buffer.from("PING\r\n") : p.probe === "postgresql" ? Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]) : undefined;
  return new Promise((resolve) => {
    let answer = Buffer.alloc(0);
    const socket = netConnect(target, () => {
      if (!hello) {
        socket.end();
        return resolve({ ok: true, saw: "a connection" });
      }
      socket.write(hello);
    });
    const judge = () => {
      const text = answer.toString("latin1");
      if (p.probe === "redis") return text.includes("\r\n") ? { ok: text.startsWith("+PONG"), saw: JSON.stringify(text.trim()) } : undefined;
      // PostgreSQL answers an SSL request with one byte: S (it will speak TLS) or N (it will not).
      return answer.length >= 1 ? { ok: text[0] === "S" || text[0] === "N", saw: `${JSON.stringify(text.slice(0, 1))} to the SSL request` } : undefined;
    };
    socket.on("data", (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk]);
      const verdict = judge();
      if (verdict) {
        socket.destroy();
        resolve(verdict);
      }
    });
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    socket.on("error", (error: NodeJS.ErrnoException) => resolve({ ok: false, saw: error.code ?? error.message }));
    socket.on("close", () => resolve({ ok: false, saw: answer.length ? `only ${JSON.stringify(answer.toString("latin1"))}` : "the connection closed without an answer" }));
  });
}
