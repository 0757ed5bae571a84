// Conditions as HAProxy's ACLs: one named ACL per distinct test, values single-quoted after "--".
// Shared by the routes and the rules of one proxy section (ACLs are per proxy).
import { asList, type Condition, type LeafCondition, type Terms } from "../model/routing.ts";

/**
 * A value as one double-quoted argument: HAProxy then reads "\\", "\"" and "\$" as the characters
 * themselves, so nothing in it can end the argument or name an environment variable (the model has
 * refused line breaks and control characters).
 */
export const quote = (value: string) => `"${value.replace(/[\\"$]/g, "\\$&")}"`;
/** A value in a log-format argument (a redirect's location): "%" starts an expression there. */
/** Check text (a protocol's bytes) as one double-quoted argument: line breaks and tabs as HAProxy's escapes. */
export const quoteCheckText = (value: string) => quote(value).replaceAll("\r", "\\r").replaceAll("\n", "\\n").replaceAll("\t", "\\t");
export const quoteLogFormat = (value: string) => quote(value.replaceAll("%", "%%"));
export const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");


/** The Host header as routes compare it: lower-case, without a port. */
export const HOST_KEY = "req.hdr(host),field(1,:),lower";

/** Patterns, each quoted; "--" ends the flags: a pattern that starts with "-" is a pattern, quoted or not (haproxy -c refuses it otherwise). */
const list = (values: string[], transform: (v: string) => string = (v) => v) => `-- ${values.map((v) => quote(transform(v))).join(" ")}`;

/** The acl lines of one leaf condition (several lines for one ACL: any of them matches). */
function leafCriteria(leaf: LeafCondition): string[] {
  if (leaf.host !== undefined) {
    const hosts = asList(leaf.host).map((h) => h.toLowerCase());
    const exact = hosts.filter((h) => !h.startsWith("*."));
    const wildcard = hosts.filter((h) => h.startsWith("*."));
    return [
      ...(exact.length ? [`${HOST_KEY} -m str ${list(exact)}`] : []),
      ...(wildcard.length ? [`${HOST_KEY} -m reg ${list(wildcard, (h) => `^[^.]+${escapeRegex(h.slice(1))}$`)}`] : []),
    ];
  }
  if (leaf.path !== undefined) return [`path -m str ${list(asList(leaf.path))}`];
  if (leaf.pathPrefix !== undefined) {
    const prefixes = asList(leaf.pathPrefix);
    // "/api" takes "/api" itself and everything under "/api/"; "/api/" only what is under it.
    const whole = prefixes.filter((p) => !p.endsWith("/"));
    return [...(whole.length ? [`path -m str ${list(whole)}`] : []), `path -m beg ${list(prefixes, (p) => (p.endsWith("/") ? p : `${p}/`))}`];
  }
  if (leaf.pathBegins !== undefined) return [`path -m beg ${list(asList(leaf.pathBegins))}`];
  if (leaf.pathSuffix !== undefined) return [`path -m end ${list(asList(leaf.pathSuffix))}`];
  if (leaf.pathRegex !== undefined) return [`path -m reg ${list([leaf.pathRegex])}`];
  if (leaf.method !== undefined) return [`method ${asList(leaf.method).join(" ")}`];
  if (leaf.source !== undefined) return [`src ${list(asList(leaf.source))}`];
  if (leaf.tls !== undefined) return ["ssl_fc"];
  if (leaf.sni !== undefined) {
    // The ClientHello's server name, as the host is compared: lower-case, "*.x" one label in front.
    const names = asList(leaf.sni).map((h) => h.toLowerCase());
    const exact = names.filter((h) => !h.startsWith("*."));
    const wildcard = names.filter((h) => h.startsWith("*."));
    return [
      ...(exact.length ? [`req.ssl_sni,lower -m str ${list(exact)}`] : []),
      ...(wildcard.length ? [`req.ssl_sni,lower -m reg ${list(wildcard, (h) => `^[^.]+${escapeRegex(h.slice(1))}$`)}`] : []),
    ];
  }
  if (leaf.alpn !== undefined) return [`req.ssl_alpn -m str ${list(asList(leaf.alpn))}`];
  if (leaf.destinationPort !== undefined) return [`dst_port ${asList(leaf.destinationPort).join(" ")}`];
  if (leaf.lua !== undefined) return valueMatch(`lua.${leaf.lua.fetch}${leaf.lua.args?.length ? `(${leaf.lua.args.join(",")})` : ""}`, leaf.lua);
  const value = leaf.header ?? leaf.query;
  if (value !== undefined) {
    if (value.present) return [leaf.header ? `req.fhdr_cnt(${value.name}) gt 0` : `url_param(${value.name}) -m found`];
    // The whole value of each occurrence (req.fhdr), not its comma-separated parts (req.hdr).
    return valueMatch(`${leaf.header ? `req.fhdr(${value.name})` : `url_param(${value.name})`}${value.luaConverter ? `,lua.${value.luaConverter}` : ""}`, value);
  }
  throw new Error(`a condition of no known kind: ${JSON.stringify(leaf)}`);
}

