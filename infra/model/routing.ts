// Routing in the topology: typed conditions (never raw ACL text), first-match routes with one action
// each, and route tables that HAProxy looks up in map files (changed at runtime, without a reload).
//
// Every string here reaches haproxy.cfg inside double quotes, with "\\", "\"" and "$" escaped by
// the renderer (no environment variable, no comment, no second argument can come of it): a value
// only has to be printable ASCII, without line breaks. Values that reach a log-format string (a
// redirect's location, a header a rule sets) also have their "%" doubled.
import { isIP } from "node:net";
import { z } from "zod";
import { HAPROXY_ERROR_STATUSES } from "../../haproxy/statuses.ts";
import { FileName, Name, show } from "./names.ts";

/** A string of printable ASCII: one quoted argument, whatever it holds. */
const QUOTABLE_PATTERN = /^[\x20-\x7e]*$/;
/** HAProxy 2.6 reads an empty quoted argument as no argument at all: a value has at least one character. */
const quotable = (what: string, max: number) =>
  z
    .string()
    .min(1, { error: `${what} is empty: HAProxy reads "" as no argument at all` })
    .max(max, { error: `${what} is longer than ${max} characters` })
    .regex(QUOTABLE_PATTERN, { error: (iss) => `${show(iss.input)} is not usable as ${what}: use printable ASCII, no line breaks or control characters` });

export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"] as const;
/** An HTTP method: a standard one, or an extension the servers understand (PURGE, BAN, PROPFIND): a token in capitals. */
export const Method = z.string().regex(/^[A-Z][A-Z0-9_-]{0,31}$/, { error: (iss) => `${show(iss.input)} is not an HTTP method: use capitals, e.g. ${HTTP_METHODS.join(", ")}, or an extension such as PURGE` }).meta({ title: "HTTP method" });

const LABEL = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
/** An exact host name. */
const EXACT_HOST_PATTERN = new RegExp(`^${LABEL}(\\.${LABEL})*$`);
/** An exact host name, or "*.example.com": any one label in front of the rest (as a certificate's wildcard). */
const HOST_PATTERN_PATTERN = new RegExp(`^(\\*\\.)?${LABEL}(\\.${LABEL})*$`);
export const RouteHost = z.string().max(253).regex(HOST_PATTERN_PATTERN, {
  error: (iss) => `${show(iss.input)} is not a host to match: use a host name ("api.example.com") or "*.example.com" (no port, no scheme)`,
}).meta({ title: "host name" });
export const ExactHost = z.string().max(253).regex(EXACT_HOST_PATTERN, {
  error: (iss) => `${show(iss.input)} is not a host name: use e.g. "api.example.com" (no port, no scheme, no wildcard in a table)`,
}).meta({ title: "host name" });

/** A request path: what HAProxy's "path" fetch returns (no query string, no fragment). */
const ROUTE_PATH_PATTERN = /^\/[A-Za-z0-9._~!$&()*+,;=:@%/-]{0,1000}$/;
export const RoutePath = z.string().regex(ROUTE_PATH_PATTERN, {
  error: (iss) => `${show(iss.input)} is not a path to match: start with "/" and use no spaces, quotes, "?" or "#"`,
}).meta({ title: "path" });
const PATH_SUFFIX_PATTERN = /^[A-Za-z0-9._~!$&()*+,;=:@%/-]{1,200}$/;
export const PathSuffix = z.string().regex(PATH_SUFFIX_PATTERN, {
  error: (iss) => `${show(iss.input)} is not a path suffix: use e.g. ".css", no spaces, quotes, "?" or "#"`,
});

/** A regular expression: compiled by JavaScript here (the resolver's) and by PCRE2 in haproxy -c. */
export const Regex = quotable("a regular expression", 512).check((ctx) => {
  try {
    new RegExp(ctx.value);
  } catch (error) {
    ctx.issues.push({ code: "custom", input: ctx.value, continue: true, message: `${show(ctx.value)} is not a regular expression: ${(error as Error).message.replace(/^Invalid regular expression: /, "")}` });
  }
}).meta({ title: "regular expression" });

/** A header's name: an HTTP token, letters, digits and "-" (what HAProxy's fetch arguments take as they are). */
export const HeaderName = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, {
  error: (iss) => `${show(iss.input)} is not a header name: use 1 to 64 letters, digits or "-"`,
}).meta({ title: "header name" });
export const HeaderValue = quotable("a header value", 1024).meta({ title: "text" });
export const QueryName = z.string().regex(/^[A-Za-z0-9_.~-]{1,64}$/, {
  error: (iss) => `${show(iss.input)} is not a query parameter name: use 1 to 64 letters, digits or "_.~-"`,
});

/** An IPv4 or IPv6 address, or a network in CIDR notation. */
export const Cidr = z.string().check((ctx) => {
  const [address = "", bits, ...rest] = ctx.value.split("/");
  const family = isIP(address);
  const max = family === 6 ? 128 : 32;
  const ok = family !== 0 && rest.length === 0 && (bits === undefined || (/^[0-9]{1,3}$/.test(bits) && Number(bits) <= max));
  if (!ok) ctx.issues.push({ code: "custom", input: ctx.value, continue: true, message: `${show(ctx.value)} is not an address or network: use e.g. "10.0.0.0/8", "192.168.1.10" or "2001:db8::/32"` });
}).meta({ title: "network" });

const oneOrMore = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1, { error: "give at least one value" })]);

/** A name a Lua script registers (a service, an action, a fetch, a converter): what follows "lua." in the config. */
export const LuaName = z.string().regex(/^[a-z_][a-z0-9_]{0,63}$/, { error: (iss) => `${show(iss.input)} is not a Lua name: use 1 to 64 lower-case letters, digits or "_", starting with a letter or "_"` }).meta({ title: "Lua name" });

