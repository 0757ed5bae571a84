// Rules: use_backend (by condition, or a map of hosts: a route table), http-request and
// http-response rules, and the directives HAProxy 2.1 removed, translated where an exact equivalent exists.
import { where } from "../../haproxy/config-parser.ts";
import { HTTP_CONDITION_KINDS, kindsIn, type Condition, type RuleList } from "../model/routing.ts";
import { type Context, int, isRefusal, literal, type Outcome, type Refusal, text } from "./context.ts";
import { conditionOf, inlineConditions, rewrittenBefore } from "./conditions.ts";
import { terminalRoute } from "./answers.ts";
import { routeAction, routeMark, tableLookup } from "./route-marks.ts";
import { forwardedHeaderLine } from "./stack-headers.ts";
import { ACME_CHALLENGE_RULE } from "../render/view.ts";
import { slowAnswerLine } from "./canary-lines.ts";
import { markedCondition, ruleMark } from "./rule-marks.ts";
import { keyedLimitLine } from "./keyed-limits.ts";

/** use_backend NAME if|unless a [!b] [|| c] [{ anonymous }]: a route, in the frontend's order. */
/** use_backend %[req.hdr(host)[,field(1,:)],lower,map(FILE[,DEFAULT])]: the Host looked up in a map, a route table of the model. */
export const HOST_MAP = /^%\[(?:req\.)?hdr\(host\)(,field\(1,:\))?(,lower)?,map(?:_str)?\(([^,)]+)(?:,([^)]+))?\)\]$/i;

/** use_backend %[path,map_beg(FILE[,DEFAULT])]: a backend by the path's prefix, the longest the map holds. */
const PATH_MAP = /^%\[path,map_beg\(([^,)]+)(?:,([A-Za-z0-9_.:-]+))?\)\]$/;

export function useBackendByMap(expression: string, frontend: Record<string, unknown> & { name: string }, ctx: Context): Outcome {
  const byPath = PATH_MAP.exec(expression);
  if (byPath) return routesByPathMap(byPath[1]!, byPath[2], frontend, ctx);
  const m = HOST_MAP.exec(expression);
  if (!m) return { refused: "a backend chosen by an expression: the model reads the Host header looked up in a map (req.hdr(host),lower,map(FILE[,DEFAULT])) as a route table, and the path looked up by prefix (path,map_beg(FILE[,DEFAULT])) as routes" };
  const [, portless, lower, file, fallback] = m;
  const pairs = mapPairs(file!, ctx, "HOST BACKEND", (host) => /^[A-Za-z0-9.*-]+$/.test(host));
  if (isRefusal(pairs)) return pairs;
  const entries = pairs.map(([host, backend]) => ({ host, backend }));
  const tableName = file!.split("/").pop()!.replace(/\.map$/, "").replace(/[^A-Za-z0-9_]/g, "_").slice(0, 64) || "hosts";
  const tables = (frontend.routeTables ??= []) as unknown[];
  tables.push({ name: tableName, key: "host", entries });
  const routes = (frontend.routes ??= []) as unknown[];
  routes.push({ table: tableName });
  takeMapDefault(fallback, frontend, ctx);
  const why = [
    !portless && "the model looks the Host up without its port (the config looked up the whole header)",
    !lower && "the model looks the Host up in lower case (the config compared it as sent)",
    fallback !== undefined && `the map's default ${fallback} becomes the default backend (no later use_backend is reached: this rule always chooses)`,
  ].filter(Boolean).join("; ");
  const field = `frontends.${frontend.name}.routeTables.${tableName} (${entries.length} entries from ${file})${fallback !== undefined ? ` and frontends.${frontend.name}.defaultBackend` : ""}`;
  return why ? { field, why, normalised: true } : { field };
}

/**
 * The lines of a map looked up by path prefix, as routes by pathBegins, the longest prefix first: HAProxy
 * keeps a map_beg's patterns in a prefix tree and the longest that matches chooses, whatever the file's
 * order (measured side by side: paths-by-map.cfg). The map's default is the default backend.
 */
function routesByPathMap(file: string, fallback: string | undefined, frontend: Record<string, unknown> & { name: string }, ctx: Context): Outcome {
  const pairs = mapPairs(file, ctx, "/PATH-PREFIX BACKEND", (prefix) => prefix.startsWith("/"));
  if (isRefusal(pairs)) return pairs;
  // Longest first: the model's first match then chooses what the prefix tree's longest match does (a stable sort keeps a repeated prefix's first line first).
  const added = pairs.sort(([a], [b]) => b.length - a.length).map(([prefix, backend]) => ({ when: { pathBegins: prefix }, backend }));
  const routes = (frontend.routes ??= []) as unknown[];
  routes.push(...added);
  takeMapDefault(fallback, frontend, ctx);
  const why = [`the map's ${added.length} lines become routes by path prefix, the longest first as map_beg chooses (a change is then a reload, not a map edit at runtime)`, fallback !== undefined && `its default ${fallback} becomes the default backend`].filter(Boolean).join("; ");
  return { field: `frontends.${frontend.name}.routes (by path prefix, from ${file})${fallback !== undefined ? ` and frontends.${frontend.name}.defaultBackend` : ""}`, why, normalised: true };
}

