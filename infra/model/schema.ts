// The topology model: one zod schema, from which every TypeScript type is inferred.
//
// Every string that reaches haproxy.cfg is constrained here to a character set that cannot start
// a new line, a comment (#) or a second argument, so rendering never needs to escape anything; the
// routing values (./routing.ts) are rendered in single quotes and only have to leave the quote out.
import { isIP } from "node:net";
import { z } from "zod";
import { durationProblem, parseDuration } from "../../haproxy/duration.ts";
import { HAPROXY_ERROR_STATUSES } from "../../haproxy/statuses.ts";
import { EnvName, FileName, NAME_PATTERN, Name, intIn, show } from "./names.ts";
import { AgentCheck, HealthCheck, TCP_ONLY_CHECK_KINDS, checkKind } from "./checks.ts";
import { ManagedCertificate } from "./certificates.ts";
import { Canary, canaryIssues } from "./canary.ts";
import { AcceptProxy, ClientCertificates, SEND_PROXY_VERSIONS, ServerTls, TlsSettings } from "./tls.ts";
import { BackendAnswer, Condition, ForwardedHeaders, KEYED_RATE_LIMIT_COUNTERS, KeyedRateLimit, Route, RouteTable, Rule, SecurityHeaders, Userlist, routingIssues, ruleIssues } from "./routing.ts";

export { EnvName, FileName, NAME_PATTERN, Name, HealthCheck };

// --- scalar types -------------------------------------------------------------------------------

/** Host names and IPv4 addresses; "*" means every address. */
const HOST_PATTERN = /^(\*|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$/;
export const Host = z.string().regex(HOST_PATTERN, {
  error: (iss) => `${show(iss.input)} is not a host: use a host name, an IPv4 address or "*"`,
});

/** Where a bind listens: a host name, an IPv4 address, an IPv6 address ("::1", "::" for every one) or "*". */
export const BindAddress = z.string().check((ctx) => {
  if (HOST_PATTERN.test(ctx.value) || isIP(ctx.value) === 6) return;
  ctx.issues.push({ code: "custom", input: ctx.value, continue: true, message: `${show(ctx.value)} is not an address to listen on: use "*", a host name, an IPv4 or an IPv6 address ("::" for every IPv6 one)` });
});

export const Port = z
  .number({ error: (iss) => `${show(iss.input)} is not a port: use a whole number from 1 to 65535` })
  .int({ error: (iss) => `${show(iss.input)} is not a port: use a whole number from 1 to 65535` })
  .min(1, { error: (iss) => `${show(iss.input)} is not a port: use a whole number from 1 to 65535` })
  .max(65535, { error: (iss) => `${show(iss.input)} is not a port: use a whole number from 1 to 65535` });

/** A duration as HAProxy writes it ("500ms", "5s", "1m"): the unit is required, never implied. */
export const Duration = z.string().check((ctx) => {
  const problem = durationProblem(ctx.value);
  if (problem !== undefined) {
    // continue: keep checking the rest, so every problem is reported at once
    ctx.issues.push({ code: "custom", input: ctx.value, continue: true, message: problem });
  }
});

/** Absolute file-system paths (sockets, certificates); no spaces so each stays one argument. */
const PATH_PATTERN = /^\/[A-Za-z0-9._/-]{0,200}$/;
export const FilePath = z.string().regex(PATH_PATTERN, {
  error: (iss) => `${show(iss.input)} is not a usable path: use an absolute path of letters, digits and "._/-"`,
});

/** An HTTP request path for health checks and service endpoints. */
const URI_PATH_PATTERN = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,200}$/;
export const UriPath = z.string().regex(URI_PATH_PATTERN, {
  error: (iss) => `${show(iss.input)} is not a request path: start with "/" and use no spaces, quotes or "#"`,
});

const IPV4_CIDR_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(\/(\d{1,2}))?$/;
export const Ipv4Cidr = z.string().check((ctx) => {
  const m = IPV4_CIDR_PATTERN.exec(ctx.value);
  const ok = m !== null && [1, 2, 3, 4].every((i) => Number(m[i]) <= 255) && (m[6] === undefined || Number(m[6]) <= 32);
  if (!ok) {
    ctx.issues.push({
      code: "custom",
      input: ctx.value,
      continue: true, // keep checking the rest, so every problem is reported at once
      message: `${show(ctx.value)} is not an IPv4 address or network: use e.g. "10.0.0.0/8" or "192.168.1.10"`,
    });
  }
});

const COOKIE_VALUE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
export const CookieValue = z.string().regex(COOKIE_VALUE_PATTERN, {
  error: (iss) => `${show(iss.input)} is not a cookie value: use 1 to 64 letters, digits or "_.-"`,
});

// --- sections -----------------------------------------------------------------------------------

export const SYSLOG_FACILITIES = [
  "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2", "ftp",
  "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
] as const;