/** An argument to a Lua fetch, as HAProxy passes it (a string): letters, digits and "_.:/-", no quoting needed. */
const LuaArgument = z.string().regex(/^[A-Za-z0-9_.:\/-]{1,64}$/, { error: (iss) => `${show(iss.input)} is not a Lua fetch argument: use 1 to 64 letters, digits or "_.:/-"` });

/** How a header's or query parameter's value is matched: exactly one of these. */
const ValueMatch = {
  present: z.literal(true).optional().describe("The header (parameter) is there, whatever its value."),
  equals: oneOrMore(HeaderValue).optional().describe("Its value is one of these."),
  prefix: oneOrMore(HeaderValue).optional().describe("Its value starts with one of these."),
  regex: Regex.optional().describe("Its value matches this regular expression."),
  ignoreCase: z.boolean().default(false).describe("Compare values without regard to case."),
  luaConverter: LuaName.optional().describe("Pass the value through this Lua converter (core.register_converters in one of lua.scripts) before it is compared: a token decoded, a name normalised. The resolver cannot run Lua: verify leaves such routes to traffic the script's author knows."),
};
const VALUE_MATCHES = ["present", "equals", "prefix", "regex"] as const;
const exactlyOneMatch = (value: Record<string, unknown>, ctx: z.core.$RefinementCtx) => {
  const given = VALUE_MATCHES.filter((k) => value[k] !== undefined);
  if (given.length !== 1) ctx.addIssue({ code: "custom", message: `say how the value is matched with exactly one of ${VALUE_MATCHES.join(", ")}${given.length ? ` (found ${given.join(", ")})` : ""}` });
  if (value.present !== undefined && value.luaConverter !== undefined) ctx.addIssue({ code: "custom", path: ["luaConverter"], message: "present asks whether the value is there, which no converter changes: remove luaConverter, or compare its result" });
};

export const HeaderCondition = z.strictObject({ name: HeaderName.describe("The header's name (any case)."), ...ValueMatch }).superRefine(exactlyOneMatch).meta({ id: "HeaderCondition" });
export const QueryCondition = z.strictObject({ name: QueryName.describe("The query-string parameter's name."), ...ValueMatch }).superRefine(exactlyOneMatch).meta({ id: "QueryCondition" });
/** A value a Lua fetch computes for the request (core.register_fetches in one of lua.scripts), matched like a header's. */
export const LuaFetchCondition = z
  .strictObject({ fetch: LuaName.describe("The fetch's name, as the script registers it."), args: z.array(LuaArgument).max(5).optional().describe("Arguments passed to it."), ...ValueMatch })
  .superRefine((value, ctx) => {
    exactlyOneMatch(value, ctx);
    if (value.luaConverter !== undefined) ctx.addIssue({ code: "custom", path: ["luaConverter"], message: "a Lua fetch computes the value itself: do the conversion in the fetch" });
  }).meta({ id: "LuaFetchCondition" });

/** The kinds a condition can be: each condition object has exactly one of these keys. */
export const CONDITION_KINDS = ["host", "path", "pathPrefix", "pathBegins", "pathSuffix", "pathRegex", "method", "header", "query", "lua", "source", "tls", "sni", "alpn", "destinationPort", "all", "any", "not", "condition"] as const;
export type ConditionKind = (typeof CONDITION_KINDS)[number];
/** What only an HTTP frontend can see (the request), and only a TCP one (a TLS ClientHello it passes through). */
export const HTTP_CONDITION_KINDS: readonly ConditionKind[] = ["host", "path", "pathPrefix", "pathBegins", "pathSuffix", "pathRegex", "method", "header", "query", "lua"];
export const TCP_CONDITION_KINDS: readonly ConditionKind[] = ["sni", "alpn"];

/** A protocol a client offers through ALPN ("h2", "http/1.1", "postgresql"). */
const AlpnProtocol = z.string().regex(/^[A-Za-z0-9._\/-]{1,64}$/, { error: (iss) => `${show(iss.input)} is not an ALPN protocol: use e.g. "h2" or "http/1.1"` });
const DestinationPort = z.number().int().min(1, { error: "a port is 1 to 65535" }).max(65535, { error: "a port is 1 to 65535" });

/**
 * What a request must be for a route to take it: exactly one key. Hosts compare without regard to
 * case or the port; paths compare exactly (case matters, as it does to servers).
 */
export interface Condition {
  host?: string | string[];
  path?: string | string[];
  pathPrefix?: string | string[];
  pathBegins?: string | string[];
  pathSuffix?: string | string[];
  pathRegex?: string;
  method?: string | string[];
  header?: z.output<typeof HeaderCondition>;
  query?: z.output<typeof QueryCondition>;
  lua?: z.output<typeof LuaFetchCondition>;
  source?: string | string[];
  tls?: boolean;
  sni?: string | string[];
  alpn?: string | string[];
  destinationPort?: number | number[];
  all?: Condition[];
  any?: Condition[];
  not?: Condition;
  condition?: string;
}

