// Servers and their checks: server lines (with default-server), the options the model keeps per
// backend (read when every server agrees), cookies, HTTP checks and tcp-check sequences.
import { isIP } from "node:net";
import type { Location } from "../../haproxy/config-parser.ts";
import { type Context, duration, int, type Outcome } from "./context.ts";
import { ANY_SUCCESS } from "../model/checks.ts";

/**
 * A server option the model keeps per backend (every server of a backend says the same): its
 * setting, as part of a backend, and how many words it takes after the keyword.
 */
export const LIFTED_OPTIONS: Record<string, { words: number; set: (value: string[], into: Record<string, unknown>) => string | undefined }> = {
  "send-proxy": { words: 0, set: (_, b) => void (b.sendProxy = "v1") },
  "send-proxy-v2": { words: 0, set: (_, b) => void (b.sendProxy = "v2") },
  // The model's checks send the PROXY header where the traffic does: after send-proxy, as the stack writes it.
  "check-send-proxy": { words: 0, set: (_, b) => (b.sendProxy === undefined ? "check-send-proxy without send-proxy before it: the model's checks send the PROXY header where the traffic does (sendProxy)" : undefined) },
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
  "agent-send": { words: 1, set: ([text], b) => void (b.agent = { ...(b.agent as object), send: text }) },
  "agent-inter": { words: 1, set: ([d], b) => { const v = duration(d); return "problem" in v ? v.problem : void (b.agent = { ...(b.agent as object), inter: v.value }); } },
};

export function serverDirective(args: string[], backend: Record<string, unknown> & { name: string }, ctx: Context): Outcome {
  const [name, address, ...own] = args;
  const options = [...ctx.defaultServer, ...own];
  const lifted: Record<string, unknown> = {};
  // ipv4@ and ipv6@ name the address family; after ipv6@ an address may come without brackets.
  const family = /^(ipv4|ipv6)@/.exec(address ?? "")?.[1];
  const bare = family ? address!.slice(family.length + 1) : address ?? "";
  const m = /^([^:\s]+|\[[0-9a-fA-F:.]+\]):(\d+)$/.exec(bare) ?? (family === "ipv6" ? /^([0-9a-fA-F:.]+):(\d+)$/.exec(bare) : null);
  const literal = m && isIP(m[1]!.replace(/^\[|\]$/g, ""));
  if (family && m && !literal) return { refused: `${address}: ${family}@ asks for the name's ${family === "ipv4" ? "IPv4" : "IPv6"} addresses only, which the model does not say: write the name alone (HAProxy then takes the first address the system resolves)` };
  if (family && m && literal !== (family === "ipv4" ? 4 : 6)) return { refused: `${address}: ${family}@ before an IPv${literal} address` };
  // A unix socket: "unix@/path", or an absolute path as HAProxy also takes it.
  const socket = /^(?:unix@)?(\/\S+)$/.exec(address ?? "")?.[1];
  // A port offset, or no port: the port the client connected to (plus the offset), which the model does not follow.
  const relative = /^(?:[^:\s]+|\[[0-9a-fA-F:.]+\])(?::([+-]\d+))?$/.exec(bare);
  if (name && !m && socket === undefined && relative) return { refused: `${address}: the server's port is the one the client connected to${relative[1] ? ` ${relative[1].startsWith("-") ? "minus" : "plus"} ${relative[1].slice(1)}` : ""}, which the model does not follow: give the server its port (one server line per port of the bind's range)` };
  if (!name || (!m && socket === undefined)) return { refused: `${JSON.stringify(address ?? "")} is not an address with a port, or a unix socket, the model holds` };
  const at = m ? { address: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]) } : { unixSocket: socket };
  const server: Record<string, unknown> = { name, ...at, external: true, check: false };
  let resolvedBy: string | undefined;
  for (let i = 0; i < options.length; i++) {
    const option = options[i]!;
    const next = () => options[++i];
    if (option === "check") server.check = true;
    else if (option === "resolvers") resolvedBy = next();
    else if (option === "init-addr") {
      // Where a name's first address comes from: the stack resolves listed servers' names for its target.
      const from = next() ?? "";
      if (!from.split(",").every((method) => ["last", "libc", "none"].includes(method))) return { refused: `init-addr ${from}: the model resolves a server's name itself (last, libc, none are what it does)` };
    }
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
  const field = `backends.${backend.name}.servers.${name} (a server the stack balances but does not run)`;
  if (family) return { field, why: `${family}@ names the address family, which the address says itself`, normalised: true };
  if (resolvedBy === undefined) return { field };
  // Settled once every section is read: only a resolvers section that asks the system's resolver (no nameservers of its own) is what the stack does.
  ctx.draft.serverResolvers.push({ resolvers: resolvedBy, at: ctx.at! });
  return { field, why: `its name is resolved at runtime through resolvers ${resolvedBy} (the system's resolver): the stack resolves listed servers' names through its target's DNS`, normalised: true };
}

