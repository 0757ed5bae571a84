// Headers the stack writes for a frontend's settings, read back as those settings: X-Forwarded-*
// (forwardedHeaders), the browser security headers (securityHeaders) and HSTS (hsts). Each line is
// recognised exactly as the renderer writes it; anything else stays a rule, or is refused.
import type { Location } from "../../haproxy/config-parser.ts";
import type { Context, Outcome } from "./context.ts";

/** The forwarded headers' request lines, each with the part of the setting it is. */
const FORWARDED: Record<string, "protoTls" | "protoPlain" | "host" | "port"> = {
  "set-header X-Forwarded-Proto https if { ssl_fc }": "protoTls",
  "set-header X-Forwarded-Proto http if !{ ssl_fc }": "protoPlain",
  "set-header X-Forwarded-Host %[req.hdr(host)]": "host",
  "set-header X-Forwarded-Port %[dst_port]": "port",
};

/** An http-request line of the forwarded headers. */
export function forwardedHeaderLine(rule: string, ctx: Context): Outcome | undefined {
  const part = FORWARDED[rule];
  if (!part || !ctx.frontend) return undefined;
  ctx.stackHeaders.forwarded.set(part, { at: ctx.at!, rulesBefore: ((ctx.frontend.requestRules as unknown[]) ?? []).length });
  return { field: `frontends.${ctx.frontend.name}.forwardedHeaders` };
}

/** An http-after-response line: a security header, or HSTS on answers over TLS. */
export function afterResponseHeaderLine(rule: string, ctx: Context): Outcome | undefined {
  if (!ctx.frontend) return undefined;
  const fe = `frontends.${ctx.frontend.name}`;
  const hsts = /^set-header Strict-Transport-Security "?max-age=(\d+)((?:; (?:includeSubDomains|preload))*)"? if \{ ssl_fc \}$/.exec(rule);
  if (hsts) {
    ctx.frontend.hsts = { maxAgeSeconds: Number(hsts[1]), includeSubdomains: hsts[2]!.includes("includeSubDomains"), preload: hsts[2]!.includes("preload") };
    return { field: `${fe}.hsts` };
  }
  const header = /^set-header (X-Content-Type-Options|X-Frame-Options|Referrer-Policy|Content-Security-Policy) "?([^"]+)"?$/.exec(rule);
  if (!header) return undefined;
  const [, name, value] = header;
  const security = ctx.stackHeaders.security;
  if (name === "X-Content-Type-Options" && value === "nosniff") security.noSniff = true;
  else if (name === "X-Frame-Options" && (value === "DENY" || value === "SAMEORIGIN")) security.frameOptions = value;
  else if (name === "Referrer-Policy") security.referrerPolicy = value;
  else if (name === "Content-Security-Policy") security.contentSecurityPolicy = value;
  else return { refused: `${name}: ${value} is not a value the model's securityHeaders take` };
  return { field: `${fe}.securityHeaders` };
}

/**
 * The frontend's forwarded and security headers, from the lines read. X-Forwarded-Proto said for one
 * scheme only is not the setting: that line is the rule it says, in its place among the rules (returned, to be accounted so).
 */
export function settleStackHeaders(ctx: Context): { at: Location; field: string } | undefined {
  const { forwarded, security } = ctx.stackHeaders;
  if (!ctx.frontend) return undefined;
  let lone: { at: Location; field: string } | undefined;
  for (const [part, other, value, tls] of [["protoTls", "protoPlain", "https", true], ["protoPlain", "protoTls", "http", false]] as const) {
    const line = forwarded.get(part);
    if (!line || forwarded.has(other)) continue;
    const rules = ((ctx.frontend.requestRules ??= []) as unknown[]);
    rules.splice(line.rulesBefore, 0, { when: { tls }, setHeader: { name: "X-Forwarded-Proto", value } });
    forwarded.delete(part);
    lone = { at: line.at, field: `frontends.${ctx.frontend.name}.requestRules[${line.rulesBefore}]` };
  }
  if (forwarded.size) ctx.frontend.forwardedHeaders = { proto: forwarded.has("protoTls"), host: forwarded.has("host"), port: forwarded.has("port") };
  if (Object.keys(security).length) ctx.frontend.securityHeaders = { noSniff: security.noSniff === true, frameOptions: security.frameOptions ?? "off", referrerPolicy: security.referrerPolicy ?? "off", ...(security.contentSecurityPolicy !== undefined && { contentSecurityPolicy: security.contentSecurityPolicy }) };
  return lone;
}
