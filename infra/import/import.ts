// An existing haproxy.cfg → a topology, every line accounted for: mapped to a field, decided by the
// stack (with what now governs it), or refused with why. One handler per keyword and section kind,
// in a registry; a keyword without a handler is refused, never dropped and never passed through.
// Pure: files in, a topology and its accounting out (the CLI reads and writes).
import type { Directive, Location, ParsedConfig, Section, Word } from "../../haproxy/config-parser.ts";
import { where } from "../../haproxy/config-parser.ts";
import { durationProblem } from "../../haproxy/duration.ts";
import { MONITORING_PROXY } from "../model/schema.ts";

/** What became of one line of the original. */
export interface LineAccount {
  at: Location;
  /** The line's words, as the report shows them. */
  directive: string;
  outcome: "mapped" | "decided" | "normalised" | "refused";
  /** The field it now lives in, or what governs it ("global.statsSocket: the stack places the socket"). */
  field?: string;
  /** Why it was refused, or what the normalisation changed. */
  why?: string;
}

export interface ImportResult {
  /** The topology, as a TopologyInput (validated by the caller, whose errors point back through `fieldLines`). */
  topology: Record<string, unknown>;
  accounts: LineAccount[];
  /** Which line set each field: a model error on a field names the line. */
  fieldLines: Map<string, Location>;
  /**
   * The comments that stood on a section or a server, by the path of what it became
   * ("frontends.shop_edge", "backends.api.servers.api-1"): a .ts topology keeps them beside it.
   */
  comments: Map<string, string[]>;
  /** What the stack sets that the original did not: production settings, and values HAProxy leaves unset. */
  additions: string[];
}

/** otherKind: the line belongs to the other kind of proxy (a defaults line replayed in a backend may be a frontend's). */
type Outcome = { field: string; why?: string; normalised?: true } | { decided: string } | { refused: string; otherKind?: true };

interface Draft {
  global: Record<string, unknown> & { logs?: unknown[]; tls?: Record<string, unknown> };
  defaults: Record<string, unknown> & { timeouts: Record<string, string> };
  /** What a defaults section gives each frontend or backend that the model keeps per proxy. */
  proxyDefaults: { forwardfor?: boolean; balance?: string; defaultServer?: string[]; connectionMode?: string };
  frontends: Record<string, unknown>[];
  backends: Record<string, unknown>[];
  /** cache sections by name, with the line that opened each. */
  caches: Map<string, { at: Location; settings: Record<string, number> }>;
  /** Backends that use a cache (cache-use and cache-store lines), settled once every section is read. */
  cacheUses: { backend: Record<string, unknown> & { name: string }; cache: string; use?: Location; store?: Location }[];
}

interface Context {
  files: ImportFiles;
  draft: Draft;
  /** The proxy being read: the frontend and/or backend a section fills. */
  frontend?: Record<string, unknown> & { name: string };
  backend?: Record<string, unknown> & { name: string };
  fieldLines: Map<string, Location>;
  /** A frontend's ACLs by name, until a rule uses them. */
  acls: Map<string, Record<string, unknown>[]>;
  /** The section's request rewrites so far: what each changes ("path", "header:x-name") and its line. */
  rewrites: { changes: string; at: Location; directive: string }[];
  /** The section's refusals, denials, redirects and answers (http-request), as routes: before every use_backend. */
  terminalRoutes: Record<string, unknown>[];
  /** The section's redirect rules (the directive, not http-request redirect): routes after the terminal ones. */
  redirectRoutes: Record<string, unknown>[];
  /** A map lookup's default: it chooses every request the map does not hold, so no later default_backend is reached. */
  mapDefault?: string;
  /** The line being read (for what a later line's condition reads). */
  at?: Location;
  /** default-server options in force for the section's server lines (the defaults' first). */
  defaultServer: string[];
  /** A backend's stick-table and stick on src lines: the model holds them as one thing (stickOnSource). */
  stick: { table?: Location; on?: Location };
  /** A frontend's per-client rate limit, the three lines HAProxy needs for it: the model holds them as one (rateLimit). */
  rate: { table?: { at: Location; size: number; window: string }; track?: Location; deny?: { at: Location; requests: number } };
  /** What each server line says that the model keeps per backend, to be the same on every server. */
  lifted: { at: Location; name: string; settings: Record<string, unknown> }[];
}

const text = (d: Directive) => d.words.map((w) => w.raw).join(" ");
const values = (words: readonly Word[]) => words.map((w) => w.value);

/** HAProxy reads a bare number as milliseconds; the model wants the unit written. */
function duration(value: string | undefined): { value: string; normalised: boolean } | { problem: string } {
  if (value === undefined) return { problem: "a duration is missing" };
  const written = /^\d+$/.test(value) ? `${value}ms` : value;
  const problem = durationProblem(written);
  return problem ? { problem } : { value: written, normalised: written !== value };
}

const int = (value: string | undefined): number | undefined => (value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined);

// --- global -------------------------------------------------------------------------------------

/** Directives the stack decides for itself, and what governs them now. */
const DECIDED_GLOBAL: Record<string, string> = {
  daemon: "the stack runs HAProxy in the foreground under its supervisor (or as a container's process)",
  pidfile: "the stack's supervisor keeps the pid",
  user: "the stack chooses the user (the local user; the image's haproxy user in containers)",
  group: "the stack chooses the group (the socket group shared with the sidecar)",
  chroot: "not used by the stack: HAProxy runs as an unprivileged user in its own directory",
  "master-worker": "always: the stack runs HAProxy with -W and a master socket",
  nbproc: "HAProxy 2.6 runs one process (threads: global.nbthread)",
  "stats socket": "global.statsSocket: the stack places the admin socket for the sidecar and apply",
  "stats timeout": "the stack's value (30s)",
  "default-path": "the stack reads every file beside the config (default-path config)",
  "ca-base": "files are named, and kept in the target's certificate directory",
  "crt-base": "files are named, and kept in the target's certificate directory",
};

function globalDirective(d: Directive, ctx: Context): Outcome {
  const [keyword, ...args] = values(d.words);
  const g = ctx.draft.global;
  const two = `${keyword} ${args[0] ?? ""}`;
  if (two in DECIDED_GLOBAL) return { decided: DECIDED_GLOBAL[two]! };
  if (keyword! in DECIDED_GLOBAL) return { decided: DECIDED_GLOBAL[keyword!]! };
  switch (keyword) {
    case "maxconn":
      return setInt(g, "maxconn", args[0], "global.maxconn");
    case "nbthread":
      return setInt(g, "nbthread", args[0], "global.nbthread");
    case "tune.bufsize":
      return setInt(g, "bufferSize", args[0], "global.bufferSize");
    case "tune.http.maxhdr":
      return setInt(g, "maxRequestHeaders", args[0], "global.maxRequestHeaders");
    case "hard-stop-after":
      return setDuration(g, "hardStopAfter", args[0], "global.hardStopAfter");
    case "log": {
      // log <target> [len N] [format F] <facility> [max level [min level]]
      const [target, ...rest] = args;
      if (target === "global" || target === undefined) return { refused: "a log line needs a target" };
      const format = rest[0] === "format" ? rest[1] : undefined;
      const [facility, minLevel] = format ? rest.slice(2) : rest;
      const log = { target: target.replace(/^udp@/, ""), ...(format && { format }), ...(facility && { facility }), ...(minLevel && { minLevel }) };
      g.logs = [...(g.logs ?? []), log];
      return { field: `global.logs[${g.logs.length - 1}]` };
    }
    case "ssl-default-bind-ciphers":
      g.tls = { ...g.tls, ciphers: args[0] };
      return { field: "global.tls.ciphers" };
    case "ssl-default-bind-ciphersuites":
      g.tls = { ...g.tls, ciphersuites: args[0] };
      return { field: "global.tls.ciphersuites" };
    case "ssl-default-bind-options": {
      const min = args.indexOf("ssl-min-ver");
      const rest = args.filter((a, i) => i !== min && i !== min + 1 && a !== "no-tls-tickets");
      if (min < 0 || rest.length) return { refused: `only "ssl-min-ver TLSv1.2|TLSv1.3" is in the model (global.tls.minVersion); found ${args.join(" ")}` };
      g.tls = { ...g.tls, minVersion: args[min + 1] };
      return { field: "global.tls.minVersion" };
    }
    default:
      return { refused: "not in the model yet" };
  }
}

function setInt(target: Record<string, unknown>, key: string, value: string | undefined, field: string): Outcome {
  const n = int(value);
  if (n === undefined) return { refused: `${JSON.stringify(value ?? "")} is not a whole number` };
  target[key] = n;
  return { field };
}

function setDuration(target: Record<string, unknown>, key: string, value: string | undefined, field: string): Outcome {
  const d = duration(value);
  if ("problem" in d) return { refused: d.problem };
  target[key] = d.value;
  return d.normalised ? { field, why: `${value} (milliseconds, as HAProxy reads a bare number) written ${d.value}`, normalised: true } : { field };
}

// --- proxies ------------------------------------------------------------------------------------

const TIMEOUTS: Record<string, { defaults: string; frontend?: string; backend?: string }> = {
  connect: { defaults: "connect", backend: "connect" },
  client: { defaults: "client", frontend: "client" },
  server: { defaults: "server", backend: "server" },
  check: { defaults: "check" },
  queue: { defaults: "queue", backend: "queue" },
  "http-request": { defaults: "httpRequest", frontend: "httpRequest" },
  "http-keep-alive": { defaults: "httpKeepAlive", frontend: "httpKeepAlive" },
  tunnel: { defaults: "tunnel", backend: "tunnel" },
  "client-fin": { defaults: "clientFin", frontend: "clientFin" },
  "server-fin": { defaults: "serverFin", backend: "serverFin" },
  tarpit: { defaults: "tarpit" },
};

const BALANCES = ["roundrobin", "leastconn", "source", "uri", "first", "random"];

