// The typed view that the Handlebars templates render: every decision (which directive, which
// address for this target) is made here in TypeScript; the templates only lay out lines.
import { ENV_REFERENCE, bindCertificates, canaryTimingCounter, configuredGroupWeight, configuredWeight, proxyMode, type Backend, type Bind, type Frontend, type ProxyMode, type Server, type ServerGroup, type Topology } from "../model/schema.ts";
import { TargetPlanError } from "../errors.ts";
import { ANY_SUCCESS, checkKind, type CheckStep, type HealthCheck } from "../model/checks.ts";
import { isIP } from "node:net";
import { parseDuration } from "../../haproxy/duration.ts";
import { ACME_CHALLENGE_PATH, HAPROXY_PATHS } from "../endpoints.ts";
import { ACME_CHALLENGE_MAP, backendRulesView, rateLimitTables, routingView, tableSharing, type BackendRulesView, type RoutingView } from "./routing.ts";
import { quote, quoteCheckText } from "./acls.ts";
import { CERTIFICATE_DIR, CERTIFICATE_DIR_VARIABLE, bindCertificatePath, ERROR_PAGE_DIR, certificateDirPath, LUA_DIR, LOCAL_ADDRESS, hostPort, serverStateFile, groupDnsName, haproxySockets, isContainerTarget, localNameServer, serverEndpoint, type RenderTarget } from "./targets.ts";
import { slowAnswersTable } from "../../sidecar/slow-answers.ts";

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
    tls?: { options: string; ciphers: string; ciphersuites: string; curves?: string };
    /** Present when a backend speaks TLS to its servers. */
    serverTls?: { options: string };
    /** presetenv lines: defaults for the variables the config reads (the certificate directory's absolute path). */
    presetenv: string[];
    /** lua-load (or lua-load-per-thread) lines, after default-path: the scripts sit beside the config. */
    luaLoads: string[];
    /** Where the servers' states are saved before a reload (server-state-file), on targets that reload. */
    serverStateFile?: string;
    /** This load balancer's name in the peers section (localpeer). */
    localPeer?: string;
  };
  defaults: {
    mode: string;
    /** The proxies log where global says (log global), or nowhere (no log): the topology has no log target. */
    logs: boolean;
    options: string[];
    /** Options turned off explicitly (no option ...). */
    noOptions: string[];
    timeouts: { name: string; value: string }[];
    retries: number;
    retryOn?: string;
  };
  /** Logins for routes with auth: HAProxy reads each password hash from the environment ("${NAME}"). */
  userlists: { name: string; users: { name: string; env: string }[] }[];
  /** The keyed rate limits' stick tables, each in a section of its own. */
  /** Stick tables in sections of their own (no servers), with what each is for. */
  stickTables: { name: string; table: string; purpose: string }[];
  /** One cache section per backend that caches. */
  caches: { name: string; totalMegabytes: number; maxObjectBytes: number; maxAgeSeconds: number }[];
  /** HAProxy's resolvers sections: the docker target's (container names), one per discovered group. */
  resolvers: ResolversView[];
  /** One ring per TCP syslog target: HAProxy sends a ring's lines over TCP. */
  rings: RingView[];
  /** The peers section the stick tables are shared through: its name and peer lines (the local peer first). */
  peers?: { name: string; peers: string[] };
  frontends: FrontendView[];
  monitoring: { bind: string; metricsPath: string; healthUri: string; stats?: { uri: string; refresh: string; auth: string } };
  backends: BackendView[];
}

export interface ResolversView {
  name: string;
  lines: string[];
}

export interface RingView {
  name: string;
  format: string;
  server: string;
  sizeBytes: number;
  maxLineBytes: number;
}

function refuseLocalSocket(field: string, path: string, target: RenderTarget): never {
  throw new TargetPlanError(`${field}: ${path} is the local syslog's socket, which the ${target.kind} stack's HAProxy does not share: log to stdout (the container's log) or a syslog "host:port"`);
}

/** The option that sets each of the model's connection modes in a backend. */
export const CONNECTION_MODE_OPTIONS = { "keep-alive": "option http-keep-alive", "server-close": "option http-server-close", close: "option httpclose" } as const;

/** A TCP log target's ring: room for a few thousand lines while the syslog server is away. */
export const LOG_RING = { sizeBytes: 262_144, maxLineBytes: 4096 } as const;

