// The original config beside the one its topology renders, section by section and directive by
// directive. The importer reads both, so every line carries the field it maps to. A line of the
// original is matched first by its words (quotes, unit spellings and HAProxy's own defaults aside)
// in the sections that became its own; then by its field, where the model writes the same setting
// another way on purpose (a named rewriting); a normalisation the import said stands as said. What
// remains is a difference: a line of the original with nothing rendered for it, one written
// otherwise, a rendered line nobody asked for, or servers and rules out of the original's order.
import { where, type Location, type ParsedConfig, type Section } from "../../haproxy/config-parser.ts";
import { GENERATED_ACL_NAME } from "../render/acls.ts";
import { DOCKER_INIT_ADDR } from "../render/view.ts";
import { type LineAccount, tableSize } from "./context.ts";
import { LOCAL_PEER_FIELD } from "./peers.ts";

/** How a line of one config stands to the other. */
export type Correspondence =
  | "same"
  | "defaults stated"
  | "rewritten"
  | "normalised"
  | "decided by the stack"
  | "added by the stack"
  | "the stack's own"
  | "lost"
  | "changed"
  | "added"
  | "out of order";

/** The correspondences that are differences: there the two configs do not say the same. */
export const DIFFERENCES: readonly Correspondence[] = ["lost", "changed", "added", "out of order"];

export interface ComparedLine {
  original?: { at: Location; directive: string };
  rendered: { at: Location; directive: string }[];
  kind: Correspondence;
  /** The rewriting or normalisation, what the stack decides, or what differs. */
  note?: string;
}

export interface ComparedSection {
  /** The section's line as the original writes it ("backend api"); for what only the render has, the rendered one's. */
  header: string;
  lines: ComparedLine[];
}

export interface Comparison {
  sections: ComparedSection[];
  /** Each difference as FILE:LINE: directive: what differs. */
  differences: string[];
}

/** One config as the comparison reads it: what the importer made of each line. */
export interface ReadConfig {
  parsed: ParsedConfig;
  accounts: readonly LineAccount[];
}

/** The model's rewritings: the same setting, written another way on purpose. */
const REWRITES = {
  firstMatch: "first match made explicit: each route marks the request it takes, and its action runs for that route only",
  listen: "a listen section is a frontend and a backend of the same name, the frontend's default_backend its own half",
  spread: "written where it applies: on each proxy (or server) it governs",
  tcpka: "option tcpka is clitcpka on the frontend and srvtcpka on the backend",
  ring: "the stack's ring for a TCP log target: named after it (log_tcp_N), its size, line length, format and timeouts the model's",
  errorfiles: "the pages of an http-errors section, written as errorfile lines in each frontend that takes them",
  conditions: "a condition written out where it is tested, its ACL named by the stack",
  ruleMarks: "the rule's condition decided on the request as it came: a mark set first, the rule testing it",
  rateTable: "a keyed limit's table: a backend of its own",
} as const;

/** Server options HAProxy reads with one argument (the rest take none): options compare as a set of these. */
const SERVER_OPTION_ARGS = new Set(["addr", "agent-addr", "agent-inter", "agent-port", "agent-send", "alpn", "ca-file", "check-alpn", "check-proto", "check-sni", "ciphers", "ciphersuites", "cookie", "crl-file", "crt", "downinter", "error-limit", "fall", "fastinter", "id", "init-addr", "inter", "log-proto", "maxconn", "maxqueue", "minconn", "namespace", "observe", "on-error", "on-marked-down", "on-marked-up", "pool-low-conn", "pool-max-conn", "pool-purge-delay", "port", "proto", "redir", "resolve-net", "resolve-opts", "resolve-prefer", "resolvers", "rise", "shard", "slowstart", "sni", "source", "ssl-max-ver", "ssl-min-ver", "tcp-ut", "track", "verify", "verifyhost", "weight", "ws"]);

/** The init-addr the stack gives servers it names by host (DOCKER_INIT_ADDR), as a server option. */
const STACK_INIT_ADDR = `init-addr ${DOCKER_INIT_ADDR}`;

/** Server options that say what HAProxy does without them. */
const SERVER_DEFAULTS = new Set(["inter 2s", "fall 3", "rise 2", "weight 1"]);

