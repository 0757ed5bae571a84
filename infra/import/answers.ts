// The answers HAProxy gives without a server (deny, tarpit, redirect, return), as a route's or a
// backend's action in the model.
import { int, literal, type Refusal } from "./context.ts";

/** deny [deny_status N], tarpit [deny_status N], redirect location|prefix|scheme X [code N] [drop-query], return [status N] [content-type T] [string S], use-service lua.NAME. */
export function terminalRoute(action: string, params: string[]): Record<string, unknown> | Refusal {
  if (action === "use-service") {
    // A Lua service answers (core.register_service in one of lua.scripts); HAProxy's own services are the stack's.
    const service = /^lua\.([a-z_][a-z0-9_]{0,63})$/.exec(params[0] ?? "")?.[1];
    return service && params.length === 1 ? { service } : { refused: `use-service ${params.join(" ")}: only a Lua service (lua.NAME) is a route's answer in the model` };
  }
  const options = new Map<string, string>();
  const flags = new Set<string>();
  const [head, ...tail] = action === "redirect" ? [params[0], ...params.slice(2)] : [undefined, ...params];
  for (let i = 0; i < tail.length; i++) {
    const word = tail[i]!;
    if (word === "drop-query") flags.add(word);
    else if (["deny_status", "code", "status", "content-type", "string", "file"].includes(word) && tail[i + 1] !== undefined) options.set(word, tail[++i]!);
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
      // "string" is taken as it is ("%" included); an lf-string is refused above as an option the model has not.
      const body = options.get("string");
      // A body from a file beside the error pages (errors/NAME, as the stack writes it).
      const file = options.get("file");
      const bodyFile = file === undefined ? undefined : /^errors\/([A-Za-z0-9_-][A-Za-z0-9._-]{0,100})$/.exec(file)?.[1];
      if (file !== undefined && bodyFile === undefined) return { refused: `return ... file ${file}: the model takes a body file from the error pages' directory (errors/NAME, templates/errors/)` };
      return { respond: { status: status("status") ?? 200, ...(options.has("content-type") && { contentType: options.get("content-type") }), ...(body !== undefined && { body }), ...(bodyFile !== undefined && { bodyFile }) } };
    }
  }
}
