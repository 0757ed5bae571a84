// A frontend's routes in HAProxy's words. HAProxy runs every http-request rule before any
// use_backend, whatever their order in the file, so first-match is made explicit: each route in
// turn marks the request as its own (txn.route) when it meets the condition and no earlier route
// took it, and each action then runs only for the route that took the request.
import { parseDuration } from "../../haproxy/duration.ts";
import { KEYED_RATE_LIMIT_COUNTERS, answerKind, conditionTerms, type BackendAnswer, expandCondition, routeAction, tableEntryKey, type Route, type RouteTable, type RuleList, type Terms } from "../model/routing.ts";
import { canaryServerNames, type Backend, type Frontend, type Topology } from "../model/schema.ts";
import { forwardedHeaderRules, rulesView, securityHeaderRules } from "./rules.ts";
import { AclNames, HOST_KEY, conjunctionText, quote, quoteLogFormat } from "./acls.ts";
import { ERROR_PAGE_DIR } from "./targets.ts";

/** The directory, beside haproxy.cfg, that holds the route tables' map files. */
export const MAP_DIR = "maps";

export interface RoutingView {
  /** "name criterion" for each acl line, in order (an ACL with several lines matches if any does). */
  acls: string[];
  /** The http-request rules: the first-match marks, then the actions that answer by themselves. */
  requestRules: string[];
  /** http-request rules before any line that may answer (the afterResponseRules' marks). */
  earlyRequestRules: string[];
  /** A TCP frontend's tcp-request rules (its marks, its refusals), without the keyword. */
  tcpRequestRules: string[];
  /** use_backend lines, without the keyword. */
  useBackends: string[];
  /** http-response rules, without the keyword. */
  responseRules: string[];
  /** http-after-response rules (on HAProxy's own answers too), without the keyword. */
  afterResponseRules: string[];
}

/** A map file: its path relative to the config's directory, and its lines. */
export interface MapFile {
  path: string;
  content: string;
}

/** The ACL that says a table holds the request's key (a table's name is unique in its frontend). */
const tableHeldAcl = (table: string) => `in_table_${table}`;
/** The variable a table's answer for this request is kept in: looked up once, used by the mark and by use_backend. */
const tableVar = (table: string) => `txn.table_${table}`;

/** The variable that holds which route took the request. */
const ROUTE_VAR = "txn.route";
/** The variable the host+path tables' key is built from (concat takes a variable, not a fetch). */
const PATH_VAR = "txn.route_path";

/** The map file a route table is kept in. */
export const tableMapPath = (frontend: string, table: string) => `${MAP_DIR}/${frontend}.${table}.map`;

/** How a table's key is looked up: the host, or host + path + "/" matched by longest prefix. */
function tableLookup(frontend: string, table: RouteTable): string {
  const file = tableMapPath(frontend, table.name);
  return table.key === "host" ? `${HOST_KEY},map(${file})` : `${HOST_KEY},concat(,${PATH_VAR},/),map_beg(${file})`;
}

