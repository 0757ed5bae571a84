// A rule's condition as the stack writes it, read back: every condition is decided on the request as
// it came, before any rule rewrites it, so the renderer marks the request first
// ("set-var(txn.fe_req_N) bool(true) if CONDITION", one line per alternative) and the rule then tests
// the mark ("ACTION if { var(txn.fe_req_N) -m bool }"), in a frontend (fe) or a backend (be); req,
// res and aft: a request, response or after-response rule's.
import type { Context, Outcome } from "./context.ts";
import { conditionOfMarks, markCondition } from "./route-marks.ts";

const MARK = /^set-var\(txn\.((?:fe|be)_(?:req|res|aft)_\d+)\) bool\(true\)(?: if((?: \S+)+))?$/;

/** A mark: an alternative of the condition of the rule that tests it. */
export function ruleMark(rule: string, ctx: Context): Outcome | undefined {
  const m = MARK.exec(rule);
  if (!m) return undefined;
  const words = (m[2] ?? "").trim().split(" ").filter(Boolean);
  const parsed = markCondition(words, ctx);
  if ("refused" in parsed) return parsed;
  ctx.ruleMarks.set(m[1]!, [...(ctx.ruleMarks.get(m[1]!) ?? []), parsed.when]);
  return { decided: "a rule's condition, decided on the request as it came (the rule that tests the mark holds it)" };
}

/**
 * The condition of a rule that ends by testing a mark ("if { var(txn.NAME) -m bool }"): its words
 * without that ending, and the condition its marks make. Undefined for a rule that tests no mark.
 */
export function markedCondition(words: readonly string[], ctx: Context): { words: string[]; when?: Record<string, unknown> } | { refused: string } | undefined {
  const tail = words.slice(-6);
  const name = tail.length === 6 && tail[0] === "if" && tail[1] === "{" && tail[3] === "-m" && tail[4] === "bool" && tail[5] === "}" ? /^var\(txn\.((?:fe|be)_(?:req|res|aft)_\d+)\)$/.exec(tail[2]!)?.[1] : undefined;
  if (name === undefined) return undefined;
  const alternatives = ctx.ruleMarks.get(name);
  if (!alternatives) return { refused: `no mark sets txn.${name} above` };
  // Inline: the renderer's own ACL names, and (in a backend, which has no named conditions) every name.
  const when = conditionOfMarks(alternatives, ctx.acls, !ctx.frontend);
  return { words: words.slice(0, -6), ...(when && { when }) };
}