/** Whole lines that say what HAProxy does when a config says nothing. */
const DEFAULT_LINES = new Set(["retries 3", "retry-on conn-failure", "balance roundrobin", "tune.bufsize 16384", "ssl-default-bind-options ssl-min-ver TLSv1.2", "ssl-default-server-options ssl-min-ver TLSv1.2"]);

/** A path_beg-style fetch as its -m form: path_beg X is path -m beg X. */
const FETCH_SUFFIX = /^(path|url|hdr\([^)]*\)|req\.hdr\([^)]*\)|src|ssl_fc_sni|req_ssl_sni|req\.ssl_sni|url_param\([^)]*\))_(beg|end|sub|reg|dir|dom|len|str|ip)$/;

/** A line's words as HAProxy reads them, with its section, and what the importer made of it. */
interface Line {
  account: LineAccount;
  words: string[];
  section: Section | undefined;
  isHeader: boolean;
}

function linesOf(config: ReadConfig): Line[] {
  const byPlace = new Map<string, { words: string[]; section: Section; isHeader: boolean }>();
  for (const section of config.parsed.sections) {
    byPlace.set(where(section.at), { words: [section.kind, ...(section.name ? [section.name] : []), ...section.args.map((a) => a.value)], section, isHeader: true });
    for (const d of section.directives) byPlace.set(where(d.at), { words: d.words.map((w) => w.value), section, isHeader: false });
  }
  return config.accounts.map((account) => {
    const placed = byPlace.get(where(account.at));
    return { account, words: placed?.words ?? account.directive.split(/\s+/), section: placed?.section, isHeader: placed?.isHeader ?? false };
  });
}

/** The field paths an account names ("frontends.x and backends.x" is both; "each frontend's forwardfor" is frontends.*.forwardfor). */
function keysOf(account: LineAccount): string[] {
  let keys = keysMemo.get(account);
  if (keys) return keys;
  const each = account.field && /^each (frontend|backend)'s (\w+)/.exec(account.field);
  if (account.outcome === "decided" || account.outcome === "refused" || !account.field) keys = [];
  else if (each) keys = [`${each[1]}s.*.${each[2]}`];
  else keys = account.field.split(" and ").map(pathOf).filter((key) => /^(global|defaults|frontends|backends|monitoring|lua|peers)\b/.test(key));
  keysMemo.set(account, keys);
  return keys;
}
/** Each account's keys, worked out once: a large config compares every line with its section's. */
const keysMemo = new WeakMap<LineAccount, string[]>();

/** The path a field's text starts with ("backends.api.servers.a-1 (a server...)", "global.tls: the..."): names hold no spaces. */
const pathOf = (text: string) => text.split(/\s/)[0]!.replace(/[:,]$/, "");