/** One line of a defaults, frontend, backend or listen section. */
function proxyDirective(kind: Section["kind"], d: Directive, ctx: Context): Outcome {
  const [keyword, ...args] = values(d.words);
  const { frontend, backend, draft } = ctx;
  const inDefaults = kind === "defaults";
  const fe = frontend ? `frontends.${frontend.name}` : undefined;
  const be = backend ? `backends.${backend.name}` : undefined;
  switch (keyword) {
    case "mode": {
      if (args[0] !== "http" && args[0] !== "tcp") return { refused: `mode ${args[0]}: use http or tcp` };
      if (inDefaults) draft.defaults.mode = args[0];
      if (frontend) frontend.mode = args[0];
      if (backend) backend.mode = args[0];
      return { field: inDefaults ? "defaults.mode" : [fe, be].filter(Boolean).map((p) => `${p}.mode`).join(", ") };
    }
    case "log":
      return args[0] === "global" ? { decided: "every proxy logs where global.logs say" } : { refused: "a proxy's own log target is not in the model: logs go where global.logs say" };
    case "maxconn":
      if (!frontend) return { refused: "maxconn belongs to a frontend (or global)", otherKind: true };
      return setInt(frontend, "maxconn", args[0], `${fe}.maxconn`);
    case "retries":
      return setInt(inDefaults ? draft.defaults : backend ?? {}, "retries", args[0], inDefaults ? "defaults.retries" : `${be}.retries`);
    case "retry-on": {
      if (!inDefaults && !backend) return { refused: "retry-on belongs to a backend (or defaults)", otherKind: true };
      const events = args.includes("none") ? [] : args;
      if (inDefaults) draft.defaults.retryOn = events;
      else backend!.retryOn = events;
      return { field: inDefaults ? "defaults.retryOn" : `${be}.retryOn` };
    }
    case "timeout": {
      const t = TIMEOUTS[args[0] ?? ""];
      if (!t) return { refused: `timeout ${args[0]} is not in the model` };
      if (inDefaults) return setDuration(draft.defaults.timeouts, t.defaults, args[1], `defaults.timeouts.${t.defaults}`);
      const owner = t.frontend && frontend ? { proxy: frontend, key: t.frontend, path: fe } : t.backend && backend ? { proxy: backend, key: t.backend, path: be } : undefined;
      if (!owner) return { refused: `timeout ${args[0]} is not set per ${kind} in the model: set it in defaults` };
      const timeouts = (owner.proxy.timeouts ??= {}) as Record<string, unknown>;
      return setDuration(timeouts, owner.key, args[1], `${owner.path}.timeouts.${owner.key}`);
    }
    case "option":
      return optionDirective(args, kind, ctx);
    case "no":
      if (args[0] === "option" && args[1] === "forwardfor" && frontend) {
        frontend.forwardfor = false;
        return { field: `${fe}.forwardfor` };
      }
      return { refused: `"no ${args.join(" ")}" is not in the model` };
    case "balance":
      if (backend && !inDefaults && (/^hdr\(([A-Za-z0-9_.~-]+)\)$/.test(args[0] ?? "") || (args[0] === "url_param" && args.length === 2))) {
        const header = /^hdr\(([^)]+)\)$/.exec(args[0]!)?.[1];
        Object.assign(backend, header ? { balance: "hdr", balanceKey: header } : { balance: "url_param", balanceKey: args[1] });
        return { field: `${be}.balance, ${be}.balanceKey` };
      }
      if (!BALANCES.includes(args[0] ?? "") || args.length > 1) return { refused: `balance ${args.join(" ")} is not in the model (it has ${BALANCES.join(", ")}, url_param and hdr)` };
      if (inDefaults) draft.proxyDefaults.balance = args[0];
      else if (backend) backend.balance = args[0];
      else return { refused: "balance belongs to a backend", otherKind: true };
      return { field: inDefaults ? "each backend's balance" : `${be}.balance` };
    case "bind":
      if (!frontend) return { refused: "bind belongs to a frontend", otherKind: true };
      return bindDirective(args, frontend);
    case "default_backend":
      if (!frontend) return { refused: "default_backend belongs to a frontend", otherKind: true };
      if (ctx.mapDefault !== undefined) return { decided: `never reached: the map lookup above chooses ${ctx.mapDefault} for every host it does not hold (frontends.${frontend.name}.defaultBackend)` };
      frontend.defaultBackend = args[0];
      return { field: `${fe}.defaultBackend` };
    case "acl": {
      const condition = aclCondition(args.slice(1));
      if ("refused" in condition) return condition;
      ctx.acls.set(args[0]!, [...(ctx.acls.get(args[0]!) ?? []), condition.condition]);
      // A backend has no named conditions in the model: its rules carry the condition itself.
      const field = frontend ? `${fe}.conditions.${args[0]}` : `${be}: the rules that use ${args[0]}`;
      return condition.why ? { field, why: condition.why, normalised: true } : { field };
    }
    case "use_backend":
      if (!frontend) return { refused: "use_backend belongs to a frontend", otherKind: true };
      return useBackend(args, frontend, ctx);
    case "reqadd":
    case "rspadd":
    case "reqdel":
    case "reqidel":
    case "rspdel":
    case "rspidel":
    case "reqrep":
    case "reqirep":
    case "rsprep":
    case "rspirep":
    case "block":
    case "reqallow":
    case "reqiallow":
    case "reqdeny":
    case "reqideny":
    case "reqpass":
    case "reqipass":
    case "reqtarpit":
    case "reqitarpit":
    case "rspdeny":
    case "rspideny":
      return legacyDirective(keyword, args, ctx);
    case "redirect": {
      // HAProxy runs its redirect rules after every http-request rule: their routes follow those.
      const before = ctx.terminalRoutes.length;
      const outcome = httpRule("request", ["redirect", ...args], ctx);
      if (ctx.terminalRoutes.length === before) return outcome;
      ctx.redirectRoutes.push(ctx.terminalRoutes.pop()!);
      return { field: `frontends.${frontend!.name}.routes (the redirects, after the http-request rules' routes)` };
    }
    case "http-request":
      return httpRule("request", args, ctx);
    case "http-response":
      return httpRule("response", args, ctx);
    case "server":
      if (!backend) return { refused: "server belongs to a backend", otherKind: true };
      return serverDirective(args, backend, ctx);
    case "default-server":
      if (inDefaults) {
        draft.proxyDefaults.defaultServer = [...(draft.proxyDefaults.defaultServer ?? []), ...args];
        return { field: "each backend's servers (default-server)" };
      }
      if (!backend) return { refused: "default-server belongs to a backend", otherKind: true };
      {
        // Its options are read on each server line after it: refused here, once, where the model lacks one.
        const trial = serverDirective(["default-server", "127.0.0.1:1", ...args], { name: backend.name }, { ...ctx, defaultServer: [], lifted: [], stick: {}, rate: {} });
        if ("refused" in trial) return trial;
      }
      ctx.defaultServer = [...ctx.defaultServer, ...args];
      return { field: `backends.${backend.name}.servers (each server line after it)` };
    case "stick-table": {
      if (frontend && !backend) {
        const m = /^type ip size (\d+)([kmg]?) expire \S+ store http_req_rate\((\S+)\)$/.exec(args.join(" "));
        const window = m && duration(m[3]);
        if (!m || !window || "problem" in window) return { refused: "a frontend's stick table is read as a per-client rate limit: type ip size N expire D store http_req_rate(WINDOW), with track-sc0 src and a deny 429 (frontends.rateLimit)" };
        ctx.rate.table = { at: ctx.at!, size: Number(m[1]) * ({ k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2] as "k"] ?? 1), window: window.value };
        return { field: `frontends.${frontend.name}.rateLimit` };
      }
      if (!backend || frontend) return { refused: "a stick table is read with stick on src, in a backend: a frontend's tables are its rate limits (frontends.rateLimit)" };
      const m = /^type ip size (\d+[kmg]?) expire (\S+)$/.exec(args.join(" "));
      const size = m && Number(m[1]!.replace(/[kmg]$/, "")) * ({ k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[1]!.slice(-1)] ?? 1);
      const expire = m && duration(m[2]);
      if (!m || !expire || "problem" in expire) return { refused: "only stick-table type ip size N expire D (with stick on src) is in the model: backends.stickOnSource" };
      backend.stickOnSource = { ...(backend.stickOnSource as object), tableSize: size, expire: expire.value };
      ctx.stick.table = ctx.at;
      return { field: `backends.${backend.name}.stickOnSource` };
    }
    case "stick": {
      if (!backend || args.join(" ") !== "on src") return { refused: "only stick on src is in the model: backends.stickOnSource" };
      backend.stickOnSource = { ...(backend.stickOnSource as object) };
      ctx.stick.on = ctx.at;
      return { field: `backends.${backend.name}.stickOnSource` };
    }
    case "hash-type": {
      if (!backend) return { refused: "hash-type belongs to a backend", otherKind: true };
      if (args[0] !== "consistent" && args[0] !== "map-based") return { refused: `hash-type ${args.join(" ")}: the model has map-based or consistent` };
      backend.hashType = args[0];
      return { field: `backends.${backend.name}.hashType` };
    }
    case "tcp-check":
      if (!backend) return { refused: "tcp-check belongs to a backend", otherKind: true };
      return tcpCheckDirective(args, backend);
    case "tcp-request": {
      if (!frontend) return { refused: "tcp-request belongs to a frontend here", otherKind: true };
      if (args[0] === "inspect-delay") return setDuration(frontend, "inspectDelay", args[1], `frontends.${frontend.name}.inspectDelay`);
      if (args.join(" ") === "content accept if { req_ssl_hello_type 1 }" || args.join(" ") === "content accept if { req.ssl_hello_type 1 }") return { decided: "a TCP frontend's routes wait for the ClientHello their SNI needs, up to inspectDelay" };
      return { refused: `tcp-request ${args.join(" ")} is not in the model yet` };
    }
    case "cookie":
      if (!backend) return { refused: "cookie persistence belongs to a backend", otherKind: true };
      return cookieDirective(args, backend);
    case "http-check":
      if (!backend) return { refused: "http-check belongs to a backend", otherKind: true };
      return httpCheckDirective(args, backend);
    default:
      return { refused: "not in the model yet" };
  }
}

/** The REST endpoints that answer 200 on a cluster's leader only (Patroni's names). */
const PRIMARY_ENDPOINTS = ["/primary", "/master", "/leader", "/read-write"];

