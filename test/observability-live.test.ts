// Observability on the running local stack: Prometheus stores HAProxy's series from one job, every
// panel of the generated dashboard (and of the public reference dashboard) returns data, the
// distribution check sees weights that differ from the topology, and a dead server's alert reaches
// Alertmanager's webhook and resolves.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { parseDuration } from "../haproxy/duration.ts";
import { TrafficClient } from "../verification/traffic.ts";
import { runAssertions } from "../verification/run.ts";
import { ALERTS } from "../infra/render/alert-rules.ts";
import { DASHBOARD_PANELS } from "../infra/render/dashboard.ts";
import { HAPROXY_JOB } from "../infra/render/prometheus.ts";
import { DASHBOARD_FILE, PROMETHEUS_CONFIG_FILE } from "../infra/runtime/declaration.ts";
import { expectationsFromTopology, localStackAccess, recordVerifyReport, START_CHECKS } from "../infra/runtime/verify.ts";
import { ALERTMANAGER_PATHS, PROMETHEUS_PATHS } from "../infra/endpoints.ts";
import { eventually, getJson, startTestStack, type TestStack } from "./support/stack.ts";
import { REPO_ROOT } from "./support/run-cli.ts";

const WEBHOOK_ENV = "LB_TEST_ALERT_WEBHOOK_URL";
const REFERENCE_DASHBOARD = join(REPO_ROOT, "../shared/reference/grafana-haproxy-dashboard.json");

/** What Alertmanager posted to the test's webhook. */
interface Notification {
  status: "firing" | "resolved";
  alerts: { status: string; labels: Record<string, string> }[];
  receivedAt: number;
}

let running: TestStack;
let prometheus: string;
let webhook: Server;
const notifications: Notification[] = [];

/** Paced, bounded traffic through the first frontend: `perSecond` for at most `seconds`, or until `stop` aborts. */
async function traffic(perSecond: number, seconds: number, stop?: AbortSignal): Promise<number> {
  const port = running.topology.frontends[0]!.binds[0]!.port;
  const client = new TrafficClient(`http://127.0.0.1:${port}/`, { connections: 4, timeoutMs: 2000 });
  const deadline = Date.now() + seconds * 1000;
  let ok = 0;
  try {
    for (let i = 0; i < perSecond * seconds && Date.now() < deadline && !stop?.aborted; i++) {
      const started = Date.now();
      if ((await client.get()).status === 200) ok++;
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 / perSecond - (Date.now() - started))));
    }
  } finally {
    await client.close();
  }
  return ok;
}

async function query(expr: string): Promise<{ status: string; error?: string; data?: { result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[] } }> {
  return getJson(`${prometheus}${PROMETHEUS_PATHS.queryApi}?query=${encodeURIComponent(expr)}`);
}

/** A range query over the last minute, as a Grafana panel asks for it. */
async function queryRange(expr: string): Promise<{ status: string; error?: string; data?: { result: unknown[] } }> {
  const end = Date.now() / 1000;
  return getJson(`${prometheus}/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${end - 60}&end=${end}&step=2`);
}

const firing = async (alertname: string, labels: Record<string, string>) => {
  const alerts: { labels: Record<string, string>; state: string }[] = (await getJson(`${prometheus}${PROMETHEUS_PATHS.alertsApi}`)).data.alerts;
  return alerts.find((a) => a.labels.alertname === alertname && Object.entries(labels).every(([k, v]) => a.labels[k] === v))?.state;
};

beforeAll(async () => {
  webhook = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      notifications.push({ ...JSON.parse(body), receivedAt: Date.now() });
      response.end();
    });
  });
  await new Promise<void>((listening) => webhook.listen(0, "127.0.0.1", listening));
  process.env[WEBHOOK_ENV] = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/alerts`;
  running = await startTestStack(
    (t) => {
      t.services.prometheus = { port: 9090, scrapeInterval: "1s", evaluationInterval: "1s" };
      t.services.sidecar = { port: 9101, pollInterval: "1s", distributionWindow: "10s" };
      t.services.alertmanager = { port: 9093, groupWait: "1s", groupInterval: "1s", repeatInterval: "1h", webhooks: [{ name: "test", urlFromEnv: WEBHOOK_ENV }] };
    },
    { sidecar: true },
  );
  prometheus = `http://127.0.0.1:${running.topology.services.prometheus.port}`;
  // What npm start does once up: the quick assertions, left for the sidecar (and the dashboard).
  const run = await runAssertions(expectationsFromTopology(running.topology), localStackAccess(running.stack.plan, () => {}), START_CHECKS);
  await recordVerifyReport(running.runDir, { topology: running.topology.name, generatedAt: new Date().toISOString(), passed: true, results: run.results });
});

