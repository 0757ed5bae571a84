// How HAProxy decides that a server is healthy: one check kind per backend (HTTP, a bare connect,
// a protocol's own handshake, or a typed tcp-check sequence), on the traffic's port or another one,
// and optionally an agent that reports a server's own weight or state.
//
// A check that finds a primary (a Redis master, a Patroni leader) passes on one server only: the
// others are DOWN by design, which the stack, verify and the alerts treat as healthy.
import { isIP } from "node:net";
import { z } from "zod";
import { EnvName, intIn, show } from "./names.ts";
import { HeaderValue, Regex } from "./routing.ts";
import { ServerTls } from "./tls.ts";

const CheckPort = intIn(1, 65535, "a port");

/** Text a check sends or expects: printable ASCII and the line breaks and tabs protocols use. */
const CHECK_TEXT_PATTERN = /^[\x20-\x7e\r\n\t]{1,1024}$/;
export const CheckText = z.string().regex(CHECK_TEXT_PATTERN, { error: (iss) => `${show(iss.input)} is not usable check text: use 1 to 1024 printable ASCII characters, "\\r", "\\n" or "\\t"` }).meta({ title: "text" });
/** Bytes as hexadecimal digits, two per byte. */
export const HexBytes = z.string().regex(/^([0-9a-fA-F]{2}){1,512}$/, { error: (iss) => `${show(iss.input)} is not hexadecimal bytes: use pairs of hex digits, e.g. "0d0a"` }).meta({ title: "hex bytes" });

/** What a check's answer must hold: exactly one of these. */
const EXPECTS = ["string", "regex", "binary"] as const;
export const CheckExpect = z
  .strictObject({
    string: CheckText.optional().describe("The answer contains this text."),
    regex: Regex.optional().describe("The answer matches this regular expression."),
    binary: HexBytes.optional().describe("The answer contains these bytes (hexadecimal)."),
    negate: z.boolean().default(false).describe("The check passes when the answer does NOT hold it."),
  })
  .superRefine((expect, ctx) => {
    const given = EXPECTS.filter((k) => expect[k] !== undefined);
    if (given.length !== 1) ctx.addIssue({ code: "custom", message: `an expectation has exactly one of ${EXPECTS.join(", ")}${given.length ? ` (found ${given.join(", ")})` : ""}` });
  }).meta({ id: "CheckExpect" });
export type CheckExpect = z.output<typeof CheckExpect>;

/** One step of a tcp-check sequence: exactly one of connect, send, sendBinary, expect. */
const STEP_KINDS = ["connect", "send", "sendBinary", "expect"] as const;
export const CheckStep = z
  .strictObject({
    connect: z.strictObject({ port: CheckPort.optional().describe("Connect to this port instead of the server's."), tls: z.boolean().default(false).describe("Connect over TLS.") }).optional().describe("Open the connection (first step implied when absent): on another port, over TLS."),
    send: CheckText.optional().describe("Send this text."),
    sendBinary: HexBytes.optional().describe("Send these bytes (hexadecimal)."),
    expect: CheckExpect.optional().describe("Wait for an answer that holds this."),
  })
  .superRefine((step, ctx) => {
    const given = STEP_KINDS.filter((k) => step[k] !== undefined);
    if (given.length !== 1) ctx.addIssue({ code: "custom", message: `a check step is exactly one of ${STEP_KINDS.join(", ")}${given.length ? ` (found ${given.join(" and ")})` : ""}` });
  }).meta({ id: "CheckStep" });
export type CheckStep = z.output<typeof CheckStep>;

const DatabaseUser = z.string().regex(/^[A-Za-z0-9_.-]{1,63}$/, { error: (iss) => `${show(iss.input)} is not a user name: use 1 to 63 letters, digits or "_.-"` });

/** The check kinds: a backend's healthCheck has exactly one. */
export const CHECK_KINDS = ["http", "connect", "steps", "redis", "postgresql", "mysql", "smtp", "ldap", "tlsHello"] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];
/**
 * The kinds that speak a protocol other than HTTP, which an HTTP backend's servers do not. An HTTP
 * check fits a TCP backend (Patroni's REST API beside PostgreSQL), a connect or a sequence fits both.
 */
export const TCP_ONLY_CHECK_KINDS: readonly CheckKind[] = ["redis", "postgresql", "mysql", "smtp", "ldap", "tlsHello"];

/** HAProxy's rule for an HTTP check that names no status: any 2xx or 3xx answer is healthy. */
export const ANY_SUCCESS = "2xx or 3xx";

export const HttpCheck = z.strictObject({
  method: z.enum(["GET", "HEAD", "OPTIONS"]).default("GET").describe("The check request's method."),
  path: z.string().regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,200}$/, { error: (iss) => `${show(iss.input)} is not a request path: start with "/" and use no spaces, quotes or "#"` }).default("/").describe("The path it asks for (a readiness endpoint)."),
  host: z.string().regex(/^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$/, { error: (iss) => `${show(iss.input)} is not a host: use e.g. "api.example.com"` }).optional().describe("The Host header the check sends (servers behind name-based virtual hosts need one)."),
  expectStatus: z
    .union([intIn(100, 599, "an HTTP status"), z.literal(ANY_SUCCESS)], { error: (iss) => `${show(iss.input)} is not an HTTP status: use a whole number from 100 to 599, or "${ANY_SUCCESS}"` })
    .default(200)
    .describe(`The status a healthy server answers: one, or "${ANY_SUCCESS}" (HAProxy's own rule where a config names none).`),
  expectBody: HeaderValue.optional().describe("The body must also contain this text (an endpoint that answers 200 with \"not ready\" fails)."),
  expectBodyRegex: Regex.optional().describe("The body must also match this regular expression."),
}).meta({ id: "HttpCheck" });