function optionDirective(args: string[], kind: Section["kind"], ctx: Context): Outcome {
  const { frontend, backend, draft } = ctx;
  const [name, ...rest] = args;
  const inDefaults = kind === "defaults";
  const flag = (key: string) => {
    draft.defaults[key] = true;
    return { field: `defaults.${key}` };
  };
  switch (name) {
    case "httplog":
      return inDefaults ? flag("httplog") : { decided: "the log format follows the proxy's mode (option httplog for HTTP)" };
    case "tcplog":
      return { decided: "the log format follows the proxy's mode (option tcplog for TCP)" };
    case "dontlognull":
      return inDefaults ? flag("dontlognull") : { refused: "dontlognull is set in defaults in the model" };
    case "redispatch":
      if (inDefaults) return flag("redispatch");
      if (backend) {
        backend.redispatch = true;
        return { field: `backends.${backend.name}.redispatch` };
      }
      return { refused: "redispatch belongs to a backend", otherKind: true };
    case "forwardfor":
      if (rest.length) return { refused: `option forwardfor ${rest.join(" ")}: only the plain option is in the model` };
      if (inDefaults) {
        draft.proxyDefaults.forwardfor = true;
        return { field: "each frontend's forwardfor" };
      }
      if (!frontend) return { refused: "forwardfor belongs to a frontend", otherKind: true };
      frontend.forwardfor = true;
      return { field: `frontends.${frontend.name}.forwardfor` };
    case "http-server-close":
    case "http-keep-alive": {
      const mode = name === "http-server-close" ? "server-close" : "keep-alive";
      if (inDefaults) {
        draft.proxyDefaults.connectionMode = mode;
        return { field: "each backend's connectionMode", why: "kept per backend in the model: each backend closes (or keeps) its server connections as the defaults said", normalised: true };
      }
      if (!backend) return { refused: `option ${name} is kept per backend in the model (connectionMode)`, otherKind: true };
      backend.connectionMode = mode;
      return { field: `backends.${backend.name}.connectionMode` };
    }
    case "httpchk": {
      if (!backend) return { refused: "a health check belongs to a backend", otherKind: true };
      const [method, path] = rest.length >= 2 ? rest : ["GET", rest[0] ?? "/"];
      const check = (backend.healthCheck ??= {}) as Record<string, unknown>;
      check.http = { ...(check.http as object), method, path };
      // Patroni's (and its kind's) leader endpoint: one server passes by design.
      if (PRIMARY_ENDPOINTS.includes(path!)) {
        check.primaryOnly = true;
        return { field: `backends.${backend.name}.healthCheck.http`, why: `${path} answers 200 on the leader only: one server UP and the others DOWN is healthy (healthCheck.primaryOnly)`, normalised: true };
      }
      return { field: `backends.${backend.name}.healthCheck.http` };
    }
    case "smtpchk": {
      if (!backend) return { refused: "a health check belongs to a backend", otherKind: true };
      const [greeting, domain] = rest;
      if (rest.length && (!["EHLO", "HELO"].includes(greeting ?? "") || !domain)) return { refused: `option smtpchk ${rest.join(" ")}: the model greets with EHLO DOMAIN` };
      backend.healthCheck = { smtp: { ...(domain && { domain }) } };
      return greeting === "HELO" ? { field: `backends.${backend.name}.healthCheck.smtp`, why: "HELO written EHLO: a server that answers HELO answers EHLO the same", normalised: true } : { field: `backends.${backend.name}.healthCheck.smtp` };
    }
    case "tcp-check": {
      if (!backend) return { refused: "a health check belongs to a backend", otherKind: true };
      backend.healthCheck = { steps: [] };
      return { field: `backends.${backend.name}.healthCheck.steps (the tcp-check lines that follow)` };
    }
    case "tcpka":
    case "clitcpka":
    case "srvtcpka": {
      const on = [name !== "srvtcpka" && frontend, name !== "clitcpka" && backend].filter((p): p is Record<string, unknown> & { name: string } => Boolean(p));
      if (inDefaults || on.length === 0) return { refused: `option ${name} is kept per frontend and backend in the model (tcpKeepAlive)`, otherKind: true };
      for (const proxy of on) proxy.tcpKeepAlive = true;
      return { field: on.map((p) => `${p === frontend ? "frontends" : "backends"}.${p.name}.tcpKeepAlive`).join(", ") };
    }
    case "redis-check":
    case "ssl-hello-chk":
    case "ldap-check": {
      if (!backend) return { refused: "a health check belongs to a backend", otherKind: true };
      backend.healthCheck = { [name === "redis-check" ? "redis" : name === "ssl-hello-chk" ? "tlsHello" : "ldap"]: name === "redis-check" ? {} : true };
      return { field: `backends.${backend.name}.healthCheck` };
    }
    case "pgsql-check":
    case "mysql-check": {
      if (!backend) return { refused: "a health check belongs to a backend", otherKind: true };
      const user = rest[0] === "user" ? rest[1] : undefined;
      if (!user) return { refused: `option ${name} without "user NAME" is not in the model` };
      backend.healthCheck = { [name === "pgsql-check" ? "postgresql" : "mysql"]: { user } };
      return { field: `backends.${backend.name}.healthCheck` };
    }
    default:
      return { refused: `option ${name} is not in the model yet` };
  }
}

/** "*:80", "10.0.0.1:8080-8081", ":443", "[::]:80", "ipv4@0.0.0.0:80" with ssl crt FILE and alpn. */
function bindDirective(args: string[], frontend: Record<string, unknown> & { name: string }): Outcome {
  const [address, ...options] = args;
  const m = /^(?:ipv[46]@)?(\[[0-9a-fA-F:.]+\]|[^:\s]*):(\d+)(?:-(\d+))?$/.exec(address ?? "");
  if (!m) return { refused: `${JSON.stringify(address)} is not an address the model holds (host:port, :port, [v6]:port, a port range)` };
  const host = m[1]!.replace(/^\[|\]$/g, "");
  const bind: Record<string, unknown> = { port: Number(m[2]), ...(m[3] && { lastPort: Number(m[3]) }), ...(host && host !== "*" && host !== "0.0.0.0" && { address: host === "::" ? "::" : host }) };
  for (let i = 0; i < options.length; i++) {
    const option = options[i]!;
    if (option === "ssl") continue;
    if (option === "crt") {
      const file = options[++i] ?? "";
      bind.tlsCertificate = [...((bind.tlsCertificate as string[]) ?? []), file.split("/").pop()!];
    } else if (option === "alpn") bind.http2 = (options[++i] ?? "").split(",").includes("h2");
    else if (option === "v4v6") bind.dualStack = true;
    else if (option === "strict-sni") bind.strictSni = true;
    else return { refused: `the bind option ${option} is not in the model yet` };
  }
  if (Array.isArray(bind.tlsCertificate) && bind.tlsCertificate.length === 1) bind.tlsCertificate = bind.tlsCertificate[0];
  if (bind.tlsCertificate !== undefined && bind.http2 === undefined) bind.http2 = false;
  const binds = (frontend.binds ??= []) as unknown[];
  binds.push(bind);
  return { field: `frontends.${frontend.name}.binds[${binds.length - 1}]${bind.tlsCertificate !== undefined ? ` (the certificate file ${String(bind.tlsCertificate)} goes in the certificate directory)` : ""}` };
}

