// What traffic must show, and pure functions that judge a measurement against it. The caller
// derives Expectations from the topology model; nothing here reads the model, HAProxy or a socket.
import { downWithinMs, upWithinMs } from "../haproxy/check-timing.ts";

export type Balance = "roundrobin" | "leastconn" | "source" | "uri" | "first" | "random" | "url_param" | "hdr";

export interface ServerExpectation {
  name: string;
  weight: number;
  /** Backup or disabled servers take no share while the others are up. */
  active: boolean;
  interMs: number;
  fall: number;
  rise: number;
}

export interface Expectations {
  /** Where clients send traffic: the frontend under test. */
  frontendUrl: string;
  backend: string;
  balance: Balance;
  /** With url_param or hdr: the parameter or header the traffic varies (16 values), each of which must stay on one server. */
  balanceKey?: string;
  /** The persistence cookie's name, when the backend pins clients to servers. */
  cookie?: string;
  /** retries > 0, redispatch and retry-on conn-failure: a dying server must cost no request. */
  lossless: boolean;
  /** HAProxy's health-check timeout ("timeout check", else inter). */
  checkTimeoutMs: number;
  servers: ServerExpectation[];
  /** The frontend rate-limits each client address: the assertions send at most this many requests from one source. */
  perSource?: number;
  /** The CA certificate (PEM) that HTTPS answers must chain to. */
  ca?: string;
  /**
   * How long a client waits for an answer before it counts the request failed: longer than HAProxy
   * may take to give up on a server that answers nothing and retry elsewhere (timeout connect).
   */
  requestTimeoutMs?: number;
  /** Every port of every frontend, and what each must answer. */
  entrypoints?: EntrypointExpectation[];
  /** The TCP backends to fail over, one after another (npm run verify's tcpFailover). */
  tcpFailovers?: TcpFailoverExpectation[];
  /**
   * Why the backend's answers cannot say which server gave them (servers the stack does not run): the
   * assertions that must tell servers apart (distribution, persistence, failover, recovery) skip.
   */
  unattributable?: string;
  /** Requests that show the frontends' routes: each must be answered as the topology says. */
  routing?: RoutingExpectation[];
  /** The security features the model asks for, each checked with traffic. */
  security?: SecurityExpectation;
  /**
   * X-Served-At ("address:port") → HAProxy's server name, where the instance's own name differs: a
   * discovered instance answers as itself ("web-3"), HAProxy knows it by the slot its address took ("web1").
   */
  serverNames?: Record<string, string>;
}

export interface EntrypointExpectation {
  frontend: string;
  /** One port: http://127.0.0.1:60000/ or https://127.0.0.1:60443/. */
  url: string;
  /** The servers of the frontend's backend that may answer; empty with anyServer. */
  servers: string[];
  /** The backend's servers do not say who they are (servers the stack does not run): a 200 is enough. */
  anyServer?: boolean;
  /** serverName: the name a client asks for (SNI) and checks the certificate against, when not the address (a certificate for public names). */
  tls?: { minVersion: string; http2: boolean; serverName?: string };
  /** A port whose "/" is redirected (to HTTPS, or by a route): the Location expected. */
  redirectTo?: string;
  /** The redirect's status (301 unless a route says otherwise). */
  redirectStatus?: number;
  /** A port whose "/" HAProxy answers itself (a route that responds or refuses): the status expected. */
  answers?: number;
  /** The Strict-Transport-Security value expected on HTTPS answers. */
  hsts?: string;
  /** A TCP frontend's port: what a connection must show (url is tcp://...); the HTTP fields do not apply. */
  tcp?: TcpProbe;
}

/**
 * What a connection to a TCP port must show: it opens; Redis answers PING; PostgreSQL answers its
 * SSL request; a TLS handshake naming serverName is completed by a server whose verified
 * certificate carries that name (TLS passed through to it); or the connection is refused.
 */
export interface TcpProbe {
  probe: "connect" | "redis" | "postgresql" | "tls" | "refused";
  /** The SNI a tls or refused probe sends. */
  serverName?: string;
  /** The backend the routes send it to, for the report. */
  backend?: string;
}

/**
 * A TCP backend's failover: connections through its frontend while one of its servers is killed,
 * marked DOWN, started again and marked UP. The connections must keep succeeding (HAProxy retries a
 * refused connect on another server) and the states must change within the check's bounds.
 */