export const Condition: z.ZodType<Condition, z.input<z.ZodType<Condition>>> = z
  .strictObject({
    host: oneOrMore(RouteHost).optional().describe("The Host header (or HTTP/2's :authority), any of these; \"*.example.com\" is one label in front."),
    path: oneOrMore(RoutePath).optional().describe("The path is exactly one of these."),
    pathPrefix: oneOrMore(RoutePath).optional().describe("The path is one of these or lies below it: \"/api\" takes \"/api\" and \"/api/users\", never \"/apis\"."),
    pathBegins: oneOrMore(RoutePath).optional().describe("The path starts with one of these, segment boundary or not: \"/api\" takes \"/apis\" too."),
    pathSuffix: oneOrMore(PathSuffix).optional().describe("The path ends with one of these (\".json\", \"/health\")."),
    pathRegex: Regex.optional().describe("The path matches this regular expression (PCRE2 in HAProxy, JavaScript in the resolver; keep to what both read alike)."),
    method: oneOrMore(Method).optional().describe("The request method is one of these."),
    header: HeaderCondition.optional().describe("A request header is present or has one of the given values."),
    query: QueryCondition.optional().describe("A query-string parameter is present or has one of the given values."),
    lua: LuaFetchCondition.optional().describe("What a Lua fetch of lua.scripts says of the request."),
    source: oneOrMore(Cidr).optional().describe("The client's address is in one of these networks (the connection's source, not X-Forwarded-For)."),
    tls: z.boolean().optional().describe("The request came over TLS (true) or plain HTTP (false)."),
    sni: oneOrMore(RouteHost).optional().describe("TCP frontends: the server name of the TLS ClientHello passed through (any of these; \"*.example.com\" as for host)."),
    alpn: oneOrMore(AlpnProtocol).optional().describe("TCP frontends: a protocol the ClientHello offers through ALPN."),
    destinationPort: oneOrMore(DestinationPort).optional().describe("The port the client connected to (a frontend with several binds)."),
    get all() {
      return z.array(Condition).min(1, { error: "all needs at least one condition" }).optional().describe("Every one of these conditions holds.");
    },
    get any() {
      return z.array(Condition).min(1, { error: "any needs at least one condition" }).optional().describe("At least one of these conditions holds.");
    },
    get not() {
      return Condition.optional().describe("This condition does not hold.");
    },
    condition: Name.optional().describe("One of the frontend's named conditions, by name."),
  })
  .superRefine((condition, ctx) => {
    const given = CONDITION_KINDS.filter((k) => (condition as Record<string, unknown>)[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({ code: "custom", message: given.length ? `a condition has exactly one kind, found ${given.join(" and ")}: combine them with all or any` : `a condition needs one of ${CONDITION_KINDS.join(", ")}` });
    }
  }).meta({ id: "Condition" }) as unknown as z.ZodType<Condition, z.input<z.ZodType<Condition>>>;

export const REDIRECT_CODES = [301, 302, 303, 307, 308] as const;

export const Redirect = z
  .strictObject({
    location: quotable("a redirect location", 2048).optional().describe("Send the client to exactly this URL."),
    prefix: quotable("a redirect prefix", 2048).optional().describe("Send the client to this prefix followed by the request's path (and query): \"https://new.example.com\"."),
    scheme: z.enum(["http", "https"], { error: (iss) => `${show(iss.input)} is not a scheme: use "http" or "https"` }).optional().describe("The same host and path under this scheme (the Host header's port is kept)."),
    code: z
      .number()
      .refine((c) => (REDIRECT_CODES as readonly number[]).includes(c), { error: (iss) => `${show(iss.input)} is not a redirect status: use one of ${REDIRECT_CODES.join(", ")}` })
      .default(302).describe("The redirect's status."),
    dropQuery: z.boolean().default(false).describe("Leave the request's query string out of the new URL (prefix and scheme keep it by default)."),
  })
  .superRefine((r, ctx) => {
    const given = (["location", "prefix", "scheme"] as const).filter((k) => r[k] !== undefined);
    if (given.length !== 1) ctx.addIssue({ code: "custom", message: `a redirect needs exactly one of location, prefix, scheme${given.length ? ` (found ${given.join(", ")})` : ""}` });
    if (r.prefix !== undefined && r.prefix.endsWith("/")) ctx.addIssue({ code: "custom", path: ["prefix"], message: `${show(r.prefix)} ends with "/": the request's path, which starts with one, follows it` });
  }).meta({ id: "Redirect" });

const CONTENT_TYPE_PATTERN = /^[a-z0-9!#$&^_.+-]{1,64}\/[a-z0-9!#$&^_.+-]{1,64}(; ?charset=[A-Za-z0-9_-]{1,32})?$/;

/** An answer HAProxy gives itself, without a server. */
export const Respond = z
  .strictObject({
    status: z.number().int().min(200, { error: "a response's status is 200 to 599" }).max(599, { error: "a response's status is 200 to 599" }).describe("The answer's status."),
    contentType: z.string().regex(CONTENT_TYPE_PATTERN, { error: (iss) => `${show(iss.input)} is not a content type: use e.g. "text/plain" or "application/json; charset=utf-8"` }).default("text/plain").describe("Its Content-Type."),
    body: quotable("a response body", 1024).optional().describe("The body, short text."),
    bodyFile: FileName.optional().describe("The body from a file beside the error pages (templates/errors/: a maintenance page), loaded as HAProxy starts; it fits in a buffer."),
  })
  .superRefine((r, ctx) => {
    if (r.body !== undefined && r.bodyFile !== undefined) ctx.addIssue({ code: "custom", path: ["bodyFile"], message: "a response has one body: give body or bodyFile, not both" });
  }).meta({ id: "Respond" });

/** What a deny or tarpit may answer: a 4xx or 5xx status HAProxy has a message for. */
export const DENY_STATUSES = HAPROXY_ERROR_STATUSES.filter((s) => s >= 400);
const denyStatus = z.number().refine((s) => (DENY_STATUSES as readonly number[]).includes(s), {
  error: (iss) => `${show(iss.input)} is not a status HAProxy can refuse with: use one of ${DENY_STATUSES.join(", ")}`,
});

/** A refusal's or a tarpit's status. */
const Refusal = z.strictObject({ status: denyStatus.default(403).describe("The status of the refusal (a 4xx or 5xx HAProxy has a message for).") }).meta({ id: "Refusal" });

/**
 * What a backend with no servers answers every request sent to it with, as a route would: a
 * maintenance page, a redirect to another site, a refusal. Exactly one.
 */
export const BACKEND_ANSWERS = ["redirect", "respond", "deny", "tarpit"] as const;
export const BackendAnswer = z
  .strictObject({ redirect: Redirect.optional().describe("Send every request elsewhere."), respond: Respond.optional().describe("Answer every request with this response."), deny: Refusal.optional().describe("Refuse every request with this status."), tarpit: Refusal.optional().describe("Hold every request for timeouts.tarpit, then refuse it.") })
  .superRefine((answer, ctx) => {
    const given = BACKEND_ANSWERS.filter((k) => answer[k] !== undefined);
    if (given.length !== 1) ctx.addIssue({ code: "custom", message: `an answer is exactly one of ${BACKEND_ANSWERS.join(", ")}${given.length ? ` (found ${given.join(" and ")})` : ""}` });
  }).meta({ id: "BackendAnswer" });
export type BackendAnswer = z.output<typeof BackendAnswer>;
export const answerKind = (answer: BackendAnswer): (typeof BACKEND_ANSWERS)[number] => BACKEND_ANSWERS.find((k) => answer[k] !== undefined)!;


/** A header value the stack writes as it is (never an expression: "%" is taken literally). */
const WrittenHeaderValue = quotable("a header value", 1024);
const HeaderWrite = z.strictObject({ name: HeaderName.describe("The header's name."), value: WrittenHeaderValue.describe("Its value, as written (HAProxy's log-format expressions such as %[src] are taken literally).") }).meta({ id: "HeaderWrite" });

/** The things a request or response rule can do: exactly one per rule. */
export const RULE_ACTIONS = ["setHeader", "addHeader", "deleteHeader", "setPath", "replacePath", "stripPrefix", "addPrefix", "setHost", "setStatus", "lua"] as const;
export type RuleActionKind = (typeof RULE_ACTIONS)[number];
/** What only a request has (its path and Host), and only a response (its status). */
export const REQUEST_ONLY_ACTIONS: readonly RuleActionKind[] = ["setPath", "replacePath", "stripPrefix", "addPrefix", "setHost"];
export const RESPONSE_ONLY_ACTIONS: readonly RuleActionKind[] = ["setStatus"];

/**
 * A proxy's rule lists, in the order HAProxy runs them: on each request, on each response a server
 * sends, then on every answer the client gets (HAProxy's own too: its error pages, redirects and
 * refusals), where HAProxy 2.6 runs no Lua action.
 */
export const RULE_LISTS = ["requestRules", "responseRules", "afterResponseRules"] as const;
export type RuleList = (typeof RULE_LISTS)[number];
/** What each list cannot do, and why. */
const NOT_IN: Record<RuleList, { actions: readonly RuleActionKind[]; why: string; instead: RuleList }> = {
  requestRules: { actions: RESPONSE_ONLY_ACTIONS, why: "changes a response's part", instead: "responseRules" },
  responseRules: { actions: REQUEST_ONLY_ACTIONS, why: "changes a request's part", instead: "requestRules" },
  afterResponseRules: { actions: [...REQUEST_ONLY_ACTIONS, "lua"], why: "is not an action HAProxy 2.6 runs on every answer (http-after-response: headers and the status only)", instead: "responseRules" },
};

/**
 * A change HAProxy makes to what it forwards (a request to the server, a response to the client),
 * when the request meets `when` (a response rule's condition is on its request too).
 */
export const Rule = z
  .strictObject({
    when: Condition.optional().describe("Which requests the rule applies to; absent: all."),
    setHeader: HeaderWrite.optional().describe("Replace every occurrence of the header with this value."),
    addHeader: HeaderWrite.optional().describe("Add one more occurrence of the header."),
    deleteHeader: HeaderName.optional().describe("Remove every occurrence of the header."),
    setPath: RoutePath.optional().describe("Replace the request's path (the query string stays)."),
    replacePath: z.strictObject({ regex: Regex.describe("What to match in the path."), with: quotable("a path replacement", 1024).describe("What replaces it, with \\1, \\2... for the groups.") }).optional().describe("Rewrite the path: a regular expression, and its replacement with \\\\1, \\\\2... for its groups."),
    stripPrefix: RoutePath.refine((p) => p !== "/", { error: 'stripping "/" would leave no path: give a longer prefix' }).optional().describe("Take this prefix off the path, on segment boundaries: \"/api\" makes \"/api/users\" \"/users\" and \"/api\" \"/\"."),
    addPrefix: RoutePath.refine((p) => p !== "/", { error: 'adding "/" would change nothing: give a longer prefix' }).optional().describe("Put this prefix in front of the path: \"/v1\" makes \"/users\" \"/v1/users\"."),
    setHost: ExactHost.optional().describe("Forward the request with this Host header."),
    setStatus: z.number().int().min(100).max(599).optional().describe("Answer with this status instead of the server's."),
    lua: LuaName.optional().describe("Run this action, registered by one of lua.scripts (core.register_action)."),
  })
  .superRefine((rule, ctx) => {
    const given = RULE_ACTIONS.filter((k) => rule[k] !== undefined);
    if (given.length !== 1) ctx.addIssue({ code: "custom", message: `a rule does exactly one of ${RULE_ACTIONS.join(", ")}${given.length ? ` (found ${given.join(" and ")})` : ""}` });
  }).meta({ id: "Rule" });
export type Rule = z.output<typeof Rule>;
export const ruleAction = (rule: Rule): RuleActionKind => RULE_ACTIONS.find((k) => rule[k] !== undefined)!;

/** The headers that tell a server how the client reached the load balancer. */
export const ForwardedHeaders = z.strictObject({
  proto: z.boolean().default(true).describe("X-Forwarded-Proto: https or http."),
  host: z.boolean().default(true).describe("X-Forwarded-Host: the Host header the client sent."),
  port: z.boolean().default(true).describe("X-Forwarded-Port: the port the client connected to."),
}).meta({ id: "ForwardedHeaders" });

/** Response headers that tell browsers to be careful, on every answer (HAProxy's own included). */
export const SecurityHeaders = z.strictObject({
  noSniff: z.boolean().default(true).describe("X-Content-Type-Options: nosniff."),
  frameOptions: z.enum(["DENY", "SAMEORIGIN", "off"]).default("DENY").describe("X-Frame-Options (\"off\": not sent)."),
  referrerPolicy: z.enum(["no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin", "no-referrer-when-downgrade", "off"]).default("strict-origin-when-cross-origin").describe("Referrer-Policy (\"off\": not sent)."),
  contentSecurityPolicy: quotable("a Content-Security-Policy", 2048).optional().describe("Content-Security-Policy, as the site needs it (no default: a wrong one breaks the site)."),
}).meta({ id: "SecurityHeaders" });

/** Users whose password hashes (crypt(3), e.g. openssl passwd -6) come from the environment: never in the topology. */
export const Userlist = z.strictObject({
  name: Name.describe("The name routes give in auth.userlist."),
  users: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, { error: (iss) => `${show(iss.input)} is not a user name: use 1 to 64 letters, digits or "_.@-"` }).describe("The user name clients log in with."),
        passwordHashFromEnv: z.string().regex(/^[A-Z_][A-Z0-9_]{0,127}$/, { error: (iss) => `${show(iss.input)} is not an environment variable name: use capitals, digits and "_"` }).describe("The environment variable holding the user's password hash (\"$6$...\"), read by HAProxy as it starts."),
      }),
    )
    .min(1, { error: "a userlist needs at least one user" }).describe("Its users."),
}).meta({ id: "Userlist" });

