// The sections beside the proxies: rings (a log target over TCP), mailers (alert mail, which the
// stack sends through Alertmanager), and http-errors (named sets of error pages a proxy takes with
// errorfiles). Rings and http-errors are read before the proxies, as HAProxy resolves them after
// reading the whole config: a log line or an errorfiles line may name one further down.
import type { Location, ParsedConfig, Section } from "../../haproxy/config-parser.ts";
import { LOG_RING } from "../render/view.ts";
import { type Context, type Draft, type HttpErrors, int, type Outcome, type Ring, text, values } from "./context.ts";

type Account = (at: Location, directive: string, outcome: Outcome) => void;

/** The model's ring, as the stack writes it: its size, line length and timeouts. */
const MODEL_RING: Record<string, string> = { size: String(LOG_RING.sizeBytes), maxlen: String(LOG_RING.maxLineBytes), "timeout connect": "5s", "timeout server": "10s" };

/** Every ring section of the config, by name. */
export function readRings(parsed: ParsedConfig): Map<string, Ring> {
  const rings = new Map<string, Ring>();
  for (const section of parsed.sections.filter((s) => s.kind === "ring")) {
    const ring: Ring = { at: section.at, normalised: new Map(), refused: new Map() };
    for (const d of section.directives) {
      const [keyword, second, third, ...more] = values(d.words);
      const two = `${keyword} ${second}`;
      if (keyword === "description") continue;
      if (keyword === "format" && second) ring.format = second;
      else if (keyword === "server" && third && /^[A-Za-z0-9.-]+:\d+$/.test(third.replace(/^tcp@/, ""))) {
        if (ring.server) ring.refused.set(d.at, "a ring with several servers: the model's TCP log target sends to one syslog server (give each its own log line)");
        ring.server = third.replace(/^tcp@/, "");
        const protocol = more[more.indexOf("log-proto") + 1];
        if (!more.includes("log-proto") || protocol === "legacy") ring.normalised.set(d.at, "lines go octet-counted (RFC 6587), the model's framing; the config sent them newline-terminated (log-proto legacy), which syslog servers read alike");
        else if (protocol !== "octet-count") ring.refused.set(d.at, `log-proto ${protocol} is not a syslog framing the model sends`);
        if (more.some((w, i) => w !== "log-proto" && more[i - 1] !== "log-proto")) ring.refused.set(d.at, `a ring's server with ${more.filter((w, i) => w !== "log-proto" && more[i - 1] !== "log-proto").join(" ")}: the model's ring sends plain TCP`);
      } else if (MODEL_RING[keyword!] !== undefined || MODEL_RING[two] !== undefined) {
        const [setting, value] = MODEL_RING[keyword!] !== undefined ? [keyword!, second] : [two, third];
        if (value !== MODEL_RING[setting]) ring.normalised.set(d.at, `the model's ring has ${setting} ${MODEL_RING[setting]}`);
      } else ring.refused.set(d.at, `${keyword} is not in the model's TCP log target (format, server, size, maxlen, timeouts)`);
    }
    rings.set(section.name!, ring);
  }
  return rings;
}

/** log ring@NAME FACILITY [LEVEL]: a TCP log target, its server and format the ring's. */
export function ringLog(ringName: string, rest: string[], draft: Draft): Outcome {
  const ring = draft.rings.get(ringName);
  if (!ring) return { refused: `no ring section named ${JSON.stringify(ringName)}` };
  if (!ring.server) return { refused: `the ring ${ringName} names no server: the model's TCP log target sends to a syslog server` };
  ring.used = true;
  const [facility, minLevel, ...extra] = rest;
  if (extra.length) return { refused: `log ring@${ringName} ${rest.join(" ")}: the model reads FACILITY [LEVEL]` };
  const log = { target: ring.server, transport: "tcp", ...(ring.format && { format: ring.format }), ...(facility && { facility }), ...(minLevel && { minLevel }) };
  const g = draft.global as { logs?: unknown[] };
  g.logs = [...(g.logs ?? []), log];
  return { field: `global.logs[${g.logs.length - 1}] (over TCP, through the ring ${ringName})` };
}

/** A ring section's lines, once the log lines have said which rings they use. */
export function accountRing(section: Section, ring: Ring | undefined, account: Account): void {
  if (!ring?.used) {
    account(section.at, `ring ${section.name}`, { decided: "no log line sends to this ring: nothing in the stack reads it" });
    for (const d of section.directives) account(d.at, text(d), { decided: "a ring no log line sends to" });
    return;
  }
  account(section.at, `ring ${section.name}`, { field: "the TCP log target of the log line that names it (transport: tcp)" });
  for (const d of section.directives) {
    const refused = ring.refused.get(d.at);
    const why = ring.normalised.get(d.at);
    const keyword = d.words[0]?.value;
    account(d.at, text(d), refused ? { refused } : keyword === "description" ? { decided: "the stack describes its own rings" } : { field: keyword === "server" ? "global.logs[].target" : keyword === "format" ? "global.logs[].format" : "the model's ring (size, line length, timeouts)", ...(why && { why, normalised: true }) });
  }
}

