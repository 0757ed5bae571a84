// Conditions: an ACL's criterion as a condition of the model, "if|unless" expressions of named and
// anonymous ACLs, and what a condition reads that an earlier rule may have rewritten.
import { where } from "../../haproxy/config-parser.ts";
import { type Context, int } from "./context.ts";

/** An ACL's criterion as a condition of the model, where one says the same. */
export function aclCondition(words: string[]): { condition: Record<string, unknown>; why?: string } | { refused: string } {
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
  if (typeof c.condition === "string") {
    const named = acls.get(c.condition) ?? [];
    return named.length === 1 ? named[0] : { any: named };
  }
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => inlineConditions(x, acls)) : k === "not" ? inlineConditions(v, acls) : v]));
}
