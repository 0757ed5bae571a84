// Defaults: a later defaults section replayed in each proxy that takes it, what the stack adds that
// the original did not say, and the stack's listeners moved off the config's ports.
import type { Directive, Location, Section } from "../../haproxy/config-parser.ts";
import { type Context, type Draft, type Outcome, text, values } from "./context.ts";

/** The stack's own listeners and their default ports: moved where the config's binds take the port. */
export const STACK_PORTS: { path: string[]; port: number; what: string }[] = [
  { path: ["monitoring", "port"], port: 8404, what: "the monitoring listener (stats, /metrics)" },
  { path: ["services", "sidecar", "port"], port: 9101, what: "the sidecar" },
  { path: ["services", "prometheus", "port"], port: 9090, what: "Prometheus" },
  { path: ["services", "alertmanager", "port"], port: 9093, what: "Alertmanager" },
  { path: ["services", "grafana", "port"], port: 3000, what: "Grafana" },
  { path: ["services", "dns", "port"], port: 8053, what: "the local name server" },
];

/**
 * monitoring and services, with each stack listener whose default port a bind takes moved to a free one.
 * `monitoringPort`: the port of the stack's own monitoring listener, where the config is one the stack wrote.
 */
export function servicesClear(frontends: Record<string, unknown>[], additions: string[], monitoringPort?: number): Record<string, Record<string, unknown>> {
  const taken = new Set(frontends.flatMap((f) => ((f.binds ?? []) as { port: number; lastPort?: number }[]).flatMap((b) => Array.from({ length: (b.lastPort ?? b.port) - b.port + 1 }, (_, i) => b.port + i))));
  if (monitoringPort !== undefined) taken.add(monitoringPort);
  const out: Record<string, Record<string, unknown>> = {};
  for (const { path, port, what } of STACK_PORTS) {
    if (monitoringPort !== undefined && path[0] === "monitoring") continue;
    if (!taken.has(port)) continue;
    let moved = port + 10_000;
    while (taken.has(moved)) moved++;
    taken.add(moved);
    let node = out;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, Record<string, unknown>>;
    (node as Record<string, unknown>)[path.at(-1)!] = moved;
    additions.push(`${path.join(".")} = ${moved}: ${what} moves off ${port}, which the config's frontends listen on`);
  }
  return out;
}

/** The model's timeouts HAProxy has no value for unless told: the stack's value stands in, said. */
export const ADDED_TIMEOUTS: Record<string, string> = { connect: "5s", client: "10s", server: "10s", httpRequest: "5s" };

/** What the rendered config has that the original did not say, each with why. */
export function stackAdditions(draft: Draft): string[] {
  const g = draft.global;
  return [
    ...Object.entries(ADDED_TIMEOUTS).filter(([k]) => draft.defaults.timeouts[k] === undefined).map(([k, v]) => `defaults.timeouts.${k} = ${v}: the original sets none (HAProxy would wait without limit, and warns)`),
    ...(g.maxconn === undefined ? ["global.maxconn = 4096: the original sets none (HAProxy derives one from the process's file-descriptor limit)"] : []),
    ...(g.hardStopAfter === undefined ? ["global.hardStopAfter = 30s: an old worker ends 30 s after a reload at the latest"] : []),
    ...(g.maxRequestHeaders === undefined ? ["global.maxRequestHeaders = 100 (HAProxy's default is 101)"] : []),
    ...(!draft.proxiesLog ? ["every proxy logs its traffic where global.logs say (log global in defaults): the original has no log line in its defaults or proxies, which logged nothing"] : []),
    ...(g.logs === undefined ? ["global.logs = stdout, raw, local0: the original logs nowhere; the stack's HAProxy logs to standard output (npm run logs, the container's log)"] : []),
    ...(draft.frontends.some((f) => (f.binds as { tlsCertificate?: string }[] | undefined)?.some((b) => b.tlsCertificate !== undefined)) && g.tls?.ciphers === undefined ? ["global.tls: the ciphers and cipher suites of Mozilla's intermediate profile (the original named none: OpenSSL's defaults, older ciphers included)"] : []),
    ...(draft.defaults.idleCloseOnResponse === undefined ? ["defaults.idleCloseOnResponse = true (option idle-close-on-response): a reload closes idle keep-alive connections after an answer, never under a client sending on them"] : []),
    "the stack's admin and master sockets, the monitoring listener (stats, /metrics) and the error pages' directory",
  ];
}

