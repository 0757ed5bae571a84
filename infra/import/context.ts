// The importer's shared parts: what becomes of a line (Outcome), the topology being built (Draft),
// the section being read (Context), and the small readers of words, numbers and durations.
import type { Directive, Location, Section, Word } from "../../haproxy/config-parser.ts";
import { durationProblem } from "../../haproxy/duration.ts";

/** otherKind: the line belongs to the other kind of proxy (a defaults line replayed in a backend may be a frontend's). */
export type Outcome = { field: string; why?: string; normalised?: true } | { decided: string } | { refused: string; otherKind?: true };

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

/** A ring section as a log target: the syslog server it sends to, and what differs from the model's ring. */
export interface Ring {
  at: Location;
  server?: string;
  format?: string;
  /** Why a line of it reads otherwise in the model, by line. */
  normalised: Map<Location, string>;
  refused: Map<Location, string>;
  /** Set when a log line sends to it. */
  used?: boolean;
}

/** The pages of an http-errors section, read from the files its errorfile lines name. */
export interface HttpErrors {
  /** used: a frontend (or the defaults) takes the page with errorfiles. */
  pages: { status: number; name: string; text: string; at: Location; used?: boolean }[];
  refused: Map<Location, string>;
}

export interface Draft {
  global: Record<string, unknown> & { logs?: unknown[]; tls?: Record<string, unknown> };
  defaults: Record<string, unknown> & { timeouts: Record<string, string> };
  /** What a defaults section gives each frontend or backend that the model keeps per proxy. */
  proxyDefaults: { forwardfor?: boolean; balance?: string; httpReuse?: string; /** Timeouts the model keeps per frontend only (http-keep-alive). */ frontendTimeouts?: Record<string, string>; defaultServer?: string[]; connectionMode?: string; errorPages?: { status?: number; file: string }[] };
  frontends: Record<string, unknown>[];
  backends: Record<string, unknown>[];
  /** cache sections by name, with the line that opened each. */
  caches: Map<string, { at: Location; settings: Record<string, number> }>;
  /** resolvers sections by name: the model's resolver settings for a discovered group. */
  resolvers: Map<string, { at: Location; lines: Location[]; settings: Record<string, unknown> }>;
  /** Each frontend's request body limit (deny 413 on Content-Length), settled once every frontend is read: the model has one for all. */
  bodyLimits: { frontend: string; limit: number; at: Location }[];
  /** Keyed rate limits' tables (backend rate_FRONTEND_NAME sections), by section name, and the ones a limit used. */
  rateTables: Map<string, { at: Location[]; tableSize: number; window: string; count: string }>;
  rateTablesUsed: Set<string>;
  /** Each frontend's keyed limits, settled once every section is read (their tables come after the frontends). */
  pendingKeyedLimits: { frontend: Record<string, unknown> & { name: string }; limits: Context["keyedLimits"]; acls: Context["acls"] }[];
  /** ring sections by name (./sections.ts): a log line's TCP target. */
  rings: Map<string, Ring>;
  /** http-errors sections by name (./sections.ts): the pages a proxy takes with errorfiles. */
  httpErrors: Map<string, HttpErrors>;
  /** A log global line in defaults or a proxy: the original's proxies log their traffic. */
  proxiesLog?: boolean;
  /** userlist sections: logins for routes (http-request auth), each password hash from the environment. */
  userlists: Record<string, unknown>[];
  /** The stack's own monitoring listener, when the config is one the stack rendered. */
  monitoring?: Record<string, unknown>;
  /** The error pages the config names (errorfile), which the topology takes by file name: import copies them beside the templates'. */
  errorPages: { name: string; text: string }[];
  /** The Lua scripts the config loads (lua-load), which the topology takes by file name: import copies them beside the templates'. */
  luaScripts: { name: string; text: string }[];
  /** Listed servers resolved at runtime through a resolvers section (server ... resolvers NAME), settled once every section is read. */
  serverResolvers: { resolvers: string; at: Location }[];
  /** Discovered groups (server-template lines) waiting for their resolvers section, settled once every section is read. */
  groups: { backend: Record<string, unknown> & { name: string }; resolvers: string; at: Location }[];
  /**
   * peers sections, global's localpeer and every stick table with the section it names (./peers.ts),
   * settled once every section is read; model: the topology's peers, once settled.
   */
  peers: { sections: Section[]; localPeer?: { name: string; at: Location }; tables: { at: Location; peers?: string }[]; model?: Record<string, unknown> };
  /** Backends that use a cache (cache-use and cache-store lines), settled once every section is read. */
  cacheUses: { backend: Record<string, unknown> & { name: string }; cache: string; use?: Location; store?: Location }[];
}

/** A frontend's routes written the stack's way (./route-marks.ts), being read: each index's alternatives and its action. */
export interface RouteMarks {
  at: Location;
  routes: Map<number, { alternatives: (Record<string, unknown> | undefined)[]; action?: Record<string, unknown>; table?: string; auth?: Record<string, unknown>; at: Location }>;
}