/** An ACL's criterion as a condition of the model, where one says the same. */
function aclCondition(words: string[]): { condition: Record<string, unknown>; why?: string } | { refused: string } {
  const flags = new Set<string>();
  let i = 1;
  while (words[i]?.startsWith("-")) {
    if (words[i] === "--") {
      i++;
      break;
    }
    flags.add(words[i]!);
    i++;
  }
  const criterion = words[0] ?? "";
  const patterns = words.slice(i);
  const list = (v: string[]) => (v.length === 1 ? v[0] : v);
  if (flags.size > (flags.has("-i") ? 1 : 0)) return { refused: `the ACL flags ${[...flags].join(" ")} are not in the model` };
  if (patterns.length === 0 && criterion !== "ssl_fc") return { refused: "an ACL without a pattern" };
  switch (criterion) {
    case "hdr(host)":
    case "req.hdr(host)":
      return { condition: { host: list(patterns.map((p) => p.toLowerCase())) }, why: `the model compares the Host header without its port${flags.has("-i") ? "" : " and without regard to case"} (HAProxy compared the whole header${flags.has("-i") ? "" : ", case and all"})` };
    case "path":
      return { condition: { path: list(patterns) } };
    case "hdr_beg(host)":
      break;
    case "path_beg":
      return { condition: { pathBegins: list(patterns) } };
    case "path_end":
      return { condition: { pathSuffix: list(patterns) } };
    case "path_reg":
      return patterns.length === 1 ? { condition: { pathRegex: patterns[0] } } : { refused: "path_reg with several patterns" };
    case "src":
      return { condition: { source: list(patterns) } };
    case "method":
      return { condition: { method: list(patterns) } };
    case "ssl_fc":
      return { condition: { tls: true } };
    case "req_ssl_sni":
    case "req.ssl_sni":
      return { condition: { sni: list(patterns.map((p) => p.toLowerCase())) }, why: flags.has("-i") ? undefined : "the model compares a server name without regard to case (as DNS does)" };
    case "req.ssl_alpn":
      return { condition: { alpn: list(patterns) } };
    case "dst_port":
      return patterns.every((p) => int(p) !== undefined) ? { condition: { destinationPort: patterns.length === 1 ? int(patterns[0]) : patterns.map((p) => int(p)) } } : { refused: "dst_port with a range is not in the model: list the ports" };
  }
  // A header by name: the model compares each occurrence's whole value (req.fhdr).
  const header = /^(?:req\.)?hdr(_beg|_reg)?\(([A-Za-z0-9!#$%&'*+.^_`|~-]+)\)$/.exec(criterion);
  if (header && header[2]!.toLowerCase() !== "host") {
    const [kind, name] = [header[1], header[2]!];
    if (kind === "_reg" && patterns.length !== 1) return { refused: `${criterion} with several patterns` };
    const match = kind === "_beg" ? { prefix: list(patterns) } : kind === "_reg" ? { regex: patterns[0] } : { equals: list(patterns) };
    return { condition: { header: { name, ...match, ...(flags.has("-i") && { ignoreCase: true }) } }, why: "compared with each occurrence's whole value (HAProxy's hdr() compares each comma-separated part)" };
  }
  return { refused: `the ACL criterion ${criterion} is not in the model yet` };
}

/** What a condition reads of the request that a rule can rewrite: "path", "header:host"... */
function conditionReads(condition: unknown, ctx: Context): Set<string> {
  const reads = new Set<string>();
  const walk = (c: unknown) => {
    if (c === null || typeof c !== "object") return;
    for (const [kind, value] of Object.entries(c as Record<string, unknown>)) {
      if (kind === "host") reads.add("header:host");
      else if (kind.startsWith("path")) reads.add("path");
      else if (kind === "condition") for (const named of ctx.acls.get(String(value)) ?? []) walk(named);
      else if (kind === "all" || kind === "any") (value as unknown[]).forEach(walk);
      else if (kind === "not") walk(value);
    }
  };
  walk(condition);
  return reads;
}

/**
 * "if|unless" and what follows, as a condition of the model: named ACLs defined above, anonymous
 * ones ({ criterion [flags] patterns }), "!" for not, juxtaposition for and, "||" or "or" for or.
 */
function conditionOf(words: string[], ctx: Context, owner: string): { when?: Record<string, unknown>; why?: string } | { refused: string } {
  if (words.length === 0) return {};
  const [keyword, ...expression] = words;
  if (keyword !== "if" && keyword !== "unless") return { refused: `expected "if" or "unless" before the condition, found ${JSON.stringify(keyword)}` };
  const alternatives: Record<string, unknown>[] = [];
  const normalisations: string[] = [];
  let terms: Record<string, unknown>[] = [];
  for (let i = 0; i < expression.length; i++) {
    const word = expression[i]!;
    if (word === "||" || word === "or") {
      if (!terms.length) return { refused: `"${word}" with nothing before it` };
      alternatives.push(terms.length === 1 ? terms[0]! : { all: terms });
      terms = [];
      continue;
    }
    const negated = word.startsWith("!");
    const rest = negated ? word.slice(1) : word;
    let term: Record<string, unknown>;
    if (rest === "{" || (rest === "" && expression[i + 1] === "{")) {
      if (rest === "") i++;
      const close = expression.indexOf("}", i + 1);
      if (close < 0) return { refused: "an anonymous ACL ({ ...) is not closed" };
      const anonymous = aclCondition(expression.slice(i + 1, close));
      if ("refused" in anonymous) return anonymous;
      if (anonymous.why) normalisations.push(anonymous.why);
      term = anonymous.condition;
      i = close;
    } else {
      if (!ctx.acls.has(rest)) return { refused: `the ACL ${rest} is not defined above in this ${owner}` };
      term = { condition: rest };
    }
    terms.push(negated ? { not: term } : term);
  }
  if (!terms.length) return { refused: "a condition that ends with an operator" };
  alternatives.push(terms.length === 1 ? terms[0]! : { all: terms });
  const when = alternatives.length === 1 ? alternatives[0]! : { any: alternatives };
  return { when: keyword === "unless" ? { not: when } : when, ...(normalisations.length && { why: normalisations.join("; ") }) };
}

/**
 * The model decides every condition on the request as it came: a condition that reads what an
 * earlier rule of the config rewrote would decide otherwise, so it is refused, naming that rule.
 */
function rewrittenBefore(when: unknown, ctx: Context): string | undefined {
  const reads = conditionReads(when, ctx);
  const earlier = ctx.rewrites.find((r) => reads.has(r.changes));
  return earlier && `its condition reads ${earlier.changes === "path" ? "the path" : `the ${earlier.changes.slice("header:".length)} header`}, which ${where(earlier.at)} (${earlier.directive}) rewrites before it; the model decides conditions on the request as it came: test what the request had before the rewrite`;
}

/** use_backend NAME if|unless a [!b] [|| c] [{ anonymous }]: a route, in the frontend's order. */
/** use_backend %[req.hdr(host)[,field(1,:)],lower,map(FILE[,DEFAULT])]: the Host looked up in a map, a route table of the model. */
const HOST_MAP = /^%\[(?:req\.)?hdr\(host\)(,field\(1,:\))?(,lower)?,map(?:_str)?\(([^,)]+)(?:,([^)]+))?\)\]$/i;

function useBackendByMap(expression: string, frontend: Record<string, unknown> & { name: string }, ctx: Context): Outcome {
  const m = HOST_MAP.exec(expression);
  if (!m) return { refused: "a backend chosen by an expression: only the Host header looked up in a map (req.hdr(host),lower,map(FILE[,DEFAULT])) is in the model (routeTables)" };
  const [, portless, lower, file, fallback] = m;
  const text = ctx.files.read(file!);
  if (text === undefined) return { refused: `the map ${file} is not found (beside the config or where the config says): give it to import` };
  const entries: { host: string; backend: string }[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    const [host, backend, ...extra] = line.split(/\s+/);
    if (!backend || extra.length || !/^[A-Za-z0-9.*-]+$/.test(host!)) return { refused: `${file}:${i + 1}: ${JSON.stringify(raw)} is not "HOST BACKEND"` };
    entries.push({ host: host!, backend: backend! });
  }
  const tableName = file!.split("/").pop()!.replace(/\.map$/, "").replace(/[^A-Za-z0-9_]/g, "_").slice(0, 64) || "hosts";
  const tables = (frontend.routeTables ??= []) as unknown[];
  tables.push({ name: tableName, key: "host", entries });
  const routes = (frontend.routes ??= []) as unknown[];
  routes.push({ table: tableName });
  // The map's default answers every request the map does not hold: the frontend's default backend from here on.
  if (fallback !== undefined) {
    frontend.defaultBackend = fallback;
    ctx.mapDefault = fallback;
  }
  const why = [
    !portless && "the model looks the Host up without its port (the config looked up the whole header)",
    !lower && "the model looks the Host up in lower case (the config compared it as sent)",
    fallback !== undefined && `the map's default ${fallback} becomes the default backend (no later use_backend is reached: this rule always chooses)`,
  ].filter(Boolean).join("; ");
  const field = `frontends.${frontend.name}.routeTables.${tableName} (${entries.length} entries from ${file})`;
  return why ? { field, why, normalised: true } : { field };
}

function useBackend(args: string[], frontend: Record<string, unknown> & { name: string }, ctx: Context): Outcome {
  const [name, ...condition] = args;
  if (name?.startsWith("%[")) return condition.length ? { refused: "a map lookup with a condition is not in the model: a route table route takes what its table holds" } : useBackendByMap(name, frontend, ctx);
  if (condition.length === 0) return { refused: "use_backend without a condition: use default_backend" };
  const parsed = conditionOf(condition, ctx, "frontend");
  if ("refused" in parsed) return parsed;
  const rewritten = rewrittenBefore(parsed.when, ctx);
  if (rewritten) return { refused: rewritten };
  const routes = (frontend.routes ??= []) as unknown[];
  routes.push({ when: parsed.when, backend: name });
  const field = `frontends.${frontend.name}.routes[${ctx.terminalRoutes.length + routes.length - 1}]`;
  return parsed.why ? { field, why: parsed.why, normalised: true } : { field };
}

type Refusal = { refused: string };
const isRefusal = (x: object): x is Refusal => typeof (x as Partial<Refusal>).refused === "string";

/** "Name: value" as the old header directives wrote a whole header line. */
const HEADER_LINE = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+):\s*(.*)$/;
/** "^Name:" (optionally followed by ".*"), the regular expression of an old directive that means one header by name. */
const HEADER_BY_NAME = /^\^\(?([A-Za-z0-9!#$%&'*+.^_`|~-]+):\)?(?:\.\*|\s\.\*)?$/;

/**
 * The directives HAProxy 2.6 no longer reads (removed in 2.1) where an exact modern equivalent
 * exists, translated through that equivalent and said so; the others refused with the nearest one.
 */
function legacyDirective(keyword: string, args: string[], ctx: Context): Outcome {
  const phase = keyword.startsWith("rsp") ? "response" : "request";
  const translated = (modern: string[], from: string): Outcome => {
    const outcome = httpRule(phase, modern, ctx);
    if ("refused" in outcome) return outcome;
    if ("decided" in outcome) return outcome;
    return { ...outcome, why: `${from} (removed in HAProxy 2.1) read as http-${phase} ${modern.join(" ")}`, normalised: true };
  };
  const [first, second, ...rest] = args;
  switch (keyword) {
    case "reqadd":
    case "rspadd": {
      const header = HEADER_LINE.exec(first ?? "");
      if (!header || second !== undefined && !["if", "unless"].includes(second)) return { refused: `${keyword} takes one "Name: value" header line: write http-${phase} add-header NAME VALUE` };
      return translated(["add-header", header[1]!, header[2]!, ...args.slice(1)], keyword);
    }
    case "reqdel":
    case "reqidel":
    case "rspdel":
    case "rspidel": {
      const name = HEADER_BY_NAME.exec(first ?? "")?.[1];
      if (!name) return { refused: `${keyword} ${first}: only a whole header by name ("^Name:") has an exact equivalent: write http-${phase} del-header NAME` };
      return translated(["del-header", name, ...args.slice(1)], keyword);
    }
    case "reqrep":
    case "reqirep":
    case "rsprep":
    case "rspirep": {
      const name = HEADER_BY_NAME.exec(first ?? "")?.[1];
      const header = HEADER_LINE.exec(second ?? "");
      if (name && header && header[1]!.toLowerCase() === name.toLowerCase() && !/\\\d/.test(header[2]!)) return translated(["set-header", header[1]!, header[2]!, ...rest], keyword);
      return { refused: `${keyword} ${args.join(" ")}: a regular expression over the whole ${phase} line has no exact equivalent; write http-${phase} replace-header, replace-path or set-header for what it meant` };
    }
    case "block":
      return translated(["deny", ...args], "block");
    default:
      return { refused: `${keyword} (removed in HAProxy 2.1) has no exact equivalent here: write http-${phase} ${keyword.includes("deny") ? "deny" : keyword.includes("tarpit") ? "tarpit" : "rules"} with an ACL on what it matched` };
  }
}

/** A literal the model writes as it is: HAProxy would read "%" as the start of an expression. */
const literal = (value: string | undefined, what: string): { value: string } | { refused: string } =>
  value === undefined ? { refused: `${what} is missing` } : value.includes("%") ? { refused: `${JSON.stringify(value)} is an expression (log-format): the model writes ${what} as it is` } : { value };

/** What a rewrite action changes, for the conditions read after it. */
const REWRITES: Record<string, (args: string[]) => string> = {
  "set-header": (a) => `header:${a[0]!.toLowerCase()}`,
  "add-header": (a) => `header:${a[0]!.toLowerCase()}`,
  "del-header": (a) => `header:${a[0]!.toLowerCase()}`,
  "set-path": () => "path",
  "replace-path": () => "path",
};

/** http-request and http-response rules, in a frontend or a backend, each with its optional condition. */
function httpRule(phase: "request" | "response", args: string[], ctx: Context): Outcome {
  const [action, ...rest] = args;
  const { frontend, backend } = ctx;
  const owner = backend && !frontend ? backend : frontend ?? backend;
  if (!owner) return { refused: `http-${phase} belongs to a frontend or a backend`, otherKind: true };
  const path = `${owner === frontend ? "frontends" : "backends"}.${owner.name}`;
  // A cache: looked up before the request goes on, stored as the answer comes back (backend.cache).
  if ((action === "cache-use" && phase === "request") || (action === "cache-store" && phase === "response")) {
    if (owner !== backend || rest.length !== 1) return { refused: `${action} NAME (no condition) in a backend is what the model holds (backends.cache): a cache per backend` };
    const use = ctx.draft.cacheUses.find((u) => u.backend === backend && u.cache === rest[0]) ?? (ctx.draft.cacheUses.push({ backend, cache: rest[0]! }), ctx.draft.cacheUses.at(-1)!);
    use[action === "cache-use" ? "use" : "store"] = ctx.at;
    return { field: `backends.${backend.name}.cache` };
  }
  // The rate limit's parts: tracking every client by address, and the refusal past the limit.
  if (phase === "request" && owner === frontend && args.join(" ") === "track-sc0 src") {
    if (ctx.terminalRoutes.length) return { refused: "the rules above answer, refuse or redirect some requests before they are counted; the model counts every request before its routes (frontends.rateLimit): put the limit's lines first, or leave those requests counted" };
    ctx.rate.track = ctx.at;
    return { field: `frontends.${frontend!.name}.rateLimit` };
  }
  const limited = phase === "request" && owner === frontend ? /^deny deny_status 429 if \{ sc0?_http_req_rate(?:\(0\))? gt (\d+) \}$/.exec(args.join(" ")) : null;
  if (limited) {
    ctx.rate.deny = { at: ctx.at!, requests: Number(limited[1]) };
    return { field: `frontends.${frontend!.name}.rateLimit.requests`, why: "the refusal also says when to try again (Retry-After: the window)", normalised: true };
  }
  const at = ["if", "unless"].map((k) => rest.indexOf(k)).filter((i) => i >= 0).sort((a, b) => a - b)[0] ?? rest.length;
  const [params, condition] = [rest.slice(0, at), rest.slice(at)];
  const parsed = conditionOf(condition, ctx, owner === frontend ? "frontend" : "backend");
  if ("refused" in parsed) return parsed;
  if (phase === "response" && condition.length && /(status|res\.|resp\.|shdr|capture\.res)/.test(condition.join(" "))) return { refused: "a response rule's condition is decided on its request in the model: the response's status and headers are not tested" };
  const rewritten = rewrittenBefore(parsed.when, ctx);
  if (rewritten) return { refused: rewritten };
  const when = parsed.when && { when: parsed.when };
  const done = (field: string): Outcome => (parsed.why ? { field, why: parsed.why, normalised: true } : { field });

  // Rewrites: a rule of the model, in the config's order.
  const rule = ((): Record<string, unknown> | Refusal | undefined => {
    switch (action) {
      case "set-header":
      case "add-header": {
        if (params.length !== 2) return { refused: `${action} takes a header name and one value` };
        const value = literal(params[1], "a header value");
        if ("refused" in value) return value;
        return { [action === "set-header" ? "setHeader" : "addHeader"]: { name: params[0], value: value.value } };
      }
      case "del-header":
        return params.length === 1 ? { deleteHeader: params[0] } : { refused: "del-header with a match method (-m) is not in the model: delete the header by its name" };
      case "set-path": {
        if (phase !== "request") break;
        const value = literal(params[0], "a path");
        return "refused" in value ? value : { setPath: value.value };
      }
      case "replace-path": {
        if (phase !== "request") break;
        if (params.length !== 2) return { refused: "replace-path takes a regular expression and its replacement" };
        const replacement = literal(params[1], "a replacement");
        return "refused" in replacement ? replacement : { replacePath: { regex: params[0], with: replacement.value } };
      }
      case "set-status": {
        if (phase !== "response" || params.length !== 1 || int(params[0]) === undefined) return { refused: "set-status N (a response's status, nothing more) is what the model holds" };
        return { setStatus: int(params[0]) };
      }
    }
    return undefined;
  })();
  if (rule !== undefined && isRefusal(rule)) return rule;
  if (rule !== undefined) {
    const field = phase === "request" ? "requestRules" : "responseRules";
    const list = (owner[field] ??= []) as unknown[];
    list.push({ ...when, ...rule });
    if (phase === "request" && REWRITES[action!]) ctx.rewrites.push({ changes: REWRITES[action!]!(params), at: ctx.at!, directive: `http-request ${args.join(" ")}` });
    return done(`${path}.${field}[${list.length - 1}]`);
  }

  // Refusals, redirects and answers: routes of the frontend, ahead of its use_backend routes (HAProxy runs every http-request rule before use_backend).
  if (phase === "request" && ["deny", "tarpit", "redirect", "return"].includes(action!)) {
    if (owner !== frontend) return { refused: `http-request ${action} in a backend is not in the model: make it a route of the frontends that use this backend` };
    const route = terminalRoute(action!, params);
    if (isRefusal(route)) return route;
    if (action === "redirect" && !("location" in (route.redirect as object)) && ctx.rewrites.some((r) => r.changes === "path")) return { refused: `this redirect keeps the request's path, which ${where(ctx.rewrites.find((r) => r.changes === "path")!.at)} rewrites before it; the model redirects the request as it came` };
    ctx.terminalRoutes.push({ ...when, ...route });
    return done(`${path}.routes[${ctx.terminalRoutes.length - 1}]`);
  }
  return { refused: `http-${phase} ${action} is not in the model yet` };
}

/** deny [deny_status N], tarpit [deny_status N], redirect location|prefix|scheme X [code N] [drop-query], return [status N] [content-type T] [string S]. */
function terminalRoute(action: string, params: string[]): Record<string, unknown> | Refusal {
  const options = new Map<string, string>();
  const flags = new Set<string>();
  const [head, ...tail] = action === "redirect" ? [params[0], ...params.slice(2)] : [undefined, ...params];
  for (let i = 0; i < tail.length; i++) {
    const word = tail[i]!;
    if (word === "drop-query") flags.add(word);
    else if (["deny_status", "code", "status", "content-type", "string"].includes(word) && tail[i + 1] !== undefined) options.set(word, tail[++i]!);
    else return { refused: `the ${action} option ${word} is not in the model` };
  }
  const status = (key: string) => (options.has(key) ? int(options.get(key)) ?? Number.NaN : undefined);
  switch (action) {
    case "deny":
    case "tarpit":
      return { [action]: { ...(status("deny_status") !== undefined && { status: status("deny_status") }) } };
    case "redirect": {
      if (head !== "location" && head !== "prefix" && head !== "scheme") return { refused: `redirect ${head}: use location, prefix or scheme` };
      const target = literal(params[1], `a redirect ${head}`);
      if ("refused" in target) return target;
      return { redirect: { [head]: target.value, ...(status("code") !== undefined && { code: status("code") }), ...(flags.has("drop-query") && { dropQuery: true }) } };
    }
    default: {
      const body = options.get("string");
      if (body !== undefined && body.includes("%")) return { refused: `${JSON.stringify(body)}: the model answers with text as it is (no lf-string)` };
      return { respond: { status: status("status") ?? 200, ...(options.has("content-type") && { contentType: options.get("content-type") }), ...(body !== undefined && { body }) } };
    }
  }
}

/**
 * A server option the model keeps per backend (every server of a backend says the same): its
 * setting, as part of a backend, and how many words it takes after the keyword.
 */
const LIFTED_OPTIONS: Record<string, { words: number; set: (value: string[], into: Record<string, unknown>) => string | undefined }> = {
  "send-proxy": { words: 0, set: (_, b) => void (b.sendProxy = "v1") },
  "send-proxy-v2": { words: 0, set: (_, b) => void (b.sendProxy = "v2") },
  slowstart: { words: 1, set: ([d], b) => { const v = duration(d); return "problem" in v ? v.problem : void (b.slowStart = v.value); } },
  "on-marked-down": { words: 1, set: ([v], b) => (v === "shutdown-sessions" ? void (b.shutdownSessionsOnDown = true) : `on-marked-down ${v} is not in the model (only shutdown-sessions)`) },
  "on-marked-up": { words: 1, set: ([v], b) => (v === "shutdown-backup-sessions" ? void (b.shutdownBackupSessionsOnUp = true) : `on-marked-up ${v} is not in the model (only shutdown-backup-sessions)`) },
  port: { words: 1, set: ([p], b) => (int(p) === undefined ? `port ${p} is not a port` : void (b.checkPort = int(p))) },
  addr: { words: 1, set: ([a], b) => void (b.checkAddress = a) },
  "check-ssl": { words: 0, set: (_, b) => void (b.checkTls = true) },
  ssl: { words: 0, set: (_, b) => void (b.trafficTls = true) },
  verify: { words: 1, set: ([v], b) => (v === "none" ? void (b.tls = { ...(b.tls as object), insecureSkipVerify: true }) : v === "required" ? undefined : `verify ${v}: use required or none`) },
  "ca-file": { words: 1, set: ([f], b) => void (b.tls = { ...(b.tls as object), caFile: f!.split("/").pop() }) },
  crt: { words: 1, set: ([f], b) => void (b.tls = { ...(b.tls as object), clientCertificate: f!.split("/").pop() }) },
  verifyhost: { words: 1, set: ([h], b) => void (b.tls = { ...(b.tls as object), serverName: h }) },
  sni: { words: 1, set: ([e], b) => { const m = /^str\(([^)]+)\)$/.exec(e ?? ""); return m ? void (b.tls = { ...(b.tls as object), serverName: m[1] }) : `sni ${e}: only a fixed name, str(NAME), is in the model`; } },
  alpn: { words: 1, set: ([a], b) => void (b.tls = { ...(b.tls as object), alpn: a!.split(",") }) },
  "agent-check": { words: 0, set: (_, b) => void (b.agent = { ...(b.agent as object) }) },
  "agent-port": { words: 1, set: ([p], b) => void (b.agent = { ...(b.agent as object), port: int(p) }) },
  "agent-inter": { words: 1, set: ([d], b) => { const v = duration(d); return "problem" in v ? v.problem : void (b.agent = { ...(b.agent as object), inter: v.value }); } },
};

function serverDirective(args: string[], backend: Record<string, unknown> & { name: string }, ctx: Context): Outcome {
  const [name, address, ...own] = args;
  const options = [...ctx.defaultServer, ...own];
  const lifted: Record<string, unknown> = {};
  const m = /^([^:\s]+|\[[0-9a-fA-F:.]+\]):(\d+)$/.exec(address ?? "");
  // A unix socket: "unix@/path", or an absolute path as HAProxy also takes it.
  const socket = /^(?:unix@)?(\/\S+)$/.exec(address ?? "")?.[1];
  if (!name || (!m && socket === undefined)) return { refused: `${JSON.stringify(address ?? "")} is not an address with a port, or a unix socket, the model holds` };
  const at = m ? { address: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]) } : { unixSocket: socket };
  const server: Record<string, unknown> = { name, ...at, external: true, check: false };
  for (let i = 0; i < options.length; i++) {
    const option = options[i]!;
    const next = () => options[++i];
    if (option === "check") server.check = true;
    else if (option === "backup") server.backup = true;
    else if (option === "disabled") server.disabled = true;
    else if (option === "inter" || option === "fastinter" || option === "downinter") {
      const d = duration(next());
      if ("problem" in d) return { refused: d.problem };
      server[{ inter: "inter", fastinter: "fastInter", downinter: "downInter" }[option]] = d.value;
    } else if (option === "fall" || option === "rise" || option === "weight" || option === "maxconn") {
      const n = int(next());
      if (n === undefined) return { refused: `${option} needs a whole number` };
      server[option] = n;
    } else if (option === "cookie") server.cookie = next();
    else if (LIFTED_OPTIONS[option]) {
      const { words, set } = LIFTED_OPTIONS[option]!;
      const problem = set(options.slice(i + 1, i + 1 + words), lifted);
      i += words;
      if (problem) return { refused: problem };
    } else return { refused: `the server option ${option} is not in the model yet` };
  }
  const servers = (backend.servers ??= []) as unknown[];
  servers.push(server);
  ctx.lifted.push({ at: ctx.at!, name: name!, settings: lifted });
  return { field: `backends.${backend.name}.servers.${name} (a server the stack balances but does not run)` };
}