/** Where HAProxy sends its logs: stdout/stderr for containers, or a syslog server. */
export const LogTarget = z.strictObject({
  target: z.union([z.literal("stdout"), z.literal("stderr"), z.string().regex(/^[A-Za-z0-9.-]{1,253}:[0-9]{1,5}$/, {
    error: (iss) => `${show(iss.input)} is not a log target: use "stdout", "stderr" or a syslog "host:port"`,
  })]),
  format: z.enum(["raw", "rfc3164", "rfc5424", "short", "iso", "priority", "timed", "local"]).default("raw"),
  facility: z.enum(SYSLOG_FACILITIES).default("local0"),
  /** Only messages at this level or more severe are sent. */
  minLevel: z.enum(["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]).optional(),
  /**
   * How a syslog "host:port" target is reached: UDP datagrams (syslog's classic transport, lossy
   * under pressure), or TCP through a ring buffer (RFC 6587 octet counting; HAProxy 2.6 keeps the
   * lines in memory while the server is away, and drops the oldest when the ring is full).
   */
  transport: z.enum(["udp", "tcp"], { error: (iss) => `${show(iss.input)} is not a log transport: use "udp" or "tcp"` }).default("udp"),
});

/** The TLS versions a bind may require at least (HAProxy's ssl-min-ver words). */
export const TLS_VERSIONS = ["TLSv1.2", "TLSv1.3"] as const;

export const Global = z.strictObject({
  maxconn: intIn(1, 1_000_000, "a connection limit").default(4096),
  logs: z.array(LogTarget).max(2, { error: "HAProxy keeps at most 2 log targets per section" }).default([
    { target: "stdout", format: "raw", facility: "local0", transport: "udp" },
  ]),
  /** The admin runtime API socket that the sidecar and the local runtime read. */
  statsSocket: z
    .strictObject({
      path: FilePath.default("/var/lib/haproxy/admin.sock"),
      mode: z.string().regex(/^[0-7]{3,4}$/, { error: (iss) => `${show(iss.input)} is not a file mode: use octal, e.g. "660"` }).default("660"),
      level: z.enum(["user", "operator", "admin"]).default("admin"),
    })
    .prefault({}),
  /** The master CLI socket (haproxy -S): reloads and worker status in master-worker mode. */
  masterSocket: FilePath.default("/var/lib/haproxy/master.sock"),
  nbthread: intIn(1, 64, "a thread count").optional(),
  /** How long an old worker may keep serving its connections after a reload. */
  hardStopAfter: Duration.default("30s"),
  /**
   * After a reload, the old worker closes its connections spread over this window instead of all at
   * once, so clients reconnect to the new worker gradually ("infinite": only as each one ends, up to
   * hard-stop-after; "off": all at once, HAProxy's own default). With idle-close-on-response it cost
   * 5 socket errors in 30 reloads under wrk -c32 here, against 17 with neither (npm run bench, apply;
   * noisy run to run), while old workers still leave within seconds.
   */
  closeSpreadTime: z.union([z.literal("infinite"), z.literal("off"), Duration]).default("5s"),
  /**
   * Header lines a request may carry (tune.http.maxhdr); one with more gets 400. HAProxy's own
   * default is 101; stated here so that the limit is visible in the config.
   */
  maxRequestHeaders: intIn(1, 32767, "a header count").default(100),
  /**
   * Bytes of a connection's buffer (tune.bufsize): a request whose line and headers do not fit (less
   * tune.maxrewrite, 1024) gets 400. HAProxy's default, stated; memory per connection grows with it.
   */
  bufferSize: intIn(8192, 1_048_576, "a buffer size in bytes").default(16384),
  /** What every TLS bind accepts (rendered only when a bind terminates TLS). */
  tls: z
    .strictObject({
      /**
       * The oldest protocol a client may speak. TLSv1.2 by default: Mozilla's "intermediate" profile,
       * which every client of the last decade speaks; TLSv1.0 and 1.1 are deprecated (RFC 8996).
       */
      minVersion: z.enum(TLS_VERSIONS, { error: (iss) => `${show(iss.input)} is not one of ${TLS_VERSIONS.join(", ")}` }).default("TLSv1.2"),
      /** Every TLS bind's ciphers, suites and curves, where the bind says none (Mozilla's intermediate profile when absent). */
      ...TlsSettings,
    })
    .prefault({}),
});

export const Timeouts = z.strictObject({
  connect: Duration.default("5s"),
  client: Duration.default("10s"),
  server: Duration.default("10s"),
  check: Duration.optional(),
  /**
   * How long a client may take to send a whole request (headers). Without it a connection that sends
   * nothing holds a slot for the whole client timeout: a cheap slowloris against maxconn. 5s is
   * generous for any real client, short against an attacker; HAProxy answers 408 when it passes.
   */
  httpRequest: Duration.default("5s"),
  queue: Duration.optional(),
  /** How long a tarpitted request is held before its refusal (HAProxy: the connect timeout when absent). */
  tarpit: Duration.optional(),
  /** How long an established tunnel (a TCP proxy's connection, a WebSocket) may stay idle: database and broker connections idle for minutes. */
  tunnel: Duration.optional(),
  /** How long a half-closed connection may stay, on the client's and on the server's side. */
  clientFin: Duration.optional(),
  serverFin: Duration.optional(),
});

export const RETRY_ON_EVENTS = [
  "none", "conn-failure", "empty-response", "junk-response", "response-timeout", "0rtt-rejected",
  "404", "408", "425", "500", "501", "502", "503", "504", "all-retryable-errors",
] as const;

export const Defaults = z.strictObject({
  mode: z.enum(["http", "tcp"]).default("http"),
  httplog: z.boolean().default(true),
  dontlognull: z.boolean().default(true),
  timeouts: Timeouts.prefault({}),
  /** Connection attempts per request before giving up (or redispatching). */
  retries: intIn(0, 100, "a retry count").default(3),
  /** On the last retry, send the request to another server even if persistence says otherwise. */
  redispatch: z.boolean().default(true),
  /**
   * During a reload, keep an idle keep-alive connection of the old worker open until its next
   * request has been answered (with "Connection: close"), instead of closing it under a client that
   * may be sending on it at that moment: what breaks clients on a reload.
   */
  idleCloseOnResponse: z.boolean().default(true),
  /**
   * The largest request body an HTTP frontend accepts, by its Content-Length: a larger one gets 413
   * before anything reaches a server. A chunked body (no Content-Length) is not measured: HAProxy
   * sees only what fits in its buffer. 0 turns the limit off.
   */
  maxRequestBodyBytes: intIn(0, 2 ** 53 - 1, "a byte count").default(10 * 1024 * 1024),
  /** Which failures are retried at layer 7 (HAProxy's retry-on). */
  retryOn: z.array(z.enum(RETRY_ON_EVENTS)).default(["conn-failure", "empty-response", "response-timeout"]),
});

export const Bind = z.strictObject({
  address: BindAddress.default("*"),
  /** With an IPv6 address of "::": accept IPv4 clients on the same socket too (dual stack). */
  dualStack: z.boolean().default(false),
  port: Port,
  /** The last port of a range (inclusive), as in "bind *:60000-60001". */
  lastPort: Port.optional(),
  /**
   * TLS termination: a PEM (certificate + key) file name, looked up in the target's certificate
   * directory; several, and HAProxy picks by the name the client asks for (SNI), the first by default.
   */
  tlsCertificate: z.union([FileName, z.array(FileName).min(1, { error: "give at least one certificate" })]).optional(),
  /** With tlsCertificate on an HTTP frontend: offer HTTP/2 through ALPN (h2, then http/1.1). */
  http2: z.boolean().default(true),
  /** Refuse a client whose SNI names no certificate of the bind, instead of presenting the first. */
  strictSni: z.boolean().default(false),
  ...TlsSettings,
  /** Mutual TLS: clients present a certificate signed by this CA. */
  clientCertificates: ClientCertificates.optional(),
  /** The PROXY protocol: a load balancer in front tells HAProxy each client's address. */
  acceptProxy: AcceptProxy.optional(),
});

/** The certificate files of a bind, in order. */
export const bindCertificates = (bind: Pick<Bind, "tlsCertificate">): string[] => (bind.tlsCertificate === undefined ? [] : Array.isArray(bind.tlsCertificate) ? bind.tlsCertificate : [bind.tlsCertificate]);

/** Strict-Transport-Security: browsers that saw it over HTTPS refuse plain HTTP to this host for maxAge. */
export const Hsts = z.strictObject({
  /** Seconds, as the header says them (a year by default; HAProxy's durations stop at 24 days). */
  maxAgeSeconds: intIn(0, 2 ** 31 - 1, "a number of seconds").default(31_536_000),
  includeSubdomains: z.boolean().default(false),
  preload: z.boolean().default(false),
});

export const RateLimit = z.strictObject({
  /** Requests a client IP may send per window before it gets 429. */
  requests: intIn(1, 10_000_000, "a request count"),
  window: Duration.default("10s"),
  /** Client IPs tracked at once. */
  tableSize: intIn(1, 100_000_000, "a table size").default(100_000),
});

/** The statuses HAProxy 2.6 can serve an errorfile for. */
export const ERROR_PAGE_STATUSES = HAPROXY_ERROR_STATUSES;

export const ErrorPage = z.strictObject({
  status: z.number().refine((s) => (ERROR_PAGE_STATUSES as readonly number[]).includes(s), {
    error: (iss) => `${show(iss.input)} is not a status HAProxy serves error pages for: use one of ${ERROR_PAGE_STATUSES.join(", ")}`,
  }),
  /** A raw HTTP response file, looked up in the target's error-page directory. */
  file: FileName,
});

export const PROXY_MODES = ["http", "tcp"] as const;
export type ProxyMode = (typeof PROXY_MODES)[number];
const ProxyModeField = z.enum(PROXY_MODES, { error: (iss) => `${show(iss.input)} is not a mode: use "http" or "tcp"` });

export const Frontend = z.strictObject({
  name: Name,
  /** http: HAProxy reads each request (routes, rules, headers); tcp: it passes bytes (databases, brokers, TLS it does not terminate). The defaults' mode when absent. */
  mode: ProxyModeField.optional(),
  binds: z.array(Bind).min(1, { error: "a frontend needs at least one bind" }),
  /**
   * The backend that receives every request no route takes: must name a backend of this topology.
   * Optional when the last route takes every request.
   */
  defaultBackend: Name.optional(),
  /** Conditions the routes use by name ({ condition: "internal" }): HAProxy's named ACLs. */
  conditions: z.record(Name, Condition).default({}),
  /** First match wins: each request takes the first route whose condition it meets, else the default backend. */
  routes: z.array(Route).default([]),
  /** Host (or host and path prefix) → backend tables, looked up by a route { table }. */
  routeTables: z.array(RouteTable).default([]),
  /** Changes to every request this frontend forwards, in order, after the routes have chosen (they see the request as it came). */
  requestRules: z.array(Rule).default([]),
  /** Changes to every response it sends back, in order. */
  responseRules: z.array(Rule).default([]),
  /** X-Forwarded-Proto, -Host and -Port, for servers that build URLs. */
  forwardedHeaders: ForwardedHeaders.optional(),
  /** Browser security headers on every answer. */
  securityHeaders: SecurityHeaders.optional(),
  /**
   * HAProxy's stats page on this frontend, behind a login HAProxy reads from the environment; its
   * admin actions (drain, maintenance, weight) only for clients in adminFrom.
   */
  statsPage: z
    .strictObject({
      uri: UriPath.default("/haproxy-stats"),
      userFromEnv: EnvName,
      passwordFromEnv: EnvName,
      refresh: Duration.default("10s"),
      adminFrom: z.array(Ipv4Cidr).min(1).optional(),
    })
    .optional(),
  /** Connections this frontend takes at once (the rest wait in the kernel's backlog); global.maxconn bounds them all. */
  maxconn: intIn(1, 1_000_000, "a connection limit").optional(),
  /** This frontend's own timeouts, over the defaults'. */
  timeouts: z
    .strictObject({
      client: Duration.optional(),
      /** How long an idle keep-alive connection waits for its next request. */
      httpKeepAlive: Duration.optional(),
      httpRequest: Duration.optional(),
      /** How long a half-closed client connection may stay. */
      clientFin: Duration.optional(),
    })
    .optional(),
  /** Compress answers of these types with these algorithms (HAProxy's compression filter). */
  compression: z
    .strictObject({
      algorithms: z.array(z.enum(["gzip", "deflate", "raw-deflate"])).min(1).default(["gzip"]),
      types: z.array(z.string().regex(/^[a-z0-9.+-]{1,64}\/[a-z0-9.+*-]{1,64}$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a content type: use e.g. "text/html"` })).min(1).default(["text/html", "text/plain", "text/css", "application/javascript", "application/json"]),
    })
    .optional(),
  /** Add X-Forwarded-For so the servers see the client address (HTTP frontends; on by default there). */
  forwardfor: z.boolean().optional(),
  /**
   * TCP frontends whose routes read the TLS ClientHello (sni, alpn): how long HAProxy waits for it
   * before routing without it.
   */
  inspectDelay: Duration.default("5s"),
  /** TCP keep-alive probes on client connections (option clitcpka): idle database clients behind a firewall that forgets them. */
  tcpKeepAlive: z.boolean().default(false),
  /** When set, only these client networks are served; others get 403. */
  allowlist: z.array(Ipv4Cidr).min(1, { error: "an allowlist needs at least one network (omit it to allow everyone)" }).optional(),
  rateLimit: RateLimit.optional(),
  /** Limits keyed by more than the client's address, each in a stick table of its own (at most two). */
  rateLimits: z.array(KeyedRateLimit).max(KEYED_RATE_LIMIT_COUNTERS.length, { error: `HAProxy tracks ${KEYED_RATE_LIMIT_COUNTERS.length + 1} counters per request and rateLimit takes one: give at most ${KEYED_RATE_LIMIT_COUNTERS.length} rateLimits` }).default([]),
  errorPages: z.array(ErrorPage).default([]),
  /** Answer a request on a plain bind with 301 to this frontend's first TLS bind. */
  httpsRedirect: z.boolean().default(false),
  /** Send Strict-Transport-Security on HTTPS answers. */
  hsts: Hsts.optional(),
});

export const CookiePersistence = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, {
    error: (iss) => `${show(iss.input)} is not a cookie name: use 1 to 64 letters, digits or "_-"`,
  }),
  insert: z.boolean().default(true),
  indirect: z.boolean().default(true),
  nocache: z.boolean().default(true),
  /** Only sent over HTTPS: turn on when the frontend terminates TLS. */
  secure: z.boolean().default(false),
  httponly: z.boolean().default(true),
  /** Whether browsers send the cookie on cross-site requests; "None" needs secure. */
  sameSite: z.enum(["Strict", "Lax", "None"], { error: (iss) => `${show(iss.input)} is not a SameSite value: use "Strict", "Lax" or "None"` }).default("Lax"),
});

/** A unix socket's path: absolute, and short enough for sun_path (107 bytes and a NUL). */
const SocketPath = z
  .string()
  .regex(/^\/[A-Za-z0-9._\/-]+$/, { error: (iss) => `${show(iss.input)} is not a socket path: use an absolute path of letters, digits and "._/-"` })
  .max(107, { error: (iss) => `${show(iss.input)} is longer than a unix socket path may be (107 bytes)` });

export const Server = z.strictObject({
  name: Name,
  /** Host name (the container's, for the docker target) or IPv4 address; absent for a server on a unix socket. */
  address: Host.refine((h) => h !== "*", { error: 'a server address cannot be "*": name its host' }).optional(),
  port: Port.optional(),
  /**
   * A unix socket instead of address and port: a service on HAProxy's own host (PHP-FPM behind a
   * web server, an app that listens on a socket). Only the local target shares a host with HAProxy.
   */
  unixSocket: SocketPath.optional(),
  check: z.boolean().default(true),
  inter: Duration.default("2s"),
  /** The interval while the server is going down or up (fastinter) and while it is DOWN (downinter); inter otherwise. */
  fastInter: Duration.optional(),
  downInter: Duration.optional(),
  fall: intIn(1, 1000, "a failure count").default(3),
  rise: intIn(1, 1000, "a success count").default(2),
  weight: intIn(0, 256, "a weight").default(1),
  /** The value of the persistence cookie that pins a client to this server. */
  cookie: CookieValue.optional(),
  backup: z.boolean().default(false),
  /**
   * A service that already runs (a database's API, another team's app): the stacks start nothing for
   * it, and every target reaches it at its address as written. Its answers do not say which server
   * gave them, so verify checks its health and status codes, not the spread of traffic over it.
   */
  external: z.boolean().default(false),
  maxconn: intIn(1, 1_000_000, "a connection limit").optional(),
  disabled: z.boolean().default(false),
});

/** A DNS name: host-name labels, and the "_service._proto." labels an SRV name starts with. */
const DNS_NAME_PATTERN = /^(_[A-Za-z0-9-]{1,62}\.){0,2}[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
export const DnsName = z.string().regex(DNS_NAME_PATTERN, {
  error: (iss) => `${show(iss.input)} is not a DNS name: use labels of letters, digits and "-" separated by "." (an SRV name starts with "_service._proto.")`,
});

const HOST_PORT_PATTERN = /^[0-9]{1,3}(\.[0-9]{1,3}){3}:[0-9]{1,5}$/;

/**
 * How HAProxy asks for a discovered group's records (its "resolvers" section). HAProxy asks again
 * every resolveEvery; a server whose address left the answer is put in maintenance after
 * holdObsolete (new requests stop, requests in flight finish: a drain), a new address takes a free
 * slot at the next answer and enters traffic once its health check passes.
 */
export const DnsResolver = z.strictObject({
  /**
   * The name servers, "address:port". Absent: the target's own (the local stack's dnsmasq; in
   * containers the engine's resolver from /etc/resolv.conf, the cluster DNS in Kubernetes).
   */
  nameservers: z.array(z.string().regex(HOST_PORT_PATTERN, { error: (iss) => `${show(iss.input)} is not a name server: use "address:port", e.g. "10.0.0.2:53"` })).min(1).optional(),
  /** How often HAProxy resolves the name (timeout resolve). */
  resolveEvery: Duration.default("1s"),
  /** How long HAProxy waits for an answer before asking again (timeout retry), and how many times (resolve_retries). */
  retryTimeout: Duration.default("1s"),
  retries: intIn(1, 100, "a retry count").default(3),
  /** How long a valid answer stands in for a failed resolution (hold valid; HAProxy's default). */
  holdValid: Duration.default("10s"),
  /**
   * How long a server whose record left the answer keeps its address (hold obsolete). 0: at once,
   * so a scale-down drains the instance at the next answer; raise it when records flap.
   */
  holdObsolete: z.union([z.literal("0s"), Duration]).default("0s"),
  /** How long servers keep their addresses after the name stopped existing (hold nx): the group scaled to 0. */
  holdNx: Duration.default("30s"),
  /**
   * How long servers keep their addresses while the name server does not answer, refuses or errs
   * (hold timeout/refused/other). HAProxy's 30 s default turns a DNS outage of 30 s into a load
   * balancer outage (measured: every discovered server in maintenance 30 s after dnsmasq stopped);
   * 5 minutes rides over a name server's restart or failover.
   */
  holdDuringOutage: Duration.default("5m"),
  /** The largest answer HAProxy accepts (EDNS0): 512 bytes hold about 25 A records. */
  acceptedPayloadSize: intIn(512, 65_535, "a payload size in bytes").default(8192),
});

/**
 * Servers found through DNS instead of listed: HAProxy reserves maxServers slots (server-template)
 * named <name>1..<name>N and fills them with the addresses the name resolves to, without a reload.
 * With cookie persistence the cookie values are derived from each server's address and port
 * (HAProxy's dynamic cookies), so a client stays on its instance while it exists and is rebalanced
 * once it is gone; every HAProxy replica derives the same values.
 */
export const ServerGroup = z.strictObject({
  /** The slots' name prefix, and the instances' (the local stack's processes, the containers, the Kubernetes Deployment). */
  name: Name.refine((n) => /^[a-z][a-z0-9-]{0,40}$/.test(n), { error: (iss) => `${show(iss.input)} is not a group name: use 1 to 41 lower-case letters, digits or "-", starting with a letter (it names containers and Kubernetes objects)` }),
  /** The name whose records list the servers; the Docker and Kubernetes stacks answer for it themselves. */
  dnsName: DnsName,
  /** A (IPv4) or AAAA (IPv6) records with the port below, or SRV records, which carry each server's port (and weight). */
  record: z.enum(["A", "AAAA", "SRV"], { error: (iss) => `${show(iss.input)} is not a record type: use "A", "AAAA" or "SRV"` }).default("A"),
  /** The servers' port, for A and AAAA records. */
  port: Port.optional(),
  /** The most servers the group may grow to: the slots HAProxy reserves. Changing it is a reload. */
  maxServers: intIn(1, 10_000, "a server count"),
  /** How many instances the local and Docker stacks start (Kubernetes: the autoscaler's minimum). Scaling later changes no config. */
  instances: intIn(0, 10_000, "an instance count").default(2),
  check: z.boolean().default(true),
  inter: Duration.default("2s"),
  fall: intIn(1, 1000, "a failure count").default(3),
  rise: intIn(1, 1000, "a success count").default(2),
  weight: intIn(0, 256, "a weight").default(1),
  maxconn: intIn(1, 1_000_000, "a connection limit").optional(),
  resolver: DnsResolver.prefault({}),
});

export const BALANCE_ALGORITHMS = ["roundrobin", "leastconn", "source", "uri", "first", "random", "url_param", "hdr"] as const;
/** The algorithms that hash a key to a server: hashType says how. */
export const HASHING_ALGORITHMS: readonly (typeof BALANCE_ALGORITHMS)[number][] = ["source", "uri", "url_param", "hdr"];

export const Backend = z.strictObject({
  name: Name,
  /** tcp for databases, brokers and TLS passed through; the defaults' mode when absent. A frontend sends only to backends of its own mode. */
  mode: ProxyModeField.optional(),
  balance: z.enum(BALANCE_ALGORITHMS).default("roundrobin"),
  /** With balance url_param: the query parameter; with hdr: the header, whose value picks the server (a request without it is balanced round robin). */
  balanceKey: z.string().regex(/^[A-Za-z0-9_.~-]{1,64}$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a parameter or header name: use 1 to 64 letters, digits or "_.~-"` }).optional(),
  /**
   * How a hashing algorithm turns a key into a server: "consistent" moves only the keys of a server
   * that comes or goes (caches, sessions kept where they are), "map-based" (HAProxy's default) may move most.
   */
  hashType: z.enum(["map-based", "consistent"], { error: (iss) => `${JSON.stringify(iss.input)} is not a hash type: use "map-based" or "consistent"` }).optional(),
  healthCheck: HealthCheck.optional(),
  /** An agent on each server reports its weight or state (agent-check). */
  agent: AgentCheck.optional(),
  /** Some of the servers as a new version, taking a growing share of the traffic step by step (npm run rollout). */
  canary: Canary.optional(),
  /** A server coming UP gets its full weight over this time (slowstart): caches warm, pools fill. */
  slowStart: Duration.optional(),
  /** Close every connection to a server marked DOWN at once, so clients reconnect to one that serves (a demoted primary). */
  shutdownSessionsOnDown: z.boolean().default(false),
  /** Close the connections to the backup servers once an active server is UP again. */
  shutdownBackupSessionsOnUp: z.boolean().default(false),
  /** TLS to the servers. */
  tls: ServerTls.optional(),
  /** Send each server the PROXY protocol header (v2 binary, v1 text), so it sees the client's address. */
  sendProxy: z.enum(SEND_PROXY_VERSIONS, { error: (iss) => `${show(iss.input)} is not a PROXY protocol version: use "v1" or "v2"` }).optional(),
  /** TCP keep-alive probes on server connections (option srvtcpka). */
  tcpKeepAlive: z.boolean().default(false),
  cookie: CookiePersistence.optional(),
  /** Overrides of the defaults section's retry settings for this backend. */
  retries: intIn(0, 100, "a retry count").optional(),
  redispatch: z.boolean().optional(),
  retryOn: z.array(z.enum(RETRY_ON_EVENTS)).optional(),
  /** Listed servers; a backend needs these, a discovered group, or both (or an answer instead). */
  servers: z.array(Server).default([]),
  /**
   * A backend with no servers that answers every request itself (a maintenance page, a redirect to
   * another site, a refusal): the routes that send requests here need not say it.
   */
  answer: BackendAnswer.optional(),
  discovery: ServerGroup.optional(),
  /**
   * HAProxy's small object cache in front of the servers: answers that say they may be cached
   * (Cache-Control max-age or Expires, from the server or a response rule; no Set-Cookie, no Vary
   * beyond encoding) are served from memory until they age out; a cached answer carries an Age header.
   */
  cache: z
    .strictObject({
      /** The longest an answer is kept, whatever its Cache-Control says. */
      maxAgeSeconds: intIn(1, 86_400, "a number of seconds").default(60),
      /** The memory the cache takes. */
      totalMegabytes: intIn(1, 4095, "a size in megabytes").default(64),
      /** The largest answer kept (tune.bufsize and above need this raised). */
      maxObjectBytes: intIn(1024, 2 ** 31 - 1, "a size in bytes").default(1_048_576),
    })
    .optional(),
  /** This backend's own timeouts, over the defaults'. */
  timeouts: z
    .strictObject({
      connect: Duration.optional(),
      server: Duration.optional(),
      queue: Duration.optional(),
      /** How long a tunnel (WebSocket, CONNECT) may stay idle. */
      tunnel: Duration.optional(),
      /** How long a half-closed server connection may stay. */
      serverFin: Duration.optional(),
    })
    .optional(),
  /**
   * How HAProxy keeps connections to the servers: "keep-alive" (HAProxy's default, reused by the same
   * client), or "server-close" (a new one per request, for servers that mishandle keep-alive).
   */
  connectionMode: z.enum(["keep-alive", "server-close"]).optional(),
  /** Whether idle server connections are shared between clients (HAProxy's http-reuse). */
  httpReuse: z.enum(["never", "safe", "aggressive", "always"]).optional(),
  /** Keep each client on one server by its address (a stick table; not a cookie): for clients that keep none. */
  stickOnSource: z
    .strictObject({
      /** How long an idle client's server is remembered. */
      expire: Duration.default("30m"),
      tableSize: intIn(1, 100_000_000, "a table size").default(100_000),
    })
    .optional(),
  /** Changes to the requests this backend forwards, after the frontend's. */
  requestRules: z.array(Rule).default([]),
  /** Changes to its responses, before the frontend's. */
  responseRules: z.array(Rule).default([]),
});



/** One listener for operators: HAProxy's built-in Prometheus exporter, and its stats page when asked. */
export const Monitoring = z.strictObject({
  address: Host.default("*"),
  port: Port.default(8404),
  statsUri: UriPath.default("/stats"),
  statsRefresh: Duration.default("10s"),
  metricsPath: UriPath.default("/metrics"),
  /**
   * The stats page's login, which HAProxy reads from these environment variables as it starts: the
   * credentials are never in the repository nor in the rendered config. Without it, no stats page.
   */
  statsAuth: z.strictObject({ userFromEnv: EnvName, passwordFromEnv: EnvName }).optional(),
  /**
   * Serve the stats page where the listener is not on loopback (the docker target's "*"). Off by
   * default: the page lists every server and its state to whoever reaches the port.
   */
  statsOnPublicAddress: z.boolean().default(false),
});

/**
 * Where Alertmanager delivers alerts. The URL is read from the environment when the stack starts
 * (local) or from a Terraform variable (docker): webhook URLs carry tokens, so none is committed.
 */
export const WebhookReceiver = z.strictObject({
  name: Name,
  urlFromEnv: EnvName,
  sendResolved: z.boolean().default(true),
});

/** The services around HAProxy: where they listen and how often they look. */
export const Services = z.strictObject({
  sidecar: z
    .strictObject({
      port: Port.default(9101),
      pollInterval: Duration.default("2s"),
      /** How far back the continuous distribution check compares each server's share with its weight. */
      distributionWindow: Duration.default("30s"),
    })
    .prefault({}),
  prometheus: z
    .strictObject({ port: Port.default(9090), scrapeInterval: Duration.default("5s"), evaluationInterval: Duration.default("5s") })
    .prefault({}),
  alertmanager: z
    .strictObject({
      port: Port.default(9093),
      /** How long Alertmanager waits to group a new alert with others before the first notification. */
      groupWait: Duration.default("10s"),
      groupInterval: Duration.default("1m"),
      repeatInterval: Duration.default("4h"),
      webhooks: z.array(WebhookReceiver).default([]),
    })
    .prefault({}),
  grafana: z.strictObject({ port: Port.default(3000) }).prefault({}),
  /** The local stack's name server (dnsmasq), started when a backend discovers its servers through DNS. */
  dns: z.strictObject({ port: Port.default(8053) }).prefault({}),
});

/** The proxy name the monitoring listener takes; user proxies may not reuse it. */
export const MONITORING_PROXY = "monitoring";

export const Topology = z
  .strictObject({
    /** What this topology is, for generated-file headers and logs. */
    name: Name,
    global: Global.prefault({}),
    defaults: Defaults.prefault({}),
    frontends: z.array(Frontend).min(1, { error: "a topology needs at least one frontend" }),
    /** Logins for routes with auth: password hashes come from the environment. */
    userlists: z.array(Userlist).default([]),
    /**
     * Lua scripts HAProxy loads (from templates/lua/, code the user owns), whose services and actions
     * routes and rules use by name; haproxy -c refuses a name no script registers.
     */
    lua: z
      .strictObject({
        scripts: z.array(z.strictObject({ file: FileName, /** Load it in every thread (lua-load-per-thread): its state is not shared. */ perThread: z.boolean().default(false) })).default([]),
      })
      .prefault({}),
    backends: z.array(Backend).min(1, { error: "a topology needs at least one backend" }),
    /**
     * Certificates the stack obtains and renews itself (ACME), each installed as the file the binds
     * name, at runtime: no reload. A bind's file that is not here is given (--certs-dir).
     */
    certificates: z.array(ManagedCertificate).default([]),
    monitoring: Monitoring.prefault({}),
    services: Services.prefault({}),
  })
  .superRefine((topology, ctx) => {
    for (const issue of crossReferenceIssues(topology)) ctx.addIssue({ code: "custom", ...issue });
  });

export type Topology = z.output<typeof Topology>;
export type TopologyInput = z.input<typeof Topology>;
export type Frontend = z.output<typeof Frontend>;
export type Backend = z.output<typeof Backend>;
export type Server = z.output<typeof Server>;
/**
 * The weight a server is configured with: a canary's servers take no traffic until a rollout gives
 * them some (npm run rollout); their model weight is theirs once promoted.
 */
export const configuredWeight = (backend: Pick<Backend, "canary">, server: Pick<Server, "name" | "weight">): number => (backend.canary?.servers?.includes(server.name) ? 0 : server.weight);

/** The weight a discovered group's slots are configured with: 0 while the group is a canary not yet rolled out. */
export const configuredGroupWeight = (backend: Pick<Backend, "canary">, group: Pick<ServerGroup, "name" | "weight">): number => (backend.canary?.group === group.name ? 0 : group.weight);

/** A backend's canary servers by name: those listed, or every slot of its discovered group. */
export const canaryServerNames = (backend: Pick<Backend, "canary" | "discovery">): string[] =>
  backend.canary?.group !== undefined && backend.discovery ? groupSlotNames(backend.discovery) : [...(backend.canary?.servers ?? [])];

/**
 * The stick counter a canary's slow-answer count tracks with: one no frontend tracks with already
 * (HAProxy 2.6 has three per request: rateLimit takes sc0, keyed limits sc1 and sc2). None free: undefined.
 */
export function canaryTimingCounter(frontends: readonly Pick<Frontend, "rateLimit" | "rateLimits">[]): number | undefined {
  const used = new Set(frontends.flatMap((f) => [...(f.rateLimit ? [0] : []), ...KEYED_RATE_LIMIT_COUNTERS.slice(0, Array.isArray(f.rateLimits) ? f.rateLimits.length : 0)]));
  return [2, 1, 0].find((counter) => !used.has(counter));
}

/** A server reached over the network (address and port), which is every server but one on a unix socket. */
export type NetworkServer = Server & { address: string; port: number };
export const onNetwork = (server: Server): server is NetworkServer => server.unixSocket === undefined;
export type Bind = z.output<typeof Bind>;
export type ServerGroup = z.output<typeof ServerGroup>;

/** Every port the binds listen on: a bind's port, or each port of its range port..lastPort. */
export function bindPorts(binds: readonly Pick<Bind, "port" | "lastPort">[]): number[] {
  return binds.flatMap((b) => Array.from({ length: (b.lastPort ?? b.port) - b.port + 1 }, (_, i) => b.port + i));
}

/** Every server of every backend: what sizes the sidecar. */
export const serverCount = (topology: Pick<Topology, "backends">): number => topology.backends.reduce((n, b) => n + b.servers.length + (b.discovery?.maxServers ?? 0), 0);

/**
 * Whether the stacks run a group's instances: unless it names its own name servers (Consul, a cloud
 * DNS), whose records someone else keeps.
 */
export const runsInstances = (group: Pick<ServerGroup, "resolver">) => group.resolver.nameservers === undefined;

/** The groups whose instances the stacks run and check: HAProxy should hold `instances` of their slots UP. */
export function groupsExpectedUp(topology: Pick<Topology, "backends">): { backend: string; slots: string[]; instances: number }[] {
  return topology.backends.flatMap((b) => (b.discovery?.check && runsInstances(b.discovery) ? [{ backend: b.name, slots: groupSlotNames(b.discovery), instances: b.discovery.instances }] : []));
}

/** At most how long a change of a group's records takes to reach HAProxy: its next resolution, and a retry if an answer was lost. */
export const resolutionMs = (resolver: Pick<ServerGroup["resolver"], "resolveEvery" | "retryTimeout">) => parseDuration(resolver.resolveEvery) + parseDuration(resolver.retryTimeout);

/** At most how long a removed record's server keeps HAProxy's traffic: a resolution, then hold obsolete. */
export const recordRemovalMs = (resolver: ServerGroup["resolver"]) => resolutionMs(resolver) + (resolver.holdObsolete === "0s" ? 0 : parseDuration(resolver.holdObsolete));

/** The names HAProxy gives a discovered group's slots (server-template): <name>1 .. <name>N. */
export const groupSlotNames = (group: Pick<ServerGroup, "name" | "maxServers">): string[] => Array.from({ length: group.maxServers }, (_, i) => `${group.name}${i + 1}`);

// --- cross-references ---------------------------------------------------------------------------

interface PathIssue {
  path: (string | number)[];
  message: string;
}

// Zod calls this even when some fields failed their own checks, so that a user sees every
// problem at once; it therefore reads the topology defensively.
function crossReferenceIssues(topology: Topology): PathIssue[] {
  const issues: PathIssue[] = [];
  const frontends = Array.isArray(topology.frontends) ? topology.frontends : [];
  const backends = Array.isArray(topology.backends) ? topology.backends : [];
  // Only valid names are listed as "known": an invalid one has its own issue, and may hold a line break.
  const backendNames = backends.map((b) => b?.name).filter((n): n is string => typeof n === "string" && NAME_PATTERN.test(n));
  const userlists = Array.isArray(topology.userlists) ? topology.userlists : [];
  const userlistNames = userlists.map((u) => u?.name).filter((n): n is string => typeof n === "string");

  const duplicates = (names: unknown[], where: string, path: (i: number) => (string | number)[]) => {
    const seen = new Set<unknown>();
    names.forEach((name, i) => {
      if (typeof name !== "string") return;
      if (seen.has(name)) issues.push({ path: path(i), message: `${show(name)} is used twice among ${where}: names must be unique` });
      seen.add(name);
    });
  };
  duplicates(frontends.map((f) => f?.name), "frontends", (i) => ["frontends", i, "name"]);
  duplicates(userlistNames, "userlists", (i) => ["userlists", i, "name"]);
  (Array.isArray(topology.global?.logs) ? topology.global.logs : []).forEach((log, i) => {
    if ((log?.target === "stdout" || log?.target === "stderr") && log.transport === "tcp") {
      issues.push({ path: ["global", "logs", i, "transport"], message: `${log.target} is not a network target: transport applies to a syslog "host:port"` });
    }
  });
  duplicates(backends.map((b) => b?.name), "backends", (i) => ["backends", i, "name"]);
  const webhooks = topology.services?.alertmanager?.webhooks;
  if (Array.isArray(webhooks)) duplicates(webhooks.map((w) => w?.name), "the alert webhooks", (i) => ["services", "alertmanager", "webhooks", i, "name"]);

  frontends.forEach((frontend, i) => {
    if (frontend?.name === MONITORING_PROXY) {
      issues.push({ path: ["frontends", i, "name"], message: `"${MONITORING_PROXY}" is reserved for the monitoring listener: pick another name` });
    }
    if (frontend) issues.push(...routingIssues(frontend, ["frontends", i], backendNames, proxyMode(frontend, topology.defaults)), ...ruleIssues(frontend, ["frontends", i], frontend.conditions ?? {}));
    (Array.isArray(frontend?.routes) ? frontend.routes : []).forEach((route, j) => {
      if (typeof route?.auth?.userlist === "string" && !userlistNames.includes(route.auth.userlist)) {
        issues.push({ path: ["frontends", i, "routes", j, "auth", "userlist"], message: `${show(route.auth.userlist)} is not a userlist; known: ${userlistNames.join(", ") || "(none): add one to userlists"}` });
      }
    });
    if (typeof frontend?.defaultBackend === "string" && !backendNames.includes(frontend.defaultBackend)) {
      issues.push({
        path: ["frontends", i, "defaultBackend"],
        message: `${show(frontend.defaultBackend)} is not a backend; known: ${backendNames.join(", ") || "(none)"}`,
      });
    }
    (Array.isArray(frontend?.binds) ? frontend.binds : []).forEach((bind, j) => {
      if (typeof bind?.port === "number" && typeof bind.lastPort === "number" && bind.lastPort < bind.port) {
        issues.push({
          path: ["frontends", i, "binds", j, "lastPort"],
          message: `the range ${bind.port}-${bind.lastPort} runs backwards: lastPort must be at least port`,
        });
      }
    });
    const hasTlsBind = Array.isArray(frontend?.binds) && frontend.binds.some((b) => b?.tlsCertificate !== undefined);
    for (const feature of ["httpsRedirect", "hsts"] as const) {
      if ((feature === "httpsRedirect" ? frontend?.httpsRedirect === true : frontend?.hsts !== undefined) && !hasTlsBind) {
        issues.push({ path: ["frontends", i, feature], message: `frontend ${show(frontend.name)} has no TLS bind to ${feature === "httpsRedirect" ? "redirect to" : "send HSTS from"}: add a bind with tlsCertificate` });
      }
    }
    const statuses = (Array.isArray(frontend?.errorPages) ? frontend.errorPages : []).map((p) => p?.status);
    duplicates(statuses, "error pages", (j) => ["frontends", i, "errorPages", j, "status"]);
  });

  issues.push(...portCollisions(topology), ...httpOnlyInTcpMode(topology), ...modeMismatches(topology), ...tlsBindIssues(topology), ...managedCertificateIssues(topology));

  backends.forEach((backend, i) => {
    if (backend === undefined || backend === null) return;
    const servers = Array.isArray(backend.servers) ? backend.servers : [];
    issues.push(...groupIssues(backend, i), ...ruleIssues(backend, ["backends", i], undefined), ...balanceIssues(backend, i));
    if (backend.canary) {
      const group = backend.discovery && typeof backend.discovery.name === "string" && typeof backend.discovery.maxServers === "number" ? { name: backend.discovery.name, maxServers: backend.discovery.maxServers } : undefined;
      for (const issue of canaryIssues(backend.canary, { serverNames: servers.map((s) => s?.name).filter((n): n is string => typeof n === "string"), group })) issues.push({ path: ["backends", i, "canary", ...issue.path], message: issue.message });
      if ((backend.mode ?? topology.defaults?.mode) === "tcp") issues.push({ path: ["backends", i, "canary"], message: `a canary is judged by its HTTP answers: backend ${show(backend.name)} is in mode tcp` });
      if (canaryTimingCounter(frontends.filter((f) => f)) === undefined) issues.push({ path: ["backends", i, "canary"], message: "HAProxy counts the canary's slow answers on a stick counter, and the frontends' rate limits take all three: drop one frontend's rateLimit or a keyed rate limit" });
    }
    duplicates(servers.map((s) => s?.name), `the servers of backend ${show(backend.name)}`, (j) => ["backends", i, "servers", j, "name"]);
    servers.forEach((server, j) => {
      if (!server) return;
      const where = ["backends", i, "servers", j];
      if (server.unixSocket !== undefined) {
        for (const field of ["address", "port"] as const) {
          if (server[field] !== undefined) issues.push({ path: [...where, field], message: `server ${show(server.name)} is on the unix socket ${server.unixSocket}: remove ${field}, or remove unixSocket` });
        }
      } else {
        for (const field of ["address", "port"] as const) {
          if (server[field] === undefined) issues.push({ path: [...where, field], message: `server ${show(server.name)} needs an address and a port (or a unixSocket)` });
        }
      }
    });
    if (backend.cookie) {
      servers.forEach((server, j) => {
        if (server && server.cookie === undefined) {
          issues.push({
            path: ["backends", i, "servers", j, "cookie"],
            message: `backend ${show(backend.name)} uses cookie persistence, so every server needs a cookie value: add cookie: ${show(server.name)}`,
          });
        }
      });
      duplicates(servers.map((s) => s?.cookie), `the cookie values of backend ${show(backend.name)}`, (j) => ["backends", i, "servers", j, "cookie"]);
      if (backend.cookie.sameSite === "None" && backend.cookie.secure !== true) {
        issues.push({ path: ["backends", i, "cookie", "sameSite"], message: `browsers drop a SameSite=None cookie that is not Secure: set secure: true (and serve the frontend over TLS) or use "Lax"` });
      }
    } else {
      servers.forEach((server, j) => {
        if (server?.cookie !== undefined) {
          issues.push({
            path: ["backends", i, "servers", j, "cookie"],
            message: `backend ${show(backend.name)} has no cookie persistence, so this cookie would never be set: add cookie settings to the backend or remove it`,
          });
        }
      });
    }
    if (servers.length > 0 && backend.discovery === undefined && servers.every((s) => s?.backup === true || s?.disabled === true)) {
      issues.push({
        path: ["backends", i, "servers"],
        message: `backend ${show(backend.name)} has no active server (all are backup or disabled): it would serve only errors`,
      });
    }
  });
  return issues;
}

/**
 * A managed certificate is served by a bind (else nothing would use it), once per file, and the
 * ACME server can reach the stack over plain HTTP to fetch its challenges (HTTP-01).
 */
function managedCertificateIssues(topology: Topology): PathIssue[] {
  const certificates = Array.isArray(topology.certificates) ? topology.certificates : [];
  if (certificates.length === 0) return [];
  const issues: PathIssue[] = [];
  const frontends = Array.isArray(topology.frontends) ? topology.frontends : [];
  const binds = frontends.flatMap((f) => (Array.isArray(f?.binds) ? f.binds : []));
  const served = new Set(binds.flatMap((b) => (b ? bindCertificates(b) : [])));
  const seen = new Set<string>();
  certificates.forEach((certificate, i) => {
    if (!certificate) return;
    if (seen.has(certificate.file)) issues.push({ path: ["certificates", i, "file"], message: `${show(certificate.file)} is managed twice: one entry per file, with every name it needs` });
    seen.add(certificate.file);
    if (!served.has(certificate.file)) issues.push({ path: ["certificates", i, "file"], message: `no bind serves ${show(certificate.file)}: name it in a bind's tlsCertificate, or remove it` });
  });
  const answersChallenges = frontends.some((f) => f && (f.mode ?? topology.defaults?.mode) !== "tcp" && (Array.isArray(f.binds) ? f.binds : []).some((b) => b?.tlsCertificate === undefined));
  if (!answersChallenges) issues.push({ path: ["certificates"], message: "HTTP-01 needs a plain HTTP bind where the ACME server fetches its challenges: add a bind without tlsCertificate to an HTTP frontend (port 80 in production)" });
  return issues;
}

/** What an algorithm needs: a key for url_param and hdr (and only there), a hash type only where it hashes. */
function balanceIssues(backend: Backend, i: number): PathIssue[] {
  const issues: PathIssue[] = [];
  const keyed = backend.balance === "url_param" || backend.balance === "hdr";
  if (keyed && backend.balanceKey === undefined) issues.push({ path: ["backends", i, "balanceKey"], message: `balance ${backend.balance} picks the server by ${backend.balance === "hdr" ? "a header" : "a query parameter"}: name it in balanceKey` });
  if (!keyed && backend.balanceKey !== undefined) issues.push({ path: ["backends", i, "balanceKey"], message: `balance ${show(backend.balance)} takes no key: remove balanceKey, or use url_param or hdr` });
  if (backend.hashType !== undefined && !HASHING_ALGORITHMS.includes(backend.balance)) issues.push({ path: ["backends", i, "hashType"], message: `balance ${show(backend.balance)} hashes nothing: hashType applies to ${HASHING_ALGORITHMS.join(", ")}` });
  return issues;
}

/** The fields that speak of servers: a backend that answers itself has none for them to act on. */
const SERVER_FIELDS = ["discovery", "healthCheck", "agent", "canary", "cookie", "stickOnSource", "slowStart", "tls", "sendProxy", "balanceKey", "hashType", "cache"] as const;

/** A backend that answers itself: no servers, nothing about servers (its mode is checked with HTTP's other features). */
function answerIssues(backend: Backend, i: number): PathIssue[] {
  const issues: PathIssue[] = [];
  if (Array.isArray(backend.servers) && backend.servers.length > 0) issues.push({ path: ["backends", i, "answer"], message: `backend ${show(backend.name)} answers every request itself, so its servers would get none: remove answer, or the servers` });
  for (const field of SERVER_FIELDS) if (backend[field] !== undefined) issues.push({ path: ["backends", i, field], message: `backend ${show(backend.name)} has no servers (it answers itself): remove ${field}` });
  // Its answer ends the request: a request rule would change nothing that is sent on, and http-response never runs on HAProxy's own answers.
  for (const field of ["requestRules", "responseRules"] as const) if (Array.isArray(backend[field]) && backend[field].length > 0) issues.push({ path: ["backends", i, field], message: `backend ${show(backend.name)} answers every request itself, so its rules would change nothing: remove them (a frontend's rules run before it)` });
  return issues;
}

/** A backend's discovered group: present or servers listed, a port where the records carry none, room for its instances. */
function groupIssues(backend: Backend, i: number): PathIssue[] {
  const group = backend.discovery;
  const issues: PathIssue[] = [];
  if (backend.answer !== undefined) return answerIssues(backend, i);
  if (group === undefined) {
    if (Array.isArray(backend.servers) && backend.servers.length === 0) issues.push({ path: ["backends", i, "servers"], message: `backend ${show(backend.name)} has no server: list servers, add a discovery group, or give it an answer` });
    return issues;
  }
  if (group.record !== "SRV" && group.port === undefined) issues.push({ path: ["backends", i, "discovery", "port"], message: `${group.record} records carry no port: give the group's port (or use SRV records)` });
  if (group.record === "SRV" && group.port !== undefined) issues.push({ path: ["backends", i, "discovery", "port"], message: `SRV records carry each server's port: remove port` });
  if (group.record === "SRV" && typeof group.dnsName === "string" && !group.dnsName.startsWith("_")) issues.push({ path: ["backends", i, "discovery", "dnsName"], message: `${show(group.dnsName)} is not an SRV name: SRV records are looked up as "_service._proto.name", e.g. "_http._tcp.${group.dnsName}"` });
  if (typeof group.instances === "number" && typeof group.maxServers === "number" && group.instances > group.maxServers) {
    issues.push({ path: ["backends", i, "discovery", "instances"], message: `${group.instances} instances do not fit in maxServers ${group.maxServers}: HAProxy would leave ${group.instances - group.maxServers} of them without traffic` });
  }
  const slotNames = typeof group.name === "string" && typeof group.maxServers === "number" ? new Set(groupSlotNames(group)) : new Set<string>();
  (Array.isArray(backend.servers) ? backend.servers : []).forEach((server, j) => {
    if (slotNames.has(server?.name)) issues.push({ path: ["backends", i, "servers", j, "name"], message: `${show(server.name)} is also a slot of discovery group ${show(group.name)}: rename the server or the group` });
  });
  return issues;
}

/** A proxy's mode: its own, else the defaults'. */
export const proxyMode = (proxy: { mode?: ProxyMode }, defaults: Pick<Topology["defaults"], "mode"> | undefined): ProxyMode => proxy?.mode ?? defaults?.mode ?? "http";

/** The backends a frontend sends to: its default, its routes', its tables' entries. */
export function frontendBackends(frontend: Pick<Frontend, "defaultBackend" | "routes" | "routeTables">): { backend: string; path: (string | number)[] }[] {
  return [
    ...(typeof frontend.defaultBackend === "string" ? [{ backend: frontend.defaultBackend, path: ["defaultBackend"] }] : []),
    ...(Array.isArray(frontend.routes) ? frontend.routes : []).flatMap((r, j) => (typeof r?.backend === "string" ? [{ backend: r.backend, path: ["routes", j, "backend"] }] : [])),
    ...(Array.isArray(frontend.routeTables) ? frontend.routeTables : []).flatMap((t, j) => (Array.isArray(t?.entries) ? t.entries : []).flatMap((e, k) => (typeof e?.backend === "string" ? [{ backend: e.backend, path: ["routeTables", j, "entries", k, "backend"] }] : []))),
  ];
}

/** A frontend sends only to backends of its own mode (HAProxy refuses the config otherwise); a check fits its backend's mode. */
function modeMismatches(topology: Topology): PathIssue[] {
  const issues: PathIssue[] = [];
  const backends = Array.isArray(topology.backends) ? topology.backends : [];
  (Array.isArray(topology.frontends) ? topology.frontends : []).forEach((f, i) => {
    if (!f) return;
    const mode = proxyMode(f, topology.defaults);
    for (const { backend, path } of frontendBackends(f)) {
      const target = backends.find((b) => b?.name === backend);
      if (target && proxyMode(target, topology.defaults) !== mode) {
        issues.push({ path: ["frontends", i, ...path], message: `frontend ${show(f.name)} is in mode ${mode} and backend ${show(backend)} in mode ${proxyMode(target, topology.defaults)}: a frontend sends only to backends of its own mode` });
      }
    }
  });
  backends.forEach((b, i) => {
    if (!b?.healthCheck || typeof b.healthCheck !== "object") return;
    const kind = CHECK_KINDS_GIVEN(b.healthCheck);
    if (kind !== undefined && TCP_ONLY_CHECK_KINDS.includes(kind) && proxyMode(b, topology.defaults) === "http") {
      issues.push({ path: ["backends", i, "healthCheck", kind], message: `a ${kind} check speaks to servers that are not HTTP servers, but backend ${show(b.name)} is in mode http: set mode "tcp"` });
    }
    // HAProxy verifies a check's TLS as the server's: without the backend's tls it would refuse the config.
    const tlsNeed = b.healthCheck.tls ? ["healthCheck", "tls"] : (Array.isArray(b.healthCheck.steps) ? b.healthCheck.steps : []).map((step, j) => (step?.connect?.tls ? ["healthCheck", "steps", j, "connect", "tls"] : undefined)).find((p) => p !== undefined);
    if (tlsNeed && b.tls === undefined && b.healthCheck.tlsVerify === undefined) issues.push({ path: ["backends", i, ...tlsNeed], message: `a check over TLS verifies the server's certificate: add tls to backend ${show(b.name)} (caFile, or insecureSkipVerify), or healthCheck.tlsVerify where its traffic is not TLS` });
    if (b.healthCheck.tlsVerify !== undefined && b.tls !== undefined) issues.push({ path: ["backends", i, "healthCheck", "tlsVerify"], message: `backend ${show(b.name)}'s tls verifies its checks too: remove tlsVerify` });
  });
  return issues;
}

const CHECK_KINDS_GIVEN = (check: HealthCheck) => {
  try {
    return checkKind(check);
  } catch {
    return undefined;
  }
};

/** TLS settings on a bind that terminates no TLS, and a dual stack that is not on "::". */
function tlsBindIssues(topology: Topology): PathIssue[] {
  const issues: PathIssue[] = [];
  (Array.isArray(topology.frontends) ? topology.frontends : []).forEach((f, i) => {
    (Array.isArray(f?.binds) ? f.binds : []).forEach((b, j) => {
      if (!b) return;
      if (b.tlsCertificate === undefined) {
        for (const field of ["ciphers", "ciphersuites", "curves", "clientCertificates"] as const) {
          if (b[field] !== undefined) issues.push({ path: ["frontends", i, "binds", j, field], message: `this bind terminates no TLS: add tlsCertificate, or remove ${field}` });
        }
        if (b.strictSni) issues.push({ path: ["frontends", i, "binds", j, "strictSni"], message: "this bind terminates no TLS: add tlsCertificate, or remove strictSni" });
      }
      if (b.dualStack && b.address !== "::") issues.push({ path: ["frontends", i, "binds", j, "dualStack"], message: `dual stack takes IPv4 clients on an IPv6 socket listening on "::": set address "::" (or "*" listens on IPv4 alone)` });
      if (b.clientCertificates?.subjectHeader !== undefined && proxyMode(f, topology.defaults) === "tcp") {
        issues.push({ path: ["frontends", i, "binds", j, "clientCertificates", "subjectHeader"], message: "a TCP frontend forwards no headers: the subject reaches servers only through an HTTP frontend" });
      }
    });
  });
  return issues;
}

/** Features that exist only for HTTP, asked for in a proxy in mode tcp: HAProxy would refuse or ignore them. */
function httpOnlyInTcpMode(topology: Topology): PathIssue[] {
  const issues: PathIssue[] = [];
  const refuse = (path: (string | number)[], what: string) =>
    issues.push({ path, message: `${what} needs HTTP, but ${path[0] === "frontends" ? "the frontend" : "the backend"} is in mode tcp: remove it or use mode "http"` });
  (Array.isArray(topology.frontends) ? topology.frontends : []).forEach((f, i) => {
    if (!f || proxyMode(f, topology.defaults) !== "tcp") return;
    if (f?.forwardfor === true) refuse(["frontends", i, "forwardfor"], "X-Forwarded-For");
    if (f?.httpsRedirect === true) refuse(["frontends", i, "httpsRedirect"], "the HTTPS redirect");
    if (f?.hsts !== undefined) refuse(["frontends", i, "hsts"], "Strict-Transport-Security");
    if (f?.rateLimit !== undefined) refuse(["frontends", i, "rateLimit"], "a per-request rate limit");
    if (Array.isArray(f?.rateLimits)) f.rateLimits.forEach((limit, l) => limit?.count !== "connections" && refuse(["frontends", i, "rateLimits", l, "count"], `a rate limit counting ${limit?.count ?? "requests"} (a TCP frontend counts "connections")`));
    if (f?.allowlist !== undefined) refuse(["frontends", i, "allowlist"], "the allowlist (enforced with http-request)");
    if (Array.isArray(f?.errorPages) && f.errorPages.length > 0) refuse(["frontends", i, "errorPages"], "an error page");
    for (const field of ["requestRules", "responseRules"] as const) if (Array.isArray(f?.[field]) && f[field].length > 0) refuse(["frontends", i, field], "an HTTP rule");
    if (f?.forwardedHeaders !== undefined) refuse(["frontends", i, "forwardedHeaders"], "X-Forwarded headers");
    if (f?.securityHeaders !== undefined) refuse(["frontends", i, "securityHeaders"], "a response header");
    if (f?.compression !== undefined) refuse(["frontends", i, "compression"], "HTTP compression");
    if (f?.statsPage !== undefined) refuse(["frontends", i, "statsPage"], "the stats page");
    for (const field of ["httpKeepAlive", "httpRequest"] as const) if (f?.timeouts?.[field] !== undefined) refuse(["frontends", i, "timeouts", field], `timeouts.${field}`);
  });
  (Array.isArray(topology.backends) ? topology.backends : []).forEach((b, i) => {
    if (!b || proxyMode(b, topology.defaults) !== "tcp") return;
    if (b.balance === "uri" || b.balance === "url_param" || b.balance === "hdr") refuse(["backends", i, "balance"], `balance ${b.balance}`);
    if (b.retryOn !== undefined && b.retryOn.some((e) => e !== "none" && e !== "conn-failure")) refuse(["backends", i, "retryOn"], "retrying on an HTTP answer");
    if (b?.cookie !== undefined) refuse(["backends", i, "cookie"], "cookie persistence");
    if (b?.answer !== undefined) refuse(["backends", i, "answer"], "an answer of the backend's own");
    if (b?.cache !== undefined) refuse(["backends", i, "cache"], "an HTTP cache");
    if (b?.httpReuse !== undefined) refuse(["backends", i, "httpReuse"], "http-reuse");
    if (b?.connectionMode !== undefined) refuse(["backends", i, "connectionMode"], "an HTTP connection mode");
    for (const field of ["requestRules", "responseRules"] as const) if (Array.isArray(b?.[field]) && b[field].length > 0) refuse(["backends", i, field], "an HTTP rule");
  });
  return issues;
}

/** Two listeners on one port (a frontend range overlapping another, or the monitoring port). */
function portCollisions(topology: Topology): PathIssue[] {
  const taken: { from: number; to: number; owner: string }[] = [];
  const issues: PathIssue[] = [];
  const isPort = (p: unknown): p is number => Port.safeParse(p).success;
  const claim = (from: number, to: number, owner: string, path: (string | number)[]) => {
    const clash = taken.find((t) => from <= t.to && t.from <= to);
    if (clash) issues.push({ path, message: `port ${Math.max(from, clash.from)} is already used by ${clash.owner}: give each listener its own ports` });
    else taken.push({ from, to, owner });
  };
  (Array.isArray(topology.frontends) ? topology.frontends : []).forEach((frontend, i) => {
    (Array.isArray(frontend?.binds) ? frontend.binds : []).forEach((bind, j) => {
      if (!isPort(bind?.port)) return;
      const to = isPort(bind.lastPort) && bind.lastPort >= bind.port ? bind.lastPort : bind.port;
      claim(bind.port, to, `frontend ${show(frontend.name)}`, ["frontends", i, "binds", j, "port"]);
    });
  });
  const port = topology.monitoring?.port;
  if (isPort(port)) claim(port, port, "the monitoring listener", ["monitoring", "port"]);
  for (const service of ["sidecar", "prometheus", "alertmanager", "grafana", "dns"] as const) {
    const p = topology.services?.[service]?.port;
    if (isPort(p)) claim(p, p, `the ${service}`, ["services", service, "port"]);
  }
  return issues;
}