export interface FrontendView {
  name: string;
  mode: string;
  binds: string[];
  options: string[];
  noOptions: string[];
  allowlist?: string;
  rateLimit?: { tableSize: number; window: string; requests: number; retryAfterSeconds: number; sharing: string };
  /** The rule that answers ACME HTTP-01 challenges from their map, before anything else may refuse or redirect them. */
  acmeChallengeRule?: string;
  /** The redirect rule's arguments for a request that did not come over TLS. */
  httpsRedirect?: string;
  /** The Strict-Transport-Security value, sent on answers over TLS. */
  hsts?: string;
  maxRequestBodyBytes?: number;
  errorPages: { status: number; path: string }[];
  routing: RoutingView;
  defaultBackend?: string;
  /** Per-proxy lines: maxconn, timeouts, compression, the log's captures. */
  settings: string[];
}

export interface BackendView {
  name: string;
  mode: string;
  balance: string;
  hashType?: string;
  /** The health check's own lines (option httpchk, http-check, tcp-check...). */
  checkLines: string[];
  cookie?: string;
  /** "option redispatch" or "no option redispatch" when the backend overrides the defaults. */
  redispatch?: string;
  /** A string, so that an override of 0 still renders (Handlebars treats the number 0 as absent). */
  retries?: string;
  retryOn?: string;
  defaultServer?: string;
  servers: { name: string; address: string; options: string }[];
  /** A discovered group's slots: "server-template <prefix> <count> <address> <options>". */
  serverTemplate?: { prefix: string; count: number; address: string; options: string };
  /** With cookie persistence on a discovered group: the key HAProxy derives each server's cookie from. */
  dynamicCookieKey?: string;
  rules: BackendRulesView;
  /** The cache this backend serves from and stores into. */
  cache?: string;
  /** Per-proxy lines: timeouts, connection mode, http-reuse, stickiness on the source. */
  settings: string[];
}

/** A frontend's stats page: a login from the environment ("${NAME}", expanded as HAProxy starts), admin actions from an allowlist only. */
function statsPageLines(page: Frontend["statsPage"]): string[] {
  if (!page) return [];
  return [
    "stats enable",
    `stats uri ${page.uri}`,
    `stats refresh ${page.refresh}`,
    "stats hide-version",
    `stats auth "\${${page.userFromEnv}}:\${${page.passwordFromEnv}}"`,
    ...(page.adminFrom ? [`stats admin if { src ${page.adminFrom.join(" ")} }`] : []),
  ];
}

/** "timeout NAME VALUE" for each timeout given. */
const timeoutLines = (timeouts: Record<string, string | undefined>) => Object.entries(timeouts).flatMap(([name, value]) => (value === undefined ? [] : [`timeout ${name} ${value}`]));

/** A backend's cache section. */
export const cacheName = (backend: string) => `cache_${backend}`;

/**
 * Mozilla's "intermediate" profile (forward secrecy, AEAD only), without its DHE suites so that no
 * DH parameters are needed; TLS 1.3's suites are OpenSSL's defaults, stated.
 */
export const TLS12_CIPHERS = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
export const TLS13_CIPHERSUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

const DOCKER_RESOLVERS = "docker";
/** The resolvers section listed servers' names resolve through in a container (the cluster's DNS in Kubernetes). */
const containerResolvers = (target: RenderTarget) => (target.kind === "kubernetes" ? "cluster" : DOCKER_RESOLVERS);
const DOCKER_RESOLVER_LINES = [
  "# The container's own name server, whatever the engine: Docker's 127.0.0.11, podman's",
  "# aardvark-dns on the network's gateway (measured: a fixed 127.0.0.11 left every server MAINT there).",
  "parse-resolv-conf",
  "hold valid 10s",
  "# A name that does not resolve yet (a container not started) is asked again within a second:",
  "# HAProxy's default (hold nx 30s) kept servers MAINT for 40 s after an up (measured on podman).",
  "hold nx 1s",
  "hold other 1s",
  "timeout resolve 1s",
  "timeout retry 1s",
];

/** The resolvers section a discovered group's slots resolve through. */
export const groupResolversName = (backend: string) => `dns_${backend}`;