afterAll(async () => {
  await running?.cleanup();
  delete process.env[WEBHOOK_ENV];
  await new Promise((closed) => webhook?.close(closed));
});

describe("one source per series", () => {
  it("Prometheus stores haproxy_* series from the sidecar's job only, while it scrapes HAProxy's own exporter too", async () => {
    await traffic(20, 2);
    for (const job of [HAPROXY_JOB, "haproxy-exporter"]) {
      assert.ok(await eventually(async () => (await query(`up{job="${job}"}`)).data!.result[0]?.value?.[1] === "1", 10_000), `${job} is scraped`);
    }
    // Both scraped at least once since: the sidecar's series are in, HAProxy's would be by now.
    assert.ok(await eventually(async () => (await query("haproxy_process_nbthread")).data!.result.length > 0, 10_000), "HAProxy's series are stored");
    await new Promise((r) => setTimeout(r, 2 * parseDuration(running.topology.services.prometheus.scrapeInterval)));
    const jobs = (await query('count by (job) ({__name__=~"haproxy_(process|frontend|backend|server)_.+"})')).data!.result.map((r) => r.metric.job);
    assert.deepEqual(jobs, [HAPROXY_JOB]);
    // What that makes true of every sum the dashboard and the rules take: counted once.
    const [builtin, stored] = await Promise.all([
      fetch(`http://127.0.0.1:${running.topology.monitoring.port}/metrics`).then((r) => r.text()),
      query('sum(haproxy_backend_http_requests_total{proxy="flask_servers"})'),
    ]);
    const live = Number(/^haproxy_backend_http_requests_total\{proxy="flask_servers"\} (\d+)/m.exec(builtin)![1]);
    const summed = Number(stored.data!.result[0]!.value![1]);
    assert.ok(summed <= live && summed > live / 2, `the stored sum ${summed} is not twice HAProxy's ${live}`);
  });

  it("the generated configuration keeps haproxy_* series from one job, so queries need not select a job", () => {
    const config = parseYaml(readFileSync(join(running.runDir, PROMETHEUS_CONFIG_FILE), "utf8"));
    const storing = config.scrape_configs.filter((job: any) => !(job.metric_relabel_configs ?? []).some((r: any) => r.action === "drop" && new RegExp(`^(?:${r.regex})$`).test("haproxy_backend_http_requests_total")));
    const haproxyJobs = storing.filter((job: any) => job.job_name === HAPROXY_JOB || job.job_name.startsWith("haproxy"));
    assert.deepEqual(haproxyJobs.map((j: any) => j.job_name), [HAPROXY_JOB]);
    // Were two jobs to store them, every query without a job selector would count twice: this is
    // the list that would then have to change.
    const unscoped = [...DASHBOARD_PANELS.flatMap((p) => p.queries.map((q) => q.expr)), ...Object.values(ALERTS).map((a) => a.expr)].filter((e) => /haproxy_(frontend|backend|server)_/.test(e) && !e.includes("job="));
    assert.ok(unscoped.length > 10);
  });
});

/** A label value as a regular expression inside a PromQL string, as Grafana writes it (127\\.0\\.0\\.1). */
const promqlRegexLiteral = (value: string) => value.replace(/[.*+?^${}()|[\]\\]/g, "\\\\$&");