export function cookieDirective(args: string[], backend: Record<string, unknown> & { name: string }): Outcome {
  const [name, ...options] = args;
  const cookie: Record<string, unknown> = { name, insert: false, indirect: false, nocache: false, httponly: false };
  let dynamic = false;
  for (let i = 0; i < options.length; i++) {
    const option = options[i]!;
    if (option === "insert" || option === "indirect" || option === "nocache" || option === "secure" || option === "httponly") cookie[option] = true;
    else if (option === "rewrite") cookie.insert = false;
    else if (option === "attr") {
      const sameSite = /^SameSite=(Strict|Lax|None)$/.exec(options[++i] ?? "")?.[1];
      if (!sameSite) return { refused: `the cookie attribute ${JSON.stringify(options[i] ?? "")} is not in the model (only SameSite=Strict|Lax|None: sameSite)` };
      cookie.sameSite = sameSite;
    } else if (option === "dynamic") dynamic = true;
    else return { refused: `the cookie option ${option} is not in the model yet` };
  }
  backend.cookie = cookie;
  const field = `backends.${backend.name}.cookie`;
  // Dynamic cookies are what the model gives a discovered group's slots: checked once the backend is read.
  if (dynamic) backend.dynamicCookie = true;
  if (cookie.sameSite === undefined) return { field, why: "HAProxy sets no SameSite attribute here; the model adds SameSite=Lax unless told otherwise", normalised: true };
  return dynamic ? { field, why: "dynamic: the values of a discovered group's slots come from their addresses (the key is the stack's)", normalised: true } : { field };
}

export function httpCheckDirective(args: string[], backend: Record<string, unknown> & { name: string }): Outcome {
  const check = (backend.healthCheck ??= { http: { method: "GET", path: "/" } }) as Record<string, Record<string, unknown>>;
  if (!check.http) return { refused: "http-check needs option httpchk first" };
  const [verb, kind, ...rest] = args;
  const field = `backends.${backend.name}.healthCheck.http`;
  // The Host header the check sends, as the stack writes it.
  if (verb === "send" && kind === "hdr" && rest.length === 2 && rest[0]!.toLowerCase() === "host") {
    check.http.host = rest[1];
    return { field };
  }
  if (verb !== "expect") return { refused: `http-check ${args.join(" ")} is not in the model yet (it reads send hdr Host NAME and expect)` };
  if (kind === "status" && int(rest[0]) !== undefined) check.http.expectStatus = int(rest[0]);
  else if (kind === "rstatus" && rest.join(" ") === "^[23]") check.http.expectStatus = ANY_SUCCESS;
  else if ((kind === "string" || kind === "rstring") && rest.length === 1) {
    check.http[kind === "string" ? "expectBody" : "expectBodyRegex"] = rest[0];
    // Given only body lines, HAProxy takes any status; the model's body expectation comes with a status one.
    if (check.http.expectStatus === ANY_SUCCESS) return { field, why: `the model also expects a ${ANY_SUCCESS} status (a server answering this body with a 5xx was healthy, is not now)`, normalised: true };
  } else return { refused: `http-check expect ${kind} ${rest.join(" ")} is not in the model yet` };
  return { field };
}