/** The environment variables holding the userlists' password hashes (each read by HAProxy as it parses its config). */
export const loginHashVariables = (topology: { userlists: readonly z.output<typeof Userlist>[] }): string[] => [...new Set(topology.userlists.flatMap((list) => list.users.map((u) => u.passwordHashFromEnv)))];

/** Basic authentication in front of a route: a client without a valid login gets 401 and the realm. */
export const RouteAuth = z.strictObject({
  userlist: Name.describe("The userlist whose users may pass."),
  realm: z.string().regex(/^[A-Za-z0-9 _.,:-]{1,64}$/, { error: (iss) => `${show(iss.input)} is not a realm: use 1 to 64 letters, digits, spaces or "_.,:-"` }).describe("The realm the browser's login prompt shows."),
}).meta({ id: "RouteAuth" });

/**
 * A limit counted in a stick table of its own: requests or HTTP errors per key (the client's address,
 * the path, or a header's value), for the requests that meet `when`; past it, 429 until the rate
 * falls. Or connections per client address, counted as each opens: past the limit the connection is
 * closed before anything is read from it (no TLS handshake, no 429: a flood is refused at its
 * cheapest), in TCP frontends too. HAProxy 2.6 tracks three counters per request: the frontend's
 * rateLimit takes one, so a frontend has at most two of these.
 */