/** What a directive sets, for matching a later defaults section's lines with the first's: "timeout client", "option forwardfor", "mode". */
export function directiveKey(d: Directive): string {
  const [first, second, third] = values(d.words);
  if (first === "no" && second === "option") return `option ${third}`;
  return first === "timeout" || first === "option" ? `${first} ${second}` : first!;
}

/** Settings a later line replaces rather than adds to. */
export const SINGLE_VALUED = /^(timeout \S+|option \S+|mode|balance|retries|retry-on|maxconn|cookie)$/;

/** What a proxy gets when its defaults do not set what the first defaults set: HAProxy's own value, where the model holds it per proxy. */
export const BUILT_IN: Record<string, (ctx: Context) => void> = {
  mode: (ctx) => {
    if (ctx.frontend) ctx.frontend.mode = "tcp";
    if (ctx.backend) ctx.backend.mode = "tcp";
  },
  "option forwardfor": (ctx) => void (ctx.frontend && (ctx.frontend.forwardfor = false)),
  balance: (ctx) => void (ctx.backend && (ctx.backend.balance = "roundrobin")),
  "option redispatch": (ctx) => void (ctx.backend && (ctx.backend.redispatch = false)),
  retries: (ctx) => void (ctx.backend && (ctx.backend.retries = 3)),
  "retry-on": (ctx) => void (ctx.backend && (ctx.backend.retryOn = ["conn-failure"])),
  "option http-server-close": (ctx) => void (ctx.backend && delete ctx.backend.connectionMode),
  "option http-keep-alive": (ctx) => void (ctx.backend && delete ctx.backend.connectionMode),
  "option httpclose": (ctx) => void (ctx.backend && delete ctx.backend.connectionMode),
  "option httplog": () => {},
  "option tcplog": () => {},
  "option dontlognull": () => {},
  log: () => {},
};

/**
 * A proxy that takes other defaults than the first (the model's): HAProxy gives it those defaults
 * (and what they take "from"), never the first's. Each of their lines not the same as in the first is
 * replayed in the proxy, before its own lines; each setting of the first they do not repeat goes back
 * to HAProxy's own value in the proxy. What the model cannot hold per proxy is refused at that line.
 */
export function replayDefaults(
  proxy: Section,
  taken: Section | undefined,
  defaultsOf: { base?: Section; named: Map<string, Section> },
  ctx: Context,
  proxyDirective: (kind: Section["kind"], d: Directive, ctx: Context) => Outcome,
): { at: Location; directive: string; why: string }[] {
  const kind = `${proxy.kind} ${proxy.name}`;
  if (taken === undefined || taken === defaultsOf.base) return [];
  const chain: Section[] = [];
  for (let s: Section | undefined = taken; s && !chain.includes(s); s = s.args[0]?.value === "from" ? defaultsOf.named.get(s.args[1]?.value ?? "") : undefined) chain.unshift(s);
  // A setting the chain repeats takes its last value (a "from" child overrides its parent).
  const all = chain.flatMap((s) => s.directives);
  const lines = all.filter((d, i) => !SINGLE_VALUED.test(directiveKey(d)) || !all.slice(i + 1).some((later) => directiveKey(later) === directiveKey(d)));
  const base = defaultsOf.base?.directives ?? [];
  const problems: { at: Location; directive: string; why: string }[] = [];
  for (const d of lines) {
    if (base.some((b) => text(b) === text(d))) continue;
    ctx.at = d.at;
    const outcome = proxyDirective(proxy.kind, d, ctx);
    if ("refused" in outcome && !outcome.otherKind) problems.push({ at: d.at, directive: text(d), why: `${outcome.refused} (in ${kind}, which takes these defaults)` });
  }
  const keys = new Set(lines.map(directiveKey));
  for (const b of base) {
    const key = directiveKey(b);
    if (keys.has(key)) continue;
    const reset = BUILT_IN[key];
    if (reset) reset(ctx);
    else problems.push({ at: b.at, directive: text(b), why: `${kind} takes other defaults, which leave this unset (HAProxy's own value); the model cannot unset it for one proxy: repeat it in those defaults` });
  }
  return problems;
}
