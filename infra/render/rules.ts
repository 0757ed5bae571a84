// Request and response rules in HAProxy's words. A rule's condition is decided once, on the request
// as it came (a mark in a transaction variable, one line per conjunction), so that an earlier rule's
// rewrite does not change which later rules apply, and a response rule can test its request.
import { conditionTerms, expandCondition, ruleAction, RULE_LISTS, type Condition, type Rule, type RuleList } from "../model/routing.ts";
import type { Frontend } from "../model/schema.ts";
import { AclNames, conjunctionText, escapeRegex, quote, quoteLogFormat } from "./acls.ts";

export interface RulesView {
  /** http-request set-var lines: which request and response rules apply to this request. */
  marks: string[];
  /**
   * http-request set-var lines for the afterResponseRules: before any line that may answer, so that
   * HAProxy's own answers (a refusal, a redirect, a 429) carry them too.
   */
  earlyMarks: string[];
  /** http-request actions. */
  request: string[];
  /** http-response actions. */
  response: string[];
  /** http-after-response actions. */
  afterResponse: string[];
}

/** Each rule list's HAProxy keyword side, and the name its marks take. */
const LIST_SIDES = {
  requestRules: { side: "request", mark: "req" },
  responseRules: { side: "response", mark: "res" },
  afterResponseRules: { side: "afterResponse", mark: "aft" },
} as const satisfies Record<RuleList, { side: keyof RulesView; mark: string }>;

/** The HAProxy action of one rule (request or response side), without its condition. */
function actionText(rule: Rule, side: "request" | "response" | "afterResponse"): string {
  switch (ruleAction(rule)) {
    case "setHeader":
      return `set-header ${rule.setHeader!.name} ${quoteLogFormat(rule.setHeader!.value)}`;
    case "addHeader":
      return `add-header ${rule.addHeader!.name} ${quoteLogFormat(rule.addHeader!.value)}`;
    case "deleteHeader":
      return `del-header ${rule.deleteHeader}`;
    case "setPath":
      return `set-path ${quoteLogFormat(rule.setPath!)}`;
    case "replacePath":
      return `replace-path ${quote(rule.replacePath!.regex)} ${quoteLogFormat(rule.replacePath!.with)}`;
    case "stripPrefix": {
      // "/api" takes "/api" itself to "/" and "/api/x" to "/x", never "/apis".
      const prefix = rule.stripPrefix!.replace(/\/+$/, "");
      return `replace-path ${quote(`^${escapeRegex(prefix)}(/|$)(.*)`)} ${quote("/\\2")}`;
    }
    case "addPrefix":
      return `set-path ${quoteLogFormat(rule.addPrefix!.replace(/\/+$/, ""))}%[path]`;
    case "setHost":
      return `set-header Host ${quote(rule.setHost!)}`;
    case "setStatus":
      return `set-status ${rule.setStatus}`;
    case "lua":
      return `lua.${rule.lua}`;
  }
  throw new Error(`a ${side} rule of no known kind`);
}

/** A proxy's rules: marks for those with a condition (`scope` keeps a frontend's apart from a backend's), then the actions in order. */
export function rulesView(proxy: Record<RuleList, Rule[]>, acls: AclNames, named: Readonly<Record<string, Condition>>, scope: "fe" | "be"): RulesView {
  const view: RulesView = { marks: [], earlyMarks: [], request: [], response: [], afterResponse: [] };
  for (const list of RULE_LISTS) {
    const { side, mark: kind } = LIST_SIDES[list];
    const marks = list === "afterResponseRules" ? view.earlyMarks : view.marks;
    proxy[list].forEach((rule, i) => {
      const action = actionText(rule, side);
      if (!rule.when) return void view[side].push(action);
      const mark = `txn.${scope}_${kind}_${i}`;
      for (const conjunction of conditionTerms(expandCondition(rule.when, named))) marks.push(`set-var(${mark}) bool(true)${conjunction.length ? ` if ${conjunctionText(conjunction, acls).join(" ")}` : ""}`);
      view[side].push(`${action} if { var(${mark}) -m bool }`);
    });
  }
  return view;
}

/** X-Forwarded-Proto, -Host and -Port, as the model asks (set, never appended to what a client sent). */
export function forwardedHeaderRules(headers: Frontend["forwardedHeaders"]): string[] {
  if (!headers) return [];
  return [
    ...(headers.proto ? ["set-header X-Forwarded-Proto https if { ssl_fc }", "set-header X-Forwarded-Proto http if !{ ssl_fc }"] : []),
    ...(headers.host ? ["set-header X-Forwarded-Host %[req.hdr(host)]"] : []),
    ...(headers.port ? ["set-header X-Forwarded-Port %[dst_port]"] : []),
  ];
}

/** The browser security headers, on every answer (http-after-response: HAProxy's own too). */
export function securityHeaderRules(headers: Frontend["securityHeaders"]): string[] {
  if (!headers) return [];
  return [
    ...(headers.noSniff ? ["set-header X-Content-Type-Options nosniff"] : []),
    ...(headers.frameOptions !== "off" ? [`set-header X-Frame-Options ${headers.frameOptions}`] : []),
    ...(headers.referrerPolicy !== "off" ? [`set-header Referrer-Policy ${headers.referrerPolicy}`] : []),
    ...(headers.contentSecurityPolicy !== undefined ? [`set-header Content-Security-Policy ${quoteLogFormat(headers.contentSecurityPolicy)}`] : []),
  ];
}