function groupResolvers(backend: string, group: ServerGroup, topology: Topology, target: RenderTarget): ResolversView {
  const r = group.resolver;
  const nameservers = r.nameservers ?? (target.kind === "local" ? [localNameServer(topology)] : undefined);
  return {
    name: groupResolversName(backend),
    lines: [
      ...(nameservers ? nameservers.map((ns, i) => `nameserver ns${i + 1} ${ns}`) : ["parse-resolv-conf"]),
      `accepted_payload_size ${r.acceptedPayloadSize}`,
      `resolve_retries ${r.retries}`,
      `timeout resolve ${r.resolveEvery}`,
      `timeout retry ${r.retryTimeout}`,
      `hold valid ${r.holdValid}`,
      `hold obsolete ${r.holdObsolete}`,
      `hold nx ${r.holdNx}`,
      `hold timeout ${r.holdDuringOutage}`,
      `hold refused ${r.holdDuringOutage}`,
      `hold other ${r.holdDuringOutage}`,
    ],
  };
}
/** How the docker target's servers get their first address: the last known, else libc, else none yet. */
export const DOCKER_INIT_ADDR = "last,libc,none";

export function buildView(topology: Topology, target: RenderTarget, source: string): ConfigView {
  const logging = topology.global.logs.length > 0;
  const statsSocketPath = haproxySockets(topology.global, target).admin;
  const { statsSocket } = topology.global;
  const { timeouts } = topology.defaults;
  return {
    header: { topology: topology.name, source, target: target.kind },
    global: {
      logs: topology.global.logs.map((log, i) =>
        // The local syslog's socket is on HAProxy's own host: a container or a pod has none.
        log.target.startsWith("/") && target.kind !== "local" ? refuseLocalSocket(`global.logs[${i}].target`, log.target, target) :
        (log.transport === "tcp" ? [`ring@${ringName(i)}`, log.facility, log.minLevel] : [log.target, "format", log.format, log.facility, log.minLevel]).filter((w) => w !== undefined).join(" "),
      ),
      maxconn: topology.global.maxconn,
      // expose-fd listeners: a reloading worker takes the listening sockets over from the old one (hitless).
      statsSocket: `${statsSocketPath} mode ${statsSocket.mode} level ${statsSocket.level}${statsSocket.level === "admin" ? " expose-fd listeners" : ""}`,
      nbthread: topology.global.nbthread,
      hardStopAfter: topology.global.hardStopAfter,
      closeSpreadTime: topology.global.closeSpreadTime === "off" ? undefined : topology.global.closeSpreadTime,
      maxRequestHeaders: topology.global.maxRequestHeaders,
      luaLoads: topology.lua.scripts.map((s) => `${s.perThread ? "lua-load-per-thread" : "lua-load"} ${LUA_DIR}/${s.file}`),
      bufferSize: topology.global.bufferSize,
      serverStateFile: serverStateFile(target),
      localPeer: topology.peers?.localPeer,
      tls: topology.frontends.some((f) => f.binds.some((b) => b.tlsCertificate !== undefined))
        ? {
            options: `ssl-min-ver ${topology.global.tls.minVersion}`,
            ciphers: topology.global.tls.ciphers ?? TLS12_CIPHERS,
            ciphersuites: topology.global.tls.ciphersuites ?? TLS13_CIPHERSUITES,
            curves: topology.global.tls.curves?.join(":"),
          }
        : undefined,
      serverTls: topology.backends.some((b) => b.tls !== undefined) ? { options: `ssl-min-ver ${topology.global.tls.minVersion}` } : undefined,
      presetenv: topology.backends.some((b) => b.tls?.clientCertificate !== undefined) ? [`${CERTIFICATE_DIR_VARIABLE} ${certificateDirPath(target)}`] : [],
    },
    defaults: {
      mode: topology.defaults.mode,
      // No log target: the proxies log nowhere ("no log"), and a log format would only draw HAProxy's warning.
      logs: logging,
      options: [
        logging && topology.defaults.httplog && topology.defaults.mode === "http" ? "httplog" : undefined,
        logging && topology.defaults.mode === "tcp" ? "tcplog" : undefined,
        topology.defaults.dontlognull ? "dontlognull" : undefined,
        topology.defaults.redispatch ? "redispatch" : undefined,
        topology.defaults.idleCloseOnResponse && topology.defaults.mode === "http" ? "idle-close-on-response" : undefined,
      ].filter((o): o is string => o !== undefined),
      // Said even where it is HAProxy's own default, so that the config says what the topology says (import reads it back).
      noOptions: !topology.defaults.idleCloseOnResponse && topology.defaults.mode === "http" ? ["idle-close-on-response"] : [],
      timeouts: (
        [
          ["connect", timeouts.connect],
          ["client", timeouts.client],
          ["server", timeouts.server],
          ["check", timeouts.check],
          ["http-request", timeouts.httpRequest],
          ["queue", timeouts.queue],
          ["tarpit", timeouts.tarpit],
          ["tunnel", timeouts.tunnel],
          ["client-fin", timeouts.clientFin],
          ["server-fin", timeouts.serverFin],
        ] as const
      )
        .filter(([, value]) => value !== undefined)
        .map(([name, value]) => ({ name, value: value as string })),
      retries: topology.defaults.retries,
      retryOn: topology.defaults.retryOn.length ? topology.defaults.retryOn.join(" ") : undefined,
    },
    stickTables: [
      ...rateLimitTables(topology.frontends, topology.peers).map((t) => ({ ...t, purpose: "A rate limit's counts per key" })),
      ...topology.backends.flatMap((b) => (b.canary ? [{ name: slowAnswersTable(b.name), table: slowAnswersTableLine(b), purpose: `The answers slower than ${b.canary.analysis.maxResponseMs} ms per server, for backend ${b.name}'s canary` }] : [])),
    ],
    caches: topology.backends.flatMap((b) => (b.cache ? [{ name: cacheName(b.name), ...b.cache }] : [])),
    userlists: topology.userlists.map((u) => ({ name: u.name, users: u.users.map((user) => ({ name: user.name, env: user.passwordHashFromEnv })) })),
    resolvers: [
      ...(isContainerTarget(target) && topology.backends.some((b) => b.servers.length > 0) ? [{ name: containerResolvers(target), lines: DOCKER_RESOLVER_LINES }] : []),
      ...topology.backends.flatMap((b) => (b.discovery ? [groupResolvers(b.name, b.discovery, topology, target)] : [])),
    ],
    peers: topology.peers && {
      name: topology.peers.name,
      peers: [`${topology.peers.localPeer} ${bindAddress(topology.peers.address, target)}:${topology.peers.port}`, ...topology.peers.remotes.map((r) => `${r.name} ${hostPort(r.address, r.port)}`)],
    },
    rings: topology.global.logs.flatMap((log, i) => (log.transport === "tcp" ? [{ name: ringName(i), format: log.format, server: log.target, ...LOG_RING }] : [])),
    frontends: topology.frontends.map((f) => frontendView(f, topology, target, logging)),
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
    backends: topology.backends.map((b) => backendView(b, topology, target)),
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

/** The address a bind listens on: loopback on the local target (IPv6's for an IPv6 bind), IPv6 in brackets. */
function bindAddress(address: string, target: RenderTarget): string {
  const v6 = address.includes(":");
  if (target.kind === "local") return v6 ? "[::1]" : LOCAL_ADDRESS;
  return v6 ? `[${address}]` : address;
}

/** A bind's ports as HAProxy writes them, and as dst_port matches them. */
const bindPortText = (bind: Pick<Bind, "port" | "lastPort">, separator: "-" | ":") => (bind.lastPort !== undefined && bind.lastPort !== bind.port ? `${bind.port}${separator}${bind.lastPort}` : `${bind.port}`);

function bindLine(bind: Bind, mode: ProxyMode, target: RenderTarget): string {
  const address = bindAddress(bind.address, target);
  const listener = `${address}:${bindPortText(bind, "-")}`;
  // HAProxy expands an environment variable's reference only inside quotes.
  const words = [ENV_REFERENCE.test(address) ? `"${listener}"` : listener];
  if (bind.dualStack && target.kind !== "local") words.push("v4v6");
  if (bind.acceptProxy) words.push("accept-proxy");
  const certificates = bindCertificates(bind);
  if (certificates.length) {
    words.push("ssl", ...certificates.map((c) => `crt ${bindCertificatePath(c)}`));
    if (bind.strictSni) words.push("strict-sni");
    if (mode === "http" && bind.http2) words.push("alpn h2,http/1.1");
    if (bind.ciphers) words.push(`ciphers ${bind.ciphers}`);
    if (bind.ciphersuites) words.push(`ciphersuites ${bind.ciphersuites}`);
    if (bind.curves) words.push(`curves ${bind.curves.join(":")}`);
    const client = bind.clientCertificates;
    if (client) words.push(`ca-file ${CERTIFICATE_DIR}/${client.caFile}`, `verify ${client.verify}`, ...(client.crlFile ? [`crl-file ${CERTIFICATE_DIR}/${client.crlFile}`] : []));
  }
  return words.join(" ");
}

/** The PROXY protocol only from the declared networks: tcp-request connection rules see the real peer, not the header's claim. */
const acceptProxyRules = (binds: readonly Bind[]) =>
  binds.flatMap((b) => (b.acceptProxy ? [`tcp-request connection reject if { dst_port ${bindPortText(b, ":")} } !{ src ${b.acceptProxy.from.join(" ")} }`] : []));

/** The client certificate's subject, passed on to the servers of an HTTP frontend (absent without one). */
const clientSubjectRules = (binds: readonly Bind[]) =>
  [...new Set(binds.flatMap((b) => (b.clientCertificates?.subjectHeader ? [b.clientCertificates.subjectHeader] : [])))].flatMap((header) => [
    `http-request del-header ${header}`,
    `http-request set-header ${header} %[ssl_c_s_dn] if { ssl_c_used }`,
  ]);

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

/** The ACL the allowlist's deny rule tests (the template names it too). */
const ALLOWLIST_ACL = "allowlisted";

/**
 * An ACME server's HTTP-01 request, answered with the key authorization the issuer put in the map
 * for its token (at runtime: no reload); a token not in the map goes on like any request.
 */
const ACME_CHALLENGE_LOOKUP = `path,field(4,/),map(${ACME_CHALLENGE_MAP})`;
export const ACME_CHALLENGE_RULE = `return status 200 content-type text/plain lf-string "%[${ACME_CHALLENGE_LOOKUP}]" if { path_beg ${ACME_CHALLENGE_PATH} } { ${ACME_CHALLENGE_LOOKUP} -m found }`;

function frontendView(frontend: Frontend, topology: Topology, target: RenderTarget, logging: boolean): FrontendView {
  const { defaults } = topology;
  const managesCertificates = topology.certificates.length > 0;
  const mode = proxyMode(frontend, defaults);
  const http = mode === "http";
  return {
    name: frontend.name,
    mode,
    binds: frontend.binds.map((b) => bindLine(b, mode, target)),
    options: [
      ...(http && (frontend.forwardfor ?? true) ? ["forwardfor"] : []),
      // The log format follows the frontend's mode, whatever the defaults say.
      ...(logging && http && defaults.mode === "tcp" && defaults.httplog ? ["httplog"] : []),
      ...(logging && !http && defaults.mode === "http" ? ["tcplog"] : []),
      ...(frontend.tcpKeepAlive ? ["clitcpka"] : []),
    ],
    // The defaults' HTTP-only options, which a TCP frontend would otherwise warn about.
    noOptions: !http && defaults.mode === "http" && defaults.idleCloseOnResponse ? ["idle-close-on-response"] : [],
    allowlist: frontend.allowlist?.join(" "),
    // A client over its limit may retry once a window has passed with no requests from it.
    rateLimit: frontend.rateLimit && { ...frontend.rateLimit, retryAfterSeconds: retryAfterSeconds(frontend.rateLimit), sharing: tableSharing(topology.peers) },
    acmeChallengeRule: http && managesCertificates ? ACME_CHALLENGE_RULE : undefined,
    httpsRedirect: httpsRedirect(frontend),
    hsts: hstsValue(frontend.hsts),
    maxRequestBodyBytes: http && defaults.maxRequestBodyBytes > 0 ? defaults.maxRequestBodyBytes : undefined,
    errorPages: frontend.errorPages.map((p) => ({ status: p.status, path: `${ERROR_PAGE_DIR}/${p.file}` })),
    routing: routingView(frontend, [ALLOWLIST_ACL], mode),
    settings: [
      ...acceptProxyRules(frontend.binds),
      ...(http ? clientSubjectRules(frontend.binds) : []),
      ...(frontend.maxconn !== undefined ? [`maxconn ${frontend.maxconn}`] : []),
      ...timeoutLines({ client: frontend.timeouts?.client, "http-keep-alive": frontend.timeouts?.httpKeepAlive, "http-request": frontend.timeouts?.httpRequest, "client-fin": frontend.timeouts?.clientFin }),
      ...(frontend.compression ? [`compression algo ${frontend.compression.algorithms.join(" ")}`, `compression type ${frontend.compression.types.join(" ")}`] : []),
      ...(frontend.logCaptures?.requestHeaders ?? []).map((c) => `capture request header ${c.name} len ${c.length}`),
      ...(frontend.logCaptures?.responseHeaders ?? []).map((c) => `capture response header ${c.name} len ${c.length}`),
      ...statsPageLines(frontend.statsPage),
    ],
    defaultBackend: frontend.defaultBackend,
  };
}

/** Where the canaries' slow answers are counted: on the stick counter no frontend tracks with. */
const slowAnswerCounting = (topology: Topology) => (backend: Pick<Backend, "name">) => ({ counter: canaryTimingCounter(topology.frontends)!, table: slowAnswersTable(backend.name) });

/** A slow-answer table: one entry per server name (Name: at most 64 characters), kept a day after its last slow answer. */
const slowAnswersTableLine = (backend: Backend) => `stick-table type string len 64 size ${Math.max(16, backend.servers.length + (backend.discovery?.maxServers ?? 0))} expire 24h store gpc0`;

function backendView(backend: Backend, topology: Topology, target: RenderTarget): BackendView {
  const mode = proxyMode(backend, topology.defaults);
  const cookie = backend.cookie;
  const group = backend.discovery;
  return {
    name: backend.name,
    mode,
    balance: backend.balance === "url_param" ? `url_param ${backend.balanceKey}` : backend.balance === "hdr" ? `hdr(${backend.balanceKey})` : backend.balance,
    hashType: backend.hashType,
    checkLines: backend.healthCheck ? checkLines(backend.healthCheck) : [],
    cookie: cookie
      ? [
          cookie.name,
          cookie.insert ? "insert" : "rewrite",
          cookie.indirect ? "indirect" : undefined,
          cookie.nocache ? "nocache" : undefined,
          cookie.secure ? "secure" : undefined,
          cookie.httponly ? "httponly" : undefined,
          `attr "SameSite=${cookie.sameSite}"`,
          // A discovered server has no cookie value of its own: HAProxy derives one from its address.
          group ? "dynamic" : undefined,
        ]
          .filter((w) => w !== undefined)
          .join(" ")
      : undefined,
    redispatch: backend.redispatch === undefined ? undefined : backend.redispatch ? "option redispatch" : "no option redispatch",
    retries: backend.retries === undefined ? undefined : String(backend.retries),
    retryOn: backend.retryOn === undefined ? undefined : backend.retryOn.length ? backend.retryOn.join(" ") : "none",
    // Container names resolve only once the containers run: start with no address rather than fail.
    defaultServer: isContainerTarget(target) && backend.servers.length > 0 ? `init-addr ${DOCKER_INIT_ADDR} resolvers ${containerResolvers(target)}` : undefined,
    servers: backend.servers.map((s) => ({
      name: s.name,
      address: serverEndpoint(backend.name, s, target),
      // A name of someone else's service that does not resolve as HAProxy starts leaves that server without an
      // address (it is checked DOWN) rather than stopping every other backend (the containers' default-server says so).
      options: [serverOptions({ ...s, weight: configuredWeight(backend, s) }), ...backendServerOptions(backend), ...(s.external && target.kind === "local" && s.address !== undefined && isIP(s.address) === 0 ? [`init-addr ${DOCKER_INIT_ADDR}`] : [])].join(" "),
    })),
    serverTemplate: group && {
      prefix: group.name,
      count: group.maxServers,
      address: `${groupDnsName(group, target)}${group.port !== undefined ? `:${group.port}` : ""}`,
      // init-addr none: the slots start empty and take addresses from the answers, never from libc at start.
      options: [serverOptions({ ...group, weight: configuredGroupWeight(backend, group), cookie: undefined, backup: false, disabled: false }), ...backendServerOptions(backend), `resolvers ${groupResolversName(backend.name)} init-addr none${RESOLVE_PREFER[group.record]}`].join(" "),
    },
    // The same on every HAProxy replica, so that each derives the same cookie for a server.
    dynamicCookieKey: group && cookie ? dynamicCookieKey(topology.name, backend.name) : undefined,
    rules: backendRulesView(backend, slowAnswerCounting(topology)(backend)),
    cache: backend.cache ? cacheName(backend.name) : undefined,
    settings: [
      ...timeoutLines({ connect: backend.timeouts?.connect, server: backend.timeouts?.server, queue: backend.timeouts?.queue, tunnel: backend.timeouts?.tunnel, "server-fin": backend.timeouts?.serverFin }),
      ...(backend.connectionMode ? [CONNECTION_MODE_OPTIONS[backend.connectionMode]] : []),
      ...(backend.httpReuse ? [`http-reuse ${backend.httpReuse}`] : []),
      ...(backend.stickOnSource ? [`stick-table type ip size ${backend.stickOnSource.tableSize} expire ${backend.stickOnSource.expire}${tableSharing(topology.peers)}`, "stick on src"] : []),
      ...(backend.tcpKeepAlive ? ["option srvtcpka"] : []),
      // A discovered group's slots follow the name server, never a saved state: HAProxy 2.6 can keep a slot restored
      // from the state file on its old address (HAProxy issues 621, 1061, 1387), so they are judged afresh at a reload.
      ...(group && serverStateFile(target) ? ["load-server-state-from-file none"] : []),
    ],
  };
}

/** A tcp-check sequence's step. */
function stepLine(step: CheckStep): string {
  if (step.connect) return ["tcp-check connect", step.connect.port !== undefined ? `port ${step.connect.port}` : undefined, step.connect.tls ? "ssl" : undefined].filter(Boolean).join(" ");
  if (step.send !== undefined) return `tcp-check send ${quoteCheckText(step.send)}`;
  if (step.sendBinary !== undefined) return `tcp-check send-binary ${step.sendBinary.toLowerCase()}`;
  const e = step.expect!;
  const not = e.negate ? "!" : "";
  if (e.string !== undefined) return `tcp-check expect ${not}string ${quoteCheckText(e.string)}`;
  if (e.regex !== undefined) return `tcp-check expect ${not}rstring ${quote(e.regex)}`;
  return `tcp-check expect ${not}binary ${e.binary!.toLowerCase()}`;
}

/**
 * Redis: PING answered by +PONG; a primary-only check also asks INFO replication for role:master
 * (redis-check alone takes a replica too). QUIT at the end, so that the server closes first.
 */
function redisSteps(redis: NonNullable<HealthCheck["redis"]>, primaryOnly: boolean): string[] {
  if (!primaryOnly && redis.passwordFromEnv === undefined) return ["option redis-check"];
  return [
    "option tcp-check",
    // HAProxy expands ${NAME} from its environment inside double quotes: the password is never in the config.
    ...(redis.passwordFromEnv ? [`tcp-check send "AUTH \${${redis.passwordFromEnv}}\\r\\n"`, "tcp-check expect string +OK"] : []),
    stepLine({ send: "PING\r\n" }),
    stepLine({ expect: { string: "+PONG", negate: false } }),
    // QUIT right behind the question: the server closes after its answer, so a replica fails the
    // expectation at once instead of after the check's timeout (HAProxy waits for more data).
    ...(primaryOnly
      ? [stepLine({ send: "INFO replication\r\nQUIT\r\n" }), stepLine({ expect: { string: "role:master", negate: false } })]
      : [stepLine({ send: "QUIT\r\n" }), stepLine({ expect: { string: "+OK", negate: false } })]),
  ];
}

/** A health check's own lines in the backend section; where it connects (port, TLS) goes on the servers. */
export function checkLines(check: HealthCheck): string[] {
  switch (checkKind(check)) {
    case "http": {
      const h = check.http!;
      return [
        `option httpchk ${h.method} ${h.path}`,
        ...(h.host ? [`http-check send hdr Host ${h.host}`] : []),
        // HAProxy's own rule is no line at all; with a body expectation it must be said, or any status would pass.
        ...(h.expectStatus !== ANY_SUCCESS ? [`http-check expect status ${h.expectStatus}`] : h.expectBody !== undefined || h.expectBodyRegex !== undefined ? ["http-check expect rstatus ^[23]"] : []),
        ...(h.expectBody !== undefined ? [`http-check expect string ${quote(h.expectBody)}`] : []),
        ...(h.expectBodyRegex !== undefined ? [`http-check expect rstring ${quote(h.expectBodyRegex)}`] : []),
      ];
    }
    case "connect":
      return [];
    case "steps":
      return ["option tcp-check", ...check.steps!.map(stepLine)];
    case "redis":
      return redisSteps(check.redis!, check.primaryOnly);
    case "postgresql":
      return [`option pgsql-check user ${check.postgresql!.user}`];
    case "mysql":
      return [`option mysql-check user ${check.mysql!.user} post-41`];
    case "smtp":
      return [`option smtpchk EHLO ${check.smtp!.domain}`];
    case "ldap":
      return ["option ldap-check"];
    case "tlsHello":
      return ["option ssl-hello-chk"];
  }
}

/** What every server of a backend shares: where its check goes, its agent, TLS, the PROXY protocol, what happens as it goes DOWN or UP. */
function backendServerOptions(backend: Backend): string[] {
  const check = backend.healthCheck;
  const tls = backend.tls;
  const words: string[] = [];
  if (check?.address !== undefined) words.push(`addr ${check.address}`);
  if (check?.port !== undefined) words.push(`port ${check.port}`);
  if (check?.tls) words.push("check-ssl");
  // Without ssl, verify and ca-file govern the check alone: the traffic passes through as it came.
  if (check?.tls && !tls && check.tlsVerify) {
    const v = check.tlsVerify;
    words.push(...(v.insecureSkipVerify ? ["verify none"] : ["verify required", `ca-file ${CERTIFICATE_DIR}/${v.caFile}`]), ...(v.serverName !== undefined ? [`check-sni ${v.serverName}`, `verifyhost ${v.serverName}`] : []));
  }
  if (backend.agent) words.push(`agent-check agent-port ${backend.agent.port} agent-inter ${backend.agent.inter}${backend.agent.send !== undefined ? ` agent-send ${quoteCheckText(backend.agent.send)}` : ""}`);
  if (backend.slowStart) words.push(`slowstart ${backend.slowStart}`);
  if (backend.shutdownSessionsOnDown) words.push("on-marked-down shutdown-sessions");
  if (backend.shutdownBackupSessionsOnUp) words.push("on-marked-up shutdown-backup-sessions");
  if (backend.sendProxy) {
    words.push(backend.sendProxy === "v2" ? "send-proxy-v2" : "send-proxy");
    // A check on the traffic's port meets the same server, which expects the header there too.
    if (check !== undefined && check.port === undefined && check.address === undefined && checkKind(check) !== "connect") words.push("check-send-proxy");
  }
  if (tls) {
    words.push("ssl");
    if (tls.insecureSkipVerify) words.push("verify none");
    else words.push("verify required", `ca-file ${CERTIFICATE_DIR}/${tls.caFile}`);
    if (tls.serverName !== undefined) words.push(`sni str(${tls.serverName})`, `verifyhost ${tls.serverName}`, ...(check?.tls || check?.port === undefined ? [`check-sni ${tls.serverName}`] : []));
    if (tls.clientCertificate !== undefined) words.push(`crt "\${${CERTIFICATE_DIR_VARIABLE}}/${tls.clientCertificate}"`);
    if (tls.alpn) words.push(`alpn ${tls.alpn.join(",")}`);
  }
  return words;
}

/** Which family a slot takes from an answer (an SRV record's targets may have both). */
const RESOLVE_PREFER: Record<ServerGroup["record"], string> = { A: " resolve-prefer ipv4", AAAA: " resolve-prefer ipv6", SRV: "" };

/** Not a secret (it only keeps addresses out of cookies), but stable: every replica must agree on it. */
export const dynamicCookieKey = (topology: string, backend: string) => `${topology}.${backend}`;

function serverOptions(server: Pick<Server, "check" | "inter" | "fall" | "rise" | "weight" | "cookie" | "backup" | "maxconn" | "disabled"> & Partial<Pick<Server, "fastInter" | "downInter">>): string {
  return [
    server.check ? `check inter ${server.inter} fall ${server.fall} rise ${server.rise}` : undefined,
    server.check && server.fastInter !== undefined ? `fastinter ${server.fastInter}` : undefined,
    server.check && server.downInter !== undefined ? `downinter ${server.downInter}` : undefined,
    `weight ${server.weight}`,
    server.cookie !== undefined ? `cookie ${server.cookie}` : undefined,
    server.backup ? "backup" : undefined,
    server.maxconn !== undefined ? `maxconn ${server.maxconn}` : undefined,
    server.disabled ? "disabled" : undefined,
  ]
    .filter((w) => w !== undefined)
    .join(" ");
}