export const RATE_LIMIT_COUNTS = ["requests", "errors", "connections"] as const;
export const KeyedRateLimit = z.strictObject({
  name: Name.describe("What the plan, the metrics and verify call it."),
  key: z.union([z.enum(["source", "path"]), z.strictObject({ header: HeaderName.describe("The header whose value is the key.") })], { error: 'a rate limit\'s key is "source", "path" or { header: NAME }' }).describe("What is counted per: the client's address (\"source\"), the path, or a header's value."),
  count: z.enum(RATE_LIMIT_COUNTS).default("requests").describe("What is counted: requests, answers with an HTTP error status (4xx, as HAProxy's http_err_rate counts them), or connections opened."),
  limit: z.number().int().min(1).max(10_000_000).describe("How many in a window pass; the next get 429 (a connection past the limit is closed)."),
  window: z.string().regex(/^[0-9]{1,7}(ms|s|m|h|d)$/, { error: (iss) => `${show(iss.input)} is not a duration: use e.g. "10s" or "1m"` }).default("10s").describe("The period the rate is measured over."),
  when: Condition.optional().describe("Only requests (or connections) that meet this are counted and limited; absent: all."),
  tableSize: z.number().int().min(1).max(100_000_000).default(100_000).describe("Keys tracked at once."),
}).meta({ id: "KeyedRateLimit" });
export type KeyedRateLimit = z.output<typeof KeyedRateLimit>;
/** The stick counters a frontend's keyed limits may use: sc0 is the frontend's rateLimit's. */
export const KEYED_RATE_LIMIT_COUNTERS = [1, 2] as const;
/** What a connection-rate limit's condition can test: a connection has no request yet, only its addresses. */
export const CONNECTION_CONDITION_KINDS: readonly ConditionKind[] = ["source", "destinationPort", "all", "any", "not", "condition"];

/** The things a route can do with a request it takes: exactly one. */
export const ROUTE_ACTIONS = ["backend", "redirect", "respond", "deny", "tarpit", "table", "service"] as const;
export type RouteActionKind = (typeof ROUTE_ACTIONS)[number];

export const Route = z
  .strictObject({
    name: Name.optional().describe("What the plan and verify call it; \"routes.<index>\" otherwise."),
    when: Condition.optional().describe("Which requests the route takes; absent: every request that reaches it."),
    backend: Name.optional().describe("Send the request to this backend."),
    redirect: Redirect.optional().describe("Send the client elsewhere (a 3xx answer)."),
    respond: Respond.optional().describe("Answer the request from HAProxy itself, without a server."),
    deny: Refusal.optional().describe("Refuse the request with this status (403 by default)."),
    tarpit: Refusal.optional().describe("Hold the request for timeouts.tarpit, then refuse it: slows down a client that scans."),
    table: Name.optional().describe("Look the request up in this route table; a request the table does not hold goes on to the next route."),
    service: LuaName.optional().describe("Answer with this service, registered by one of lua.scripts (core.register_service)."),
    auth: RouteAuth.optional().describe("A login from a userlist before the route's action: 401 without one."),
  })
  .superRefine((route, ctx) => {
    const given = ROUTE_ACTIONS.filter((k) => route[k] !== undefined);
    if (given.length !== 1) ctx.addIssue({ code: "custom", message: `a route does exactly one of ${ROUTE_ACTIONS.join(", ")}${given.length ? ` (found ${given.join(" and ")})` : ""}` });
  }).meta({ id: "Route" });