/** tcp-check connect [port N] [ssl] | send TEXT | send-binary HEX | expect [!] string|rstring|binary PATTERN. */
export function tcpCheckDirective(args: string[], backend: Record<string, unknown> & { name: string }): Outcome {
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
export function liftServerSettings(ctx: Context, refuse: (at: Location, why: string) => void): void {
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

/**
 * server-template PREFIX COUNT NAME[:PORT] ... resolvers R: a group found through DNS (backend.discovery),
 * its slots PREFIX1..PREFIXCOUNT. SRV names (_service._proto.name) carry their ports; A and AAAA ones need one.
 */
export function serverTemplateDirective(args: string[], backend: Record<string, unknown> & { name: string }, ctx: Context): Outcome {
  const [prefix, count, address, ...options] = [args[0], args[1], args[2], ...ctx.defaultServer, ...args.slice(3)];
  if (backend.discovery) return { refused: "a backend discovers one group in the model: one server-template per backend" };
  if (!prefix || !/^[a-z][a-z0-9-]{0,40}$/.test(prefix)) return { refused: `${JSON.stringify(prefix)} is not a group name the model takes (1 to 41 lower-case letters, digits or "-", starting with a letter)` };
  const maxServers = int(count);
  const m = /^([A-Za-z0-9._-]+)(?::(\d+))?$/.exec(address ?? "");
  if (maxServers === undefined || !m) return { refused: "server-template PREFIX COUNT NAME[:PORT] is what the model reads" };
  const srv = m[1]!.startsWith("_");
  const group: Record<string, unknown> = { name: prefix, dnsName: m[1], record: srv ? "SRV" : "A", ...(m[2] && { port: Number(m[2]) }), maxServers, instances: 0, check: false };
  let resolvers: string | undefined;
  const lifted: Record<string, unknown> = {};
  // A later option replaces an earlier one (the template's own after default-server's), as HAProxy reads them.
  let initAddr: string | undefined;
  for (let i = 0; i < options.length; i++) {
    const option = options[i]!;
    const next = () => options[++i];
    if (option === "check") group.check = true;
    else if (option === "resolvers") resolvers = next();
    else if (option === "resolve-prefer") {
      const prefer = next();
      if (!srv) group.record = prefer === "ipv6" ? "AAAA" : "A";
    } else if (option === "init-addr") initAddr = next();
    else if (["inter", "fall", "rise", "weight", "maxconn"].includes(option)) {
      const value = next();
      if (option === "inter") {
        const d = duration(value);
        if ("problem" in d) return { refused: d.problem };
        group.inter = d.value;
      } else if (int(value) === undefined) return { refused: `${option} needs a whole number` };
      else group[option] = int(value);
    } else if (LIFTED_OPTIONS[option]) {
      // What the model keeps per backend (an agent, the PROXY protocol, TLS...): the slots say it as every server does.
      const { words, set } = LIFTED_OPTIONS[option]!;
      const problem = set(options.slice(i + 1, i + 1 + words), lifted);
      i += words;
      if (problem) return { refused: problem };
    } else return { refused: `the server-template option ${option} is not in the model's discovered groups` };
  }
  // The slots start empty and take the answers' addresses: what the model always renders.
  if (initAddr !== undefined && initAddr !== "none") return { refused: `init-addr ${initAddr}: a discovered group's slots start empty in the model (init-addr none)` };
  if (!resolvers) return { refused: "a discovered group names its resolvers section (resolvers NAME)" };
  backend.discovery = group;
  ctx.draft.groups.push({ backend, resolvers, at: ctx.at! });
  ctx.lifted.push({ at: ctx.at!, name: `${prefix} (the group's slots)`, settings: lifted });
  return { field: `backends.${backend.name}.discovery (slots ${prefix}1..${prefix}${maxServers}; the stack runs no instances: someone else's DNS keeps the records)` };
}

/**
 * A tcp-check sequence that is the stack's own Redis check (PING, and INFO replication for a primary-only
 * one; AUTH first with a password from the environment): the model's redis check it was rendered from.
 */
export function redisCheckOf(steps: readonly Record<string, unknown>[]): Record<string, unknown> | undefined {
  const said = JSON.stringify(steps);
  const step = (send: string, expect: string) => [{ send }, { expect: { string: expect } }];
  const auth = /^\[\{"send":"AUTH \$\{([A-Z_][A-Z0-9_]*)\}\\r\\n"\},\{"expect":\{"string":"\+OK"\}\},/.exec(said)?.[1];
  const rest = auth === undefined ? said : `[${said.slice(said.indexOf('{"send":"PING'))}`;
  for (const primaryOnly of [true, false]) {
    const tail = primaryOnly ? step("INFO replication\r\nQUIT\r\n", "role:master") : step("QUIT\r\n", "+OK");
    if (rest === JSON.stringify([...step("PING\r\n", "+PONG"), ...tail])) return { redis: { ...(auth && { passwordFromEnv: auth }) }, ...(primaryOnly && { primaryOnly: true }) };
  }
  return undefined;
}
