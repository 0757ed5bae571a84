// The typed view that the Handlebars templates render: every decision (which directive, which
// address for this target) is made here in TypeScript; the templates only lay out lines.
import type { Backend, Bind, Frontend, Server, Topology } from "../model/schema.ts";
import { parseDuration } from "../../haproxy/duration.ts";
import { HAPROXY_PATHS } from "../endpoints.ts";
import { CERTIFICATE_DIR, ERROR_PAGE_DIR, LOCAL_ADDRESS, haproxySockets, type RenderTarget } from "./targets.ts";

export interface ConfigView {
  header: { topology: string; source: string; target: string };
  global: {
    logs: string[];
    maxconn: number;
    statsSocket: string;
    nbthread?: number;
    hardStopAfter: string;
    closeSpreadTime?: string;
    maxRequestHeaders: number;
    bufferSize: number;
    /** Present when a bind terminates TLS. */
    tls?: { options: string; ciphers: string; ciphersuites: string };
  };
  defaults: {
    mode: string;
    options: string[];
    timeouts: { name: string; value: string }[];
    retries: number;
    retryOn?: string;
  };
  resolvers?: { name: string };
  /** One ring per TCP syslog target: HAProxy sends a ring's lines over TCP. */
  rings: RingView[];
  frontends: FrontendView[];
  monitoring: { bind: string; metricsPath: string; healthUri: string; stats?: { uri: string; refresh: string; auth: string } };
  backends: BackendView[];
}

export interface RingView {
  name: string;
  format: string;
  server: string;
  sizeBytes: number;
  maxLineBytes: number;
}

/** A TCP log target's ring: room for a few thousand lines while the syslog server is away. */
export const LOG_RING = { sizeBytes: 262_144, maxLineBytes: 4096 } as const;

export interface FrontendView {
  name: string;
  mode: string;
  binds: string[];
  options: string[];
  allowlist?: string;
  rateLimit?: { tableSize: number; window: string; requests: number; retryAfterSeconds: number };
  /** The redirect rule's arguments for a request that did not come over TLS. */
  httpsRedirect?: string;
  /** The Strict-Transport-Security value, sent on answers over TLS. */
  hsts?: string;
  maxRequestBodyBytes?: number;
  errorPages: { status: number; path: string }[];
  defaultBackend: string;
}

export interface BackendView {
  name: string;
  mode: string;
  balance: string;
  httpCheck?: { method: string; path: string; expectStatus: number };
  cookie?: string;
  /** "option redispatch" or "no option redispatch" when the backend overrides the defaults. */
  redispatch?: string;
  /** A string, so that an override of 0 still renders (Handlebars treats the number 0 as absent). */
  retries?: string;
  retryOn?: string;
  defaultServer?: string;
  servers: { name: string; address: string; options: string }[];
}

/**
 * Mozilla's "intermediate" profile (forward secrecy, AEAD only), without its DHE suites so that no
 * DH parameters are needed; TLS 1.3's suites are OpenSSL's defaults, stated.
 */
export const TLS12_CIPHERS = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
export const TLS13_CIPHERSUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

const DOCKER_RESOLVERS = "docker";
/** How the docker target's servers get their first address: the last known, else libc, else none yet. */
export const DOCKER_INIT_ADDR = "last,libc,none";