export interface TcpFailoverExpectation {
  frontend: string;
  /** tcp://127.0.0.1:PORT, and what each connection must show. */
  url: string;
  probe: TcpProbe;
  backend: string;
  victim: string;
  /** Where the victim itself listens (tcp://127.0.0.1:PORT): when it accepts again, it is back. */
  victimUrl: string;
  /** The victim's check timing. */
  interMs: number;
  fall: number;
  rise: number;
  checkTimeoutMs: number;
  /** retries with redispatch: a refused connect goes to another server, so no connection may fail. */
  lossless: boolean;
}

export interface TcpFailoverMeasurement {
  /** Each connection's start (ms from the run's start) and whether it showed what the probe looks for. */
  probes: { t: number; ok: boolean; saw: string }[];
  killedAt: number;
  /** When the kill had taken effect: a connection started before was open to the dying server. */
  killDoneAt: number;
  downAt?: number;
  listeningAt: number;
  upAt?: number;
}

/** Pure: the victim went DOWN and came back UP within its check's bounds, and the connections kept succeeding. */
export function judgeTcpFailover(e: TcpFailoverExpectation | undefined, m: TcpFailoverMeasurement | undefined): AssertionResult {
  if (!e || !m) return { assertion: "tcpFailover", verdict: "skip", expected: "-", measured: "no TCP frontend sends to a backend of two or more servers the stack runs (a backend whose check finds the primary switches by promotion, not by failover)" };
  const downBound = downWithinMs(e) + TIMING_SLACK_MS;
  const upBound = upWithinMs(e) + TIMING_SLACK_MS;
  // A connection open to the server as it died is cut: TCP has nothing HAProxy could retry. Every
  // connection started after (with retries and redispatch), or after DOWN (without), must succeed.
  const inFlight = (p: { t: number }) => p.t < m.killDoneAt;
  const failed = m.probes.filter((p) => !p.ok && !inFlight(p) && (e.lossless || m.downAt === undefined || p.t > m.downAt + 200));
  const problems = [
    m.downAt === undefined ? `${e.victim} was never marked DOWN` : m.downAt - m.killedAt > downBound ? `${e.victim} DOWN after ${Math.round(m.downAt - m.killedAt)} ms, over ${downBound} ms` : undefined,
    m.upAt === undefined ? `${e.victim} was never marked UP again` : m.upAt - m.listeningAt > upBound ? `${e.victim} UP after ${Math.round(m.upAt - m.listeningAt)} ms, over ${upBound} ms` : undefined,
    failed.length ? `${failed.length} of ${m.probes.length} connections failed (first: ${failed[0]!.saw})` : undefined,
    m.probes.length === 0 ? "no connection was made" : undefined,
  ].filter((p): p is string => p !== undefined);
  return {
    assertion: "tcpFailover",
    verdict: verdictOf(problems.length === 0),
    expected: `${e.frontend} (backend ${e.backend}): ${e.victim} killed is DOWN within ${downBound} ms and UP within ${upBound} ms of answering again; ${e.lossless ? "every" : "after DOWN, every"} connection started after the kill: ${tcpProbeGoal(e.probe)}`,
    measured: problems.length
      ? problems.join("; ")
      : `DOWN after ${Math.round(m.downAt! - m.killedAt)} ms, UP after ${Math.round(m.upAt! - m.listeningAt)} ms; ${m.probes.length} connections, ${m.probes.some((p) => !p.ok) ? `${m.probes.filter((p) => !p.ok).length} failed: open to the server as it died${e.lossless ? "" : ", or before DOWN (no retries take them elsewhere)"}` : "none failed"}`,
    data: { ...m },
  };
}

export interface SecurityExpectation {
  rateLimit?: { requests: number; retryAfterSeconds: number };
  /** A loopback source outside the allowlist, or why none can be made on this machine. */
  allowlist?: { outsideSource: string } | { untestable: string };
  cookie?: { name: string; secure: boolean; httponly: boolean; sameSite: string };
}

/** Pure: every TCP backend's failover, one verdict: each must pass; each says its own. */
export function judgeTcpFailovers(runs: readonly { e: TcpFailoverExpectation; m: TcpFailoverMeasurement }[]): AssertionResult {
  if (runs.length === 0) return judgeTcpFailover(undefined, undefined);
  if (runs.length === 1) return judgeTcpFailover(runs[0]!.e, runs[0]!.m);
  const each = runs.map(({ e, m }) => ({ backend: e.backend, result: judgeTcpFailover(e, m) }));
  return {
    assertion: "tcpFailover",
    verdict: verdictOf(each.every((r) => r.result.verdict === "pass")),
    expected: each.map((r) => r.result.expected).join("; "),
    measured: each.map((r) => `${r.backend}: ${r.result.verdict === "pass" ? "" : "FAIL: "}${r.result.measured}`).join("; "),
    data: Object.fromEntries(each.map((r) => [r.backend, r.result.data])),
  };
}