/** A map file's KEY VALUE lines (comments and blank lines aside), or the refusal naming the first line that is not `shape`. */
function mapPairs(file: string, ctx: Context, shape: string, keyOk: (key: string) => boolean): [string, string][] | Refusal {
  const text = ctx.files.read(file);
  if (text === undefined) return { refused: `the map ${file} is not found (beside the config or where the config says): give it to import` };
  const pairs: [string, string][] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    const [key, value, ...extra] = line.split(/\s+/);
    if (!value || extra.length || !keyOk(key!)) return { refused: `${file}:${i + 1}: ${JSON.stringify(raw)} is not "${shape}"` };
    pairs.push([key!, value]);
  }
  return pairs;
}

/** The map's default answers every request the map does not hold: the frontend's default backend from here on. */
function takeMapDefault(fallback: string | undefined, frontend: Record<string, unknown>, ctx: Context): void {
  if (fallback === undefined) return;
  frontend.defaultBackend = fallback;
  ctx.mapDefault = fallback;
}

export function useBackend(args: string[], frontend: Record<string, unknown> & { name: string }, ctx: Context): Outcome {
  const marked = routeAction(args, "use_backend", ctx);
  if (marked) return marked;
  const [name, ...condition] = args;
  if (name?.startsWith("%[")) return condition.length ? { refused: "a map lookup with a condition is not in the model: a route table route takes what its table holds" } : useBackendByMap(name, frontend, ctx);
  if (condition.length === 0) return { refused: "use_backend without a condition: use default_backend" };
  const parsed = conditionOf(condition, ctx, "frontend");
  if ("refused" in parsed) return parsed;
  const rewritten = rewrittenBefore(parsed.when, ctx);
  if (rewritten) return { refused: rewritten };
  const routes = (frontend.routes ??= []) as unknown[];
  const route = { when: parsed.when, backend: name };
  routes.push(route);
  ctx.routeLines.push({ route, at: ctx.at! });
  const field = `frontends.${frontend.name}.routes[${ctx.terminalRoutes.length + routes.length - 1}]`;
  return parsed.why ? { field, why: parsed.why, normalised: true } : { field };
}