export function buildView(topology: Topology, target: RenderTarget, source: string): ConfigView {
  const statsSocketPath = haproxySockets(topology.global, target).admin;
  const { statsSocket } = topology.global;
  const { timeouts } = topology.defaults;
  return {
    header: { topology: topology.name, source, target: target.kind },
    global: {
      logs: topology.global.logs.map((log, i) =>
        (log.transport === "tcp" ? [`ring@${ringName(i)}`, log.facility, log.minLevel] : [log.target, "format", log.format, log.facility, log.minLevel]).filter((w) => w !== undefined).join(" "),
      ),
      maxconn: topology.global.maxconn,
      // expose-fd listeners: a reloading worker takes the listening sockets over from the old one (hitless).
      statsSocket: `${statsSocketPath} mode ${statsSocket.mode} level ${statsSocket.level}${statsSocket.level === "admin" ? " expose-fd listeners" : ""}`,
      nbthread: topology.global.nbthread,
      hardStopAfter: topology.global.hardStopAfter,
      closeSpreadTime: topology.global.closeSpreadTime === "off" ? undefined : topology.global.closeSpreadTime,
      maxRequestHeaders: topology.global.maxRequestHeaders,
      bufferSize: topology.global.bufferSize,
      tls: topology.frontends.some((f) => f.binds.some((b) => b.tlsCertificate !== undefined))
        ? { options: `ssl-min-ver ${topology.global.tls.minVersion}`, ciphers: TLS12_CIPHERS, ciphersuites: TLS13_CIPHERSUITES }
        : undefined,
    },
    defaults: {
      mode: topology.defaults.mode,
      options: [
        topology.defaults.httplog && topology.defaults.mode === "http" ? "httplog" : undefined,
        topology.defaults.mode === "tcp" ? "tcplog" : undefined,
        topology.defaults.dontlognull ? "dontlognull" : undefined,
        topology.defaults.redispatch ? "redispatch" : undefined,
        topology.defaults.idleCloseOnResponse && topology.defaults.mode === "http" ? "idle-close-on-response" : undefined,
      ].filter((o): o is string => o !== undefined),
      timeouts: (
        [
          ["connect", timeouts.connect],
          ["client", timeouts.client],
          ["server", timeouts.server],
          ["check", timeouts.check],
          ["http-request", timeouts.httpRequest],
          ["queue", timeouts.queue],
        ] as const
      )
        .filter(([, value]) => value !== undefined)
        .map(([name, value]) => ({ name, value: value as string })),
      retries: topology.defaults.retries,
      retryOn: topology.defaults.retryOn.length ? topology.defaults.retryOn.join(" ") : undefined,
    },
    resolvers: target.kind === "docker" ? { name: DOCKER_RESOLVERS } : undefined,
    rings: topology.global.logs.flatMap((log, i) => (log.transport === "tcp" ? [{ name: ringName(i), format: log.format, server: log.target, ...LOG_RING }] : [])),
    frontends: topology.frontends.map((f) => frontendView(f, topology.defaults, target)),
    monitoring: {
      bind: `${bindAddress(topology.monitoring.address, target)}:${topology.monitoring.port}`,
      metricsPath: topology.monitoring.metricsPath,
      healthUri: HAPROXY_PATHS.health,
      stats: statsPageServed(topology.monitoring, target)
        ? {
            uri: topology.monitoring.statsUri,
            refresh: topology.monitoring.statsRefresh,
            // HAProxy expands "${NAME}" from its environment as it reads the config.
            auth: `"\${${topology.monitoring.statsAuth!.userFromEnv}}:\${${topology.monitoring.statsAuth!.passwordFromEnv}}"`,
          }
        : undefined,
    },
    backends: topology.backends.map((b) => backendView(b, topology.defaults.mode, target)),
  };
}

const ringName = (logIndex: number) => `log_tcp_${logIndex + 1}`;

/**
 * Whether the stats page is served: only with a login from the environment, and on a public address
 * (anything but loopback on this target) only when the model says so.
 */
export function statsPageServed(monitoring: Topology["monitoring"], target: RenderTarget): boolean {
  if (!monitoring.statsAuth) return false;
  return bindAddress(monitoring.address, target).startsWith("127.") || monitoring.statsOnPublicAddress;
}

function bindAddress(address: string, target: RenderTarget): string {
  return target.kind === "local" ? LOCAL_ADDRESS : address;
}

function bindLine(bind: Bind, target: RenderTarget): string {
  const ports = bind.lastPort !== undefined && bind.lastPort !== bind.port ? `${bind.port}-${bind.lastPort}` : `${bind.port}`;
  const tls = bind.tlsCertificate !== undefined ? ` ssl crt ${CERTIFICATE_DIR}/${bind.tlsCertificate}${bind.http2 ? " alpn h2,http/1.1" : ""}` : "";
  return `${bindAddress(bind.address, target)}:${ports}${tls}`;
}

/**
 * Where a plain request is sent: the same host and path on the frontend's first TLS port. Not
 * "redirect scheme https", which keeps the Host header's port (the plain one).
 */