describe("every panel shows data", () => {
  /** Variables as Grafana fills them: `All` as the variable's allValue, or as an alternation of every value. */
  async function fill(expr: string, values: Record<string, string>): Promise<string> {
    return expr.replaceAll("$__rate_interval", "4s").replace(/\$(\w+)/g, (whole, name: string) => values[name] ?? whole);
  }

  async function labelValues(variableQuery: string, known: Record<string, string>): Promise<string[]> {
    const m = /^label_values\((.*),\s*(\w+)\)$/.exec(variableQuery.trim());
    assert.ok(m, `not a label_values query: ${variableQuery}`);
    const selector = await fill(m[1]!, known);
    const answer = await getJson(`${prometheus}/api/v1/label/${m[2]}/values?match[]=${encodeURIComponent(selector)}`);
    assert.equal(answer.status, "success", variableQuery);
    return answer.data;
  }

  beforeAll(async () => {
    await traffic(30, 4);
    // The recording rules and the sidecar's window need a few evaluations of that traffic.
    assert.ok(await eventually(async () => (await query("haproxy:server_http_responses:rate1m > 0")).data!.result.length === 2, 20_000, 500), "the recording rules never saw the traffic");
    assert.ok(await eventually(async () => (await query("haproxy_sidecar_backend_distribution_skew")).data!.result.length > 0, 20_000, 500), "the skew was never judged");
  });

  it("the generated dashboard: every variable has values and every query returns data, with All and with one value chosen", async () => {
    const dashboard = JSON.parse(readFileSync(join(running.runDir, DASHBOARD_FILE), "utf8"));
    const variables: { name: string; query: string; allValue: string }[] = dashboard.templating.list;
    const all = Object.fromEntries(variables.map((v) => [v.name, v.allValue]));
    const first: Record<string, string> = {};
    for (const variable of variables) {
      const values = await labelValues(variable.query, { ...all, ...first });
      assert.ok(values.length > 0, `variable ${variable.name} has no values`);
      first[variable.name] = promqlRegexLiteral(values.sort()[0]!);
    }
    const panels: { title: string; targets: { expr: string }[] }[] = dashboard.panels;
    assert.equal(panels.length, DASHBOARD_PANELS.length, "the local stack's dashboard has every panel");
    const empty: string[] = [];
    for (const values of [all, first]) {
      for (const panel of panels) {
        const results = await Promise.all(panel.targets.map(async (t) => queryRange(await fill(t.expr, values))));
        for (const [i, r] of results.entries()) assert.equal(r.status, "success", `${panel.title}: ${panel.targets[i]!.expr}: ${r.error}`);
        if (results.every((r) => r.data!.result.length === 0)) empty.push(`${panel.title} (${values === all ? "All" : "one value"})`);
      }
    }
    assert.deepEqual(empty, [], "panels with no data");
  });

  // Why a query of the public dashboard may return nothing on this stack. Any other empty query
  // fails the test, and so does a reason no query needed (the list stays true).
  const LEGITIMATELY_EMPTY: [RegExp, string][] = [[/haproxy_sticktable_/, "no stick table in the default topology (no rate limit)"]];

  it("the public reference dashboard: every query is valid, and every empty one is explained", async (t) => {
    if (!existsSync(REFERENCE_DASHBOARD)) return t.skip("../shared/reference is not beside this checkout");
    const dashboard = JSON.parse(readFileSync(REFERENCE_DASHBOARD, "utf8"));
    const host = (await labelValues("label_values(haproxy_process_start_time_seconds,instance)", {}))[0]!;
    const values: Record<string, string> = { host };
    for (const v of dashboard.templating.list.filter((v: any) => v.type === "query" && v.name !== "host")) {
      const found = await labelValues(v.query.query, values);
      assert.ok(found.length > 0, `variable ${v.name} has no values`);
      values[v.name] = `(${found.map(promqlRegexLiteral).join("|")})`; // All, as Grafana expands it
    }
    const exprs: { title: string; expr: string }[] = [];
    const walk = (panels: any[]) => {
      for (const p of panels ?? []) {
        for (const target of p.targets ?? []) if (target.expr) exprs.push({ title: p.title, expr: target.expr });
        walk(p.panels);
      }
    };
    walk(dashboard.panels);
    assert.ok(exprs.length > 100, `${exprs.length} queries`);
    const unexplained: string[] = [];
    const explained = new Map<string, number>();
    for (const { title, expr } of exprs) {
      const answer = await queryRange(await fill(expr, values));
      assert.equal(answer.status, "success", `${title}: ${expr}: ${answer.error}`);
      if (answer.data!.result.length > 0) continue;
      const why = LEGITIMATELY_EMPTY.find(([pattern]) => pattern.test(expr))?.[1];
      if (why) explained.set(why, (explained.get(why) ?? 0) + 1);
      else unexplained.push(`${title}: ${expr}`);
    }
    assert.deepEqual(unexplained, [], "empty queries with no reason");
    assert.deepEqual(LEGITIMATELY_EMPTY.map(([, why]) => why).filter((why) => !explained.has(why)), [], "reasons no query needed");
    console.log(`reference dashboard: ${exprs.length} queries, empty by design: ${[...explained].map(([why, n]) => `${n} (${why})`).join("; ") || "none"}`);
  });
});