export const ASSERTIONS = ["health", "entrypoints", "routing", "distribution", "persistence", "security", "failover", "recovery", "tcpFailover"] as const;
export type AssertionName = (typeof ASSERTIONS)[number];

/** "skip": the model asks for nothing this assertion could check (no cookie: no persistence). */
export type Verdict = "pass" | "fail" | "skip";
export const verdictOf = (ok: boolean): Verdict => (ok ? "pass" : "fail");
/** No assertion failed (skipped ones do not count against a run). */
export const allPassed = (results: readonly AssertionResult[]) => results.every((r) => r.verdict !== "fail");

export interface AssertionResult {
  assertion: AssertionName;
  verdict: Verdict;
  expected: string;
  measured: string;
  /** Numbers for the JSON report and the chart. */
  data?: Record<string, unknown>;
}

/** Slack added to every timing bound: scheduling on a busy 2-core machine, process start-up. */
export const TIMING_SLACK_MS = 1000;
/** How far a server's share may be from its weight's share, in share points (0.05 = 5 %). */
export const SHARE_TOLERANCE = 0.05;

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const list = (counts: Map<string, number>) => [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${s} ${n}`).join(", ") || "nothing";

export interface DistributionMeasurement {
  /** Requests answered, by the server that answered (X-Served-By). */
  counts: Map<string, number>;
  failures: number;
  /** For source/uri: which servers each client (address) or path saw. */
  serversByKey?: Map<string, Set<string>>;
  /** Servers HAProxy reported UP before the traffic. */
  up: string[];
}

export function judgeDistribution(expect: Expectations, m: DistributionMeasurement): AssertionResult {
  const candidates = expect.servers.filter((s) => s.active && s.weight > 0 && m.up.includes(s.name));
  const total = [...m.counts.values()].reduce((a, b) => a + b, 0);
  const base = { assertion: "distribution" as const, data: { counts: Object.fromEntries(m.counts), failures: m.failures, balance: expect.balance } };
  if (candidates.length === 0) return { ...base, verdict: "fail", expected: "at least one active server UP", measured: `UP: ${m.up.join(", ") || "none"}` };
  const failed = m.failures > 0 ? `; ${m.failures} requests failed` : "";
  const strays = [...m.counts.keys()].filter((s) => !candidates.some((c) => c.name === s));

  switch (expect.balance) {
    case "leastconn":
    case "random":
      return judgeLeastconn(base, candidates, m, total, strays, failed);
    case "roundrobin": {
      const weights = candidates.reduce((sum, s) => sum + s.weight, 0);
      const expected = candidates.map((s) => `${s.name} ${pct(s.weight / weights)}`).join(", ");
      const off = candidates.filter((s) => Math.abs((m.counts.get(s.name) ?? 0) / Math.max(total, 1) - s.weight / weights) > SHARE_TOLERANCE);
      const measured = candidates.map((s) => `${s.name} ${pct((m.counts.get(s.name) ?? 0) / Math.max(total, 1))}`).join(", ");
      return {
        ...base,
        verdict: verdictOf(off.length === 0 && strays.length === 0 && m.failures === 0),
        expected: `${expected} of ${total + m.failures} requests (by weight, ±${pct(SHARE_TOLERANCE)}), none failed`,
        measured: `${measured}${strays.length ? `; also ${strays.join(", ")}` : ""}${failed}`,
      };
    }
    case "source":
    case "uri":
    case "url_param":
    case "hdr": {
      const [key, keys] = { source: ["client address", "client addresses"], uri: ["path", "paths"], url_param: [`${expect.balanceKey} value`, `${expect.balanceKey} values`], hdr: [`${expect.balanceKey} value`, `${expect.balanceKey} values`] }[expect.balance];
      const split = [...(m.serversByKey ?? new Map())].filter(([, servers]) => servers.size > 1);
      const used = new Set([...(m.serversByKey?.values() ?? [])].flatMap((s) => [...s]));
      const spread = candidates.length < 2 || used.size >= 2;
      return {
        ...base,
        verdict: verdictOf(split.length === 0 && spread && strays.length === 0 && m.failures === 0),
        expected: `each ${key} always reaches one server, and ${m.serversByKey?.size ?? 0} ${keys} reach more than one server in all`,
        measured: `${split.length} ${keys} split across servers${split.length ? ` (${split[0]![0]}: ${[...split[0]![1]].join(", ")})` : ""}; servers used: ${[...used].join(", ") || "none"}${failed}`,
      };
    }
    case "first": {
      const first = candidates[0]!.name;
      return {
        ...base,
        verdict: verdictOf((m.counts.get(first) ?? 0) === total && m.failures === 0 && total > 0),
        expected: `every request on ${first} (balance first, below its maxconn)`,
        measured: `${list(m.counts)}${failed}`,
      };
    }
  }
}

/**
 * leastconn sends each request to the server with the fewest connections in flight per weight, so
 * its shares follow how fast each server answers and what other clients keep busy, not turns: on
 * 2 cores, equal weights gave 55/45 from one client, 30/70 in HAProxy's counters, and weights 3:1
 * gave 37.5/62.5 while an agent's background traffic saturated both servers (equal throughput, the
 * heavier one holding more of the queue). What holds at any load: every server takes traffic and
 * none fails. The weights themselves are HAProxy's state, which drift detection compares.
 */
function judgeLeastconn(base: Omit<AssertionResult, "verdict" | "expected" | "measured">, candidates: ServerExpectation[], m: DistributionMeasurement, total: number, strays: string[], failed: string): AssertionResult {
  const share = (s: ServerExpectation) => (m.counts.get(s.name) ?? 0) / Math.max(total, 1);
  const idle = candidates.filter((s) => share(s) === 0);
  return {
    ...base,
    verdict: verdictOf(idle.length === 0 && strays.length === 0 && m.failures === 0 && total > 0),
    expected: `every server takes some of ${total + m.failures} requests (leastconn: shares follow load; weights ${candidates.map((s) => `${s.name} ${s.weight}`).join(", ")}), none failed`,
    measured: `${candidates.map((s) => `${s.name} ${pct(share(s))}`).join(", ")}${idle.length ? `; idle: ${idle.map((s) => s.name).join(", ")}` : ""}${strays.length ? `; also ${strays.join(", ")}` : ""}${failed}`,
  };
}

export interface PersistenceMeasurement {
  /** Per client: whether HAProxy set the cookie, who answered first, and who answered afterwards. */
  clients: { gotCookie: boolean; firstServer: string | undefined; servedBy: string[] }[];
  /** A request carrying a cookie for a server that was DOWN. */
  downServer?: { server: string; status: number; servedBy: string | undefined };
}

/** Whether a DOWN server's clients have another active server to go to. */
export const canRedispatch = (expect: Pick<Expectations, "servers">) => expect.servers.filter((s) => s.active).length >= 2;

export function judgePersistence(expect: Expectations, m: PersistenceMeasurement): AssertionResult {
  const base = { assertion: "persistence" as const, data: { ...m } };
  if (!expect.cookie) {
    return { ...base, verdict: "skip", expected: "no cookie persistence in the model: nothing to check", measured: "skipped" };
  }
  const unpinned = m.clients.filter((c) => !c.gotCookie).length;
  const strayed = m.clients.filter((c) => c.servedBy.some((s) => s !== c.firstServer));
  const down = m.downServer;
  // With one active server (a group scaled to 1) no other can take a DOWN server's clients.
  const downCase = canRedispatch(expect);
  const redispatched = !downCase || (down !== undefined && down.status === 200 && down.servedBy !== undefined && down.servedBy !== down.server);
  const measured = [
    unpinned ? `${unpinned} of ${m.clients.length} clients got no ${expect.cookie} cookie` : `${m.clients.length} clients pinned (${[...new Set(m.clients.map((c) => c.firstServer))].join(", ")})`,
    strayed.length ? `${strayed.length} left their server (${strayed[0]!.firstServer} → ${strayed[0]!.servedBy.find((s) => s !== strayed[0]!.firstServer)})` : "none left its server",
    down ? `cookie for DOWN ${down.server} → ${down.status} from ${down.servedBy ?? "nobody"}` : downCase ? "DOWN case not run" : "DOWN case not applicable",
  ].join("; ");
  return {
    ...base,
    verdict: verdictOf(unpinned === 0 && strayed.length === 0 && redispatched),
    expected: `every client gets a ${expect.cookie} cookie and stays on its server; ${downCase ? "a cookie naming a DOWN server is served (200) by a live one" : "(one active server: no other to take a DOWN server's clients)"}`,
    measured,
  };
}

/** One request of the background traffic: when it ended, who answered, how. */
export interface TrafficSample {
  /** Milliseconds since the traffic started. */
  t: number;
  server?: string;
  status?: number;
  error?: string;
}

export interface FailoverMeasurement {
  server: string;
  samples: TrafficSample[];
  killedAt: number;
  /** When the server was started again: the window of "all traffic on the others" ends there. */
  restartedAt: number;
  /** When HAProxy first reported the server DOWN (undefined: never, within the wait). */
  downAt?: number;
}

export function failoverBoundMs(expect: Expectations, server: ServerExpectation): number {
  return downWithinMs({ ...server, checkTimeoutMs: expect.checkTimeoutMs }) + TIMING_SLACK_MS;
}

/** A request that got no answer, or a 5xx one. */
export const failedRequest = (s: TrafficSample) => s.error !== undefined || (s.status ?? 0) >= 500;

/** How requests failed, most frequent first: "503 ×2, UND_ERR_SOCKET ×1" (a status, or the client's error code). */
export function failureKinds(failed: readonly TrafficSample[]): string {
  const counts = new Map<string, number>();
  for (const s of failed) {
    const kind = s.error ?? String(s.status);
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([kind, n]) => `${kind} ×${n}`).join(", ");
}

export function judgeFailover(expect: Expectations, m: FailoverMeasurement): AssertionResult {
  const server = expect.servers.find((s) => s.name === m.server)!;
  const bound = failoverBoundMs(expect, server);
  const window = m.samples.filter((s) => s.t >= m.killedAt && s.t < m.restartedAt);
  const failures = window.filter(failedRequest);
  const failed = failures.length;
  // A request that had already been sent to the server before DOWN may finish a moment later.
  const afterDown = m.downAt === undefined ? [] : window.filter((s) => s.t > m.downAt! + 200);
  const stillSent = afterDown.filter((s) => s.server === m.server).length;
  const detected = m.downAt === undefined ? undefined : m.downAt - m.killedAt;
  const lossOk = !expect.lossless || failed === 0;
  return {
    assertion: "failover",
    verdict: verdictOf(detected !== undefined && detected <= bound && lossOk && stillSent === 0 && afterDown.length > 0),
    expected: `${m.server} DOWN within ${bound} ms (inter ${server.interMs} × fall ${server.fall} + check timeout ${expect.checkTimeoutMs} + slack ${TIMING_SLACK_MS}); ${expect.lossless ? "0 failed requests (retries, redispatch, retry-on)" : "failed requests reported (the backend does not retry)"}; then all traffic on the others`,
    measured: `DOWN after ${detected === undefined ? "never" : `${detected} ms`}; ${failed} of ${window.length} requests failed${failed ? ` (${failureKinds(failures)})` : ""}; ${stillSent} of ${afterDown.length} later requests still reached ${m.server}`,
    data: { server: m.server, killedAt: m.killedAt, downAt: m.downAt, detectionMs: detected, boundMs: bound, failed, requests: window.length },
  };
}

export interface RecoveryMeasurement {
  server: string;
  samples: TrafficSample[];
  /** When the restarted server answered its health endpoint directly. */
  listeningAt: number;
  upAt?: number;
}

export function recoveryBoundMs(server: ServerExpectation): number {
  return upWithinMs(server) + TIMING_SLACK_MS;
}

export function judgeRecovery(expect: Expectations, m: RecoveryMeasurement): AssertionResult {
  const server = expect.servers.find((s) => s.name === m.server)!;
  const bound = recoveryBoundMs(server);
  const took = m.upAt === undefined ? undefined : m.upAt - m.listeningAt;
  const afterUp = m.upAt === undefined ? [] : m.samples.filter((s) => s.t > m.upAt! + 200);
  const reached = afterUp.filter((s) => s.server === m.server).length;
  return {
    assertion: "recovery",
    verdict: verdictOf(took !== undefined && took <= bound && reached > 0),
    expected: `${m.server} UP within ${bound} ms of answering again (rise ${server.rise} × inter ${server.interMs} + one inter + slack ${TIMING_SLACK_MS}); then it takes traffic again`,
    measured: `UP after ${took === undefined ? "never" : `${took} ms`}; ${reached} of ${afterUp.length} later requests reached it`,
    data: { server: m.server, listeningAt: m.listeningAt, upAt: m.upAt, recoveryMs: took, boundMs: bound, reached },
  };
}

export interface HealthMeasurement {
  socketAnswers: boolean;
  /** Servers HAProxy knows in the backend, with their status. */
  known: Map<string, string>;
  /** Prometheus scrape jobs and their health; undefined when Prometheus is not part of the check. */
  prometheusTargets?: Map<string, string>;
  /** The jobs Prometheus must scrape. */
  expectedJobs?: string[];
}

export function judgeHealth(expect: Expectations, m: HealthMeasurement): AssertionResult {
  const missing = expect.servers.filter((s) => !m.known.has(s.name)).map((s) => s.name);
  const notUp = expect.servers.filter((s) => s.active && m.known.has(s.name) && m.known.get(s.name) !== "UP").map((s) => `${s.name} ${m.known.get(s.name)}`);
  const targets = m.prometheusTargets ?? new Map<string, string>();
  const targetsDown = [
    ...[...targets].filter(([, h]) => h !== "up").map(([job, h]) => `${job} ${h}`),
    ...(m.expectedJobs ?? []).filter((job) => !targets.has(job)).map((job) => `${job} missing`),
  ];
  return {
    assertion: "health",
    verdict: verdictOf(m.socketAnswers && missing.length === 0 && notUp.length === 0 && targetsDown.length === 0),
    expected: `the stats socket answers; HAProxy knows ${expect.servers.map((s) => s.name).join(", ")} in ${expect.backend}, active ones UP${m.prometheusTargets ? `; Prometheus scrapes ${(m.expectedJobs ?? []).join(", ")}, every target up` : ""}`,
    measured: [
      m.socketAnswers ? "socket answers" : "socket does not answer",
      missing.length ? `missing: ${missing.join(", ")}` : `known: ${[...m.known.keys()].join(", ")}`,
      notUp.length ? `not UP: ${notUp.join(", ")}` : "active servers UP",
      m.prometheusTargets ? (targetsDown.length ? `targets down: ${targetsDown.join(", ")}` : `${m.prometheusTargets.size} targets up`) : "",
    ].filter(Boolean).join("; "),
  };
}

export interface EntrypointMeasurement {
  url: string;
  status?: number;
  server?: string;
  location?: string;
  hsts?: string;
  error?: string;
  tls?: {
    /** The chain verified against the stack's CA. */
    authorized: boolean;
    authorizationError?: string;
    protocol?: string;
    /** What ALPN chose when h2 and http/1.1 were offered. */
    alpn?: string;
    /** A handshake offering only the version below the minimum: refused by the server, or not. */
    belowMinimum?: { offered: string; outcome: string };
  };
  /** A TCP probe's outcome: what it saw, and whether that is what the probe looks for. */
  tcp?: { serverName?: string; ok: boolean; saw: string };
}

/** Pure: every port of every frontend answers as the model says (backend, TLS, redirect, HSTS). */
/** One request of the routing matrix and what must come of it. */
export interface RoutingExpectation {
  /** The route the request is about, and whether the route must take it. */
  route: string;
  kind: "match" | "near miss";
  /** The bind the request goes to. */
  url: string;
  method: string;
  host: string;
  /** Path and query, as sent. */
  target: string;
  headers: [string, string][];
  /** The client address it comes from (loopback); "" for the machine's own choice. */
  source: string;
  /** What the resolver says: the status, and which servers may answer, the Location, the body. */
  status: number;
  servers?: string[];
  location?: string;
  body?: string;
  /** The decision in words, for the report: "backend api_v2 (route api-v2)". */
  outcome: string;
}

export interface RoutingMeasurement {
  status?: number;
  server?: string;
  location?: string;
  body?: string;
  error?: string;
}

/** Every request of the matrix answered as the resolver said: status, server, Location, body. */
export function judgeRouting(expected: readonly RoutingExpectation[], measured: readonly RoutingMeasurement[]): AssertionResult {
  const problems: string[] = [];
  expected.forEach((e, i) => {
    const m = measured[i];
    const request = `${e.method} ${e.host}${e.target}${e.headers.length ? ` [${e.headers.map(([n, v]) => `${n}: ${v}`).join(", ")}]` : ""}${e.source !== "127.0.0.1" ? ` from ${e.source}` : ""}`;
    const say = (problem: string) => problems.push(`${request} (${e.kind} of ${e.route}): ${problem}, expected ${e.outcome}`);
    if (!m || m.error !== undefined) return say(m?.error ?? "not measured");
    if (m.status !== e.status) return say(`answered ${m.status}${m.server ? ` from ${m.server}` : ""}${m.location ? ` to ${m.location}` : ""}`);
    if (e.servers && (!m.server || !e.servers.includes(m.server))) return say(`answered from ${m.server ?? "no server"}`);
    if (e.location !== undefined && m.location !== e.location) return say(`redirected to ${m.location ?? "nowhere"}`);
    if (e.body !== undefined && m.body !== e.body) return say(`answered ${JSON.stringify(m.body?.slice(0, 60))}`);
  });
  const routes = new Set(expected.map((e) => e.route)).size;
  if (expected.length === 0) return { assertion: "routing", verdict: "skip", expected: "-", measured: "no HTTP frontend has routes (a TCP frontend's are proven by the entry points)" };
  return {
    assertion: "routing",
    verdict: verdictOf(problems.length === 0),
    expected: `${expected.length} requests (${expected.filter((e) => e.kind === "match").length} matches, ${expected.filter((e) => e.kind === "near miss").length} near misses) over ${routes} routes answered as the topology says`,
    measured: problems.length ? problems.slice(0, 5).join("; ") + (problems.length > 5 ? `; and ${problems.length - 5} more` : "") : `${measured.length} requests as expected`,
    data: { measured },
  };
}

export function judgeEntrypoints(expected: readonly EntrypointExpectation[], measured: readonly EntrypointMeasurement[]): AssertionResult {
  const problems: string[] = [];
  for (const ep of expected) {
    const m = measured.find((x) => x.url === ep.url && x.tcp?.serverName === ep.tcp?.serverName);
    const say = (problem: string) => problems.push(`${ep.frontend} ${ep.url}${ep.tcp?.serverName ? ` (SNI ${ep.tcp.serverName})` : ""}: ${problem}`);
    if (!m) {
      say("not measured");
      continue;
    }
    if (ep.tcp) {
      if (!m.tcp?.ok) say(`${tcpProbeGoal(ep.tcp)}, but ${m.tcp?.saw ?? m.error ?? "nothing was seen"}`);
      continue;
    }
    if (m.error) say(m.error);
    else if (ep.redirectTo !== undefined) {
      const status = ep.redirectStatus ?? 301;
      if (m.status !== status || m.location !== ep.redirectTo) say(`answered ${m.status}${m.location ? ` to ${m.location}` : ""}, not ${status} to ${ep.redirectTo}`);
    } else if (ep.answers !== undefined) {
      if (m.status !== ep.answers) say(`answered ${m.status ?? "nothing"}, not ${ep.answers}`);
    } else if (ep.anyServer) {
      if (m.status !== 200) say(`answered ${m.status ?? "nothing"}, not 200`);
    } else if (m.status !== 200 || !m.server || !ep.servers.includes(m.server)) say(`answered ${m.status ?? "nothing"} from ${m.server ?? "no server"}, not 200 from one of ${ep.servers.join(", ")}`);
    if (ep.tls) {
      const tls = m.tls;
      if (!tls?.authorized) say(`certificate chain not verified (${tls?.authorizationError ?? "no TLS"})`);
      if (tls?.protocol && tlsRank(tls.protocol) < tlsRank(ep.tls.minVersion)) say(`negotiated ${tls.protocol}, below ${ep.tls.minVersion}`);
      if (tls?.belowMinimum && tls.belowMinimum.outcome !== "refused") say(`a client offering only ${tls.belowMinimum.offered} was ${tls.belowMinimum.outcome}`);
      if (ep.tls.http2 && tls?.alpn !== "h2") say(`ALPN chose ${tls?.alpn || "nothing"}, not h2`);
      if (ep.hsts !== undefined && m.hsts !== ep.hsts) say(`Strict-Transport-Security ${JSON.stringify(m.hsts ?? null)}, not ${JSON.stringify(ep.hsts)}`);
    }
  }
  const tlsPorts = expected.filter((e) => e.tls).length;
  const tcpProbes = expected.filter((e) => e.tcp).length;
  return {
    assertion: "entrypoints",
    verdict: verdictOf(problems.length === 0 && expected.length > 0),
    expected: `${new Set(expected.map((e) => e.url)).size} ports of ${new Set(expected.map((e) => e.frontend)).size} frontends answer from their backend${tcpProbes ? ` (${tcpProbes} connections to TCP ports speak their protocol or show their SNI name's certificate)` : ""}${tlsPorts ? `; ${tlsPorts} over TLS with a verified chain, at least ${[...new Set(expected.flatMap((e) => e.tls?.minVersion ?? []))].join("/")}` : ""}`,
    measured: problems.length ? problems.join("; ") : `${measured.length} ${tcpProbes ? "probes" : "ports"} as expected${measured.some((m) => m.tls) ? ` (TLS: ${[...new Set(measured.flatMap((m) => (m.tls ? [`${m.tls.protocol} ${m.tls.alpn || "no ALPN"}`] : [])))].join(", ")})` : ""}`,
    data: { measured },
  };
}

/** What a TCP probe looks for, as the report says it. */
export function tcpProbeGoal(p: TcpProbe): string {
  const to = p.backend ? ` (backend ${p.backend})` : "";
  switch (p.probe) {
    case "connect":
      return `a connection opens${to}`;
    case "redis":
      return `Redis answers PING with +PONG${to}`;
    case "postgresql":
      return `PostgreSQL answers an SSL request${to}`;
    case "tls":
      return `a handshake for ${p.serverName ?? "no name"} completes with a verified certificate for that name${to}`;
    case "refused":
      return `a handshake for ${p.serverName ?? "no name"} is refused`;
  }
}

const tlsRank = (version: string) => ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"].indexOf(version);

export interface SecurityMeasurement {
  rateLimit?: { statuses: number[]; retryAfter?: string; otherSourceStatus?: number; afterWindowStatus?: number; skipped?: string };
  allowlist?: { outsideStatus?: number; reachedServer?: boolean; insideStatus?: number };
  /** The raw Set-Cookie header of a first answer. */
  cookie?: { setCookie?: string };
}

/** Pure: the rate limit, the allowlist and the cookie attributes behave as the model says. */
export function judgeSecurity(expected: SecurityExpectation | undefined, m: SecurityMeasurement): AssertionResult {
  const checks: { what: string; ok: boolean | "skip"; measured: string }[] = [];
  const limit = expected?.rateLimit;
  if (limit) {
    const r = m.rateLimit;
    if (!r || r.skipped) checks.push({ what: "rate limit", ok: "skip", measured: r?.skipped ?? "not measured" });
    else {
      const served = r.statuses.filter((s) => s === 200).length;
      const limited = r.statuses.filter((s) => s === 429).length;
      checks.push({
        what: `rate limit (${limit.requests} then 429, Retry-After ${limit.retryAfterSeconds}; another address served; served again after the window)`,
        ok: served === limit.requests && limited === r.statuses.length - served && limited > 0 && r.retryAfter === String(limit.retryAfterSeconds) && r.otherSourceStatus === 200 && r.afterWindowStatus === 200,
        measured: `${served} served then ${limited} × 429 (Retry-After ${r.retryAfter ?? "none"}); another address ${r.otherSourceStatus ?? "-"}; after the window ${r.afterWindowStatus ?? "-"}`,
      });
    }
  }
  const allow = expected?.allowlist;
  if (allow) {
    if ("untestable" in allow) checks.push({ what: "allowlist", ok: "skip", measured: allow.untestable });
    else {
      const a = m.allowlist;
      checks.push({
        what: `allowlist (403 from ${allow.outsideSource}, never reaching a server; 200 from inside)`,
        ok: a?.outsideStatus === 403 && a.reachedServer === false && a.insideStatus === 200,
        measured: `outside ${a?.outsideStatus ?? "-"}${a?.reachedServer ? " (reached a server)" : ""}, inside ${a?.insideStatus ?? "-"}`,
      });
    }
  }
  const cookie = expected?.cookie;
  if (cookie) {
    const raw = m.cookie?.setCookie ?? "";
    const attrs = raw.split(";").slice(1).map((a) => a.trim().toLowerCase());
    const want = [cookie.secure ? "secure" : undefined, cookie.httponly ? "httponly" : undefined, `samesite=${cookie.sameSite.toLowerCase()}`].filter((a): a is string => a !== undefined);
    const unwanted = [!cookie.secure ? "secure" : undefined, !cookie.httponly ? "httponly" : undefined].filter((a): a is string => a !== undefined);
    checks.push({
      what: `cookie ${cookie.name} with ${want.join(", ")}`,
      ok: raw.startsWith(`${cookie.name}=`) && want.every((w) => attrs.includes(w)) && !unwanted.some((u) => attrs.includes(u)),
      measured: raw ? `Set-Cookie: ${raw}` : "no Set-Cookie",
    });
  }
  const judged = checks.filter((c) => c.ok !== "skip");
  return {
    assertion: "security",
    verdict: checks.length === 0 ? "skip" : judged.some((c) => c.ok === false) ? "fail" : "pass",
    expected: checks.length ? checks.map((c) => c.what).join("; ") : "the model asks for no rate limit, allowlist or cookie",
    measured: checks.map((c) => `${c.ok === "skip" ? "not checked: " : c.ok ? "" : "FAILED: "}${c.measured}`).join("; ") || "-",
    data: { ...m },
  };
}