/** A and B name one setting: the same path (a "*" takes any name), or one inside the other. */
function related(a: string, b: string): boolean {
  return insideOf(b).test(a) || insideOf(a).test(b);
}
/** The paths inside a key (itself included), as a pattern made once per key. */
const insidePatterns = new Map<string, RegExp>();
function insideOf(key: string): RegExp {
  let pattern = insidePatterns.get(key);
  if (!pattern) insidePatterns.set(key, (pattern = new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replaceAll("\\*", ".+")}(?:$|[.[])`)));
  return pattern;
}

/**
 * The words that compare: quotes gone (the parser's values), sizes in bytes, a server's options as a
 * set with its section's default-server in force, an ACL's fetch_suffix as its -m form, a bind and
 * the local peer by their port (the local target listens on 127.0.0.1 whatever the address: the
 * round trip holds the address), a certificate, an error page or a Lua script by its file name; and, unless keepDefaults, HAProxy's own defaults dropped.
 */
function canonical(line: Line, defaultServer: string[][] = [], keepDefaults = false): string {
  let words = line.words[0] === "redirect" ? ["http-request", ...line.words] : [...line.words];
  const [keyword] = words;
  const dropPair = (name: string, value: string) => {
    if (keepDefaults) return;
    const at = words.findIndex((w, i) => i > 0 && w === name && words[i + 1] === value);
    if (at > 0) words.splice(at, 2);
  };
  // Names the stack chooses for itself: a name server's, a ring's and its server's.
  if (keyword === "nameserver" || (keyword === "server" && line.section?.kind === "ring")) words.splice(1, 1);
  if (keyword === "log" && words[1]?.startsWith("ring@")) words[1] = "ring@";
  if (keyword === "bind" && words[1]) words[1] = words[1].replace(/^.*:(?=[\d-]+$)/, ":");
  // This load balancer's peer listens where the target says, as a bind does.
  if (keyword === "peer" && line.account.field === LOCAL_PEER_FIELD && words[2]) words[2] = words[2].replace(/^.*:(?=\d+$)/, ":");
  if (keyword === "bind") words = words.map((w, i) => (words[i - 1] === "crt" ? w.replace(/^.*\//, "") : w));
  // The files a config names (error pages, Lua) are taken by their names: the stack keeps them in its templates.
  if (keyword === "errorfile" || keyword === "lua-load") words = words.map((w, i) => (i === words.length - 1 ? w.replace(/^.*\//, "") : w));
  if (keyword === "stick-table") words = words.map((w, i) => (words[i - 1] === "size" && /^\d+[kmg]$/.test(w) ? String(tableSize(w)) : w));
  if (keyword === "acl") {
    const suffix = FETCH_SUFFIX.exec(words[2] ?? "");
    if (suffix) words.splice(2, 1, suffix[1]!, "-m", suffix[2]!);
    words = words.filter((w) => w !== "--");
    // An ACL the stack names for itself compares by what it tests.
    if (GENERATED_ACL_NAME.test(words[1]!)) words[1] = "*";
  }
  if (keyword === "log") dropPair("format", "rfc3164");
  if (keyword === "option" && words[1] === "mysql-check" && words.at(-1) === "post-41" && !keepDefaults) words.pop();
  if (keyword === "http-request" && words[1] === "deny") dropPair("deny_status", "403");
  if (keyword === "server" || keyword === "server-template" || keyword === "default-server") {
    const head = words.slice(0, { server: 3, "server-template": 4, "default-server": 1 }[keyword]);
    const options = new Map<string, string>();
    for (const group of [...defaultServer, optionGroups(words.slice(head.length))]) for (const option of group) options.set(option.split(" ")[0]!, option);
    // HAProxy's checks speak the PROXY protocol where the traffic does, unless they go to another port or address.
    const proxied = (options.has("send-proxy") || options.has("send-proxy-v2")) && !options.has("port") && !options.has("addr");
    // A resolvers section is compared as a section: the stack gives each discovered group its own.
    if (options.has("resolvers")) options.set("resolvers", "resolvers");
    // A name that does not resolve as HAProxy starts leaves its server DOWN instead of stopping HAProxy: the stack's decision, on every server it names by host.
    if (options.get("init-addr") === STACK_INIT_ADDR) options.delete("init-addr");
    words = [...head, ...[...options.values()].filter((o) => keepDefaults || (!SERVER_DEFAULTS.has(o) && !(proxied && o === "check-send-proxy"))).sort()];
  }
  return words.join(" ");
}

/** A server line's options, each with its argument ("inter 3s", "check"). */
function optionGroups(words: string[]): string[] {
  const groups: string[] = [];
  for (let i = 0; i < words.length; i++) groups.push(SERVER_OPTION_ARGS.has(words[i]!) && i + 1 < words.length ? `${words[i]} ${words[++i]}` : words[i]!);
  return groups;
}

/** The words before a rule's condition: what it does. */
const actionOf = (text: string) => text.replace(/ (if|unless) .*$/, "");

/** The ordered lists of the model, by the key of a line in one: "frontends.f.routes". */
function familyOf(key: string): string | undefined {
  const m = /^(.*?\.(?:routes|requestRules|responseRules|afterResponseRules|rules|servers))(?:\[|\.|$)/.exec(key);
  return m?.[1];
}

/** The default-server options in force in each section (the first defaults section's, then its own). */
function defaultServersBySection(lines: Line[]): Map<Section | undefined, string[][]> {
  const bySection = new Map<Section | undefined, string[][]>();
  let inDefaults: string[][] = [];
  for (const line of lines) {
    if (line.isHeader || line.words[0] !== "default-server") continue;
    const group = optionGroups(line.words.slice(1));
    if (line.section?.kind === "defaults") inDefaults = [...inDefaults, group];
    else bySection.set(line.section, [...(bySection.get(line.section) ?? []), group]);
  }
  const result = new Map<Section | undefined, string[][]>();
  for (const line of lines) if (line.section && !result.has(line.section)) result.set(line.section, [...(line.section.kind === "defaults" ? [] : inDefaults), ...(bySection.get(line.section) ?? [])]);
  return result;
}

/** The names each section's header gives: frontends.x, backends.x (a listen section both). */
function sectionKeysOf(lines: Line[]): Map<Section, string[]> {
  const keys = new Map<Section, string[]>();
  for (const line of lines) if (line.isHeader && line.section && !keys.has(line.section)) keys.set(line.section, keysOf(line.account));
  return keys;
}

/** A compared line, with the section it is shown under and the line of either config it stands for. */
interface Compared {
  header: string;
  line: ComparedLine;
  from: Line;
}

const headerOf = (section: Section | undefined) => (section ? [section.kind, section.name].filter(Boolean).join(" ") : "");
const show = (l: Line) => ({ at: l.account.at, directive: l.account.directive });

export function compareWithOriginal(original: ReadConfig, rendered: ReadConfig, additions: readonly string[]): Comparison {
  const ours = linesOf(original);
  const theirs = linesOf(rendered);
  const servers = { ours: defaultServersBySection(ours), theirs: defaultServersBySection(theirs) };
  const canonOf = new Map<Line, string>([...ours.map((l) => [l, canonical(l, servers.ours.get(l.section))] as const), ...theirs.map((l) => [l, canonical(l, servers.theirs.get(l.section))] as const)]);
  const paired = new Set<Line>();
  const bySection = new Map<Section, Line[]>();
  for (const t of theirs) if (t.section) (bySection.get(t.section) ?? bySection.set(t.section, []).get(t.section)!).push(t);
  const [ourKeys, theirKeys] = [sectionKeysOf(ours), sectionKeysOf(theirs)];
  // The rendered sections a section of the original became: the same names, or the same kind where names are the stack's (resolvers, rings).
  const became = new Map<Section | undefined, Set<Section>>();
  const becameOf = (section: Section | undefined) => {
    if (!became.has(section)) {
      const keys = (section && ourKeys.get(section)) || [];
      became.set(section, new Set(rendered.parsed.sections.filter((s) => (keys.length ? (theirKeys.get(s) ?? []).some((k) => keys.includes(k)) : s.kind === section?.kind))));
    }
    return became.get(section)!;
  };
  const proxies = new Set(rendered.parsed.sections.filter((s) => s.kind === "frontend" || s.kind === "backend"));
  const pairing: Pairing = { theirs, bySection, becameOf, proxies, canonOf, servers, paired, index: renderedIndex(theirs, canonOf) };
  const compared = ours.map((line) => ({ header: headerOf(line.section), line: counterpartsOf(line, pairing), from: line }));
  markOutOfOrder(compared);
  const facts = originalFacts(ours);
  for (const t of theirs) if (!paired.has(t)) compared.push({ header: headerOf(t.section), line: { rendered: [show(t)], ...renderedOnly(t, facts, canonOf, additions) }, from: t });

  const sections = new Map<string, ComparedLine[]>();
  for (const { header, line } of compared) (sections.get(header) ?? sections.set(header, []).get(header)!).push(line);
  const differences = compared
    .map(({ line }) => line)
    .filter((l) => DIFFERENCES.includes(l.kind))
    .map((l) => {
      const at = l.original ?? l.rendered[0]!;
      return `${l.original ? where(at.at) : `rendered ${where(at.at)}`}: ${at.directive}: ${l.kind}${l.note ? `: ${l.note}` : ""}`;
    });
  return { sections: [...sections].map(([header, lines]) => ({ header, lines })), differences };
}

interface Pairing {
  theirs: Line[];
  /** The rendered lines by section. */
  bySection: Map<Section, Line[]>;
  becameOf: (section: Section | undefined) => Set<Section>;
  /** The rendered frontends and backends: where a defaults line is written. */
  proxies: Set<Section>;
  canonOf: Map<Line, string>;
  servers: { ours: Map<Section | undefined, string[][]>; theirs: Map<Section | undefined, string[][]> };
  /** The rendered lines some line of the original stands for, filled as lines are paired. */
  paired: Set<Line>;
  index: RenderedIndex;
}

/**
 * The rendered lines found by their words and by their fields without reading them all for each line
 * of the original: a large config's frontend holds thousands of both. Lines come back in the rendered
 * config's order.
 */
interface RenderedIndex {
  /** The rendered lines with the same words (an ACL the stack named for itself taking any name). */
  sameWords(line: Line): Line[];
  /** The rendered lines whose field is one of these keys, inside one, or holds one; a key with "*" reads `all`. */
  byField(keys: string[], all: () => Line[]): Line[];
}

/** Where a key can be cut into the keys that hold it: "a.b[2].c" is held by "a", "a.b", "a.b[2]". */
const holdersOf = (key: string): string[] => [...key.matchAll(/[.[]/g)].map((m) => key.slice(0, m.index));

function renderedIndex(theirs: Line[], canonOf: Map<Line, string>): RenderedIndex {
  const position = new Map(theirs.map((t, i) => [t, i] as const));
  const inOrder = (lines: Iterable<Line>) => [...new Set(lines)].sort((a, b) => position.get(a)! - position.get(b)!);
  const push = (map: Map<string, Line[]>, key: string, t: Line) => void (map.get(key) ?? map.set(key, []).get(key)!).push(t);
  const byCanon = new Map<string, Line[]>();
  const exact = new Map<string, Line[]>();
  const under = new Map<string, Line[]>();
  for (const t of theirs) {
    push(byCanon, canonOf.get(t)!, t);
    for (const key of keysOf(t.account)) {
      push(exact, key, t);
      for (const holder of holdersOf(key)) push(under, holder, t);
    }
  }
  return {
    sameWords(line) {
      const words = canonOf.get(line)!;
      const criteria = line.words[0] === "acl" ? words.split(" ").slice(2).join(" ") : undefined;
      return inOrder([...(byCanon.get(words) ?? []), ...(criteria !== undefined ? byCanon.get(`acl * ${criteria}`) ?? [] : [])]);
    },
    byField(keys, all) {
      if (keys.some((k) => k.includes("*"))) return all().filter((t) => keysOf(t.account).some((k) => keys.some((o) => related(k, o))));
      return inOrder(keys.flatMap((key) => [...(exact.get(key) ?? []), ...(under.get(key) ?? []), ...holdersOf(key).flatMap((holder) => exact.get(holder) ?? [])]));
    },
  };
}

/**
 * A line of the original and the rendered lines it became: by its words in the sections its own
 * became (or, for what a defaults section or an http-errors set gives, in every proxy), else by its
 * field; and how the two stand.
 */
function counterpartsOf(line: Line, { theirs, bySection, becameOf, proxies, canonOf, servers, paired, index }: Pairing): ComparedLine {
  const { account } = line;
  if (account.outcome === "decided") return { original: show(line), rendered: [], kind: "decided by the stack", ...(account.field && { note: account.field }) };
  const keys = keysOf(account);
  const spread = (line.section?.kind === "defaults" && (keys.some((k) => k.includes("*")) || account.field?.startsWith("each proxy"))) || (line.section?.kind === "http-errors" && !line.isHeader);
  const within = spread ? proxies : becameOf(line.section);
  const inside = (t: Line) => !t.isHeader && t.section !== undefined && within.has(t.section);
  // The rendered lines of its sections (a spread line's field may be anywhere): read whole only where no index serves.
  const near = () => (spread ? theirs : [...within].flatMap((s) => bySection.get(s) ?? []));
  if (line.isHeader) {
    const halves = [...within].flatMap((s) => (bySection.get(s) ?? []).filter((t) => t.isHeader));
    halves.forEach((h) => paired.add(h));
    const same = halves.length === 1 && canonOf.get(halves[0]!) === canonOf.get(line);
    const rewritings: Record<string, string> = { "http-errors": REWRITES.errorfiles, listen: REWRITES.listen, ring: REWRITES.ring };
    const written = rewritings[line.section?.kind ?? ""];
    const kind: Correspondence = account.outcome === "normalised" ? "normalised" : same ? "same" : halves.length || written ? "rewritten" : "lost";
    const note = account.why ?? (same ? undefined : written);
    return { original: show(line), rendered: halves.map(show), kind, ...(note && { note }) };
  }
  const byWords = index.sameWords(line).filter(inside);
  const byField = index.byField(keys, near).filter((t) => !t.isHeader && t.section && (spread || within.has(t.section)));
  // A normalised line whose field is no path (a ring's size): the rendered line of the same directive there.
  const directive = (l: Line) => (["timeout", "option", "http-request", "http-response", "tcp-request"].includes(l.words[0]!) ? l.words.slice(0, 2) : l.words.slice(0, 1)).join(" ");
  const byDirective = account.outcome === "normalised" && !byWords.length && !byField.length ? near().filter((t) => inside(t) && directive(t) === directive(line)) : [];
  const counterparts = byWords.length ? byWords : byField.length ? byField : byDirective;
  counterparts.forEach((c) => paired.add(c));
  if (account.outcome === "normalised") return { original: show(line), rendered: counterparts.map(show), kind: "normalised", ...(account.why && { note: account.why }) };
  if (byWords.length) {
    const named = line.words[0] === "acl" && byWords.every((t) => t.words[1] !== line.words[1]);
    const stated = byWords.some((t) => canonical(t, servers.theirs.get(t.section), true) !== canonical(line, servers.ours.get(line.section), true));
    const [kind, note]: [Correspondence, string?] = spread ? ["rewritten", REWRITES.spread] : named ? ["rewritten", REWRITES.conditions] : stated ? ["defaults stated"] : ["same"];
    return { original: show(line), rendered: byWords.map(show), kind, ...(note && { note }) };
  }
  const rewriting = rewritingOf(line, byField, canonOf);
  if (rewriting) return { original: show(line), rendered: byField.map(show), kind: "rewritten", note: rewriting };
  return { original: show(line), rendered: byField.map(show), kind: byField.length ? "changed" : "lost", note: byField.length ? `${keys.join(", ")} is written otherwise` : `nothing rendered sets ${keys.join(", ") || account.field}` };
}

/**
 * Where HAProxy's meaning depends on it, each ordered list's rendered lines must come in the
 * original's order: the order HAProxy runs them in (a list's index: http-request rules before
 * use_backend whatever the lines' order), else the lines' own (servers). A line out of it is marked.
 */
function markOutOfOrder(compared: Compared[]): void {
  const lastSeen = new Map<string, number>();
  const inOrder = compared
    .map((c) => {
      const key = keysOf(c.from.account).find((k) => familyOf(k));
      const family = key && familyOf(key);
      const index = key && family ? /^\[(\d+)\]/.exec(key.slice(family.length))?.[1] : undefined;
      return { line: c.line, family, rank: index !== undefined ? Number(index) : c.from.account.at.line, at: c.from.account.at.line };
    })
    .filter((c): c is typeof c & { family: string } => Boolean(c.family))
    .sort((a, b) => a.rank - b.rank || a.at - b.at);
  for (const { line, family } of inOrder) {
    // A route runs where its mark is set (its action only acts on the mark, and may stand anywhere after the marks); a rule where its own line is.
    const marks = line.rendered.filter((r) => r.directive.includes("set-var(txn.route)"));
    if (!marks.length && line.rendered.some((r) => r.directive.includes("var(txn.route) -m int"))) continue;
    const first = Math.min(...(family.endsWith(".routes") && marks.length ? marks : line.rendered.filter((r) => !r.directive.includes("set-var(txn."))).map((r) => r.at.line));
    if (!Number.isFinite(first) || DIFFERENCES.includes(line.kind)) continue;
    if ((lastSeen.get(family) ?? -1) > first) Object.assign(line, { kind: "out of order", note: `${family}: rendered ahead of a line HAProxy runs before it in the original` });
    else lastSeen.set(family, first);
  }
}

/** What the original has that explains a rendered line of its own: its mode, rings, listen sections and keyed limits. */
interface OriginalFacts {
  mode: string;
  rings: boolean;
  listens: Set<string>;
  keyedLimits: boolean;
}

function originalFacts(ours: Line[]): OriginalFacts {
  return {
    // HAProxy's mode where the first defaults section names none is tcp.
    mode: ours.find((l) => l.section?.kind === "defaults" && l.words[0] === "mode")?.words[1] ?? "tcp",
    rings: ours.some((o) => o.isHeader && o.section?.kind === "ring"),
    listens: new Set(ours.flatMap((o) => (o.isHeader && o.section?.kind === "listen" && o.section.name ? [o.section.name] : []))),
    keyedLimits: ours.some((o) => keysOf(o.account).some((k) => k.endsWith(".rateLimits"))),
  };
}

/** A rendered line no line of the original asked for: HAProxy's default stated, the stack's own, a listed addition, a part of a rewriting, or a difference. */
function renderedOnly(t: Line, original: OriginalFacts, canonOf: Map<Line, string>, additions: readonly string[]): { kind: Correspondence; note?: string } {
  const keys = keysOf(t.account);
  const text = canonOf.get(t)!;
  const standing = (kind: Correspondence, note?: string) => ({ kind, ...(note && { note }) });
  if (t.account.outcome === "decided" || keys.some((k) => k === "monitoring" || k.startsWith("monitoring."))) return standing("the stack's own", t.account.field);
  if (DEFAULT_LINES.has(text) || text === `mode ${original.mode}`) return standing("defaults stated");
  const addition = additions.find((a) => keys.some((k) => related(k, pathOf(a))));
  if (addition) return standing("added by the stack", addition);
  if (t.section?.kind === "ring" && original.rings) return standing("rewritten", REWRITES.ring);
  if (t.words[0] === "default_backend" && t.section?.name === t.words[1] && original.listens.has(t.words[1]!)) return standing("rewritten", REWRITES.listen);
  if (/^(the rate table of|frontends\.\*\.rateLimits)/.test(t.account.field ?? "") && original.keyedLimits) return standing("rewritten", REWRITES.rateTable);
  if (keys.some((k) => GENERATED_ACL_NAME.test(k.split(".").pop()!)) || t.words.some((w) => w.includes("txn.route"))) return standing("rewritten", t.words[0] === "acl" ? REWRITES.conditions : REWRITES.firstMatch);
  return standing("added", t.account.field);
}

/** Both configs side by side, a table per section of the original (then the stack's own sections), as markdown. */
export function sideBySideReport(comparison: Comparison): string[] {
  const cell = (s: string | undefined) => (s ?? "").replaceAll("|", "\\|");
  const code = (s: string) => `\`${cell(s)}\``;
  const counts = new Map<Correspondence, number>();
  for (const line of comparison.sections.flatMap((s) => s.lines)) counts.set(line.kind, (counts.get(line.kind) ?? 0) + 1);
  return [
    "## Side by side: the original and what its topology renders",
    "",
    `${[...counts].map(([kind, n]) => `${n} ${kind}`).join(", ")}. ${comparison.differences.length ? `${comparison.differences.length} difference${comparison.differences.length === 1 ? "" : "s"}: the import cannot claim the two behave the same.` : "No difference beyond the normalisations above."}`,
    ...comparison.sections.flatMap((section) => [
      "",
      `### ${section.header || "(outside any section)"}`,
      "",
      "| original | rendered | how |",
      "|---|---|---|",
      ...section.lines.map((l) => `| ${l.original ? `${l.original.at.line}: ${code(l.original.directive)}` : ""} | ${l.rendered.map((r) => `${r.at.line}: ${code(r.directive)}`).join("<br>")} | ${l.kind}${l.note ? `: ${cell(l.note)}` : ""} |`),
    ]),
  ];
}

/** Which of the model's rewritings turns the original line into these rendered ones, if one does. */
function rewritingOf(line: Line, rendered: Line[], canonOf: Map<Line, string>): string | undefined {
  if (!rendered.length) return undefined;
  const text = canonOf.get(line)!;
  const keys = keysOf(line.account);
  // A route: its marks and its action, the action doing what the original's line did.
  if (keys.some((k) => /\.routes(\[\d+\])?$/.test(k)) && rendered.some((r) => r.words.some((w) => w.includes("txn.route"))) && rendered.some((r) => actionOf(canonOf.get(r)!) === actionOf(text))) return REWRITES.firstMatch;
  // A rule under a condition: the mark, and the rule doing what the original's did.
  if (rendered.some((r) => r.words.some((w) => /txn\.(fe|be)_(?:req|res|aft)_\d+/.test(w))) && rendered.some((r) => actionOf(canonOf.get(r)!) === actionOf(text))) return REWRITES.ruleMarks;
  if (line.words[0] === "errorfiles" && rendered.every((r) => r.words[0] === "errorfile")) return REWRITES.errorfiles;
  if (text === "option tcpka" && rendered.every((r) => ["option clitcpka", "option srvtcpka"].includes(canonOf.get(r)!))) return REWRITES.tcpka;
  // default-server: its options are on each server line it governs (compared there, with it in force).
  if (line.words[0] === "default-server" && rendered.every((r) => r.words[0] === "server" || r.words[0] === "default-server")) return REWRITES.spread;
  return undefined;
}
