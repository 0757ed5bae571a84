// Conditions: an ACL's criterion as a condition of the model, "if|unless" expressions of named and
// anonymous ACLs, and what a condition reads that an earlier rule may have rewritten.
import { where } from "../../haproxy/config-parser.ts";
import { type Context, int } from "./context.ts";

/** An ACL's criterion as a condition of the model, where one says the same. */
export function aclCondition(words: string[]): { condition: Record<string, unknown>; why?: string } | { refused: string } {
  const flags = new Set<string>();
  let method: string | undefined;
  let i = 1;
  while (words[i]?.startsWith("-")) {
    if (words[i] === "--") {
      i++;
      break;
    }
    if (words[i] === "-m") method = words[++i];
    else flags.add(words[i]!);
    i++;
  }
  const fetch = words[0] ?? "";
  const patterns = words.slice(i);
  const list = (v: string[]) => (v.length === 1 ? v[0] : v);
  if (flags.size > (flags.has("-i") ? 1 : 0)) return { refused: `the ACL flags ${[...flags].join(" ")} are not in the model` };
  // The fetches the stack itself writes, matched as the model does (what import reads back).
  const own = ownFetchCondition(fetch, method, patterns, flags.has("-i"));
  if (own) return own;
  if (method === "found") {
    const name = /^(?:req\.)?f?hdr\(([A-Za-z0-9!#$%&'*+.^_`|~-]+)\)$/.exec(fetch)?.[1];
    return name && patterns.length === 0 ? { condition: { header: { name, present: true } } } : { refused: `${fetch} -m found is not in the model (a header's presence is: hdr(NAME) -m found)` };
  }
  // "-m beg" on path is path_beg, and so on: the derived criterion says the same.
  const criterion = method === undefined || method === "str" ? fetch : derivedCriterion(fetch, method);
  if (criterion === undefined) return { refused: `${fetch} -m ${method} is not in the model (it matches paths and headers exactly, by prefix, suffix or regular expression)` };
  if (patterns.length === 0 && criterion !== "ssl_fc") return { refused: "an ACL without a pattern" };
  // The model compares paths, methods and ALPN protocols case and all: -i there has no counterpart.
  if (flags.has("-i") && /^(path(_beg|_end|_reg)?|method|req\.ssl_alpn)$/.test(criterion)) return { refused: `-i on ${criterion}: the model compares it case and all (a case-insensitive match would match less after import); list the spellings, or a path_reg with both cases` };
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

/** A fetch with a match method, as the derived criterion HAProxy also has (path -m beg is path_beg). */
function derivedCriterion(fetch: string, method: string): string | undefined {
  const suffix = { beg: "_beg", end: "_end", reg: "_reg" }[method];
  if (suffix === undefined) return undefined;
  if (fetch === "path") return `path${suffix}`;
  const header = /^(req\.)?hdr\(([^)]+)\)$/.exec(fetch);
  return header && suffix !== "_end" ? `hdr${suffix}(${header[2]})` : undefined;
}

/** A regular expression the stack writes for "*.example.com": one label in front of the rest. */
const WILDCARD_REGEX = /^\^\[\^\.\]\+((?:\\\.[A-Za-z0-9-]+)+)\$$/;
const wildcardOf = (regex: string): string | undefined => {
  const m = WILDCARD_REGEX.exec(regex);
  return m ? `*${m[1]!.replace(/\\\./g, ".")}` : undefined;
};

/**
 * The stack's own ACL fetches (what it renders for the model's conditions): the Host without its port,
 * in lower case; a header's whole value (req.fhdr); the SNI in lower case. Undefined for any other fetch.
 */
function ownFetchCondition(fetch: string, method: string | undefined, patterns: string[], ignoreCase: boolean): { condition: Record<string, unknown> } | { refused: string } | undefined {
  const list = (v: string[]) => (v.length === 1 ? v[0] : v);
  const names = (kind: "host" | "sni") => {
    if (method === "str") return { condition: { [kind]: list(patterns) } };
    const wildcards = patterns.map(wildcardOf);
    if (method === "reg" && wildcards.every((w) => w !== undefined)) return { condition: { [kind]: list(wildcards as string[]) } };
    return { refused: `${fetch} -m ${method}: the model matches names exactly or by one label in front ("*.example.com")` };
  };
  if (fetch === "req.hdr(host),field(1,:),lower") return names("host");
  if (fetch === "req.ssl_sni,lower") return names("sni");
  // A header's presence, counted: req.fhdr_cnt(NAME) gt 0.
  const counted = /^req\.fhdr_cnt\(([A-Za-z0-9!#$%&'*+.^_`|~-]+)\)$/.exec(fetch)?.[1];
  if (counted !== undefined) return patterns.join(" ") === "gt 0" && method === undefined ? { condition: { header: { name: counted, present: true } } } : { refused: `${fetch} ${patterns.join(" ")}: only "gt 0" (the header is there) is in the model` };
  const match = method === "str" ? { equals: list(patterns) } : method === "beg" ? { prefix: list(patterns) } : method === "reg" && patterns.length === 1 ? { regex: patterns[0] } : method === "found" ? { present: true } : undefined;
  // A Lua fetch of lua.scripts, with its arguments: lua.NAME or lua.NAME(A,B).
  const lua = /^lua\.([A-Za-z_][A-Za-z0-9_]*)(?:\(([A-Za-z0-9_.:/,-]*)\))?$/.exec(fetch);
  if (lua) {
    if (!match) return { refused: `${fetch} -m ${method ?? "str"}: a Lua fetch's value is matched with -m str, beg, reg or found` };
    return { condition: { lua: { fetch: lua[1], ...(lua[2] && { args: lua[2].split(",") }), ...match, ...(ignoreCase && { ignoreCase: true }) } } };
  }
  // A header's whole value (req.fhdr), or a query-string parameter's (url_param), maybe through a Lua converter.
  const [valueFetch, converter, ...more] = fetch.split(",lua.");
  const header = /^req\.fhdr\(([A-Za-z0-9!#$%&'*+.^_`|~-]+)\)$/.exec(valueFetch!)?.[1];
  const parameter = /^url_param\(([A-Za-z0-9_.~-]+)\)$/.exec(valueFetch!)?.[1];
  if ((header === undefined && parameter === undefined) || more.length || (converter !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(converter))) return undefined;
  if (!match) return { refused: `${fetch} -m ${method ?? "str"} is not in the model` };
  const value = { name: header ?? parameter, ...match, ...(ignoreCase && { ignoreCase: true }), ...(converter !== undefined && { luaConverter: converter }) };
  return { condition: header !== undefined ? { header: value } : { query: value } };
}

/**
 * The lines of one ACL name as one condition: HAProxy takes any of them. Lines of one kind join into
 * one list (hosts, names, paths), and a path with its subtree ("/api" and "/api/" by prefix) is the
 * model's pathPrefix.
 */
export function joinAclLines(conditions: readonly Record<string, unknown>[]): Record<string, unknown> {
  if (conditions.length === 1) return conditions[0]!;
  const kinds = new Set(conditions.map((c) => Object.keys(c).join()));
  const values = (kind: string) => conditions.flatMap((c) => (kind in c ? ([c[kind]].flat() as unknown[]) : []));
  if (kinds.size === 1) {
    const [kind] = kinds;
    if (["host", "sni", "path", "pathBegins", "pathSuffix", "method", "source", "alpn"].includes(kind!)) return { [kind!]: values(kind!) };
  }
  if (kinds.size === 2 && kinds.has("path") && kinds.has("pathBegins")) {
    const exact = values("path") as string[];
    const below = values("pathBegins") as string[];
    if (exact.length === below.length && exact.every((p, i) => below[i] === `${p}/`)) return { pathPrefix: exact.length === 1 ? exact[0] : exact };
  }
  return { any: [...conditions] };
}

/** What a condition reads of the request that a rule can rewrite: "path", "header:host"... */
export function conditionReads(condition: unknown, ctx: Context): Set<string> {
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
export function conditionOf(words: string[], ctx: Context, owner: string): { when?: Record<string, unknown>; why?: string } | { refused: string } {
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
export function rewrittenBefore(when: unknown, ctx: Context): string | undefined {
  const reads = conditionReads(when, ctx);
  const earlier = ctx.rewrites.find((r) => reads.has(r.changes));
  return earlier && `its condition reads ${earlier.changes === "path" ? "the path" : `the ${earlier.changes.slice("header:".length)} header`}, which ${where(earlier.at)} (${earlier.directive}) rewrites before it; the model decides conditions on the request as it came: test what the request had before the rewrite`;
}

/** A condition with each named ACL replaced by what it tests (several lines of one name: any of them). */
export function inlineConditions(condition: unknown, acls: Map<string, Record<string, unknown>[]>): unknown {
  if (condition === null || typeof condition !== "object") return condition;
  const c = condition as Record<string, unknown>;
  if (typeof c.condition === "string") return joinAclLines(acls.get(c.condition) ?? []);
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => inlineConditions(x, acls)) : k === "not" ? inlineConditions(v, acls) : v]));
}