/** A fetch's value matched as the condition says (found, equal, beginning with, or by a regex). */
function valueMatch(fetch: string, value: { present?: true; equals?: string | string[]; prefix?: string | string[]; regex?: string; ignoreCase: boolean }): string[] {
  const i = value.ignoreCase ? "-i " : "";
  if (value.present) return [`${fetch} -m found`];
  if (value.equals !== undefined) return [`${fetch} ${i}-m str ${list(asList(value.equals))}`];
  if (value.prefix !== undefined) return [`${fetch} ${i}-m beg ${list(asList(value.prefix))}`];
  return [`${fetch} ${i}-m reg ${list([value.regex!])}`];
}

const ACL_PREFIX: Record<string, string> = { host: "host", path: "path", pathPrefix: "path_prefix", pathBegins: "path_begins", pathSuffix: "path_suffix", pathRegex: "path_regex", method: "method", header: "header", query: "query", lua: "lua", source: "source", tls: "tls", sni: "sni", alpn: "alpn", destinationPort: "dst_port" };
/** The names the renderer gives the ACLs it defines itself (kind_N): what import inlines back into conditions. */
export const GENERATED_ACL_NAME = new RegExp(`^(${Object.values(ACL_PREFIX).join("|")})_\\d+$`);

/** Names each distinct leaf once per frontend; a named condition that is one leaf keeps its name. */
export class AclNames {
  readonly lines: string[] = [];
  private readonly byLeaf = new Map<string, string>();
  private readonly taken: Set<string>;
  private count = 0;

  /** `reserved`: ACL names the frontend already uses (its allowlist's). */
  constructor(named: Readonly<Record<string, Condition>>, reserved: readonly string[]) {
    this.taken = new Set([...Object.keys(named), ...reserved]);
    for (const [name, condition] of Object.entries(named)) {
      if (isLeaf(condition)) this.define(condition, reserved.includes(name) ? this.freshName(name) : name);
    }
  }

  nameOf(condition: LeafCondition): string {
    // "tls: false" is the negation of the one ssl_fc ACL.
    const leaf = condition.tls === false ? { tls: true } : condition;
    return this.byLeaf.get(leafKey(leaf)) ?? this.define(leaf, this.freshName(ACL_PREFIX[Object.keys(leaf).find((k) => k in ACL_PREFIX)!]!));
  }

  /** kind_N, never a name the frontend's conditions or rules use already. */
  private freshName(kind: string): string {
    let name: string;
    do name = `${kind}_${++this.count}`;
    while (this.taken.has(name));
    this.taken.add(name);
    return name;
  }

  private define(leaf: LeafCondition, name: string): string {
    const key = leafKey(leaf);
    const existing = this.byLeaf.get(key);
    if (existing) return existing;
    this.byLeaf.set(key, name);
    for (const criterion of leafCriteria(leaf)) this.lines.push(`${name} ${criterion}`);
    return name;
  }
}

const isLeaf = (c: Condition) => c.all === undefined && c.any === undefined && c.not === undefined && c.condition === undefined;
/** Leaves that test the same thing share an ACL; the order of a list's values does not make another. */
const leafKey = (leaf: LeafCondition) => JSON.stringify(leaf, (_k, v) => (Array.isArray(v) ? [...v].sort() : v));

/** HAProxy's words for one conjunction ("a !b"): the leaves' ACL names, negated where they are. */
export function conjunctionText(conjunction: Terms[number], acls: AclNames): string[] {
  return conjunction.map((l) => `${l.negated !== (l.leaf.tls === false) ? "!" : ""}${acls.nameOf(l.leaf)}`);
}