export const RouteTableEntry = z.strictObject({
  host: ExactHost.describe("The exact host name."),
  pathPrefix: RoutePath.optional().describe("With key \"host+path\": the path prefix (on segment boundaries); the longest that fits wins."),
  backend: Name.describe("The backend that serves it."),
}).meta({ id: "RouteTableEntry" });

/**
 * Many routes of one shape kept in a map file: a host, or a host and a path prefix, to a backend.
 * Entries change through the runtime API (no reload), and the file is written in the same step.
 */
export const RouteTable = z.strictObject({
  name: Name.describe("The name a route gives in { table }."),
  key: z.enum(["host", "host+path"], { error: (iss) => `${show(iss.input)} is not a table key: use "host" or "host+path"` }).default("host").describe("What the table is looked up by: the Host, or the Host and the longest path prefix."),
  entries: z.array(RouteTableEntry).default([]).describe("Its entries; changed at runtime when only they change (no reload)."),
}).meta({ id: "RouteTable" });

export type Route = z.output<typeof Route>;
export type RouteTable = z.output<typeof RouteTable>;
export type RouteTableEntry = z.output<typeof RouteTableEntry>;
export type Redirect = z.output<typeof Redirect>;

/** What a route does, by kind. */
export const routeAction = (route: Route): RouteActionKind => ROUTE_ACTIONS.find((k) => route[k] !== undefined)!;

/** A table entry's key as HAProxy's map holds it: the host, lower-case, then the path prefix and "/" (see the renderer). */
export function tableEntryKey(table: Pick<RouteTable, "key">, entry: Pick<RouteTableEntry, "host" | "pathPrefix">): string {
  const host = entry.host.toLowerCase();
  if (table.key === "host") return host;
  return `${host}${(entry.pathPrefix ?? "/").replace(/\/+$/, "")}/`;
}

/** The server names a condition asks for by SNI, wherever they stand in it (named conditions written out first). */
export const sniNamesIn = (c: Condition): string[] => [...asList(c.sni), ...(c.all ?? []).flatMap(sniNamesIn), ...(c.any ?? []).flatMap(sniNamesIn)];

/** The condition kinds a value list belongs to, for the resolver and the renderer. */
export const asList = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

// --- cross-references -------------------------------------------------------------------------------

type Path = (string | number)[];
interface PathIssue {
  path: Path;
  message: string;
}

interface FrontendRouting {
  name?: unknown;
  defaultBackend?: unknown;
  conditions?: Record<string, Condition>;
  routes?: Route[];
  routeTables?: RouteTable[];
  requestRules?: Rule[];
  responseRules?: Rule[];
  afterResponseRules?: Rule[];
  rateLimits?: KeyedRateLimit[];
}

/**
 * Rules in their place: a request rule cannot set a status, a response rule cannot rewrite the
 * request; a condition names only conditions that exist (a backend has none of its own).
 */
export function ruleIssues(proxy: Partial<Record<RuleList, unknown>>, at: Path, named: Readonly<Record<string, Condition>> | undefined): PathIssue[] {
  const issues: PathIssue[] = [];
  for (const list of RULE_LISTS) {
    const rules = Array.isArray(proxy[list]) ? (proxy[list] as Rule[]) : [];
    const wrong = NOT_IN[list];
    rules.forEach((rule, i) => {
      if (!rule || typeof rule !== "object") return;
      for (const action of wrong.actions) if (rule[action] !== undefined) issues.push({ path: [...at, list, i, action], message: `${action} ${wrong.why}: move the rule to ${REQUEST_ONLY_ACTIONS.includes(action) ? "requestRules" : wrong.instead}` });
      for (const name of referencedNames(rule.when)) {
        if (!named || !(name in named)) issues.push({ path: [...at, list, i, "when"], message: named ? `${show(name)} is not one of this frontend's conditions; known: ${Object.keys(named).join(", ") || "(none)"}` : `${show(name)}: a backend has no named conditions; write the condition out` });
      }
    });
  }
  return issues;
}

/** Named conditions referred to by `condition`, in a condition tree. */
function referencedNames(condition: Condition | undefined): string[] {
  if (!condition || typeof condition !== "object") return [];
  if (typeof condition.condition === "string") return [condition.condition];
  return [...(Array.isArray(condition.all) ? condition.all : []), ...(Array.isArray(condition.any) ? condition.any : []), ...(condition.not ? [condition.not] : [])].flatMap(referencedNames);
}

/** A condition with every named condition written out (the names are known and acyclic). */
export function expandCondition(condition: Condition, named: Readonly<Record<string, Condition>>): Condition {
  if (condition.condition !== undefined) return expandCondition(named[condition.condition]!, named);
  if (condition.all) return { all: condition.all.map((c) => expandCondition(c, named)) };
  if (condition.any) return { any: condition.any.map((c) => expandCondition(c, named)) };
  if (condition.not) return { not: expandCondition(condition.not, named) };
  return condition;
}

/** The kinds a condition tests with its named conditions written out; none when a name is unknown (reported on its own). */
function expandedKinds(condition: Condition, named: Readonly<Record<string, Condition>>): ConditionKind[] {
  try {
    return kindsIn(expandCondition(condition, named));
  } catch {
    return [];
  }
}

