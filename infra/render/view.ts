// The typed view that the Handlebars templates render: every decision (which directive, which
// address for this target) is made here in TypeScript; the templates only lay out lines.
import type { Backend, Bind, Frontend, Server, Topology } from "../model/schema.ts";
import { CERTIFICATE_DIR, DOCKER_PATHS, ERROR_PAGE_DIR, LOCAL_ADDRESS, haproxySockets, type RenderTarget } from "./targets.ts";

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
  };
  defaults: {
    mode: string;
    options: string[];
    timeouts: { name: string; value: string }[];
    retries: number;
    retryOn?: string;
  };
  resolvers?: { name: string; nameserver: string };
  frontends: FrontendView[];
  monitoring: { bind: string; statsUri: string; statsRefresh: string; metricsPath: string };
  backends: BackendView[];
}

export interface FrontendView {
  name: string;
  mode: string;
  binds: string[];
  options: string[];
  allowlist?: string;
  rateLimit?: { tableSize: number; window: string; requests: number };
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
      logs: topology.global.logs.map((log) =>
        [log.target, "format", log.format, log.facility, log.minLevel].filter((w) => w !== undefined).join(" "),
      ),
      maxconn: topology.global.maxconn,
      // expose-fd listeners: a reloading worker takes the listening sockets over from the old one (hitless).
      statsSocket: `${statsSocketPath} mode ${statsSocket.mode} level ${statsSocket.level}${statsSocket.level === "admin" ? " expose-fd listeners" : ""}`,
      nbthread: topology.global.nbthread,
      hardStopAfter: topology.global.hardStopAfter,
      closeSpreadTime: topology.global.closeSpreadTime === "off" ? undefined : topology.global.closeSpreadTime,
      maxRequestHeaders: topology.global.maxRequestHeaders,
      bufferSize: topology.global.bufferSize,
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
    resolvers: target.kind === "docker" ? { name: DOCKER_RESOLVERS, nameserver: DOCKER_PATHS.dns } : undefined,
    frontends: topology.frontends.map((f) => frontendView(f, topology.defaults, target)),
    monitoring: {
      bind: `${bindAddress(topology.monitoring.address, target)}:${topology.monitoring.port}`,
      statsUri: topology.monitoring.statsUri,
      statsRefresh: topology.monitoring.statsRefresh,
      metricsPath: topology.monitoring.metricsPath,
    },
    backends: topology.backends.map((b) => backendView(b, topology.defaults.mode, target)),
  };
}

function bindAddress(address: string, target: RenderTarget): string {
  return target.kind === "local" ? LOCAL_ADDRESS : address;
}

function bindLine(bind: Bind, target: RenderTarget): string {
  const ports = bind.lastPort !== undefined && bind.lastPort !== bind.port ? `${bind.port}-${bind.lastPort}` : `${bind.port}`;
  const tls = bind.tlsCertificate !== undefined ? ` ssl crt ${CERTIFICATE_DIR}/${bind.tlsCertificate}` : "";
  return `${bindAddress(bind.address, target)}:${ports}${tls}`;
}

function frontendView(frontend: Frontend, defaults: Topology["defaults"], target: RenderTarget): FrontendView {
  const { mode } = defaults;
  return {
    name: frontend.name,
    mode,
    binds: frontend.binds.map((b) => bindLine(b, target)),
    options: frontend.forwardfor ? ["forwardfor"] : [],
    allowlist: frontend.allowlist?.join(" "),
    rateLimit: frontend.rateLimit,
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
