// An existing haproxy.cfg → a topology, every line accounted for: mapped to a field, decided by the
// stack (with what now governs it), or refused with why. One handler per keyword and section kind,
// in a registry; a keyword without a handler is refused, never dropped and never passed through.
// Pure: files in, a topology and its accounting out (the CLI reads and writes).
import type { Directive, Location, ParsedConfig, Section } from "../../haproxy/config-parser.ts";
import { where } from "../../haproxy/config-parser.ts";
import { HTTP_REUSE_MODES, MONITORING_PROXY } from "../model/schema.ts";
import { RULE_LISTS } from "../model/routing.ts";
import { ANY_SUCCESS } from "../model/checks.ts";
import { sideBySideReport, type Comparison } from "./compare.ts";
import { accountHttpErrors, accountMailers, accountRing, ALERT_MAIL, errorfilesDirective, readHttpErrors, readRings, ringLog } from "./sections.ts";
import { rateLimitTable } from "../render/routing.ts";
import { CONNECTION_MODE_OPTIONS, cacheName } from "../render/view.ts";
import { parseDuration } from "../../haproxy/duration.ts";
import { type Context, type Draft, duration, type ImportFiles, int, type Outcome, setDuration, setInt, tableSize, text, values, type LineAccount } from "./context.ts";
import { aclCondition, inlineConditions, joinAclLines } from "./conditions.ts";
import { httpRule, legacyDirective, useBackend } from "./rules.ts";
import { cookieDirective, httpCheckDirective, liftServerSettings, redisCheckOf, serverDirective, serverTemplateDirective, tcpCheckDirective } from "./servers.ts";
import { replayDefaults, servicesClear, stackAdditions } from "./defaults.ts";
import { routeAction, routeMark, routeTakenAcl, settleRouteMarks, tableHeldAcl } from "./route-marks.ts";
import { afterResponseHeaderLine, settleStackHeaders } from "./stack-headers.ts";
import { SLOW_ANSWER_TABLE_PREFIX, isSlowAnswerTable, settleCanary, useServerLine } from "./canary-lines.ts";
import { keyedLimitLine, readRateTable, settleKeyedLimits } from "./keyed-limits.ts";
import { settlePeers, tableSharing } from "./peers.ts";

export type { ImportFiles, LineAccount } from "./context.ts";

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
  /** The error pages the config names, by the file name the topology gives them: they go in templates/errors/. */
  errorPages: { name: string; text: string }[];
  /** The Lua scripts the config loads, by file name: they go in templates/lua/. */
  luaScripts: { name: string; text: string }[];
}

// --- global -------------------------------------------------------------------------------------