export interface Context {
  files: ImportFiles;
  draft: Draft;
  /** The proxy being read: the frontend and/or backend a section fills. */
  frontend?: Record<string, unknown> & { name: string };
  backend?: Record<string, unknown> & { name: string };
  fieldLines: Map<string, Location>;
  /** A frontend's ACLs by name, until a rule uses them. */
  acls: Map<string, Record<string, unknown>[]>;
  /** The forwarded and security headers the stack writes, as the section's lines give them (./stack-headers.ts). */
  stackHeaders: { forwarded: Map<string, { at: Location; rulesBefore: number }>; security: Record<string, unknown> };
  /** The frontend's allowlist ACL (acl allowlisted src ...), until the refusal that uses it. */
  allowlist?: { networks: string[]; at: Location };
  /** The frontend's keyed rate limits as its lines give them (./keyed-limits.ts), settled once every rate table is read. */
  keyedLimits: { table: string; counter: number; key: unknown; alternatives: (Record<string, unknown> | undefined)[]; limit?: number; at: Location }[];
  /** The keyed limits' conditions (txn.limit_J marks), until the tracking that tests them. */
  limitMarks: Map<string, (Record<string, unknown> | undefined)[]>;
  /** Rules' conditions as the stack writes them (./rule-marks.ts): each mark's alternatives, until the rule that tests it. */
  ruleMarks: Map<string, (Record<string, unknown> | undefined)[]>;
  /** A backend's canary as its lines give it (./canary-lines.ts), until the section ends. */
  canary: { pins: { server: string; when: Record<string, unknown>; at: Location }[]; maxResponseMs?: number };
  /** Binds with accept-proxy, until a reject line says whom they take the PROXY header from. */
  proxyBinds: { bind: Record<string, unknown>; at: Location }[];
  /** The frontend's routes written the stack's way (marks and actions), until the section ends. */
  routeMarks?: RouteMarks;
  /** The section's request rewrites so far: what each changes ("path", "header:x-name") and its line. */
  rewrites: { changes: string; at: Location; directive: string }[];
  /** The section's refusals, denials, redirects and answers (http-request), as routes: before every use_backend. */
  terminalRoutes: Record<string, unknown>[];
  /** Each route a line of the section made, with the line: its place is known once the section is read. */
  routeLines: { route: Record<string, unknown>; at: Location }[];
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
  /**
   * A frontend's per-client rate limit, the three lines HAProxy needs for it: the model holds them as
   * one (rateLimit for requests, a rateLimits entry for connections). Each part says what it counts.
   */
  rate: { table?: RatePart & { size: number; window: string }; track?: RatePart & { counter: number }; deny?: RatePart & { counter: number; limit: number }; /** The limit as the stack writes it: a flag set past the limit, then the refusal and its Retry-After. */ flagged?: boolean };
  /** What each server line says that the model keeps per backend, to be the same on every server. */
  lifted: { at: Location; name: string; settings: Record<string, unknown> }[];
}

/** One line of a per-client rate limit, and what it counts. */
export interface RatePart {
  at: Location;
  counts: "requests" | "connections";
}

export const text = (d: Directive) => d.words.map((w) => w.raw).join(" ");
export const values = (words: readonly Word[]) => words.map((w) => w.value);

/** HAProxy reads a bare number as milliseconds; the model wants the unit written. */
export function duration(value: string | undefined): { value: string; normalised: boolean } | { problem: string } {
  if (value === undefined) return { problem: "a duration is missing" };
  const written = /^\d+$/.test(value) ? `${value}ms` : value;
  const problem = durationProblem(written);
  return problem ? { problem } : { value: written, normalised: written !== value };
}

/** A stick table's size as HAProxy reads it ("100k": 102400 entries). */
export const tableSize = (written: string) => Number(written.replace(/[kmg]$/, "")) * ({ k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[written.slice(-1)] ?? 1);

export const int = (value: string | undefined): number | undefined => (value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined);

export function setInt(target: Record<string, unknown>, key: string, value: string | undefined, field: string): Outcome {
  const n = int(value);
  if (n === undefined) return { refused: `${JSON.stringify(value ?? "")} is not a whole number` };
  target[key] = n;
  return { field };
}

export function setDuration(target: Record<string, unknown>, key: string, value: string | undefined, field: string): Outcome {
  const d = duration(value);
  if ("problem" in d) return { refused: d.problem };
  target[key] = d.value;
  return d.normalised ? { field, why: `${value} (milliseconds, as HAProxy reads a bare number) written ${d.value}`, normalised: true } : { field };
}

export type Refusal = { refused: string };
export const isRefusal = (x: object): x is Refusal => typeof (x as Partial<Refusal>).refused === "string";

/** A literal the model writes as it is: HAProxy would read "%" as the start of an expression. */
export const literal = (value: string | undefined, what: string): { value: string } | { refused: string } => {
  if (value === undefined) return { refused: `${what} is missing` };
  // "%%" is a literal "%" in a log-format string; any other "%" starts an expression.
  if (value.replace(/%%/g, "").includes("%")) return { refused: `${JSON.stringify(value)} is an expression (log-format): the model writes ${what} as it is` };
  return { value: value.replace(/%%/g, "%") };
};

/** Imports parsed files; nothing is thrown for a refused line: the accounts say which and why. */
/** What the importer reads besides the config: a file a config names (a map), by the path written in it. */
export interface ImportFiles {
  /** The file's text, or undefined when it cannot be found. */
  read(path: string): string | undefined;
}