function cookieDirective(args: string[], backend: Record<string, unknown> & { name: string }): Outcome {
  const [name, ...options] = args;
  const cookie: Record<string, unknown> = { name, insert: false, indirect: false, nocache: false, httponly: false };
  for (const option of options) {
    if (option === "insert" || option === "indirect" || option === "nocache" || option === "secure" || option === "httponly") cookie[option] = true;
    else if (option === "rewrite") cookie.insert = false;
    else return { refused: `the cookie option ${option} is not in the model yet` };
  }
  backend.cookie = cookie;
  return { field: `backends.${backend.name}.cookie`, why: 'HAProxy sets no SameSite attribute here; the model adds SameSite=Lax unless told otherwise', normalised: true };
}

function httpCheckDirective(args: string[], backend: Record<string, unknown> & { name: string }): Outcome {
  const check = (backend.healthCheck ??= { http: { method: "GET", path: "/" } }) as Record<string, Record<string, unknown>>;
  if (!check.http) return { refused: "http-check needs option httpchk first" };
  const [verb, kind, ...rest] = args;
  if (verb !== "expect") return { refused: `http-check ${verb} is not in the model yet` };
  if (kind === "status" && int(rest[0]) !== undefined) check.http.expectStatus = int(rest[0]);
  else if (kind === "string" && rest.length === 1) check.http.expectBody = rest[0];
  else if (kind === "rstring" && rest.length === 1) check.http.expectBodyRegex = rest[0];
  else return { refused: `http-check expect ${kind} ${rest.join(" ")} is not in the model yet` };
  return { field: `backends.${backend.name}.healthCheck.http` };
}

