// The answers HAProxy gives without a server (deny, tarpit, redirect, return), as a route's or a
// backend's action in the model.
import { int, literal, type Refusal } from "./context.ts";

/** deny [deny_status N], tarpit [deny_status N], redirect location|prefix|scheme X [code N] [drop-query], return [status N] [content-type T] [string S]. */
export function terminalRoute(action: string, params: string[]): Record<string, unknown> | Refusal {
  const options = new Map<string, string>();
  const flags = new Set<string>();
  const [head, ...tail] = action === "redirect" ? [params[0], ...params.slice(2)] : [undefined, ...params];
  for (let i = 0; i < tail.length; i++) {
    const word = tail[i]!;
    if (word === "drop-query") flags.add(word);
    else if (["deny_status", "code", "status", "content-type", "string"].includes(word) && tail[i + 1] !== undefined) options.set(word, tail[++i]!);
    else return { refused: `the ${action} option ${word} is not in the model` };
  }
  const status = (key: string) => (options.has(key) ? int(options.get(key)) ?? Number.NaN : undefined);
  switch (action) {
    case "deny":
    case "tarpit":
      return { [action]: { ...(status("deny_status") !== undefined && { status: status("deny_status") }) } };
    case "redirect": {
      if (head !== "location" && head !== "prefix" && head !== "scheme") return { refused: `redirect ${head}: use location, prefix or scheme` };
      const target = literal(params[1], `a redirect ${head}`);
      if ("refused" in target) return target;
      return { redirect: { [head]: target.value, ...(status("code") !== undefined && { code: status("code") }), ...(flags.has("drop-query") && { dropQuery: true }) } };
    }
    default: {
      const body = options.get("string");
      if (body !== undefined && body.includes("%")) return { refused: `${JSON.stringify(body)}: the model answers with text as it is (no lf-string)` };
      return { respond: { status: status("status") ?? 200, ...(options.has("content-type") && { contentType: options.get("content-type") }), ...(body !== undefined && { body }) } };
    }
  }
}