/** Why a condition is too big to render, or undefined (also when a name in it is unknown: reported on its own). */
function sizeProblem(condition: Condition, named: Readonly<Record<string, Condition>>): string | undefined {
  let terms: Terms;
  try {
    terms = conditionTerms(expandCondition(condition, named));
  } catch {
    return undefined;
  }
  if (terms.length > MAX_CONDITION_TERMS) return `this condition becomes more than ${MAX_CONDITION_TERMS} alternatives in HAProxy's terms (all of several any's multiply): split it into several routes`;
  const longest = Math.max(...terms.map((t) => t.length));
  if (longest > MAX_TERM_LITERALS) return `this condition needs ${longest} tests at once, more than the ${MAX_TERM_LITERALS} HAProxy can read on one line: split it into several routes`;
  return undefined;
}

/**
 * A frontend's routing against the rest of the topology: backends and tables that exist, named
 * conditions that exist and do not refer to themselves, table keys given once, routes that can match.
 * Reads defensively: zod calls it even when fields failed their own checks.
 */
export function routingIssues(frontend: FrontendRouting, at: Path, backendNames: readonly string[], mode: "http" | "tcp" = "http"): PathIssue[] {
  const issues: PathIssue[] = [];
  issues.push(...modeIssues(frontend, at, mode));
  const named = frontend.conditions && typeof frontend.conditions === "object" ? frontend.conditions : {};
  const routes = Array.isArray(frontend.routes) ? frontend.routes : [];
  const tables = Array.isArray(frontend.routeTables) ? frontend.routeTables : [];
  const knownBackends = backendNames.join(", ") || "(none)";
  const checkBackend = (name: unknown, path: Path) => {
    if (typeof name === "string" && !backendNames.includes(name)) issues.push({ path, message: `${show(name)} is not a backend; known: ${knownBackends}` });
  };
  const checkReferences = (condition: Condition | undefined, path: Path) => {
    for (const name of referencedNames(condition)) {
      if (!(name in named)) issues.push({ path, message: `${show(name)} is not one of this frontend's conditions; known: ${Object.keys(named).join(", ") || "(none)"}` });
    }
  };

  // Named conditions: known names, no cycle (a condition that needs itself can never be decided).
  const cyclic = new Set<string>();
  const visit = (name: string, trail: string[]) => {
    if (trail.includes(name)) return void cyclic.add(trail[0]!);
    for (const next of referencedNames(named[name])) if (next in named) visit(next, [...trail, name]);
  };
  for (const [name, condition] of Object.entries(named)) {
    checkReferences(condition, [...at, "conditions", name]);
    visit(name, []);
  }
  for (const name of cyclic) issues.push({ path: [...at, "conditions", name], message: `condition ${show(name)} refers to itself (through ${referencedNames(named[name]).join(", ")}): a condition cannot depend on its own answer` });

  const limits = Array.isArray(frontend.rateLimits) ? frontend.rateLimits : [];
  const limitNames = new Set<string>();
  limits.forEach((limit, l) => {
    if (!limit) return;
    if (limitNames.has(limit.name)) issues.push({ path: [...at, "rateLimits", l, "name"], message: `${show(limit.name)} is used twice among the rate limits: names must be unique` });
    limitNames.add(limit.name);
    checkReferences(limit.when, [...at, "rateLimits", l, "when"]);
    if (limit.count !== "connections") return;
    if (limit.key !== "source") issues.push({ path: [...at, "rateLimits", l, "key"], message: 'a connection is counted as it opens, before any request is read: key it by "source"' });
    const tested = cyclic.size === 0 && limit.when ? expandedKinds(limit.when, named) : [];
    const unknowable = [...new Set(tested.filter((k) => !CONNECTION_CONDITION_KINDS.includes(k)))];
    if (unknowable.length) issues.push({ path: [...at, "rateLimits", l, "when"], message: `${unknowable.join(", ")}: a connection is counted before anything is read from it: test only source or destinationPort` });
  });

  const tableNames = new Set<string>();
  tables.forEach((table, t) => {
    if (!table || typeof table.name !== "string") return;
    if (tableNames.has(table.name)) issues.push({ path: [...at, "routeTables", t, "name"], message: `${show(table.name)} is used twice among the route tables: names must be unique` });
    tableNames.add(table.name);
    if (!routes.some((r) => r?.table === table.name)) issues.push({ path: [...at, "routeTables", t, "name"], message: `no route looks table ${show(table.name)} up: add a route { table: ${show(table.name)} } where it should take its turn` });
    const keys = new Map<string, number>();
    (Array.isArray(table.entries) ? table.entries : []).forEach((entry, e) => {
      if (!entry || typeof entry.host !== "string") return;
      const path: Path = [...at, "routeTables", t, "entries", e];
      checkBackend(entry.backend, [...path, "backend"]);
      if (table.key === "host" && entry.pathPrefix !== undefined) issues.push({ path: [...path, "pathPrefix"], message: `table ${show(table.name)} is keyed by host alone: remove pathPrefix, or set the table's key to "host+path"` });
      const key = tableEntryKey(table, entry);
      const first = keys.get(key);
      if (first !== undefined) issues.push({ path: [...path, "host"], message: `${show(entry.host)}${entry.pathPrefix ? ` ${show(entry.pathPrefix)}` : ""} is already an entry of table ${show(table.name)} (entry ${first}): give each key once` });
      else keys.set(key, e);
    });
  });

  // The first route that takes every request, and the first that takes each condition: what a later route can be shadowed by.
  let takesAll: number | undefined;
  const firstWith = new Map<string, number>();
  routes.forEach((route, r) => {
    if (!route || typeof route !== "object") return;
    const path: Path = [...at, "routes", r];
    checkReferences(route.when, [...path, "when"]);
    const tooBig = route.when && cyclic.size === 0 ? sizeProblem(route.when, named) : undefined;
    if (tooBig) issues.push({ path: [...path, "when"], message: tooBig });
    checkBackend(route.backend, [...path, "backend"]);
    if (typeof route.table === "string" && !tables.some((t) => t?.name === route.table)) {
      issues.push({ path: [...path, "table"], message: `${show(route.table)} is not one of this frontend's route tables; known: ${[...tableNames].join(", ") || "(none)"}` });
    }
    // A route after one that takes the same requests (or every request) can never match. A table
    // route passes what it does not hold on, so it shadows nothing.
    const key = JSON.stringify(route.when);
    const candidates = [takesAll, firstWith.get(key)].filter((i): i is number => i !== undefined);
    const shadow = candidates.length ? Math.min(...candidates) : -1;
    if (route.table === undefined) {
      if (route.when === undefined) takesAll ??= r;
      else if (!firstWith.has(key)) firstWith.set(key, r);
    }
    if (shadow >= 0) {
      const earlier = routes[shadow]!;
      issues.push({ path, message: `this route can never match: route ${shadow}${earlier.name ? ` (${show(earlier.name)})` : ""} takes ${earlier.when === undefined ? "every request" : "the same requests"} first; remove it or move it before route ${shadow}` });
    }
  });

  if (frontend.defaultBackend === undefined) {
    const last = routes.at(-1);
    const catchAll = last !== undefined && last.when === undefined && last.table === undefined;
    if (!catchAll) issues.push({ path: [...at, "defaultBackend"], message: `requests that no route takes have nowhere to go: add defaultBackend, or end the routes with one that has no when` });
  }
  return issues;
}