function httpsRedirect(frontend: Frontend): string | undefined {
  const port = frontend.binds.find((b) => b.tlsCertificate !== undefined)?.port;
  if (!frontend.httpsRedirect || port === undefined) return undefined;
  return `location https://%[req.hdr(host),regsub(:[0-9]+$,)]${port === 443 ? "" : `:${port}`}%[capture.req.uri] code 301`;
}

/** The Retry-After a client over the rate limit gets (what verify expects too): the window, in whole seconds. */
export const retryAfterSeconds = (rateLimit: NonNullable<Frontend["rateLimit"]>) => Math.ceil(parseDuration(rateLimit.window) / 1000);

/** The Strict-Transport-Security value a frontend sends (what verify expects too). */
export function hstsValue(hsts: Frontend["hsts"]): string | undefined {
  if (!hsts) return undefined;
  return ["max-age=" + hsts.maxAgeSeconds, hsts.includeSubdomains ? "includeSubDomains" : undefined, hsts.preload ? "preload" : undefined].filter(Boolean).join("; ");
}

function frontendView(frontend: Frontend, defaults: Topology["defaults"], target: RenderTarget): FrontendView {
  const { mode } = defaults;
  return {
    name: frontend.name,
    mode,
    binds: frontend.binds.map((b) => bindLine(b, target)),
    options: frontend.forwardfor ? ["forwardfor"] : [],
    allowlist: frontend.allowlist?.join(" "),
    // A client over its limit may retry once a window has passed with no requests from it.
    rateLimit: frontend.rateLimit && { ...frontend.rateLimit, retryAfterSeconds: retryAfterSeconds(frontend.rateLimit) },
    httpsRedirect: httpsRedirect(frontend),
    hsts: hstsValue(frontend.hsts),
    maxRequestBodyBytes: mode === "http" && defaults.maxRequestBodyBytes > 0 ? defaults.maxRequestBodyBytes : undefined,
    errorPages: frontend.errorPages.map((p) => ({ status: p.status, path: `${ERROR_PAGE_DIR}/${p.file}` })),
    defaultBackend: frontend.defaultBackend,
  };
}

function backendView(backend: Backend, mode: string, target: RenderTarget): BackendView {
  const cookie = backend.cookie;
  return {
    name: backend.name,
    mode,
    balance: backend.balance,
    httpCheck: backend.healthCheck,
    cookie: cookie
      ? [
          cookie.name,
          cookie.insert ? "insert" : "rewrite",
          cookie.indirect ? "indirect" : undefined,
          cookie.nocache ? "nocache" : undefined,
          cookie.secure ? "secure" : undefined,
          cookie.httponly ? "httponly" : undefined,
          `attr "SameSite=${cookie.sameSite}"`,
        ]
          .filter((w) => w !== undefined)
          .join(" ")
      : undefined,
    redispatch: backend.redispatch === undefined ? undefined : backend.redispatch ? "option redispatch" : "no option redispatch",
    retries: backend.retries === undefined ? undefined : String(backend.retries),
    retryOn: backend.retryOn === undefined ? undefined : backend.retryOn.length ? backend.retryOn.join(" ") : "none",
    // Container names resolve only once the containers run: start with no address rather than fail.
    defaultServer: target.kind === "docker" ? `init-addr ${DOCKER_INIT_ADDR} resolvers ${DOCKER_RESOLVERS}` : undefined,
    servers: backend.servers.map((s) => ({
      name: s.name,
      address: `${target.kind === "local" ? LOCAL_ADDRESS : s.address}:${s.port}`,
      options: serverOptions(s),
    })),
  };
}

function serverOptions(server: Server): string {
  return [
    server.check ? `check inter ${server.inter} fall ${server.fall} rise ${server.rise}` : undefined,
    `weight ${server.weight}`,
    server.cookie !== undefined ? `cookie ${server.cookie}` : undefined,
    server.backup ? "backup" : undefined,
    server.maxconn !== undefined ? `maxconn ${server.maxconn}` : undefined,
    server.disabled ? "disabled" : undefined,
  ]
    .filter((w) => w !== undefined)
    .join(" ");
}