export const HealthCheck = z
  .strictObject({
    http: HttpCheck.optional().describe("An HTTP request and the status (and body) it must get."),
    connect: z.literal(true).optional().describe("A TCP connection that opens: the least a server must do."),
    steps: z.array(CheckStep).min(1, { error: "a check sequence needs at least one step" }).max(32, { error: "keep a check sequence to 32 steps" }).optional().describe("A tcp-check sequence: connect, send, expect, in order."),
    redis: z.strictObject({ /** AUTH first, with the password HAProxy reads from this environment variable. */ passwordFromEnv: EnvName.optional().describe("AUTH first, with the password HAProxy reads from this environment variable.") }).optional().describe("Redis answers PING (and, with primaryOnly, says role:master)."),
    postgresql: z.strictObject({ user: DatabaseUser.describe("The user the startup message names.") }).optional().describe("PostgreSQL answers a startup message for this user (pgsql-check); it needs no password, only a pg_hba entry."),
    mysql: z.strictObject({ user: DatabaseUser.describe("The user that logs in.") }).optional().describe("MySQL or MariaDB answers a login of this user, which needs no password (mysql-check post-41)."),
    smtp: z.strictObject({ domain: z.string().regex(/^[A-Za-z0-9.-]{1,253}$/).default("localhost").describe("The domain the check's EHLO names.") }).optional().describe("An SMTP server greets, answers EHLO with 2xx."),
    ldap: z.literal(true).optional().describe("An LDAP server answers an anonymous bind."),
    tlsHello: z.literal(true).optional().describe("A TLS server answers a ClientHello (ssl-hello-chk): TLS passed through, never terminated here."),
    port: CheckPort.optional().describe("Check this port instead of the traffic's (Patroni's REST API on 8008 while 5432 carries the traffic)."),
    address: z.string().refine((a) => isIP(a) !== 0, { error: (iss) => `${show(iss.input)} is not an IP address: a check's address is an IPv4 or IPv6 address` }).optional().describe("Check this address instead of the server's (an agent or sidecar on another interface): every server's check goes there."),
    tls: z.boolean().default(false).describe("Check over TLS (check-ssl), verified as the backend's tls says, or as tlsVerify says where the traffic is not TLS."),
    tlsVerify: ServerTls.optional().describe("How a check over TLS verifies servers whose traffic passes through untouched (the backend has no tls): a Kubernetes API server's /readyz behind a TCP frontend. The backend's tls governs otherwise."),
    primaryOnly: z.boolean().default(false).describe("Only the primary passes (a Redis master, a Patroni leader): one server UP and the rest DOWN is healthy, none or several UP is not. With redis, the check asks for role:master."),
  })
  .superRefine((check, ctx) => {
    const given = CHECK_KINDS.filter((k) => check[k] !== undefined);
    if (given.length !== 1) ctx.addIssue({ code: "custom", message: `a health check is exactly one of ${CHECK_KINDS.join(", ")}${given.length ? ` (found ${given.join(" and ")})` : ""}` });
    if (check.tls && check.tlsHello) ctx.addIssue({ code: "custom", path: ["tls"], message: "tlsHello sends its own ClientHello in the clear: remove tls" });
  }).meta({ id: "HealthCheck" });
export type HealthCheck = z.output<typeof HealthCheck>;

/** A check's kind. */
export const checkKind = (check: HealthCheck): CheckKind => CHECK_KINDS.find((k) => check[k] !== undefined)!;

/**
 * An agent on each server (HAProxy's agent-check) that answers a line such as "75%", "drain",
 * "maint", "up" or "down": the server's own say on its weight and state, beside the health check.
 */
export const AgentCheck = z.strictObject({
  port: CheckPort.describe("The port the agent listens on."),
  inter: z.string().regex(/^[0-9]{1,7}(us|ms|s|m|h|d)$/, { error: (iss) => `${show(iss.input)} is not a duration: use e.g. "2s"` }).default("2s").describe("How often HAProxy asks the agent."),
  send: CheckText.optional().describe("What HAProxy sends the agent first (a line), if anything."),
}).meta({ id: "AgentCheck" });
export type AgentCheck = z.output<typeof AgentCheck>;

/** Whether a backend's servers are expected UP one at a time: its check finds the primary. */
export const picksPrimary = (backend: { healthCheck?: Pick<HealthCheck, "primaryOnly"> }) => backend.healthCheck?.primaryOnly === true;

/** The HTTP path a check asks, where it is an HTTP check: what container health checks reuse. */
export const httpCheckPath = (backend: { healthCheck?: Pick<HealthCheck, "http"> }) => backend.healthCheck?.http?.path;

/** What a backend's servers speak, as far as the stacks must know to run and probe them. */
export type ServerProtocol = "http" | "redis" | "postgresql" | "tls";

/**
 * What a backend's servers speak, told by its check: an HTTP check (or none) means web servers,
 * redis and postgresql checks those databases, tlsHello TLS servers whose TLS HAProxy passes
 * through. Undefined for checks that do not say (connect, steps, mysql, smtp, ldap): the stacks run
 * no server for such a backend, whose servers must be external.
 */
export function serverProtocol(backend: { healthCheck?: HealthCheck }): ServerProtocol | undefined {
  const check = backend.healthCheck;
  if (check === undefined) return "http";
  const kind = checkKind(check);
  if (kind === "http") return "http";
  if (kind === "redis" || kind === "postgresql") return kind;
  if (kind === "tlsHello") return "tls";
  return undefined;
}