// --- the whole config ----------------------------------------------------------------------------

const SECTION_OUTCOME: Partial<Record<Section["kind"], string>> = {
  program: "the stack supervises its own processes: run the program beside it",
  "crt-store": "crt-store is newer than HAProxy 2.6 (3.0): name each certificate on its bind (tlsCertificate), or manage it (certificates)",
  traces: "traces is newer than HAProxy 2.6 (3.1)",
  acme: "acme sections are newer than HAProxy 2.6 (3.2): certificates are managed by the stack (certificates)",
};

/** Imports parsed files; nothing is thrown for a refused line: the accounts say which and why. */
/** What the importer reads besides the config: a file a config names (a map), by the path written in it. */
export interface ImportFiles {
  /** The file's text, or undefined when it cannot be found. */
  read(path: string): string | undefined;
}

export function importConfig(parsed: ParsedConfig, name = "imported", files: ImportFiles = { read: () => undefined }): ImportResult {
  // The model's defaults where HAProxy's own differ and the difference changes what clients get:
  // the original had none of these unless a line of it says so.
  const draft: Draft = { global: {}, defaults: { timeouts: {}, mode: "tcp", httplog: false, dontlognull: false, redispatch: false, maxRequestBodyBytes: 0, retryOn: ["conn-failure"] }, proxyDefaults: {}, frontends: [], backends: [], caches: new Map(), cacheUses: [] };
  const accounts: LineAccount[] = [];
  const fieldLines = new Map<string, Location>();
  const comments = new Map<string, string[]>();
  /** Section lines whose proxy got another name, and why. */
  const renamed = new Map<Location, string>();
  /** The first defaults section (the model's defaults), the one in force, and the named ones for "from". */
  const defaultsOf: { base?: Section; current?: Section; named: Map<string, Section> } = { named: new Map() };
  for (const section of parsed.sections) {
    const header = [section.kind, section.name, ...section.args.map((a) => a.raw)].filter(Boolean).join(" ");
    const ctx: Context = { files, draft, fieldLines, acls: new Map(), rewrites: [], terminalRoutes: [], redirectRoutes: [], defaultServer: [...(draft.proxyDefaults.defaultServer ?? [])], lifted: [], stick: {}, rate: {} };
    const refusedSection = SECTION_OUTCOME[section.kind] ?? (["global", "defaults", "frontend", "backend", "listen", "cache"].includes(section.kind) ? undefined : `${section.kind} sections are not in the model yet`);
    const account = (at: Location, directive: string, outcome: Outcome) => {
      if ("refused" in outcome) accounts.push({ at, directive, outcome: "refused", why: outcome.refused });
      else if ("decided" in outcome) accounts.push({ at, directive, outcome: "decided", field: outcome.decided });
      else {
        accounts.push({ at, directive, outcome: outcome.normalised ? "normalised" : "mapped", field: outcome.field, ...(outcome.why && { why: outcome.why }) });
        fieldLines.set(outcome.field.split(" ")[0]!.replace(/\[(\d+)\]/g, ".$1"), at);
      }
    };
    if (refusedSection) {
      account(section.at, header, { refused: refusedSection });
      for (const d of section.directives) account(d.at, text(d), { refused: `inside a ${section.kind} section` });
      continue;
    }
    if (section.kind === "cache") {
      readCacheSection(section, draft, account);
      continue;
    }
    const from = section.args[0]?.value === "from" ? section.args[1]?.value : undefined;
    if (from !== undefined && !defaultsOf.named.has(from)) {
      account(section.at, header, { refused: `no defaults section named ${JSON.stringify(from)} comes before it` });
      for (const d of section.directives) account(d.at, text(d), { refused: "in a section whose defaults are missing" });
      continue;
    }
    if (section.kind === "defaults") {
      if (section.name) defaultsOf.named.set(section.name, section);
      if (defaultsOf.base === undefined && from === undefined) defaultsOf.base = defaultsOf.current = section;
      else {
        // A later defaults section (or one "from" another): what HAProxy gives the proxies that take it is
        // replayed in each of them (see replayDefaults); its lines are accounted there when they cannot be.
        defaultsOf.current = section;
        account(section.at, header, { field: "the proxies that take these defaults (each line replayed in each of them)" });
        for (const d of section.directives) account(d.at, text(d), { field: "each proxy that takes these defaults", why: "a defaults section after the first: its settings are written in each proxy that takes it", normalised: true });
        continue;
      }
    }
    if (section.kind === "frontend" || section.kind === "listen") {
      // The model adds X-Forwarded-For unless told not to; HAProxy does only where a line says so.
      // The stack's own listener has the reserved name: the config's frontend of that name is renamed, said on its header line.
      const name = section.name === MONITORING_PROXY ? `${section.name}_frontend` : section.name!;
      if (name !== section.name) renamed.set(section.at, `the stack's monitoring listener is named ${MONITORING_PROXY}: this frontend is frontends.${name}`);
      ctx.frontend = { name, binds: [], forwardfor: draft.proxyDefaults.forwardfor === true };
      draft.frontends.push(ctx.frontend);
      // The old form "listen NAME ADDRESS:PORT": the address is a bind line, as HAProxy 2.6 wants it.
      if (section.args.length && from === undefined) {
        const bound = bindDirective(values(section.args), ctx.frontend);
        account(section.at, header, "refused" in bound ? bound : { ...bound, why: "the address on the section line is written as a bind line (HAProxy 2.6 wants bind)", normalised: true });
      }
    }
    if (section.kind === "backend" || section.kind === "listen") {
      ctx.backend = { name: section.name!, servers: [], ...(draft.proxyDefaults.balance && { balance: draft.proxyDefaults.balance }), ...(draft.proxyDefaults.connectionMode && { connectionMode: draft.proxyDefaults.connectionMode }) };
      draft.backends.push(ctx.backend);
      // A listen section is a frontend whose default backend is its own half.
      if (ctx.frontend) ctx.frontend.defaultBackend = section.name;
    }
    if (section.comments.length) for (const path of [ctx.frontend && `frontends.${section.name}`, ctx.backend && `backends.${section.name}`, section.kind === "global" || section.kind === "defaults" ? section.kind : undefined]) if (path) comments.set(path, section.comments);
    if (ctx.backend) for (const d of section.directives) if (d.words[0]?.value === "server" && d.comments.length && d.words[1]) comments.set(`backends.${section.name}.servers.${d.words[1].value}`, d.comments);
    if (!section.args.length || from !== undefined) account(section.at, header, { field: section.kind === "global" ? "global" : section.kind === "defaults" ? "defaults" : [ctx.frontend && `frontends.${section.name}`, ctx.backend && `backends.${section.name}`].filter(Boolean).join(" and ") });
    if (ctx.frontend || ctx.backend) {
      const taken = from !== undefined ? defaultsOf.named.get(from)! : defaultsOf.current;
      for (const problem of replayDefaults(section, taken, defaultsOf, ctx)) account(problem.at, problem.directive, { refused: problem.why });
    }
    for (const d of section.directives) {
      ctx.at = d.at;
      account(d.at, text(d), section.kind === "global" ? globalDirective(d, ctx) : proxyDirective(section.kind, d, ctx));
    }
    if (ctx.backend) {
      const refuseLine = (at: Location, why: string) => {
        const line = accounts.find((a) => a.at === at);
        if (line) Object.assign(line, { outcome: "refused", field: undefined, why });
      };
      liftServerSettings(ctx, refuseLine);
      if (ctx.stick.table && !ctx.stick.on) refuseLine(ctx.stick.table, "a stick table nothing tracks into (no stick on src here): a table that counts for rate limits belongs to a frontend's rateLimit");
      if (ctx.stick.on && !ctx.stick.table) refuseLine(ctx.stick.on, "stick on src needs a stick-table in the same backend (type ip size N expire D)");
    }
    if (ctx.frontend && (ctx.rate.table || ctx.rate.track || ctx.rate.deny)) {
      const { table, track, deny } = ctx.rate;
      if (table && track && deny) ctx.frontend.rateLimit = { requests: deny.requests, window: table.window, tableSize: table.size };
      else {
        const missing = [!table && "stick-table ... store http_req_rate(WINDOW)", !track && "http-request track-sc0 src", !deny && "http-request deny deny_status 429 if { sc_http_req_rate(0) gt N }"].filter(Boolean).join(", ");
        for (const line of [table?.at, track, deny?.at]) if (line) { const a = accounts.find((x) => x.at === line); if (a) Object.assign(a, { outcome: "refused", field: undefined, why: `a per-client rate limit needs its three lines in the frontend; missing: ${missing}` }); }
      }
    }
    if (ctx.frontend && ctx.terminalRoutes.length + ctx.redirectRoutes.length) ctx.frontend.routes = [...ctx.terminalRoutes, ...ctx.redirectRoutes, ...((ctx.frontend.routes as unknown[]) ?? [])];
    // A backend's rules name no condition: each takes its ACLs' conditions themselves.
    if (ctx.backend && !ctx.frontend) for (const field of ["requestRules", "responseRules"]) if (Array.isArray(ctx.backend[field])) ctx.backend[field] = (ctx.backend[field] as Record<string, unknown>[]).map((r) => (r.when ? { ...r, when: inlineConditions(r.when, ctx.acls) } : r));
    if (ctx.frontend && ctx.acls.size) {
      const used = JSON.stringify([ctx.frontend.routes ?? [], ctx.frontend.requestRules ?? [], ctx.frontend.responseRules ?? []]);
      ctx.frontend.conditions = Object.fromEntries([...ctx.acls].filter(([name]) => used.includes(`"condition":"${name}"`)).map(([name, conditions]) => [name, conditions.length === 1 ? conditions[0] : { any: conditions }]));
    }
  }
  // A proxy above every defaults section gets none of them from HAProxy, while the model gives every proxy its defaults.
  if (defaultsOf.base) {
    const first = parsed.sections.indexOf(defaultsOf.base);
    for (const early of parsed.sections.slice(0, first).filter((s) => ["frontend", "backend", "listen"].includes(s.kind))) {
      const header = accounts.find((a) => a.at === early.at);
      if (header) Object.assign(header, { outcome: "refused", field: undefined, why: "it comes before the first defaults section, so HAProxy gives it none; the model gives every proxy the defaults: move it below them" });
    }
  }
  for (const use of draft.cacheUses) {
    const cache = draft.caches.get(use.cache);
    const refuse = (at: Location | undefined, why: string) => {
      const line = accounts.find((a) => a.at === at);
      if (line) Object.assign(line, { outcome: "refused", field: undefined, why });
    };
    if (!cache) refuse(use.use ?? use.store, `no cache section named ${JSON.stringify(use.cache)}`);
    else if (!use.use || !use.store) refuse(use.use ?? use.store, "a cache needs both lines in the backend: http-request cache-use and http-response cache-store");
    else use.backend.cache = cache.settings;
  }
  for (const [at, why] of renamed) {
    const header = accounts.find((a) => a.at === at);
    if (header && header.outcome !== "refused") Object.assign(header, { outcome: "normalised", why });
  }
  // A frontend with no default_backend: HAProxy answers 503 (or closes a TCP connection) where no rule routes.
  const additions = stackAdditions(draft);
  for (const f of draft.frontends) {
    const routes = (f.routes ?? []) as { when?: unknown }[];
    if (f.defaultBackend === undefined && !routes.some((r) => r.when === undefined)) {
      f.routes = [...routes, { deny: { status: 503 } }];
      additions.push(`frontends.${f.name}: a last route refuses with 503 what no rule routes (the config has no default_backend: HAProxy answers 503, or closes a TCP connection)`);
    }
  }
  const services = servicesClear(draft.frontends, additions);
  const { timeouts, ...defaults } = draft.defaults;
  const topology = {
    name,
    ...(Object.keys(draft.global).length && { global: draft.global }),
    defaults: { ...defaults, ...(Object.keys(timeouts).length && { timeouts }) },
    frontends: draft.frontends,
    backends: draft.backends,
    ...services,
  };
  return { topology, accounts, fieldLines, comments, additions };
}