/** The condition kinds used in a tree, named conditions not written out. */
export function kindsIn(condition: Condition | undefined): ConditionKind[] {
  if (!condition || typeof condition !== "object") return [];
  const own = CONDITION_KINDS.filter((k) => (condition as Record<string, unknown>)[k] !== undefined);
  return [...own, ...[...(Array.isArray(condition.all) ? condition.all : []), ...(Array.isArray(condition.any) ? condition.any : []), ...(condition.not ? [condition.not] : [])].flatMap(kindsIn)];
}

/** The route actions a TCP frontend can take: it sees a connection, not a request to answer. */
export const TCP_ROUTE_ACTIONS: readonly RouteActionKind[] = ["backend", "deny"];

/** What a frontend's mode cannot do: HTTP tests in a TCP frontend, ClientHello tests in an HTTP one, answers without HTTP. */
function modeIssues(frontend: FrontendRouting, at: Path, mode: "http" | "tcp"): PathIssue[] {
  const issues: PathIssue[] = [];
  const wrongKinds = mode === "tcp" ? HTTP_CONDITION_KINDS : TCP_CONDITION_KINDS;
  const why = mode === "tcp" ? "a TCP frontend sees no HTTP request: use sni, alpn, source or destinationPort, or mode http" : "an HTTP frontend terminates TLS itself: match the host instead, or use mode tcp to pass TLS through";
  const checkKinds = (condition: Condition | undefined, path: Path) => {
    const wrong = [...new Set(kindsIn(condition).filter((k) => wrongKinds.includes(k)))];
    if (wrong.length) issues.push({ path, message: `${wrong.join(", ")}: ${why}` });
  };
  const named = frontend.conditions && typeof frontend.conditions === "object" ? frontend.conditions : {};
  for (const [name, condition] of Object.entries(named)) checkKinds(condition, [...at, "conditions", name]);
  (Array.isArray(frontend.routes) ? frontend.routes : []).forEach((route, r) => {
    if (!route || typeof route !== "object") return;
    checkKinds(route.when, [...at, "routes", r, "when"]);
    if (mode !== "tcp") return;
    const action = ROUTE_ACTIONS.find((k) => route[k] !== undefined);
    if (action !== undefined && !TCP_ROUTE_ACTIONS.includes(action)) issues.push({ path: [...at, "routes", r, action], message: `${action} needs HTTP: a TCP frontend's routes send to a backend or deny` });
    if (route.auth !== undefined) issues.push({ path: [...at, "routes", r, "auth"], message: "a login is asked over HTTP: a TCP frontend cannot ask one" });
  });
  if (mode === "tcp" && Array.isArray(frontend.routeTables) && frontend.routeTables.length > 0) issues.push({ path: [...at, "routeTables"], message: "route tables look up the Host header: a TCP frontend has none; use routes with sni" });
  return issues;
}

// --- the condition as HAProxy can say it ---------------------------------------------------------------

/** A condition of one kind other than all/any/not/condition: what one named ACL tests. */
export type LeafCondition = Omit<Condition, "all" | "any" | "not" | "condition">;
export interface Literal {
  leaf: LeafCondition;
  negated: boolean;
}
/** Disjunctive normal form: any of these conjunctions, each all of its literals (HAProxy's "a b || c !d"). */
export type Terms = Literal[][];

/** The most conjunctions one route's condition may become (a line each in the config): beyond, past reading. */
export const MAX_CONDITION_TERMS = 64;
/** The most tests one conjunction may hold: HAProxy reads 64 words on a line, and the rule itself takes a few. */
export const MAX_TERM_LITERALS = 50;

/**
 * A condition (named ones written out) in disjunctive normal form, since HAProxy's conditions have
 * no parentheses; `not` moves inwards by De Morgan. Stops growing at MAX_CONDITION_TERMS + 1.
 */
export function conditionTerms(condition: Condition, negated = false): Terms {
  const cap = (terms: Terms) => terms.slice(0, MAX_CONDITION_TERMS + 1);
  const product = (parts: Terms[]): Terms => cap(parts.reduce<Terms>((acc, part) => acc.flatMap((left) => part.map((right) => [...left, ...right])), [[]]));
  const union = (parts: Terms[]): Terms => cap(parts.flat());
  if (condition.not) return conditionTerms(condition.not, !negated);
  if (condition.all) return (negated ? union : product)(condition.all.map((c) => conditionTerms(c, negated)));
  if (condition.any) return (negated ? product : union)(condition.any.map((c) => conditionTerms(c, negated)));
  return [[{ leaf: condition, negated }]];
}