/** The lines of a table's map file: longest keys first (the order a reader expects the most specific in). */
export function mapFileLines(table: RouteTable): string[] {
  return table.entries
    .map((e) => ({ key: tableEntryKey(table, e), backend: e.backend }))
    .sort((a, b) => b.key.length - a.key.length || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((e) => `${e.key} ${e.backend}`);
}

/**
 * The ACME HTTP-01 tokens the issuer is answering: token → key authorization, added and deleted at
 * runtime; on disk it starts empty (a challenge lives seconds, and a reload meanwhile only retries it).
 */
export const ACME_CHALLENGE_MAP = `${MAP_DIR}/acme-challenges.map`;

/** Every map file the config names (the route tables', the ACME challenges'), to be written beside it. */
export function mapFiles(topology: Pick<Topology, "frontends" | "certificates">): MapFile[] {
  return [
    ...topology.frontends.flatMap((f) => f.routeTables.map((t) => ({ path: tableMapPath(f.name, t.name), content: mapFileLines(t).map((l) => `${l}\n`).join("") }))),
    ...(topology.certificates.length > 0 ? [{ path: ACME_CHALLENGE_MAP, content: "" }] : []),
  ];
}

/** The anonymous ACL an action runs under: this route took the request. */
export const took = (index: number) => `{ var(${ROUTE_VAR}) -m int ${index} }`;

/** An answer HAProxy gives itself (a redirect, a response, a refusal) as an http-request rule, without its condition. */
export function answerRule(answer: BackendAnswer): string {
  switch (answerKind(answer)) {
    case "redirect": {
      const r = answer.redirect!;
      const target = r.location !== undefined ? `location ${quoteLogFormat(r.location)}` : r.prefix !== undefined ? `prefix ${quoteLogFormat(r.prefix)}` : `scheme ${r.scheme}`;
      return `redirect ${target} code ${r.code}${r.dropQuery ? " drop-query" : ""}`;
    }
    case "respond": {
      const r = answer.respond!;
      const body = r.body !== undefined ? ` content-type ${quote(r.contentType)} string ${quote(r.body)}` : r.bodyFile !== undefined ? ` content-type ${quote(r.contentType)} file ${ERROR_PAGE_DIR}/${r.bodyFile}` : "";
      return `return status ${r.status}${body}`;
    }
    case "deny":
      return `deny deny_status ${answer.deny!.status}`;
    case "tarpit":
      return `tarpit deny_status ${answer.tarpit!.status}`;
  }
}

function actionRule(route: Route, index: number, mode: "http" | "tcp"): { requestRule?: string; useBackend?: string } {
  const when = `if ${took(index)}`;
  if (mode === "tcp" && routeAction(route) === "deny") return { requestRule: `content reject ${when}` };
  switch (routeAction(route)) {
    case "backend":
      return { useBackend: `${route.backend} ${when}` };
    case "table":
      return { useBackend: `%[var(${tableVar(route.table!)})] ${when}` };
    case "service":
      return { requestRule: `use-service lua.${route.service} ${when}` };
    default:
      return { requestRule: `${answerRule(route)} ${when}` };
  }
}

/** The ACL that says an earlier route took the request. */
const ROUTE_TAKEN_ACL = "route_taken";

/**
 * `reservedAcls`: the ACL names the frontend's other rules define. Each conjunction of a route's
 * condition gets a line of its own: HAProxy reads at most 64 words on a line, and "||" chains of a
 * nested condition reach that quickly.
 */
export function routingView(frontend: Frontend, reservedAcls: readonly string[], mode: "http" | "tcp" = "http"): RoutingView {
  const acls = new AclNames(frontend.conditions, [...reservedAcls, ROUTE_TAKEN_ACL, ...frontend.routeTables.map((t) => tableHeldAcl(t.name))]);
  const definitions: string[] = [];
  const marks: string[] = [];
  const auth: string[] = [];
  const actions: string[] = [];
  const useBackends: string[] = [];
  if (frontend.routes.length > 0) definitions.push(`${ROUTE_TAKEN_ACL} var(${ROUTE_VAR}) -m found`);
  if (frontend.routeTables.some((t) => t.key === "host+path")) marks.push(`set-var(${PATH_VAR}) path`);
  for (const table of frontend.routeTables) {
    definitions.push(`${tableHeldAcl(table.name)} var(${tableVar(table.name)}) -m found`);
    marks.push(`set-var(${tableVar(table.name)}) ${tableLookup(frontend.name, table)}`);
  }
  frontend.routes.forEach((route, index) => {
    const held = route.table !== undefined ? [tableHeldAcl(route.table)] : [];
    const terms: Terms = route.when ? conditionTerms(expandCondition(route.when, frontend.conditions)) : [[]];
    for (const conjunction of terms) marks.push(`set-var(${ROUTE_VAR}) int(${index}) if ${["!" + ROUTE_TAKEN_ACL, ...held, ...conjunctionText(conjunction, acls)].join(" ")}`);
    // A login first: the action runs only for a client that has one.
    if (route.auth) auth.push(`auth realm ${quote(route.auth.realm)} if ${took(index)} !{ http_auth(${route.auth.userlist}) }`);
    const { requestRule, useBackend } = actionRule(route, index, mode);
    if (requestRule) actions.push(requestRule);
    if (useBackend) useBackends.push(useBackend);
  });
  if (mode === "tcp") {
    // The marks wait for the ClientHello their SNI or ALPN tests need, up to the inspect delay.
    const limits = rateLimitRules(frontend, acls); // before acls.lines is read: its conditions name ACLs too
    const readsHello = frontend.routes.some((r) => r.when && conditionTerms(expandCondition(r.when, frontend.conditions)).some((t) => t.some((l) => l.leaf.sni !== undefined || l.leaf.alpn !== undefined)));
    return {
      acls: [...definitions, ...acls.lines],
      requestRules: [],
      tcpRequestRules: [...limits.connection, ...(readsHello ? [`inspect-delay ${frontend.inspectDelay}`] : []), ...marks.map((m) => `content ${m}`), ...actions],
      useBackends,
      earlyRequestRules: [],
      responseRules: [],
      afterResponseRules: [],
    };
  }
  // The rules' conditions are decided here too, on the request as it came, before any rule rewrites it.
  const rules = rulesView(frontend, acls, frontend.conditions, "fe");
  const limits = rateLimitRules(frontend, acls);
  return {
    acls: [...definitions, ...acls.lines],
    requestRules: [...marks, ...rules.marks, ...limits.request, ...auth, ...actions, ...forwardedHeaderRules(frontend.forwardedHeaders), ...rules.request],
    tcpRequestRules: limits.connection,
    useBackends,
    earlyRequestRules: rules.earlyMarks,
    responseRules: rules.response,
    // The user's last: what they say of a header has the final word over the stack's own.
    afterResponseRules: [...limits.afterResponse, ...securityHeaderRules(frontend.securityHeaders), ...rules.afterResponse],
  };
}

/** The section a keyed rate limit's stick table lives in (HAProxy: one table per proxy section). */
export const rateLimitTable = (frontend: string, limit: string) => `rate_${frontend}_${limit}`;

/**
 * What a stick table of the topology's own says to be shared through the peers (" peers NAME"), or
 * nothing. The canary's slow-answer table is not among them: its counts are this HAProxy's own.
 */
export const tableSharing = (peers: Pick<NonNullable<Topology["peers"]>, "name"> | undefined): string => (peers ? ` peers ${peers.name}` : "");

/** The stick-table sections of every frontend's keyed rate limits. */
export function rateLimitTables(frontends: readonly Frontend[], peers?: Topology["peers"]): { name: string; table: string }[] {
  return frontends.flatMap((f) =>
    f.rateLimits.map((limit) => ({
      name: rateLimitTable(f.name, limit.name),
      table: `stick-table type ${limit.key === "source" ? "ipv6" : "string len 256"} size ${limit.tableSize} expire ${limit.window} store ${RATE_COUNTERS[limit.count]}(${limit.window})${tableSharing(peers)}`,
    })),
  );
}

/** The rate a stick table stores for what a limit counts. */
const RATE_COUNTERS = { requests: "http_req_rate", errors: "http_err_rate", connections: "conn_rate" } as const;

/**
 * Tracking, the refusal past the limit (429) and its Retry-After, for each keyed rate limit on its own
 * counter; a connection-rate limit's tracking and refusal are tcp-request connection rules, which
 * HAProxy runs as a connection opens (before a TLS handshake), so they come first in any frontend.
 */
function rateLimitRules(frontend: Frontend, acls: AclNames): { connection: string[]; request: string[]; afterResponse: string[] } {
  const connection: string[] = [];
  const request: string[] = [];
  const afterResponse: string[] = [];
  frontend.rateLimits.forEach((limit, j) => {
    const counter = KEYED_RATE_LIMIT_COUNTERS[j]!;
    if (limit.count === "connections") {
      // No variable to carry the condition at this stage: a track line per conjunction (the first that tracks wins), and an untracked counter has no rate.
      const terms = limit.when ? conditionTerms(expandCondition(limit.when, frontend.conditions)) : [[]];
      for (const conjunction of terms) connection.push(`connection track-sc${counter} src table ${rateLimitTable(frontend.name, limit.name)}${conjunction.length ? ` if ${conjunctionText(conjunction, acls).join(" ")}` : ""}`);
      connection.push(`connection reject if { sc_conn_rate(${counter}) gt ${limit.limit} }`);
      return;
    }
    const key = limit.key === "source" ? "src" : limit.key === "path" ? "path" : `req.hdr(${limit.key.header})`;
    const [applies, hit] = [`txn.limit_${j}`, `txn.limit_${j}_hit`];
    if (limit.when) for (const conjunction of conditionTerms(expandCondition(limit.when, frontend.conditions))) request.push(`set-var(${applies}) bool(true)${conjunction.length ? ` if ${conjunctionText(conjunction, acls).join(" ")}` : ""}`);
    request.push(`track-sc${counter} ${key} table ${rateLimitTable(frontend.name, limit.name)}${limit.when ? ` if { var(${applies}) -m bool }` : ""}`);
    request.push(`set-var(${hit}) bool(true) if { sc_${RATE_COUNTERS[limit.count]}(${counter}) gt ${limit.limit} }`);
    request.push(`deny deny_status 429 if { var(${hit}) -m bool }`);
    afterResponse.push(`set-header Retry-After ${Math.ceil(parseDuration(limit.window) / 1000)} if { var(${hit}) -m bool }`);
  });
  return { connection, request, afterResponse };
}

/** A backend's rules: its own ACLs (a backend section cannot see the frontend's), its own marks. */
export type BackendRulesView = Omit<RoutingView, "useBackends" | "earlyRequestRules"> & {
  /**
   * "web-c if acl_1": requests a canary's pin matches, to its servers. Listed servers share them at
   * random; HAProxy skips a rule whose server is down or empty, so each server's own rule follows
   * as a fallback (a group's slots have only these: the first slot in traffic takes them).
   */
  useServers: string[];
};

/** Where a canary's slow answers are counted: the stick counter free for it, and the table. */
export interface SlowAnswerCounting {
  counter: number;
  table: string;
}

/**
 * A canary's response-time check, HAProxy's part: each answer slower than the bound (Tr, the
 * server's time to its response headers) counts on its server's entry, before any other response rule.
 */
function slowAnswerRules(boundMs: number, counting: SlowAnswerCounting): string[] {
  const slow = `{ var(${SLOW_ANSWER_VAR}) -m int gt ${boundMs} }`;
  return [`set-var-fmt(${SLOW_ANSWER_VAR}) "%Tr"`, `track-sc${counting.counter} srv_name table ${counting.table} if ${slow}`, `sc-inc-gpc0(${counting.counter}) if ${slow}`];
}
const SLOW_ANSWER_VAR = "txn.lb_response_ms";

export function backendRulesView(backend: Pick<Backend, RuleList | "canary" | "discovery" | "answer">, slowAnswers?: SlowAnswerCounting): BackendRulesView {
  const acls = new AclNames({}, []);
  const rules = rulesView(backend, acls, {}, "be");
  const useServers: string[] = [];
  const pin = backend.canary?.pin;
  if (pin) {
    const servers = canaryServerNames(backend);
    const spread = backend.canary!.group === undefined && servers.length > 1;
    for (const conjunction of conditionTerms(expandCondition(pin, {}))) {
      const test = conjunctionText(conjunction, acls).join(" ");
      if (spread) servers.forEach((server, i) => useServers.push(`${server} if ${test} { rand(${servers.length}) eq ${i} }`));
      servers.forEach((server) => useServers.push(`${server} if ${test}`));
    }
  }
  const counting = backend.canary && slowAnswers ? slowAnswerRules(backend.canary.analysis.maxResponseMs, slowAnswers) : [];
  // A backend without servers answers after its own request rules: the answer ends the request.
  const answer = backend.answer ? [answerRule(backend.answer)] : [];
  // Nothing answers in a backend before its marks: the afterResponseRules' marks stand with the others.
  return { acls: acls.lines, requestRules: [...rules.earlyMarks, ...rules.marks, ...rules.request, ...answer], responseRules: [...counting, ...rules.response], afterResponseRules: rules.afterResponse, tcpRequestRules: [], useServers };
}