/** The servers' states across a reload: the stack saves and loads them itself. */
const SERVER_STATE_DECIDED = "the stack saves the servers' states before each reload and every proxy loads them (server-state-file in the local stack's run directory)";

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
  "server-state-file": SERVER_STATE_DECIDED,
  "server-state-base": SERVER_STATE_DECIDED,
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
    case "localpeer":
      if (args.length !== 1) return { refused: "localpeer NAME is what the model reads" };
      ctx.draft.peers.localPeer = { name: args[0]!, at: ctx.at! };
      return { field: "peers.localPeer" };
    case "nbthread":
      return setInt(g, "nbthread", args[0], "global.nbthread");
    case "tune.ssl.default-dh-param":
      // 2048 bits is HAProxy 2.6's own value; the stack's ciphers (ECDHE only) use none.
      return args[0] === "2048" ? { decided: "HAProxy's own value (2048 bits) stands; the stack's TLS ciphers are ECDHE only and use none" } : { refused: `DH parameters of ${args[0]} bits are not in the model: HAProxy's 2048 stands (and the stack's ECDHE ciphers use none)` };
    case "tune.bufsize":
      return setInt(g, "bufferSize", args[0], "global.bufferSize");
    case "tune.http.maxhdr":
      return setInt(g, "maxRequestHeaders", args[0], "global.maxRequestHeaders");
    case "hard-stop-after":
      return setDuration(g, "hardStopAfter", args[0], "global.hardStopAfter");
    case "lua-load":
    case "lua-load-per-thread": {
      // A script the config loads: the topology names it in lua.scripts, and import copies it into templates/lua/.
      const path = args[0];
      const text = path === undefined ? undefined : ctx.files.read(path);
      if (path === undefined || args.length !== 1) return { refused: `${keyword} FILE (no arguments) is what the model reads` };
      if (text === undefined) return { refused: `${path} cannot be read beside the config: put it there (import copies it into templates/lua/)` };
      const name = path.split("/").pop()!;
      const known = ctx.draft.luaScripts.find((p) => p.name === name);
      if (known && known.text !== text) return { refused: `another script is also named ${name}: the topology names scripts by file name; rename one` };
      if (!known) ctx.draft.luaScripts.push({ name, text });
      g.luaScripts = [...((g.luaScripts as unknown[]) ?? []), { file: name, ...(keyword === "lua-load-per-thread" && { perThread: true }) }];
      return { field: `lua.scripts (${name} goes in templates/lua/)` };
    }
    case "close-spread-time":
      if (args[0] === "infinite") {
        g.closeSpreadTime = "infinite";
        return { field: "global.closeSpreadTime" };
      }
      return setDuration(g, "closeSpreadTime", args[0], "global.closeSpreadTime");
    case "log": {
      // log <target> [len N] [format F] <facility> [max level [min level]]
      const [target, ...rest] = args;
      if (target === "global" || target === undefined) return { refused: "a log line needs a target" };
      if (target.startsWith("ring@")) return ringLog(target.slice("ring@".length), rest, ctx.draft);
      const format = rest[0] === "format" ? rest[1] : undefined;
      const [facility, minLevel] = format ? rest.slice(2) : rest;
      // No format word: HAProxy writes RFC 3164 headers (the model's own default is raw).
      const log = { target: target.replace(/^udp@/, ""), format: format ?? "rfc3164", ...(facility && { facility }), ...(minLevel && { minLevel }) };
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

/** A stick table's size as HAProxy writes it: a count, with k, m or g for 1024, 1024² or 1024³. */

// --- proxies ------------------------------------------------------------------------------------

/** Each timeout's field in the model: in defaults, or (absent there) in each frontend, and per proxy. */
const TIMEOUTS: Record<string, { defaults?: string; frontend?: string; backend?: string }> = {
  connect: { defaults: "connect", backend: "connect" },
  client: { defaults: "client", frontend: "client" },
  server: { defaults: "server", backend: "server" },
  check: { defaults: "check" },
  queue: { defaults: "queue", backend: "queue" },
  "http-request": { defaults: "httpRequest", frontend: "httpRequest" },
  "http-keep-alive": { frontend: "httpKeepAlive" },
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
      if (args[0] !== "global") return { refused: "a proxy's own log target is not in the model: logs go where global.logs say" };
      draft.proxiesLog = true;
      return { decided: "every proxy logs where global.logs say" };
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
      if (inDefaults && t.defaults) return setDuration(draft.defaults.timeouts, t.defaults, args[1], `defaults.timeouts.${t.defaults}`);
      // A timeout the model keeps per frontend only: each frontend the defaults govern gets it.
      if (inDefaults && t.frontend) return setDuration((draft.proxyDefaults.frontendTimeouts ??= {}), t.frontend, args[1], `each frontend's timeouts (${t.frontend})`);
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
      if (args[0] === "option" && args[1] === "idle-close-on-response") {
        if (inDefaults) {
          draft.defaults.idleCloseOnResponse = false;
          return { field: "defaults.idleCloseOnResponse" };
        }
        // The option is HTTP's: the stack turns the defaults' off in each TCP proxy, as HAProxy asks.
        if ([frontend, backend].every((p) => p === undefined || (p.mode ?? draft.defaults.mode) === "tcp")) return { decided: "the option is HTTP's: a TCP proxy never has it (the stack writes this line in TCP proxies)" };
        return { refused: "idle-close-on-response is set for every HTTP proxy at once in the model (defaults.idleCloseOnResponse)" };
      }
      if (args.length === 1 && args[0] === "log" && inDefaults) {
        // The stack writes it for a topology with no log target: its proxies log nowhere, as HAProxy itself then.
        if (draft.global.logs?.length) return { refused: "no log in defaults while global has log targets: in the model the proxies log where global.logs say (drop this line, or the global log lines)" };
        draft.global.logs = [];
        draft.proxiesLog = true;
        // Without a log target the log format is moot (the stack writes none): the model's default stands.
        draft.defaults.httplog = true;
        return { field: "global.logs (none)" };
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
    case "bind": {
      if (!frontend) return { refused: "bind belongs to a frontend", otherKind: true };
      const bound = bindDirective(args, frontend);
      const bind = (frontend.binds as Record<string, unknown>[]).at(-1);
      if (!("refused" in bound) && bind?.acceptProxy) ctx.proxyBinds.push({ bind, at: ctx.at! });
      return bound;
    }
    case "default_backend":
      if (!frontend) return { refused: "default_backend belongs to a frontend", otherKind: true };
      if (ctx.mapDefault !== undefined) return { decided: `never reached: the map lookup above chooses ${ctx.mapDefault} for every host it does not hold (frontends.${frontend.name}.defaultBackend)` };
      frontend.defaultBackend = args[0];
      return { field: `${fe}.defaultBackend` };
    case "acl": {
      const marks = frontend && (routeTakenAcl(args, ctx) ?? tableHeldAcl(args, ctx));
      if (marks) return marks;
      // The allowlist as the stack writes it: acl allowlisted src NETWORKS, then a refusal of everyone else.
      if (frontend && args[0] === "allowlisted" && args[1] === "src" && args.length > 2 && !args.slice(2).some((a) => a.startsWith("-"))) {
        ctx.allowlist = { networks: args.slice(2), at: ctx.at! };
        // Also an ACL like any other, for the lines that test it besides the refusal.
        ctx.acls.set("allowlisted", [{ source: args.length === 3 ? args[2] : args.slice(2) }]);
        return { field: `${fe}.allowlist (or its conditions.allowlisted, where other lines test it)` };
      }
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
    case "server-template":
      if (!backend) return { refused: "server-template belongs to a backend", otherKind: true };
      return serverTemplateDirective(args, backend, ctx);
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
      // Which peers section the table is shared through is settled with the section (./peers.ts).
      const shared = tableSharing(args);
      draft.peers.tables.push({ at: ctx.at!, peers: shared.peers });
      const table = shared.words.join(" ");
      if (frontend && !backend) {
        const m = /^type ip(?:v6)? size (\d+[kmg]?) expire (\S+) store (http_req_rate|conn_rate)\((\S+)\)$/.exec(table);
        const window = m && duration(m[4]);
        if (!m || !window || "problem" in window) return { refused: "a frontend's stick table is read as a per-client rate limit: type ip size N expire D store http_req_rate(WINDOW) (with track-sc0 src and a deny 429: frontends.rateLimit) or store conn_rate(WINDOW) (with tcp-request connection track-scN src and reject: a rateLimits entry counting connections)" };
        const counts = m[3] === "conn_rate" ? "connections" : "requests";
        ctx.rate.table = { at: ctx.at!, counts, size: tableSize(m[1]!), window: window.value };
        const field = `frontends.${frontend.name}.${counts === "connections" ? "rateLimits" : "rateLimit"}`;
        const expire = duration(m[2]);
        if (!("value" in expire) || expire.value === window.value) return { field };
        // An entry idle for the window has a rate of 0 already, so a longer expiry changes nothing; a shorter one forgets a client's rate early.
        if (parseDuration(expire.value) < parseDuration(window.value)) return { refused: `entries expire (${m[2]}) before the window (${window.value}) ends, so a client's rate is forgotten early; the model keeps an entry for the window: set expire to the window` };
        return { field, why: `entries expire after the window (${window.value}), not after ${m[2]}: a client idle that long has a rate of 0 either way`, normalised: true };
      }
      if (!backend || frontend) return { refused: "a stick table is read with stick on src, in a backend: a frontend's tables are its rate limits (frontends.rateLimit)" };
      const m = /^type ip size (\d+[kmg]?) expire (\S+)$/.exec(table);
      const size = m && tableSize(m[1]!);
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
      const keyed = keyedLimitLine(args, ctx);
      if (keyed) return keyed;
      // The networks a bind takes the PROXY header from: every other client is refused as it connects.
      const proxied = /^connection reject if \{ dst_port (\d+)(?::(\d+))? \} !\{ src ((?:\S+ ?)+) \}$/.exec(args.join(" "));
      const bind = proxied && ctx.proxyBinds.find((p) => p.bind.port === Number(proxied[1]) && (p.bind.lastPort ?? p.bind.port) === Number(proxied[2] ?? proxied[1]))?.bind;
      if (proxied && bind) {
        bind.acceptProxy = { from: proxied[3]!.trim().split(" ") };
        return { field: `frontends.${frontend.name}.binds (acceptProxy.from)` };
      }
      if (args[0] === "content") {
        const marked = routeMark(args.slice(1).join(" "), ctx) ?? routeAction(args, "tcp-request", ctx);
        if (marked) return marked;
      }
      if (args.join(" ") === "content accept if { req_ssl_hello_type 1 }" || args.join(" ") === "content accept if { req.ssl_hello_type 1 }") return { decided: "a TCP frontend's routes wait for the ClientHello their SNI needs, up to inspectDelay" };
      // A connection-rate limit's parts: tracking every client by address as it connects, and the refusal past the limit.
      const tracked = /^connection track-sc([0-2]) src$/.exec(args.join(" "));
      if (tracked) {
        ctx.rate.track = { at: ctx.at!, counts: "connections", counter: Number(tracked[1]) };
        return { field: `frontends.${frontend.name}.rateLimits` };
      }
      const rejected = /^connection reject if \{ (?:sc([0-2])_conn_rate|sc_conn_rate\(([0-2])\)|src_conn_rate) gt (\d+) \}$/.exec(args.join(" "));
      if (rejected) {
        ctx.rate.deny = { at: ctx.at!, counts: "connections", counter: Number(rejected[1] ?? rejected[2] ?? ctx.rate.track?.counter ?? 0), limit: Number(rejected[3]) };
        return { field: `frontends.${frontend.name}.rateLimits`, why: "a connection past the limit is closed as it opens, as here" };
      }
      return { refused: `tcp-request ${args.join(" ")} is not in the model yet` };
    }
    case "cookie":
      if (!backend) return { refused: "cookie persistence belongs to a backend", otherKind: true };
      return cookieDirective(args, backend);
    case "http-after-response":
      if (frontend && ctx.rate.flagged && /^set-header Retry-After \d+ if \{ var\(txn\.rate_limited\) -m bool \}$/.test(args.join(" "))) return { field: `${fe}.rateLimit`, why: "the refusal's Retry-After, which the model derives from the window", normalised: true };
      return keyedLimitLine(args, ctx) ?? afterResponseHeaderLine(text(d).slice("http-after-response ".length), ctx) ?? httpRule("after-response", args, ctx);
    case "errorfile":
      return errorfileDirective(args, ctx, inDefaults);
    case "errorfiles":
      return errorfilesDirective(args, ctx, inDefaults);
    case "email-alert":
      return { decided: ALERT_MAIL };
    case "load-server-state-from-file":
      return { decided: SERVER_STATE_DECIDED };
    case "use-server":
      return useServerLine(args, ctx);
    case "dynamic-cookie-key":
      if (!backend) return { refused: "dynamic-cookie-key belongs to a backend", otherKind: true };
      return { decided: "the stack derives the key from the topology's and the backend's names, the same on every replica" };
    case "http-check":
      if (!backend) return { refused: "http-check belongs to a backend", otherKind: true };
      return httpCheckDirective(args, backend);
    case "http-reuse": {
      const [mode] = args;
      if (!(HTTP_REUSE_MODES as readonly string[]).includes(mode ?? "") || args.length !== 1) return { refused: `http-reuse ${args.join(" ")}: the model has ${HTTP_REUSE_MODES.join(", ")}` };
      if (!inDefaults && !backend) return { refused: "http-reuse belongs to a backend", otherKind: true };
      // safe is HAProxy's own default: the model says it by saying nothing, unless a defaults section said otherwise.
      const unsaid = mode === "safe" && (inDefaults || draft.proxyDefaults.httpReuse === undefined);
      if (inDefaults) draft.proxyDefaults.httpReuse = unsaid ? undefined : mode;
      else if (unsaid) delete backend!.httpReuse;
      else backend!.httpReuse = mode;
      if (unsaid) return { field: inDefaults ? "each backend's httpReuse" : `${be}.httpReuse`, why: "safe is HAProxy's default: the render leaves it unsaid", normalised: true };
      return { field: inDefaults ? "each backend's httpReuse" : `${be}.httpReuse` };
    }
    case "capture": {
      // capture request|response header NAME len N: the header's value in the request's log line.
      const [what, kind, name, len, length, ...more] = args;
      if (!frontend) return { refused: "a capture belongs to a frontend (the log line is its)", otherKind: true };
      if (what === "cookie") return { refused: "capture cookie is not in the model: capture the Cookie or Set-Cookie header (frontends.logCaptures)" };
      if ((what !== "request" && what !== "response") || kind !== "header" || !name || len !== "len" || int(length) === undefined || more.length) return { refused: "capture request|response header NAME len N is what the model reads (frontends.logCaptures)" };
      const list = what === "request" ? "requestHeaders" : "responseHeaders";
      const captures = (frontend.logCaptures ??= {}) as Record<string, unknown[]>;
      (captures[list] ??= []).push({ name, length: int(length) });
      return { field: `${fe}.logCaptures.${list}[${captures[list].length - 1}]` };
    }
    case "compression": {
      // The model compresses per frontend: the algorithms and the types, one setting from the two lines.
      if (!frontend || backend) return { refused: "compression is kept per frontend in the model (frontends.compression): put it in the frontend", ...(!frontend && { otherKind: true as const }) };
      const [what, ...list] = args;
      const compression = (frontend.compression ??= {}) as { algorithms?: string[]; types?: string[] };
      if (what === "algo" && list.length) compression.algorithms = list;
      else if (what === "type" && list.length) compression.types = list;
      else return { refused: `compression ${args.join(" ")}: the model reads compression algo and compression type` };
      return { field: `${fe}.compression.${what === "algo" ? "algorithms" : "types"}` };
    }
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
    case "idle-close-on-response":
      return inDefaults ? flag("idleCloseOnResponse") : { refused: "idle-close-on-response is set for every HTTP proxy at once in the model (defaults.idleCloseOnResponse)" };
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
    case "forwardfor": {
      // "except NETWORK": clients from there got no header; the model adds it for every client.
      const except = rest[0] === "except" && rest.length === 2 ? rest[1] : undefined;
      if (rest.length && except === undefined) return { refused: `option forwardfor ${rest.join(" ")}: the model adds X-Forwarded-For (plain, or read "except NETWORK" as for every client)` };
      const said = except === undefined ? {} : { why: `the model adds X-Forwarded-For for every client: those from ${except} now get one too`, normalised: true as const };
      if (inDefaults) {
        draft.proxyDefaults.forwardfor = true;
        return { field: "each frontend's forwardfor", ...said };
      }
      if (!frontend) return { refused: "forwardfor belongs to a frontend", otherKind: true };
      frontend.forwardfor = true;
      return { field: `frontends.${frontend.name}.forwardfor`, ...said };
    }
    case "log-health-checks":
      return { decided: "each server's check status and its changes are the sidecar's metrics (haproxy_server_check_status), kept by Prometheus; HAProxy logs every UP and DOWN itself" };
    case "http-server-close":
    case "http-keep-alive":
    case "httpclose": {
      const mode = Object.entries(CONNECTION_MODE_OPTIONS).find(([, option]) => option === `option ${name}`)![0];
      if (inDefaults) {
        draft.proxyDefaults.connectionMode = mode;
        // In a frontend, httpclose closes the client's connection after each answer too; the model's is per backend.
        const clients = name === "httpclose" ? "; the frontends' clients, whose connections these defaults closed after each answer, now keep them (keep-alive)" : "";
        return { field: "each backend's connectionMode", why: `kept per backend in the model: each backend closes (or keeps) its server connections as the defaults said${clients}`, normalised: true };
      }
      if (!backend) return { refused: `option ${name} is kept per backend in the model (connectionMode)`, otherKind: true };
      backend.connectionMode = mode;
      return { field: `backends.${backend.name}.connectionMode` };
    }
    case "httpchk": {
      if (!backend) return { refused: "a health check belongs to a backend", otherKind: true };
      const [method, path, version, ...extra] = rest.length >= 2 ? rest : ["GET", rest[0] ?? "/"];
      // The old way to send a Host header: written into the version ("HTTP/1.1\r\nHost:\ www.example.com").
      const asked = version === undefined ? undefined : /^HTTP\/1\.([01])(?:\r\nHost:\s*([A-Za-z0-9.-]+(?::\d+)?))?$/.exec(version);
      if (extra.length || (version !== undefined && !asked)) return { refused: `option httpchk ${rest.join(" ")}: the model reads METHOD PATH [HTTP/1.x, with a Host header written into it]` };
      const check = (backend.healthCheck ??= {}) as Record<string, unknown>;
      // No expect line: HAProxy takes any 2xx or 3xx (a later http-check expect status narrows it).
      check.http = { expectStatus: ANY_SUCCESS, ...(check.http as object), method, path, ...(asked?.[2] && { host: asked[2] }) };
      if (asked?.[1] === "1") return { field: `backends.${backend.name}.healthCheck.http`, why: `the check asks in HTTP/1.0${asked[2] ? `, with Host ${asked[2]} as an http-check send header` : ""}: the model's checks speak HTTP/1.0 (the config asked HTTP/1.1)`, normalised: true };
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
      return { field: on.map((p) => `${p === frontend ? "frontends" : "backends"}.${p.name}.tcpKeepAlive`).join(" and ") };
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
    // Whom the PROXY header is taken from is said by a reject line below (settled with the frontend).
    else if (option === "accept-proxy") bind.acceptProxy = { from: [] };
    else return { refused: `the bind option ${option} is not in the model yet` };
  }
  if (Array.isArray(bind.tlsCertificate) && bind.tlsCertificate.length === 1) bind.tlsCertificate = bind.tlsCertificate[0];
  if (bind.tlsCertificate !== undefined && bind.http2 === undefined) bind.http2 = false;
  const binds = (frontend.binds ??= []) as unknown[];
  binds.push(bind);
  return { field: `frontends.${frontend.name}.binds[${binds.length - 1}]${bind.tlsCertificate !== undefined ? ` (the certificate file ${String(bind.tlsCertificate)} goes in the certificate directory)` : ""}` };
}

// --- the whole config ----------------------------------------------------------------------------

const SECTION_OUTCOME: Partial<Record<Section["kind"], string>> = {
  program: "the stack supervises its own processes: run the program beside it",
  "crt-store": "crt-store is newer than HAProxy 2.6 (3.0): name each certificate on its bind (tlsCertificate), or manage it (certificates)",
  traces: "traces is newer than HAProxy 2.6 (3.1)",
  acme: "acme sections are newer than HAProxy 2.6 (3.2): certificates are managed by the stack (certificates)",
};

export function importConfig(parsed: ParsedConfig, name = "imported", files: ImportFiles = { read: () => undefined }): ImportResult {
  // The model's defaults where HAProxy's own differ and the difference changes what clients get:
  // the original had none of these unless a line of it says so.
  const draft: Draft = { global: {}, defaults: { timeouts: {}, mode: "tcp", httplog: false, dontlognull: false, redispatch: false, maxRequestBodyBytes: 0, retryOn: ["conn-failure"] }, proxyDefaults: {}, frontends: [], backends: [], caches: new Map(), cacheUses: [], resolvers: new Map(), groups: [], serverResolvers: [], bodyLimits: [], errorPages: [], luaScripts: [], userlists: [], rateTables: new Map(), rateTablesUsed: new Set(), pendingKeyedLimits: [], peers: { sections: [], tables: [] }, rings: readRings(parsed), httpErrors: readHttpErrors(parsed, files) };
  const accounts: LineAccount[] = [];
  const fieldLines = new Map<string, Location>();
  const comments = new Map<string, string[]>();
  /** ring and http-errors sections, accounted once every section has said what it takes of them. */
  const laterSections: Section[] = [];
  /** Section lines whose proxy got another name, and why. */
  const renamed = new Map<Location, string>();
  /** The first defaults section (the model's defaults), the one in force, and the named ones for "from". */
  const defaultsOf: { base?: Section; current?: Section; named: Map<string, Section> } = { named: new Map() };
  const account = (at: Location, directive: string, outcome: Outcome) => {
    if ("refused" in outcome) accounts.push({ at, directive, outcome: "refused", why: outcome.refused });
    else if ("decided" in outcome) accounts.push({ at, directive, outcome: "decided", field: outcome.decided });
    else {
      accounts.push({ at, directive, outcome: outcome.normalised ? "normalised" : "mapped", field: outcome.field, ...(outcome.why && { why: outcome.why }) });
      fieldLines.set(outcome.field.split(" ")[0]!.replace(/\[(\d+)\]/g, ".$1"), at);
    }
  };
  /** A line read already whose outcome is settled later (a normalisation found once its section is read): the accounting says so. */
  const restate = (at: Location | undefined, change: Partial<LineAccount>, only: LineAccount["outcome"]) => {
    const line = accounts.find((a) => a.at === at);
    if (line?.outcome === only) Object.assign(line, change);
  };
  for (const section of parsed.sections) {
    const header = [section.kind, section.name, ...section.args.map((a) => a.raw)].filter(Boolean).join(" ");
    const ctx: Context = { files, draft, fieldLines, acls: new Map(), rewrites: [], terminalRoutes: [], redirectRoutes: [], routeLines: [], stackHeaders: { forwarded: new Map(), security: {} }, proxyBinds: [], canary: { pins: [] }, ruleMarks: new Map(), keyedLimits: [], limitMarks: new Map(), defaultServer: [...(draft.proxyDefaults.defaultServer ?? [])], lifted: [], stick: {}, rate: {} };
    const refusedSection = SECTION_OUTCOME[section.kind] ?? (["global", "defaults", "frontend", "backend", "listen", "cache", "resolvers", "userlist", "ring", "mailers", "http-errors", "peers"].includes(section.kind) ? undefined : `${section.kind} sections are not in the model yet`);
    // HAProxy refuses these sections without a name ("'backend' expects <name> as an argument").
    const unnamed = section.name === undefined && !["global", "defaults"].includes(section.kind) ? `a ${section.kind} section needs a name (HAProxy refuses one without)` : undefined;
    if (refusedSection || unnamed) {
      account(section.at, header, { refused: unnamed ?? refusedSection! });
      for (const d of section.directives) account(d.at, text(d), { refused: `inside a ${section.kind} section` });
      continue;
    }
    if (section.kind === "cache") {
      readCacheSection(section, draft, account);
      continue;
    }
    if (section.kind === "resolvers") {
      readResolversSection(section, draft, account);
      continue;
    }
    // A ring, an http-errors set: accounted once every log line or errorfiles line has said what it takes of them.
    if (section.kind === "ring" || section.kind === "http-errors") {
      laterSections.push(section);
      continue;
    }
    if (section.kind === "peers") {
      draft.peers.sections.push(section);
      continue;
    }
    if (section.kind === "mailers") {
      accountMailers(section, account);
      continue;
    }
    if (readRateTable(section, draft)) {
      account(section.at, header, { field: "the rate table of a frontend's keyed limit (rateLimits: its window, size and what it counts)" });
      for (const d of section.directives) account(d.at, text(d), { field: "frontends.*.rateLimits (window, tableSize, count)" });
      continue;
    }
    if (isSlowAnswerTable(section)) {
      account(section.at, header, { decided: `the table the stack counts ${section.name!.slice(SLOW_ANSWER_TABLE_PREFIX.length)}'s canary's slow answers in` });
      for (const d of section.directives) account(d.at, text(d), { decided: "the canary's slow answers, per server" });
      continue;
    }
    if (section.kind === "userlist") {
      readUserlistSection(section, draft, account);
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
    // The config's own stats page (a listener of stats lines and a bind): the stack's monitoring listener serves it.
    if ((section.kind === "listen" || section.kind === "frontend") && isStatsListener(section) && !draft.monitoring) {
      readMonitoringListener(section, draft, account, "config");
      continue;
    }
    if (section.kind === "frontend" && section.name === MONITORING_PROXY && isStackMonitoringListener(section)) {
      readMonitoringListener(section, draft, account, "stack");
      continue;
    }
    if (section.kind === "frontend" || section.kind === "listen") {
      // The model adds X-Forwarded-For unless told not to; HAProxy does only where a line says so.
      // The stack's own listener has the reserved name: the config's frontend of that name is renamed, said on its header line.
      const name = section.name === MONITORING_PROXY ? `${section.name}_frontend` : section.name!;
      if (name !== section.name) renamed.set(section.at, `the stack's monitoring listener is named ${MONITORING_PROXY}: this frontend is frontends.${name}`);
      ctx.frontend = { name, binds: [], forwardfor: draft.proxyDefaults.forwardfor === true, ...(draft.proxyDefaults.frontendTimeouts && { timeouts: { ...draft.proxyDefaults.frontendTimeouts } }), ...(draft.proxyDefaults.errorPages && { errorPages: [...draft.proxyDefaults.errorPages] }) };
      draft.frontends.push(ctx.frontend);
      // The old form "listen NAME ADDRESS:PORT": the address is a bind line, as HAProxy 2.6 wants it.
      if (section.args.length && from === undefined) {
        const bound = bindDirective(values(section.args), ctx.frontend);
        account(section.at, header, "refused" in bound ? bound : { ...bound, why: "the address on the section line is written as a bind line (HAProxy 2.6 wants bind)", normalised: true });
      }
    }
    if (section.kind === "backend" || section.kind === "listen") {
      ctx.backend = { name: section.name!, servers: [], ...(draft.proxyDefaults.balance && { balance: draft.proxyDefaults.balance }), ...(draft.proxyDefaults.httpReuse && { httpReuse: draft.proxyDefaults.httpReuse }), ...(draft.proxyDefaults.connectionMode && { connectionMode: draft.proxyDefaults.connectionMode }) };
      draft.backends.push(ctx.backend);
      // A listen section is a frontend whose default backend is its own half.
      if (ctx.frontend) ctx.frontend.defaultBackend = section.name;
    }
    if (section.comments.length) for (const path of [ctx.frontend && `frontends.${section.name}`, ctx.backend && `backends.${section.name}`, section.kind === "global" || section.kind === "defaults" ? section.kind : undefined]) if (path) comments.set(path, section.comments);
    if (ctx.backend) for (const d of section.directives) if (d.words[0]?.value === "server" && d.comments.length && d.words[1]) comments.set(`backends.${section.name}.servers.${d.words[1].value}`, d.comments);
    if (!section.args.length || from !== undefined) account(section.at, header, { field: section.kind === "global" ? "global" : section.kind === "defaults" ? "defaults" : [ctx.frontend && `frontends.${ctx.frontend.name}`, ctx.backend && `backends.${section.name}`].filter(Boolean).join(" and ") });
    if (ctx.frontend || ctx.backend) {
      const taken = from !== undefined ? defaultsOf.named.get(from)! : defaultsOf.current;
      for (const problem of replayDefaults(section, taken, defaultsOf, ctx, proxyDirective)) account(problem.at, problem.directive, { refused: problem.why });
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
      settleCanary(ctx, refuseLine);
      // A canary's servers take no traffic until a rollout (weight 0 here); promoted, they take the model's weight.
      const canary = ctx.backend.canary as { servers?: string[]; group?: string } | undefined;
      const group = ctx.backend.discovery as { weight?: number } | undefined;
      if (canary?.group !== undefined && group?.weight === 0) delete group.weight;
      for (const server of (ctx.backend.servers as { name: string; weight?: number }[]).filter((s) => canary?.servers?.includes(s.name) && s.weight === 0)) {
        delete server.weight;
        const line = accounts.find((a) => a.directive.startsWith(`server ${server.name} `) && section.directives.some((d) => d.at === a.at));
        if (line && line.outcome === "mapped") Object.assign(line, { outcome: "normalised", why: "a canary's server: weight 0 until a rollout gives it traffic, then the model's weight (1: say another in the topology)" });
      }
      // option tcp-check with no tcp-check line after it: HAProxy's check is then a plain connect.
      const check = ctx.backend.healthCheck as { steps?: unknown[] } | undefined;
      if (check?.steps?.length === 0) {
        ctx.backend.healthCheck = { connect: true };
        restate(section.directives.find((d) => text(d) === "option tcp-check")?.at, { outcome: "normalised", field: `backends.${ctx.backend.name}.healthCheck.connect`, why: "no tcp-check line follows: the check is a plain connect, which HAProxy does with no option at all" }, "mapped");
      }
      const redis = check?.steps && redisCheckOf(check.steps as Record<string, unknown>[]);
      if (redis) {
        const { steps: _steps, ...rest } = ctx.backend.healthCheck as Record<string, unknown>;
        ctx.backend.healthCheck = { ...rest, ...redis };
      }
      if (ctx.backend.dynamicCookie) {
        delete ctx.backend.dynamicCookie;
        const cookieLine = section.directives.find((d) => d.words[0]?.value === "cookie")?.at;
        if (!ctx.backend.discovery && cookieLine) refuseLine(cookieLine, "dynamic cookies come from servers' addresses: the model gives them to a discovered group's slots (server-template), and listed servers their cookie values");
      }
      if (ctx.stick.table && !ctx.stick.on) refuseLine(ctx.stick.table, "a stick table nothing tracks into (no stick on src here): a table that counts for rate limits belongs to a frontend's rateLimit");
      if (ctx.stick.on && !ctx.stick.table) refuseLine(ctx.stick.on, "stick on src needs a stick-table in the same backend (type ip size N expire D)");
    }
    if (ctx.frontend && (ctx.rate.table || ctx.rate.track || ctx.rate.deny)) {
      const { table, track, deny } = ctx.rate;
      const counts = (table ?? track ?? deny)!.counts;
      const whole = table?.counts === counts && track?.counts === counts && deny?.counts === counts && track.counter === deny.counter;
      if (whole && counts === "requests") ctx.frontend.rateLimit = { requests: deny.limit, window: table.window, tableSize: table.size };
      else if (whole) {
        ctx.frontend.rateLimits = [{ name: "connections", key: "source", count: "connections", limit: deny.limit, window: table.window, tableSize: table.size }];
        // The model keeps a connection limit as one of its keyed limits, written the stack's way.
        const why = `a keyed limit of the model (rateLimits.connections): its table is a backend of its own (${rateLimitTable(ctx.frontend.name, "connections")}, type ipv6, which holds IPv4 clients too), tracked and refused there`;
        for (const part of [table, track, deny]) restate(part.at, { outcome: "normalised", why }, "mapped");
      }
      else {
        const lines = counts === "requests"
          ? ["stick-table ... store http_req_rate(WINDOW)", "http-request track-sc0 src", "http-request deny deny_status 429 if { sc_http_req_rate(0) gt N }"]
          : ["stick-table ... store conn_rate(WINDOW)", "tcp-request connection track-scN src", "tcp-request connection reject if { scN_conn_rate gt LIMIT }"];
        const missing = [table, track, deny].map((part, i) => (part?.counts === counts ? undefined : lines[i])).filter(Boolean).join(", ");
        const why = missing ? `a per-client rate limit needs its three lines in the frontend; missing: ${missing}` : "the limit's track-sc and its refusal name different stick counters";
        for (const part of [table, track, deny]) if (part) { const a = accounts.find((x) => x.at === part.at); if (a) Object.assign(a, { outcome: "refused", field: undefined, why }); }
      }
    }
    for (const { bind, at } of ctx.proxyBinds) {
      if ((bind.acceptProxy as { from: string[] }).from.length) continue;
      const line = accounts.find((a) => a.at === at);
      if (line) Object.assign(line, { outcome: "refused", field: undefined, why: `accept-proxy takes the client's address from whoever connects: say which load balancers may send it (tcp-request connection reject if { dst_port ${bind.port} } !{ src NETWORKS }): the model's acceptProxy.from` });
    }
    if (ctx.frontend) {
      const rule = settleStackHeaders(ctx);
      const line = rule && accounts.find((a) => a.at === rule.at);
      if (line) Object.assign(line, { field: rule.field });
    }
    if (ctx.frontend && ctx.keyedLimits.length) draft.pendingKeyedLimits.push({ frontend: ctx.frontend, limits: ctx.keyedLimits, acls: ctx.acls });
    if (ctx.frontend && ctx.routeMarks) {
      const refuseLine = (at: Location, why: string) => {
        const line = accounts.find((a) => a.at === at);
        if (line) Object.assign(line, { outcome: "refused", field: undefined, why });
      };
      // The stack's own routes come first: what it renders has no other.
      ctx.frontend.routes = [...settleRouteMarks(ctx, refuseLine), ...((ctx.frontend.routes as unknown[]) ?? [])];
    }
    if (ctx.frontend && ctx.terminalRoutes.length + ctx.redirectRoutes.length) ctx.frontend.routes = [...ctx.terminalRoutes, ...ctx.redirectRoutes, ...((ctx.frontend.routes as unknown[]) ?? [])];
    // Each route's line names the route's place among all of them, now that it is known.
    if (ctx.frontend) for (const { route, at } of ctx.routeLines) {
      const index = (ctx.frontend.routes as unknown[]).indexOf(route);
      const line = accounts.find((a) => a.at === at);
      if (index < 0 || !line?.field) continue;
      line.field = line.field.replace(/\.routes(\[\d+\]| \(the redirects[^)]*\))/, `.routes[${index}]`);
      for (const [field, where] of fieldLines) if (where === at && /\.routes\.\d+$/.test(field)) fieldLines.delete(field);
      fieldLines.set(`frontends.${ctx.frontend.name}.routes.${index}`, at);
    }
    // A backend's rules name no condition: each takes its ACLs' conditions themselves.
    if (ctx.backend && !ctx.frontend) for (const field of RULE_LISTS) if (Array.isArray(ctx.backend[field])) ctx.backend[field] = (ctx.backend[field] as Record<string, unknown>[]).map((r) => (r.when ? { ...r, when: inlineConditions(r.when, ctx.acls) } : r));
    if (ctx.frontend && ctx.acls.size) {
      const used = JSON.stringify([ctx.frontend.routes ?? [], ...RULE_LISTS.map((list) => ctx.frontend![list] ?? [])]);
      ctx.frontend.conditions = Object.fromEntries([...ctx.acls].filter(([name]) => used.includes(`"condition":"${name}"`)).map(([name, conditions]) => [name, joinAclLines(conditions)]));
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
  for (const group of draft.groups) {
    const resolvers = draft.resolvers.get(group.resolvers);
    const line = accounts.find((a) => a.at === group.at);
    if (!resolvers) {
      if (line) Object.assign(line, { outcome: "refused", field: undefined, why: `no resolvers section named ${JSON.stringify(group.resolvers)}` });
    } else (group.backend.discovery as Record<string, unknown>).resolver = resolvers.settings;
  }
  // X-Forwarded-For is HTTP's: a TCP frontend has no say in it.
  for (const f of draft.frontends) if ((f.mode ?? draft.defaults.mode) === "tcp" && f.forwardfor === false) delete f.forwardfor;
  const httpFrontends = draft.frontends.filter((f) => (f.mode ?? draft.defaults.mode) === "http").map((f) => f.name as string);
  const limits = [...new Set(draft.bodyLimits.map((l) => l.limit))];
  const covered = httpFrontends.every((f) => draft.bodyLimits.some((l) => l.frontend === f));
  if (limits.length === 1 && covered) draft.defaults.maxRequestBodyBytes = limits[0];
  else if (draft.bodyLimits.length) {
    const why = limits.length > 1 ? `the frontends limit request bodies differently (${limits.join(", ")} bytes): the model has one limit for every HTTP frontend (defaults.maxRequestBodyBytes)` : `only some HTTP frontends limit request bodies (not ${httpFrontends.filter((f) => !draft.bodyLimits.some((l) => l.frontend === f)).join(", ")}): the model limits every HTTP frontend (defaults.maxRequestBodyBytes)`;
    for (const l of draft.bodyLimits) { const line = accounts.find((a) => a.at === l.at); if (line) Object.assign(line, { outcome: "refused", field: undefined, why }); }
  }
  const refuseAt = (at: Location, why: string) => {
    const line = accounts.find((a) => a.at === at);
    if (line) Object.assign(line, { outcome: "refused", field: undefined, why });
  };
  for (const pending of draft.pendingKeyedLimits) settleKeyedLimits(pending.frontend, pending.limits, pending.acls, draft, refuseAt);
  for (const [name, table] of draft.rateTables) if (!draft.rateTablesUsed.has(name)) for (const at of table.at) refuseAt(at, `no frontend's rate limit tracks into ${name}`);
  for (const use of draft.serverResolvers) {
    const resolvers = draft.resolvers.get(use.resolvers);
    const nameservers = resolvers?.settings.nameservers as string[] | undefined;
    const why = !resolvers ? `no resolvers section named ${JSON.stringify(use.resolvers)}` : nameservers ? `listed servers resolved through ${nameservers.join(", ")}: the stack resolves listed servers through its target's DNS; a group only that name server knows is a discovered group (server-template)` : undefined;
    const line = accounts.find((a) => a.at === use.at);
    if (why && line) Object.assign(line, { outcome: "refused", field: undefined, why });
  }
  // A resolvers section no discovered group names serves listed servers only: what the stack's targets do for themselves.
  for (const [name, resolvers] of draft.resolvers) {
    if (draft.groups.some((g) => g.resolvers === name) || !draft.serverResolvers.some((u) => u.resolvers === name)) continue;
    for (const at of [resolvers.at, ...resolvers.lines]) {
      const line = accounts.find((a) => a.at === at);
      if (line && line.outcome !== "refused") Object.assign(line, { outcome: "decided", field: "listed servers' names are resolved by the stack, through its target's DNS" });
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
    else {
      use.backend.cache = cache.settings;
      // The model gives each backend a cache of its own, which the stack names after the backend.
      const own = cacheName(use.backend.name);
      if (use.cache !== own) for (const at of [use.use, use.store]) restate(at, { outcome: "normalised", why: `the backend's own cache, which the stack names ${own}` }, "mapped");
    }
  }
  settlePeers(draft, account, (at, change) => {
    const line = accounts.find((a) => a.at === at);
    if (line) change(line);
  });
  for (const section of laterSections) {
    if (section.kind === "ring") accountRing(section, draft.rings.get(section.name!), account);
    else accountHttpErrors(section, draft.httpErrors.get(section.name!), account);
  }
  // The report lists lines in the config's order, whatever order they were settled in.
  const fileOrder = [...new Set(parsed.sections.map((s) => s.at.file))];
  accounts.sort((a, b) => fileOrder.indexOf(a.at.file) - fileOrder.indexOf(b.at.file) || a.at.line - b.at.line);
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
      additions.push(`frontends.${f.name}.routes[${routes.length}]: a last route refuses with 503 what no rule routes (the config has no default_backend: HAProxy answers 503, or closes a TCP connection)`);
    }
  }
  const services = servicesClear(draft.frontends, additions, draft.monitoring?.port as number | undefined);
  const { timeouts, ...defaults } = draft.defaults;
  const { luaScripts, ...global } = draft.global;
  const topology = {
    name,
    ...(Object.keys(global).length && { global }),
    ...(luaScripts !== undefined && { lua: { scripts: luaScripts } }),
    defaults: { ...defaults, ...(Object.keys(timeouts).length && { timeouts }) },
    frontends: draft.frontends,
    ...(draft.userlists.length && { userlists: draft.userlists }),
    backends: draft.backends,
    ...(draft.peers.model && { peers: draft.peers.model }),
    ...services,
    ...(draft.monitoring && { monitoring: { ...draft.monitoring, ...(services.monitoring as object) } }),
  };
  return { topology, accounts, fieldLines, comments, additions, errorPages: draft.errorPages, luaScripts: draft.luaScripts };
}

/** errorfile STATUS FILE: a frontend's error page (each frontend's, from defaults), the file taken by its name. */
function errorfileDirective(args: string[], ctx: Context, inDefaults: boolean): Outcome {
  const [status, path] = args;
  if (!inDefaults && !ctx.frontend) return { refused: "the model keeps error pages per frontend (frontends.errorPages): HAProxy answers with the frontend's page", otherKind: true };
  if (int(status) === undefined || path === undefined) return { refused: "errorfile STATUS FILE is what the model reads" };
  const text = ctx.files.read(path);
  if (text === undefined) return { refused: `${path} cannot be read beside the config: put it there (import copies it into templates/errors/)` };
  const name = path.split("/").pop()!;
  const known = ctx.draft.errorPages.find((p) => p.name === name);
  if (known && known.text !== text) return { refused: `another error page is also named ${name}: the topology names pages by file name; rename one` };
  if (!known) ctx.draft.errorPages.push({ name, text });
  const page = { status: int(status), file: name };
  if (inDefaults) {
    ctx.draft.proxyDefaults.errorPages = [...(ctx.draft.proxyDefaults.errorPages ?? []).filter((p) => p.status !== page.status), page];
    return { field: `each frontend's errorPages (${name} goes in templates/errors/)` };
  }
  const pages = ((ctx.frontend!.errorPages ??= []) as { status?: number }[]).filter((p) => p.status !== page.status);
  ctx.frontend!.errorPages = [...pages, page];
  return { field: `frontends.${ctx.frontend!.name}.errorPages (${name} goes in templates/errors/)` };
}

/** A userlist: each user's password hash read from the environment ("${VAR}"), never a hash in the topology. */
function readUserlistSection(section: Section, draft: Draft, account: (at: Location, directive: string, outcome: Outcome) => void): void {
  const users: Record<string, unknown>[] = [];
  account(section.at, `userlist ${section.name}`, { field: `userlists.${section.name}` });
  for (const d of section.directives) {
    const [keyword, name, kind, secret] = values(d.words);
    const variable = /^\$\{([A-Z_][A-Z0-9_]*)\}$/.exec(secret ?? "")?.[1];
    if (keyword === "user" && kind === "password" && variable) {
      users.push({ name, passwordHashFromEnv: variable });
      account(d.at, text(d), { field: `userlists.${section.name}.users.${name}` });
    } else if (keyword === "user" && (kind === "password" || kind === "insecure-password")) {
      account(d.at, text(d), { refused: `the model reads each password hash from the environment: export a variable holding ${kind === "password" ? "this hash" : "a hash of it (openssl passwd -6)"} and write password "\${VARIABLE}"` });
    } else account(d.at, text(d), { refused: `${keyword} is not in the model's userlists (user NAME password "\${VARIABLE}")` });
  }
  draft.userlists.push({ name: section.name, users });
}

/** The stack's own monitoring listener, as the stack renders it: its exporter's use-service line tells it from a user's frontend of that name. */
function isStackMonitoringListener(section: Section): boolean {
  return section.directives.some((d) => /^http-request use-service prometheus-exporter if \{ path \S+ \}$/.test(text(d)));
}

/** A listener the config has only for HAProxy's stats page: one bind, mode http, stats lines, and at least stats enable or uri. */
function isStatsListener(section: Section): boolean {
  const lines = section.directives.map(text);
  const binds = lines.filter((l) => l.startsWith("bind "));
  return binds.length === 1 && lines.some((l) => l === "stats enable" || l.startsWith("stats uri ")) && lines.every((l) => l.startsWith("bind ") || l === "mode http" || l.startsWith("stats "));
}

/**
 * The monitoring listener: the stack's own (a config it rendered), or the config's stats listener,
 * which the stack's listener (with the exporter's /metrics beside the page) takes the place of.
 */
function readMonitoringListener(section: Section, draft: Draft, account: (at: Location, directive: string, outcome: Outcome) => void, whose: "stack" | "config"): void {
  const monitoring: Record<string, unknown> = {};
  let statsAuth: Location | undefined;
  const header = [section.kind, section.name].join(" ");
  if (whose === "stack") account(section.at, header, { field: "monitoring (the stack's listener: HAProxy's exporter, its health URI and stats page)" });
  else account(section.at, header, { field: "monitoring (the stats page)", why: "the stack's monitoring listener serves the stats page, with HAProxy's exporter (/metrics) and a health URI beside it", normalised: true });
  // The config's page with no login: the stack serves none without one, which the page's lines say.
  const withoutLogin = whose === "config" && !section.directives.some((d) => text(d).startsWith("stats auth "));
  const NO_PAGE_YET = "no stats page until it has a login: the stack serves it only with monitoring.statsAuth (from the environment); HAProxy's exporter (/metrics) serves the same figures meanwhile";
  for (const d of section.directives) {
    const line = text(d);
    const [keyword, ...args] = values(d.words);
    const bind = keyword === "bind" && args.length === 1 ? /^(.*):(\d+)$/.exec(args[0]!) : null;
    if (withoutLogin && line === "stats enable") {
      account(d.at, line, { decided: NO_PAGE_YET });
      continue;
    }
    const exporter = /^http-request use-service prometheus-exporter if \{ path (\S+) \}$/.exec(line);
    if (line === "mode http" || line === "http-request set-log-level silent" || line === "stats enable" || line === "stats hide-version" || (whose === "config" && (line === "stats show-legends" || line.startsWith("stats realm ")))) account(d.at, line, { decided: "what the stack's monitoring listener always does" });
    else if (whose === "config" && keyword === "stats" && args[0] === "auth") account(d.at, line, { refused: "the stats page's login comes from the environment, never from the config: write stats auth ${STATS_USER}:${STATS_PASSWORD} (monitoring.statsAuth)" });
    else if (whose === "config" && keyword === "stats" && args[0] === "admin") account(d.at, line, { refused: "the stack's stats page is read-only: servers change through the topology (npm run apply), or npm run scale" });
    else if (keyword === "monitor-uri") account(d.at, line, { decided: "the stack's health URI for its listener (/healthz)" });
    else if (bind) {
      if (bind[1] !== "*" && bind[1] !== "") monitoring.address = bind[1];
      monitoring.port = Number(bind[2]);
      account(d.at, line, { field: "monitoring.address, monitoring.port" });
    } else if (exporter) {
      monitoring.metricsPath = exporter[1];
      account(d.at, line, { field: "monitoring.metricsPath" });
    } else if (keyword === "stats" && args[0] === "uri" && args[1]) {
      monitoring.statsUri = args[1];
      account(d.at, line, withoutLogin ? { field: "monitoring.statsUri", why: NO_PAGE_YET, normalised: true } : { field: "monitoring.statsUri" });
    } else if (keyword === "stats" && args[0] === "refresh" && args[1]) {
      monitoring.statsRefresh = args[1];
      account(d.at, line, withoutLogin ? { field: "monitoring.statsRefresh", why: NO_PAGE_YET, normalised: true } : { field: "monitoring.statsRefresh" });
    } else if (keyword === "stats" && args[0] === "auth" && /^\$\{([A-Z_][A-Z0-9_]*)\}:\$\{([A-Z_][A-Z0-9_]*)\}$/.test(args[1] ?? "")) {
      const [, user, password] = /^\$\{([A-Z_][A-Z0-9_]*)\}:\$\{([A-Z_][A-Z0-9_]*)\}$/.exec(args[1]!)!;
      monitoring.statsAuth = { userFromEnv: user, passwordFromEnv: password };
      statsAuth = d.at;
      account(d.at, line, { field: "monitoring.statsAuth (the login from the environment)" });
    } else account(d.at, line, { refused: "the stack's monitoring listener holds its bind, exporter path and stats page only: a frontend of that name with more is the config's own (rename it)" });
  }
  // A stats page on a listener that is not on loopback is one the topology asked for there.
  if (statsAuth && monitoring.address !== "127.0.0.1") monitoring.statsOnPublicAddress = true;
  draft.monitoring = monitoring;
}

/** The resolvers keywords and the model's resolver fields (timeouts and holds as durations). */
const RESOLVER_FIELDS: Record<string, string> = { "timeout resolve": "resolveEvery", "timeout retry": "retryTimeout", "hold valid": "holdValid", "hold obsolete": "holdObsolete", "hold nx": "holdNx" };
/** The holds HAProxy keeps apart and the model as one (holdDuringOutage): the name server silent, refusing or failing. */
const OUTAGE_HOLDS = ["hold timeout", "hold refused", "hold other"];

/** A resolvers section: its name servers and timings, for the discovered groups that name it. */
function readResolversSection(section: Section, draft: Draft, account: (at: Location, directive: string, outcome: Outcome) => void): void {
  const settings: Record<string, unknown> = {};
  const nameservers: string[] = [];
  const outage: { at: Location; value: string }[] = [];
  account(section.at, `resolvers ${section.name}`, { field: `the resolver of each discovered group that names ${section.name}` });
  for (const d of section.directives) {
    const [keyword, second, third] = values(d.words);
    const two = `${keyword} ${second}`;
    if (keyword === "nameserver" && third !== undefined && /^[0-9.]+:\d+$/.test(third)) {
      nameservers.push(third);
      account(d.at, text(d), { field: "discovery.resolver.nameservers" });
    } else if (keyword === "resolve_retries" && int(second) !== undefined) {
      settings.retries = int(second);
      account(d.at, text(d), { field: "discovery.resolver.retries" });
    } else if (keyword === "accepted_payload_size" && int(second) !== undefined) {
      settings.acceptedPayloadSize = int(second);
      account(d.at, text(d), { field: "discovery.resolver.acceptedPayloadSize" });
    } else if (RESOLVER_FIELDS[two] || OUTAGE_HOLDS.includes(two)) {
      // hold obsolete 0: addresses leave at once (the model's "0s").
      const value = two === "hold obsolete" && /^0(ms|s)?$/.test(third ?? "") ? { value: "0s", normalised: false } : duration(third);
      if ("problem" in value) account(d.at, text(d), { refused: value.problem });
      else if (OUTAGE_HOLDS.includes(two)) outage.push({ at: d.at, value: value.value });
      else {
        settings[RESOLVER_FIELDS[two]!] = value.value;
        account(d.at, text(d), { field: `discovery.resolver.${RESOLVER_FIELDS[two]}` });
      }
    } else if (keyword === "parse-resolv-conf") account(d.at, text(d), { field: "discovery.resolver (no nameservers: the target's own, from resolv.conf in containers)" });
    else account(d.at, text(d), { refused: `${two.trim()} is not in the model's resolver (nameservers, resolve_retries, timeouts, holds, accepted_payload_size)` });
  }
  const distinct = [...new Set(outage.map((o) => o.value))];
  for (const o of outage) {
    const line = section.directives.find((d) => d.at === o.at)!;
    account(o.at, text(line), distinct.length === 1 ? { field: "discovery.resolver.holdDuringOutage" } : { refused: `hold timeout, refused and other differ (${distinct.join(", ")}): the model holds addresses through an outage for one duration (holdDuringOutage)` });
  }
  if (distinct.length === 1) settings.holdDuringOutage = distinct[0];
  if (nameservers.length) settings.nameservers = nameservers;
  draft.resolvers.set(section.name!, { at: section.at, lines: section.directives.map((d) => d.at), settings });
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

/** "FILE:LINE: directive: why", one per refused line: what import prints when it refuses. */
export const refusals = (accounts: readonly LineAccount[]) => accounts.filter((a) => a.outcome === "refused").map((a) => `${where(a.at)}: ${a.directive}: ${a.why}`);

/** The accounting as a markdown table a reviewer reads; with a comparison, both configs side by side after it. */
export function accountingReport(accounts: readonly LineAccount[], additions: readonly string[] = [], comparison?: Comparison): string {
  const cell = (s: string | undefined) => (s ?? "").replaceAll("|", "\\|");
  const counts = (["mapped", "normalised", "decided", "refused"] as const).map((o) => `${accounts.filter((a) => a.outcome === o).length} ${o}`).join(", ");
  return [
    `# Import report\n`,
    `${accounts.length} lines: ${counts}.\n`,
    "| line | directive | outcome | field or reason |",
    "|---|---|---|---|",
    ...accounts.map((a) => `| ${where(a.at)} | \`${cell(a.directive)}\` | ${a.outcome} | ${cell([a.field, a.why].filter(Boolean).join(": "))} |`),
    ...(additions.length ? ["", "## Added by the stack (not in the original)", "", ...additions.map((a) => `- ${a}`)] : []),
    ...(comparison ? ["", ...sideBySideReport(comparison)] : []),
  ].join("\n") + "\n";
}