/** "Name: value" as the old header directives wrote a whole header line. */
export const HEADER_LINE = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+):\s*(.*)$/;
/** "^Name:" (optionally followed by ".*"), the regular expression of an old directive that means one header by name. */
export const HEADER_BY_NAME = /^\^\(?([A-Za-z0-9!#$%&'*+.^_`|~-]+):\)?(?:\.\*|\s\.\*)?$/;

/**
 * The directives HAProxy 2.6 no longer reads (removed in 2.1) where an exact modern equivalent
 * exists, translated through that equivalent and said so; the others refused with the nearest one.
 */
export function legacyDirective(keyword: string, args: string[], ctx: Context): Outcome {
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

/** What a rewrite action changes, for the conditions read after it. */
export const REWRITES: Record<string, (args: string[]) => string> = {
  "set-header": (a) => `header:${a[0]!.toLowerCase()}`,
  "add-header": (a) => `header:${a[0]!.toLowerCase()}`,
  "del-header": (a) => `header:${a[0]!.toLowerCase()}`,
  "set-path": () => "path",
  "replace-path": () => "path",
};

/** Each phase's rule list in the model. */
const RULE_LIST_OF = { request: "requestRules", response: "responseRules", "after-response": "afterResponseRules" } as const satisfies Record<string, RuleList>;

/** http-request, http-response and http-after-response rules, in a frontend or a backend, each with its optional condition. */
export function httpRule(phase: "request" | "response" | "after-response", args: string[], ctx: Context): Outcome {
  const [action, ...rest] = args;
  const { frontend, backend } = ctx;
  const owner = backend && !frontend ? backend : frontend ?? backend;
  if (!owner) return { refused: `http-${phase} belongs to a frontend or a backend`, otherKind: true };
  const path = `${owner === frontend ? "frontends" : "backends"}.${owner.name}`;
  const slow = phase === "response" ? slowAnswerLine(args.join(" "), ctx) : undefined;
  if (slow) return slow;
  // The stack's own answer to an ACME server's HTTP-01 request, for the certificates it manages.
  if (phase === "request" && owner === frontend && args.join(" ") === ACME_CHALLENGE_RULE.replace(/"/g, "")) {
    return { decided: "the stack answers ACME HTTP-01 challenges for the certificates it manages (certificates: which names, from which ACME server, is the topology's to say)" };
  }
  // The stack's own way of writing routes: marks, then the actions of the route that took the request.
  if (phase === "request" && owner === frontend) {
    const marked = routeMark(args.join(" "), ctx) ?? tableLookup(args.join(" "), ctx) ?? routeAction(args, "http-request", ctx) ?? forwardedHeaderLine(args.join(" "), ctx);
    if (marked) return marked;
  }
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
    ctx.rate.track = { at: ctx.at!, counts: "requests", counter: 0 };
    return { field: `frontends.${frontend!.name}.rateLimit` };
  }
  // The same limit as the stack writes it: past the limit a flag, which the refusal and its Retry-After read.
  const flagged = phase === "request" && owner === frontend ? /^set-var\(txn\.rate_limited\) bool\(true\) if \{ sc_http_req_rate\(0\) gt (\d+) \}$/.exec(args.join(" ")) : null;
  if (flagged) {
    ctx.rate.deny = { at: ctx.at!, counts: "requests", counter: 0, limit: Number(flagged[1]) };
    ctx.rate.flagged = true;
    return { field: `frontends.${frontend!.name}.rateLimit.requests` };
  }
  if (phase === "request" && owner === frontend && args.join(" ") === "deny deny_status 429 if { var(txn.rate_limited) -m bool }") {
    return ctx.rate.flagged ? { field: `frontends.${frontend!.name}.rateLimit` } : { refused: "a refusal on txn.rate_limited, which no rate limit above sets" };
  }
  const limited = phase === "request" && owner === frontend ? /^deny deny_status 429 if \{ sc0?_http_req_rate(?:\(0\))? gt (\d+) \}$/.exec(args.join(" ")) : null;
  if (limited) {
    ctx.rate.deny = { at: ctx.at!, counts: "requests", counter: 0, limit: Number(limited[1]) };
    return { field: `frontends.${frontend!.name}.rateLimit.requests`, why: "the refusal also says when to try again (Retry-After: the window)", normalised: true };
  }
  // The largest body a frontend takes (defaults.maxRequestBodyBytes): settled once every frontend is read.
  const bodyLimit = phase === "request" && owner === frontend ? /^deny deny_status 413 if \{ req\.hdr_val\(content-length\) gt (\d+) \}$/.exec(args.join(" ")) : null;
  if (bodyLimit) {
    if (ctx.terminalRoutes.length) return { refused: "the rules above answer, refuse or redirect some requests before their size is checked; the model checks it before every route (defaults.maxRequestBodyBytes): put this line first" };
    ctx.draft.bodyLimits.push({ frontend: frontend!.name, limit: Number(bodyLimit[1]), at: ctx.at! });
    return { field: "defaults.maxRequestBodyBytes" };
  }
  if (phase === "request" && owner === frontend && ctx.allowlist && args.join(" ") === "deny deny_status 403 if !allowlisted") {
    frontend!.allowlist = ctx.allowlist.networks;
    return { field: `frontends.${frontend!.name}.allowlist`, why: "the clients outside it are refused before any route, as here" };
  }
  const keyed = phase === "request" && owner === frontend ? keyedLimitLine(args, ctx) : undefined;
  if (keyed) return keyed;
  // A rule's condition as the stack writes it: marks set first (on the request as it came), the rule testing them.
  const mark = phase === "request" ? ruleMark(args.join(" "), ctx) : undefined;
  if (mark) return mark;
  const marked = markedCondition(rest, ctx);
  if (marked && "refused" in marked) return marked;
  const at = ["if", "unless"].map((k) => rest.indexOf(k)).filter((i) => i >= 0).sort((a, b) => a - b)[0] ?? rest.length;
  const [params, condition] = marked ? [marked.words, []] : [rest.slice(0, at), rest.slice(at)];
  const parsed = marked ? { ...(marked.when && { when: marked.when }) } : conditionOf(condition, ctx, owner === frontend ? "frontend" : "backend");
  if ("refused" in parsed) return parsed;
  if (phase !== "request" && condition.length && /(?<![\w.-])(status|res\.|resp\.|shdr|capture\.res)/.test(condition.join(" "))) return { refused: "a response rule's condition is decided on its request in the model: the response's status and headers are not tested" };
  // HAProxy reads no request header, path or method after the response has begun: such a test never matches there.
  const requestTests = phase !== "request" && !marked && parsed.when ? kindsIn(inlineConditions(parsed.when, ctx.acls) as Condition).filter((k) => HTTP_CONDITION_KINDS.includes(k)) : [];
  if (requestTests.length) return { refused: `its condition tests ${[...new Set(requestTests)].join(", ")}, which an http-${phase} rule does not read from the request: HAProxy never matches a request's path, method, query or req.hdr() there (haproxy -c warns it "will never match"), and hdr() reads the response's header; the model decides a response rule's condition on the request as it came, so the rule would act otherwise. Drop the line, or write the rule as meant (${RULE_LIST_OF[phase]} with when)` };
  // Marks are decided before any rewrite; a condition written on the rule itself reads the request as rewritten so far.
  const rewritten = marked ? undefined : rewrittenBefore(parsed.when, ctx);
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
        // The request's path behind a fixed prefix: the model's addPrefix, as the stack writes it.
        const prefixed = /^(\/[^%]*)%\[path\]$/.exec(params[0] ?? "");
        if (prefixed && params.length === 1) return { addPrefix: prefixed[1] };
        const value = literal(params[0], "a path");
        return "refused" in value ? value : { setPath: value.value };
      }
      case "replace-path": {
        if (phase !== "request") break;
        if (params.length !== 2) return { refused: "replace-path takes a regular expression and its replacement" };
        // A prefix taken off on segment boundaries: the model's stripPrefix, as the stack writes it.
        const stripped = /^\^((?:\/(?:[A-Za-z0-9_~-]|\\[.+*?()[\]{}|^$])*)+)\(\/\|\$\)\(\.\*\)$/.exec(params[0]!);
        if (stripped && params[1] === "/\\2") return { stripPrefix: stripped[1]!.replace(/\\(.)/g, "$1") };
        const replacement = literal(params[1], "a replacement");
        return "refused" in replacement ? replacement : { replacePath: { regex: params[0], with: replacement.value } };
      }
      case "set-status": {
        if (phase === "request" || params.length !== 1 || int(params[0]) === undefined) return { refused: "set-status N (a response's status, nothing more) is what the model holds" };
        return { setStatus: int(params[0]) };
      }
      default:
        // A Lua action (core.register_action in one of lua.scripts), by its name.
        if (action?.startsWith("lua.") && phase === "after-response") return { refused: "HAProxy 2.6 runs no Lua action on every answer: a Lua action belongs to http-response (responseRules)" };
        if (action?.startsWith("lua.") && params.length === 0) return /^lua\.[a-z_][a-z0-9_]{0,63}$/.test(action) ? { lua: action.slice("lua.".length) } : { refused: `${action} is not a Lua action's name` };
    }
    return undefined;
  })();
  if (rule !== undefined && isRefusal(rule)) return rule;
  if (rule !== undefined) {
    const field = RULE_LIST_OF[phase];
    const list = (owner[field] ??= []) as unknown[];
    list.push({ ...when, ...rule });
    if (phase === "request" && REWRITES[action!]) ctx.rewrites.push({ changes: REWRITES[action!]!(params), at: ctx.at!, directive: `http-request ${args.join(" ")}` });
    return done(`${path}.${field}[${list.length - 1}]`);
  }

  // Refusals, redirects and answers: routes of the frontend, ahead of its use_backend routes (HAProxy runs every http-request rule before use_backend).
  if (phase === "request" && ["deny", "tarpit", "redirect", "return", "use-service"].includes(action!)) {
    const route = terminalRoute(action!, params);
    if (isRefusal(route)) return route;
    if (owner !== frontend) {
      // A backend that answers every request itself (a maintenance page, a redirect, a refusal) holds it as its answer.
      if (when !== undefined) return { refused: `a conditional http-request ${action} in a backend is not in the model: make it a route of the frontends that use this backend (an unconditional one is the backend's answer)` };
      if (owner.answer !== undefined) return { refused: "the backend answers every request by an earlier line: this one is never reached" };
      owner.answer = route;
      return done(`${path}.answer`);
    }
    if (action === "redirect" && !("location" in (route.redirect as object)) && ctx.rewrites.some((r) => r.changes === "path")) return { refused: `this redirect keeps the request's path, which ${where(ctx.rewrites.find((r) => r.changes === "path")!.at)} rewrites before it; the model redirects the request as it came` };
    ctx.terminalRoutes.push({ ...when, ...route });
    ctx.routeLines.push({ route: ctx.terminalRoutes.at(-1)!, at: ctx.at! });
    return done(`${path}.routes[${ctx.terminalRoutes.length - 1}]`);
  }
  return { refused: `http-${phase} ${action} is not in the model yet` };
}