/** The stack's own listeners and their default ports: moved where the config's binds take the port. */
const STACK_PORTS: { path: string[]; port: number; what: string }[] = [
  { path: ["monitoring", "port"], port: 8404, what: "the monitoring listener (stats, /metrics)" },
  { path: ["services", "sidecar", "port"], port: 9101, what: "the sidecar" },
  { path: ["services", "prometheus", "port"], port: 9090, what: "Prometheus" },
  { path: ["services", "alertmanager", "port"], port: 9093, what: "Alertmanager" },
  { path: ["services", "grafana", "port"], port: 3000, what: "Grafana" },
  { path: ["services", "dns", "port"], port: 8053, what: "the local name server" },
];

/** monitoring and services, with each stack listener whose default port a bind takes moved to a free one. */
function servicesClear(frontends: Record<string, unknown>[], additions: string[]): Record<string, Record<string, unknown>> {
  const taken = new Set(frontends.flatMap((f) => ((f.binds ?? []) as { port: number; lastPort?: number }[]).flatMap((b) => Array.from({ length: (b.lastPort ?? b.port) - b.port + 1 }, (_, i) => b.port + i))));
  const out: Record<string, Record<string, unknown>> = {};
  for (const { path, port, what } of STACK_PORTS) {
    if (!taken.has(port)) continue;
    let moved = port + 10_000;
    while (taken.has(moved)) moved++;
    taken.add(moved);
    let node = out;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, Record<string, unknown>>;
    (node as Record<string, unknown>)[path.at(-1)!] = moved;
    additions.push(`${path.join(".")} = ${moved}: ${what} moves off ${port}, which the config's frontends listen on`);
  }
  return out;
}

/** The model's timeouts HAProxy has no value for unless told: the stack's value stands in, said. */
const ADDED_TIMEOUTS: Record<string, string> = { connect: "5s", client: "10s", server: "10s", httpRequest: "5s" };

/** What the rendered config has that the original did not say, each with why. */
function stackAdditions(draft: Draft): string[] {
  const g = draft.global;
  return [
    ...Object.entries(ADDED_TIMEOUTS).filter(([k]) => draft.defaults.timeouts[k] === undefined).map(([k, v]) => `defaults.timeouts.${k} = ${v}: the original sets none (HAProxy would wait without limit, and warns)`),
    ...(g.hardStopAfter === undefined ? ["global.hardStopAfter = 30s: an old worker ends 30 s after a reload at the latest"] : []),
    "global.closeSpreadTime = 5s: idle connections are closed over 5 s after a reload, not at once",
    ...(g.maxRequestHeaders === undefined ? ["global.maxRequestHeaders = 100 (HAProxy's default is 101)"] : []),
    "defaults.idleCloseOnResponse = true (option idle-close-on-response): a reload closes idle keep-alive connections after an answer, never under a client sending on them",
    "the stack's admin and master sockets, the monitoring listener (stats, /metrics) and the error pages' directory",
  ];
}

/** What a directive sets, for matching a later defaults section's lines with the first's: "timeout client", "option forwardfor", "mode". */
function directiveKey(d: Directive): string {
  const [first, second, third] = values(d.words);
  if (first === "no" && second === "option") return `option ${third}`;
  return first === "timeout" || first === "option" ? `${first} ${second}` : first!;
}