/** mailers sections and email-alert lines: alert mail, which the stack sends through Alertmanager. */
export const ALERT_MAIL = "alerts go through Alertmanager (services.alertmanager and its receivers): give it these mail settings";

export function accountMailers(section: Section, account: Account): void {
  account(section.at, `mailers ${section.name}`, { decided: ALERT_MAIL });
  for (const d of section.directives) {
    const keyword = d.words[0]?.value;
    account(d.at, text(d), keyword === "mailer" || keyword === "timeout" ? { decided: ALERT_MAIL } : { refused: `${keyword} is not a mailers keyword` });
  }
}

/** Every http-errors section of the config, by name, their pages read. */
export function readHttpErrors(parsed: ParsedConfig, files: Context["files"]): Map<string, HttpErrors> {
  const sets = new Map<string, HttpErrors>();
  for (const section of parsed.sections.filter((s) => s.kind === "http-errors")) {
    const set: HttpErrors = { pages: [], refused: new Map() };
    for (const d of section.directives) {
      const [keyword, status, path] = values(d.words);
      const code = int(status);
      const page = keyword === "errorfile" && code !== undefined && path !== undefined && d.words.length === 3 ? files.read(path) : undefined;
      if (keyword !== "errorfile" || code === undefined || path === undefined || d.words.length !== 3) set.refused.set(d.at, "an http-errors section holds errorfile STATUS FILE lines");
      else if (page === undefined) set.refused.set(d.at, `${path} cannot be read beside the config: put it there (import copies it into templates/errors/)`);
      else set.pages.push({ status: code, name: path.split("/").pop()!, text: page, at: d.at });
    }
    sets.set(section.name!, set);
  }
  return sets;
}

/** An http-errors section's lines, once every errorfiles line has said which pages it takes. */
export function accountHttpErrors(section: Section, set: HttpErrors | undefined, account: Account): void {
  account(section.at, `http-errors ${section.name}`, { field: `the error pages of each frontend that names ${section.name} (errorfiles)` });
  for (const d of section.directives) {
    const refused = set?.refused.get(d.at);
    const page = set?.pages.find((p) => p.at === d.at);
    account(d.at, text(d), refused ? { refused } : page?.used ? { field: `frontends.*.errorPages (${page.name} goes in templates/errors/)` } : { decided: "no frontend takes this page (errorfiles names the section with other statuses, or none names it)" });
  }
}

/** errorfiles NAME [STATUS...]: the pages of an http-errors section (those statuses only, when named), as a frontend's (or every frontend's) error pages. */
export function errorfilesDirective(args: string[], ctx: Context, inDefaults: boolean): Outcome {
  const [name, ...statuses] = args;
  if (!inDefaults && !ctx.frontend) return { refused: "the model keeps error pages per frontend (frontends.errorPages): HAProxy answers with the frontend's page", otherKind: true };
  const set = name === undefined ? undefined : ctx.draft.httpErrors.get(name);
  if (!set) return { refused: `no http-errors section named ${JSON.stringify(name ?? "")}` };
  const wanted = statuses.map(int);
  if (wanted.some((s) => s === undefined)) return { refused: `errorfiles ${args.join(" ")}: the statuses after the name are numbers` };
  const pages = set.pages.filter((p) => !wanted.length || wanted.includes(p.status));
  for (const page of pages) {
    page.used = true;
    const known = ctx.draft.errorPages.find((p) => p.name === page.name);
    if (known && known.text !== page.text) return { refused: `another error page is also named ${page.name}: the topology names pages by file name; rename one` };
    if (!known) ctx.draft.errorPages.push({ name: page.name, text: page.text });
  }
  const merge = (existing: { status?: number; file: string }[] | undefined) => [...(existing ?? []).filter((p) => !pages.some((q) => q.status === p.status)), ...pages.map((p) => ({ status: p.status, file: p.name }))];
  if (inDefaults) {
    ctx.draft.proxyDefaults.errorPages = merge(ctx.draft.proxyDefaults.errorPages);
    return { field: `each frontend's errorPages (the pages of ${name})` };
  }
  ctx.frontend!.errorPages = merge(ctx.frontend!.errorPages as { status?: number; file: string }[] | undefined);
  return { field: `frontends.${ctx.frontend!.name}.errorPages (the pages of ${name})` };
}