describe("the continuous distribution check, live", () => {
  it("equal weights: skew near 0; weights 3:1 set in HAProxy while the topology says 1:1: the skew, its alert and drift show it", async () => {
    const admin = running.stack.plan.sockets.admin;
    await traffic(30, 4);
    const skew = async () => Number((await query('haproxy_sidecar_backend_distribution_skew{proxy="flask_servers"}')).data!.result[0]?.value?.[1] ?? NaN);
    assert.ok((await skew()) < 0.1, `equal weights: skew ${await skew()}`);
    await runtimeCommand({ path: admin }, "set server flask_servers/web-a weight 3", { timeoutMs: 2000 });
    try {
      // 3:1 against 1:1 is a skew of 0.25 once the 10 s window holds only the new traffic; the alert
      // needs 30 s above 0.15 (its `for`), then one evaluation.
      const stopTraffic = new AbortController();
      const trafficDone = traffic(30, 50, stopTraffic.signal);
      const bound = 10_000 + parseDuration(ALERTS.HAProxyDistributionSkew.for) + 8_000;
      const started = Date.now();
      let firedAfter = NaN;
      const fired = await eventually(async () => {
        firedAfter = Date.now() - started;
        return (await firing("HAProxyDistributionSkew", { proxy: "flask_servers" })) === "firing";
      }, bound, 500);
      const seen = await skew();
      const drift = (await query('haproxy_sidecar_topology_drift{proxy="flask_servers",server="web-a",reason="weight"}')).data!.result.length;
      stopTraffic.abort();
      await trafficDone;
      assert.ok(fired, `HAProxyDistributionSkew did not fire within ${bound} ms (skew ${seen})`);
      assert.ok(seen > 0.15 && seen < 0.35, `skew ${seen}, expected about 0.25`);
      assert.equal(drift, 1, "the weight set over the socket is drift");
      console.log(`skew alert fired ${(firedAfter / 1000).toFixed(1)} s after the weight changed (bound ${bound / 1000} s; skew ${seen.toFixed(3)})`);
    } finally {
      await runtimeCommand({ path: admin }, "set server flask_servers/web-a weight 1", { timeoutMs: 2000 });
    }
  });
});

describe("an alert from a real fault to the webhook, and back", () => {
  it("web-a killed: HAProxyServerDown fires in Prometheus, Alertmanager posts it to the webhook within its bound, and the resolution after web-a is back", async () => {
    const access = localStackAccess(running.stack.plan, () => {});
    const { services } = running.topology;
    const server = running.topology.backends[0]!.servers[0]!;
    const checkTimeout = parseDuration(running.topology.defaults.timeouts.check ?? server.inter);
    // DOWN in HAProxy, then one poll, one scrape and one evaluation to see it, the rule's `for`,
    // one more evaluation, Alertmanager's group_wait; plus 3 s for two cores running everything.
    const bound =
      parseDuration(server.inter) * server.fall + checkTimeout + parseDuration(services.sidecar.pollInterval) + parseDuration(services.prometheus.scrapeInterval) +
      2 * parseDuration(services.prometheus.evaluationInterval) + parseDuration(ALERTS.HAProxyServerDown.for) + parseDuration(services.alertmanager.groupWait) + 3_000;
    const delivered = (status: "firing" | "resolved") => notifications.find((n) => n.alerts.some((a) => a.status === status && a.labels.alertname === "HAProxyServerDown" && a.labels.server === "web-a"));

    const killedAt = Date.now();
    await access.killServer("web-a");
    const inPrometheus = await eventually(async () => (await firing("HAProxyServerDown", { server: "web-a" })) === "firing", bound, 250);
    assert.ok(inPrometheus, `HAProxyServerDown{server="web-a"} not firing in Prometheus within ${bound} ms`);
    assert.ok(await eventually(async () => delivered("firing") !== undefined, killedAt + bound - Date.now(), 100), `not delivered to the webhook within ${bound} ms of the kill`);
    const firingNote = delivered("firing")!;
    assert.equal(firingNote.alerts.find((a) => a.labels.server === "web-a")!.labels.severity, "warning");
    console.log(`server death → webhook: ${((firingNote.receivedAt - killedAt) / 1000).toFixed(1)} s (bound ${(bound / 1000).toFixed(1)} s)`);
    const alertmanagerHolds = await getJson(`http://127.0.0.1:${services.alertmanager.port}${ALERTMANAGER_PATHS.alertsApi}`);
    assert.ok(alertmanagerHolds.some((a: any) => a.labels.alertname === "HAProxyServerDown"), "Alertmanager lists it too");

    const restartedAt = Date.now();
    await access.startServer("web-a");
    const resolveBound = parseDuration(server.inter) * (server.rise + 1) + parseDuration(services.sidecar.pollInterval) + parseDuration(services.prometheus.scrapeInterval) + 2 * parseDuration(services.prometheus.evaluationInterval) + parseDuration(services.alertmanager.groupInterval) + 5_000;
    assert.ok(await eventually(async () => delivered("resolved") !== undefined, resolveBound, 100), `no resolution delivered within ${resolveBound} ms of web-a's restart`);
    console.log(`web-a back → resolved at the webhook: ${((delivered("resolved")!.receivedAt - restartedAt) / 1000).toFixed(1)} s`);
  });
});