/** Settings a later line replaces rather than adds to. */
const SINGLE_VALUED = /^(timeout \S+|option \S+|mode|balance|retries|retry-on|maxconn|cookie)$/;

/** What a proxy gets when its defaults do not set what the first defaults set: HAProxy's own value, where the model holds it per proxy. */
const BUILT_IN: Record<string, (ctx: Context) => void> = {
  mode: (ctx) => {
    if (ctx.frontend) ctx.frontend.mode = "tcp";
    if (ctx.backend) ctx.backend.mode = "tcp";
  },
  "option forwardfor": (ctx) => void (ctx.frontend && (ctx.frontend.forwardfor = false)),
  balance: (ctx) => void (ctx.backend && (ctx.backend.balance = "roundrobin")),
  "option redispatch": (ctx) => void (ctx.backend && (ctx.backend.redispatch = false)),
  retries: (ctx) => void (ctx.backend && (ctx.backend.retries = 3)),
  "retry-on": (ctx) => void (ctx.backend && (ctx.backend.retryOn = ["conn-failure"])),
  "option http-server-close": (ctx) => void (ctx.backend && delete ctx.backend.connectionMode),
  "option http-keep-alive": (ctx) => void (ctx.backend && delete ctx.backend.connectionMode),
  "option httplog": () => {},
  "option tcplog": () => {},
  "option dontlognull": () => {},
  log: () => {},
};

/**
 * A proxy that takes other defaults than the first (the model's): HAProxy gives it those defaults
 * (and what they take "from"), never the first's. Each of their lines not the same as in the first is
 * replayed in the proxy, before its own lines; each setting of the first they do not repeat goes back
 * to HAProxy's own value in the proxy. What the model cannot hold per proxy is refused at that line.
 */
function replayDefaults(proxy: Section, taken: Section | undefined, defaultsOf: { base?: Section; named: Map<string, Section> }, ctx: Context): { at: Location; directive: string; why: string }[] {
  const kind = `${proxy.kind} ${proxy.name}`;
  if (taken === undefined || taken === defaultsOf.base) return [];
  const chain: Section[] = [];
  for (let s: Section | undefined = taken; s && !chain.includes(s); s = s.args[0]?.value === "from" ? defaultsOf.named.get(s.args[1]?.value ?? "") : undefined) chain.unshift(s);
  // A setting the chain repeats takes its last value (a "from" child overrides its parent).
  const all = chain.flatMap((s) => s.directives);
  const lines = all.filter((d, i) => !SINGLE_VALUED.test(directiveKey(d)) || !all.slice(i + 1).some((later) => directiveKey(later) === directiveKey(d)));
  const base = defaultsOf.base?.directives ?? [];
  const problems: { at: Location; directive: string; why: string }[] = [];
  for (const d of lines) {
    if (base.some((b) => text(b) === text(d))) continue;
    ctx.at = d.at;
    const outcome = proxyDirective(proxy.kind, d, ctx);
    if ("refused" in outcome && !outcome.otherKind) problems.push({ at: d.at, directive: text(d), why: `${outcome.refused} (in ${kind}, which takes these defaults)` });
  }
  const keys = new Set(lines.map(directiveKey));
  for (const b of base) {
    const key = directiveKey(b);
    if (keys.has(key)) continue;
    const reset = BUILT_IN[key];
    if (reset) reset(ctx);
    else problems.push({ at: b.at, directive: text(b), why: `${kind} takes other defaults, which leave this unset (HAProxy's own value); the model cannot unset it for one proxy: repeat it in those defaults` });
  }
  return problems;
}

/** tcp-check connect [port N] [ssl] | send TEXT | send-binary HEX | expect [!] string|rstring|binary PATTERN. */
function tcpCheckDirective(args: string[], backend: Record<string, unknown> & { name: string }): Outcome {
  const check = backend.healthCheck as { steps?: Record<string, unknown>[]; primaryOnly?: boolean } | undefined;
  if (!check?.steps) return { refused: "tcp-check needs option tcp-check first" };
  const [verb, ...rest] = args;
  const field = `backends.${backend.name}.healthCheck.steps[${check.steps.length}]`;
  switch (verb) {
    case "connect": {
      const connect: Record<string, unknown> = {};
      for (let i = 0; i < rest.length; i++) {
        if (rest[i] === "port" && int(rest[i + 1]) !== undefined) connect.port = int(rest[++i]);
        else if (rest[i] === "ssl") connect.tls = true;
        else return { refused: `tcp-check connect ${rest[i]} is not in the model` };
      }
      check.steps.push({ connect });
      return { field };
    }
    case "send":
    case "send-binary":
      if (rest.length !== 1) return { refused: `tcp-check ${verb} takes one argument` };
      check.steps.push(verb === "send" ? { send: rest[0] } : { sendBinary: rest[0] });
      return { field };
    case "expect": {
      const negate = rest[0] === "!";
      const [kind, pattern, ...more] = negate ? rest.slice(1) : rest;
      const key = kind === "string" ? "string" : kind === "rstring" ? "regex" : kind === "binary" ? "binary" : undefined;
      if (!key || pattern === undefined || more.length) return { refused: `tcp-check expect ${rest.join(" ")}: the model has string, rstring and binary` };
      check.steps.push({ expect: { [key]: pattern, ...(negate && { negate: true }) } });
      // Redis without Sentinel: a check that asks for role:master finds the one primary, by design.
      if (!negate && key === "string" && pattern === "role:master") {
        check.primaryOnly = true;
        return { field, why: "a check that expects role:master picks the primary: one server UP and the others DOWN is healthy (healthCheck.primaryOnly)", normalised: true };
      }
      return { field };
    }
    default:
      return { refused: `tcp-check ${verb} is not in the model yet` };
  }
}

/**
 * The server options the model keeps per backend, once a section's servers are read: every server
 * must say the same (an empty group of servers says nothing); the first that differs is refused.
 */
function liftServerSettings(ctx: Context, refuse: (at: Location, why: string) => void): void {
  const backend = ctx.backend!;
  const [first, ...rest] = ctx.lifted;
  if (!first) return;
  const differing = rest.find((l) => JSON.stringify(l.settings) !== JSON.stringify(first.settings));
  if (differing) return refuse(differing.at, `the model keeps ${Object.keys({ ...first.settings, ...differing.settings }).join(", ")} per backend, and ${differing.name} says otherwise than ${first.name}: every server of ${backend.name} must say the same`);
  const { checkPort, checkAddress, checkTls, trafficTls, tls, ...settings } = first.settings as Record<string, unknown> & { checkPort?: number; checkAddress?: string; checkTls?: boolean; trafficTls?: boolean; tls?: Record<string, unknown> };
  Object.assign(backend, settings);
  // verify, ca-file and the rest speak of the traffic with ssl; without it, of the check over TLS alone.
  if (tls && trafficTls) backend.tls = tls;
  if (checkPort !== undefined || checkAddress !== undefined || checkTls) {
    const check = (backend.healthCheck ??= { connect: true }) as Record<string, unknown>;
    Object.assign(check, { ...(checkPort !== undefined && { port: checkPort }), ...(checkAddress !== undefined && { address: checkAddress }), ...(checkTls && { tls: true }), ...(checkTls && !trafficTls && tls && { tlsVerify: tls }) });
  }
}

/** A cache section: its size, largest object and longest age, for each backend that uses it. */
function readCacheSection(section: Section, draft: Draft, account: (at: Location, directive: string, outcome: Outcome) => void): void {
  const settings: Record<string, number> = {};
  account(section.at, `cache ${section.name}`, { field: `the cache of each backend that uses ${section.name} (a cache per backend in the model)` });
  for (const d of section.directives) {
    const [keyword, value] = values(d.words);
    const n = int(value);
    const key = { "total-max-size": "totalMegabytes", "max-object-size": "maxObjectBytes", "max-age": "maxAgeSeconds" }[keyword ?? ""];
    if (!key || n === undefined) account(d.at, text(d), { refused: `${keyword} is not in the model (a cache has total-max-size, max-object-size and max-age)` });
    else {
      settings[key] = n;
      account(d.at, text(d), { field: `backends.*.cache.${key}` });
    }
  }
  // HAProxy's own values where the section says nothing: a 256th of the size per object, 60 seconds.
  if (settings.totalMegabytes !== undefined) settings.maxObjectBytes ??= Math.floor((settings.totalMegabytes * 1024 * 1024) / 256);
  settings.maxAgeSeconds ??= 60;
  draft.caches.set(section.name!, { at: section.at, settings });
}

/** A condition with each named ACL replaced by what it tests (several lines of one name: any of them). */
function inlineConditions(condition: unknown, acls: Map<string, Record<string, unknown>[]>): unknown {
  if (condition === null || typeof condition !== "object") return condition;
  const c = condition as Record<string, unknown>;
  if (typeof c.condition === "string") {
    const named = acls.get(c.condition) ?? [];
    return named.length === 1 ? named[0] : { any: named };
  }
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => inlineConditions(x, acls)) : k === "not" ? inlineConditions(v, acls) : v]));
}

/** "FILE:LINE: directive: why", one per refused line: what import prints when it refuses. */
export const refusals = (accounts: readonly LineAccount[]) => accounts.filter((a) => a.outcome === "refused").map((a) => `${where(a.at)}: ${a.directive}: ${a.why}`);

/** The accounting as a markdown table a reviewer reads. */
export function accountingReport(accounts: readonly LineAccount[], additions: readonly string[] = []): string {
  const cell = (s: string | undefined) => (s ?? "").replaceAll("|", "\\|");
  const counts = (["mapped", "normalised", "decided", "refused"] as const).map((o) => `${accounts.filter((a) => a.outcome === o).length} ${o}`).join(", ");
  return [
    `# Import report\n`,
    `${accounts.length} lines: ${counts}.\n`,
    "| line | directive | outcome | field or reason |",
    "|---|---|---|---|",
    ...accounts.map((a) => `| ${where(a.at)} | \`${cell(a.directive)}\` | ${a.outcome} | ${cell([a.field, a.why].filter(Boolean).join(": "))} |`),
    ...(additions.length ? ["", "## Added by the stack (not in the original)", "", ...additions.map((a) => `- ${a}`)] : []),
  ].join("\n") + "\n";
}
