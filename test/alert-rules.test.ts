// The alert rules, unit-tested by the real promtool: for every alert, input series where it fires
// (with its labels and annotations, after its `for`) and series where it stays quiet. The table is a
// Record over the alert names, so a new alert without cases does not compile.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, it } from "vitest";
import { stringify } from "yaml";
import { ALERTS, RECORDING_RULES, renderAlertRules, RULES_FILE, runbookAnchor, type AlertName } from "../infra/render/alert-rules.ts";
import { RUNBOOK_PAGE } from "../infra/model/schema.ts";

const run = promisify(execFile);

/** The labels every HAProxy series has in Prometheus: the job and the sidecar's address. */
const LB = { job: "haproxy", instance: "lb:9101" };

interface Series {
  metric: string;
  labels: Record<string, string>;
  /** promtool's expanding notation, one sample per `interval`: "0x20" is 0 twenty-one times, "0+1x20" counts up. */
  values: string;
}

interface AlertCase {
  /** Samples are this far apart (and rules are evaluated as often). */
  interval: string;
  fires: { series: Series[]; at: string; labels: Record<string, string>; value: number };
  quiet: { series: Series[]; at: string };
}

const CASES: Record<AlertName, AlertCase> = {
  HAProxyBackendNoServerUp: {
    interval: "5s",
    fires: { series: [{ metric: "haproxy_backend_status", labels: { ...LB, proxy: "be", state: "UP" }, values: "0x10" }], at: "10s", labels: { ...LB, proxy: "be", state: "UP" }, value: 0 },
    quiet: { series: [{ metric: "haproxy_backend_status", labels: { ...LB, proxy: "be", state: "UP" }, values: "1x10" }], at: "10s" },
  },
  HAProxyServerDown: {
    interval: "5s",
    fires: { series: [{ metric: "haproxy_server_status", labels: { ...LB, proxy: "be", server: "web-a", state: "DOWN" }, values: "1x10" }], at: "30s", labels: { ...LB, proxy: "be", server: "web-a", state: "DOWN" }, value: 1 },
    // A replica DOWN in a backend whose check finds the primary is by design: quiet.
    quiet: {
      series: [
        { metric: "haproxy_server_status", labels: { ...LB, proxy: "be", server: "web-a", state: "DOWN" }, values: "0x10" },
        { metric: "haproxy_server_status", labels: { ...LB, proxy: "redis", server: "redis-b", state: "DOWN" }, values: "1x10" },
        { metric: "haproxy_sidecar_backend_primaries", labels: { ...LB, proxy: "redis" }, values: "1x10" },
      ],
      at: "30s",
    },
  },
  HAProxyPrimaryNotOne: {
    interval: "5s",
    // Two primaries (a split brain); quiet with one, as the replica's DOWN is by design.
    fires: { series: [{ metric: "haproxy_sidecar_backend_primaries", labels: { ...LB, proxy: "redis" }, values: "1 1 2x10" }], at: "30s", labels: { ...LB, proxy: "redis" }, value: 2 },
    quiet: { series: [{ metric: "haproxy_sidecar_backend_primaries", labels: { ...LB, proxy: "redis" }, values: "1x10" }], at: "30s" },
  },
  HAProxyServerFlapping: {
    interval: "30s",
    fires: { series: [{ metric: "haproxy_server_check_up_down_total", labels: { ...LB, proxy: "be", server: "web-a" }, values: "0+1x10" }], at: "2m", labels: { ...LB, proxy: "be", server: "web-a" }, value: 4 },
    quiet: { series: [{ metric: "haproxy_server_check_up_down_total", labels: { ...LB, proxy: "be", server: "web-a" }, values: "0 1 1 1 1 1 1 1 1 1" }], at: "4m" },
  },
  HAProxyFrontendHigh5xxRatio: {
    interval: "5s",
    fires: {
      series: [
        { metric: "haproxy_frontend_http_responses_total", labels: { ...LB, proxy: "fe", code: "5xx" }, values: "0+10x40" },
        { metric: "haproxy_frontend_http_responses_total", labels: { ...LB, proxy: "fe", code: "2xx" }, values: "0+10x40" },
      ],
      at: "2m30s",
      labels: { ...LB, proxy: "fe" },
      value: 0.5,
    },
    quiet: {
      series: [
        { metric: "haproxy_frontend_http_responses_total", labels: { ...LB, proxy: "fe", code: "5xx" }, values: "0+0x40" },
        { metric: "haproxy_frontend_http_responses_total", labels: { ...LB, proxy: "fe", code: "2xx" }, values: "0+10x40" },
      ],
      at: "2m30s",
    },
  },
  HAProxyBackendHigh5xxRatio: {
    interval: "5s",
    fires: {
      series: [
        { metric: "haproxy_backend_http_responses_total", labels: { ...LB, proxy: "be", code: "5xx" }, values: "0+10x40" },
        { metric: "haproxy_backend_http_responses_total", labels: { ...LB, proxy: "be", code: "2xx" }, values: "0+30x40" },
      ],
      at: "2m30s",
      labels: { ...LB, proxy: "be" },
      value: 0.25,
    },
    // 1 request in 2 failing, but only 0.2 requests per second: too little traffic to page anyone.
    quiet: {
      series: [
        { metric: "haproxy_backend_http_responses_total", labels: { ...LB, proxy: "be", code: "5xx" }, values: "0+1x40" },
        { metric: "haproxy_backend_http_responses_total", labels: { ...LB, proxy: "be", code: "2xx" }, values: "0+1x40" },
      ],
      at: "2m30s",
    },
  },
  HAProxyRequestsQueueing: {
    interval: "5s",
    fires: { series: [{ metric: "haproxy_backend_current_queue", labels: { ...LB, proxy: "be" }, values: "3x30" }], at: "90s", labels: { ...LB, proxy: "be" }, value: 3 },
    // Queueing briefly is what a queue is for.
    quiet: { series: [{ metric: "haproxy_backend_current_queue", labels: { ...LB, proxy: "be" }, values: "3x6 0x30" }], at: "90s" },
  },
  HAProxyRetriesRising: {
    interval: "5s",
    fires: {
      series: [
        { metric: "haproxy_backend_retry_warnings_total", labels: { ...LB, proxy: "be" }, values: "0+1x90" },
        { metric: "haproxy_backend_redispatch_warnings_total", labels: { ...LB, proxy: "be" }, values: "0+0x90" },
        { metric: "haproxy_backend_http_requests_total", labels: { ...LB, proxy: "be" }, values: "0+10x90" },
      ],
      at: "7m",
      labels: { ...LB, proxy: "be" },
      value: 0.1,
    },
    quiet: {
      series: [
        { metric: "haproxy_backend_retry_warnings_total", labels: { ...LB, proxy: "be" }, values: "0+0x90" },
        { metric: "haproxy_backend_redispatch_warnings_total", labels: { ...LB, proxy: "be" }, values: "0+0x90" },
        { metric: "haproxy_backend_http_requests_total", labels: { ...LB, proxy: "be" }, values: "0+10x90" },
      ],
      at: "7m",
    },
  },
  HAProxyDroppingLogs: {
    interval: "30s",
    fires: { series: [{ metric: "haproxy_process_dropped_logs_total", labels: LB, values: "0 0 0 3 3 3" }], at: "2m30s", labels: LB, value: 3 },
    quiet: { series: [{ metric: "haproxy_process_dropped_logs_total", labels: LB, values: "7x10" }], at: "5m" },
  },
  HAProxySidecarPollFailing: {
    interval: "5s",
    fires: { series: [{ metric: "haproxy_sidecar_poll_success", labels: LB, values: "0x20" }], at: "1m", labels: LB, value: 0 },
    // One failed poll (HAProxy reloading) is not an outage.
    quiet: { series: [{ metric: "haproxy_sidecar_poll_success", labels: LB, values: "1x5 0 1x14" }], at: "1m" },
  },
  HAProxyExporterDown: {
    interval: "5s",
    fires: { series: [{ metric: "up", labels: { job: "haproxy-exporter", instance: "lb:8404" }, values: "0x20" }], at: "1m", labels: { job: "haproxy-exporter", instance: "lb:8404" }, value: 0 },
    quiet: { series: [{ metric: "up", labels: { job: "node", instance: "lb:9100" }, values: "0x20" }], at: "1m" },
  },
  HAProxyAssertionFailing: {
    interval: "5s",
    fires: { series: [{ metric: "haproxy_sidecar_assertion_passed", labels: { ...LB, assertion: "failover" }, values: "0x5" }], at: "10s", labels: { ...LB, assertion: "failover" }, value: 0 },
    quiet: { series: [{ metric: "haproxy_sidecar_assertion_passed", labels: { ...LB, assertion: "failover" }, values: "1x5" }], at: "10s" },
  },
  HAProxyDistributionSkew: {
    interval: "5s",
    fires: { series: [{ metric: "haproxy_sidecar_backend_distribution_skew", labels: { ...LB, proxy: "be" }, values: "0.25x20" }], at: "1m", labels: { ...LB, proxy: "be" }, value: 0.25 },
    quiet: { series: [{ metric: "haproxy_sidecar_backend_distribution_skew", labels: { ...LB, proxy: "be" }, values: "0.05x20" }], at: "1m" },
  },
  HAProxyTopologyDrift: {
    interval: "5s",
    fires: {
      series: [
        { metric: "haproxy_sidecar_topology_drift", labels: { ...LB, proxy: "be", server: "web-a", reason: "weight" }, values: "1x30" },
        { metric: "haproxy_sidecar_topology_drift", labels: { ...LB, proxy: "be", server: "web-b", reason: "state" }, values: "1x30" },
      ],
      at: "2m",
      labels: { ...LB, proxy: "be" },
      value: 2,
    },
    // A weight set by hand and put back within the minute (an operator's quick test) is not drift: the
    // series goes stale when the sidecar stops exporting it.
    quiet: { series: [{ metric: "haproxy_sidecar_topology_drift", labels: { ...LB, proxy: "be", server: "web-a", reason: "weight" }, values: "1x6 stale" }], at: "2m" },
  },
  HAProxyApplyFailed: {
    interval: "5s",
    fires: { series: [{ metric: "haproxy_sidecar_last_apply_success", labels: LB, values: "0x5" }], at: "10s", labels: LB, value: 0 },
    // NaN: no apply yet.
    quiet: { series: [{ metric: "haproxy_sidecar_last_apply_success", labels: LB, values: "NaN 1x5" }], at: "10s" },
  },
  StackComponentRestarting: {
    interval: "5s",
    fires: { series: [{ metric: "haproxy_sidecar_component_restarts_total", labels: { ...LB, component: "web-a" }, values: "0+1x10" }], at: "50s", labels: { ...LB, component: "web-a" }, value: 10 },
    quiet: { series: [{ metric: "haproxy_sidecar_component_restarts_total", labels: { ...LB, component: "web-a" }, values: "0 1 1 1 1 1 1 1 1 1 1" }], at: "50s" },
  },
  StackComponentDown: {
    interval: "5s",
    fires: { series: [{ metric: "haproxy_sidecar_component_up", labels: { ...LB, component: "sidecar" }, values: "0x20" }], at: "1m", labels: { ...LB, component: "sidecar" }, value: 0 },
    quiet: { series: [{ metric: "haproxy_sidecar_component_up", labels: { ...LB, component: "sidecar" }, values: "1x20" }], at: "1m" },
  },
  HAProxyCertificateRenewalFailing: {
    interval: "30s",
    // Two failed attempts, then a success: fires while failing, quiet once it renewed.
    fires: { series: [{ metric: "haproxy_sidecar_certificate_renewal_failures", labels: { ...LB, file: "shop.pem" }, values: "0 1 2 2" }], at: "1m", labels: { ...LB, file: "shop.pem" }, value: 2 },
    quiet: { series: [{ metric: "haproxy_sidecar_certificate_renewal_failures", labels: { ...LB, file: "shop.pem" }, values: "0 1 2 0 0" }], at: "2m" },
  },
  HAProxyCertificateExpiringSoon: {
    interval: "1m",
    // A 90-day certificate: 10 days left (under a sixth, 15 days) fires; 20 days left is quiet. promtool's clock starts at 0.
    fires: { series: [{ metric: "haproxy_sidecar_certificate_not_after_seconds", labels: { ...LB, file: "shop.pem" }, values: String(10 * 86_400) }, { metric: "haproxy_sidecar_certificate_not_before_seconds", labels: { ...LB, file: "shop.pem" }, values: String(-80 * 86_400) }], at: "0m", labels: { ...LB, file: "shop.pem" }, value: 10 * 86_400 },
    quiet: { series: [{ metric: "haproxy_sidecar_certificate_not_after_seconds", labels: { ...LB, file: "shop.pem" }, values: String(20 * 86_400) }, { metric: "haproxy_sidecar_certificate_not_before_seconds", labels: { ...LB, file: "shop.pem" }, values: String(-70 * 86_400) }], at: "0m" },
  },
  HAProxyRolloutAborted: {
    interval: "1m",
    // Aborted 2 minutes in (the transition's time: 120 s); quiet when the abort is over an hour old.
    fires: { series: [{ metric: "haproxy_sidecar_rollout_phase", labels: { ...LB, backend: "web", phase: "aborted" }, values: "0 0 1x10" }, { metric: "haproxy_sidecar_rollout_transition_timestamp_seconds", labels: { ...LB, backend: "web" }, values: "0 0 120x10" }], at: "5m", labels: { ...LB, backend: "web", phase: "aborted" }, value: 1 },
    quiet: { series: [{ metric: "haproxy_sidecar_rollout_phase", labels: { ...LB, backend: "web", phase: "aborted" }, values: "1x70" }, { metric: "haproxy_sidecar_rollout_transition_timestamp_seconds", labels: { ...LB, backend: "web" }, values: "0x70" }], at: "65m" },
  },
  HAProxyRolloutPaused: {
    interval: "1m",
    fires: { series: [{ metric: "haproxy_sidecar_rollout_phase", labels: { ...LB, backend: "web", phase: "paused" }, values: "1x10" }], at: "6m", labels: { ...LB, backend: "web", phase: "paused" }, value: 1 },
    quiet: { series: [{ metric: "haproxy_sidecar_rollout_phase", labels: { ...LB, backend: "web", phase: "paused" }, values: "1 1 0x10" }], at: "6m" },
  },
  HAProxyCertificateNotInstalled: {
    interval: "1m",
    fires: { series: [{ metric: "haproxy_sidecar_certificate_installed_served", labels: { ...LB, file: "shop.pem" }, values: "0x10" }], at: "6m", labels: { ...LB, file: "shop.pem" }, value: 0 },
    // The placeholder for a minute at start, then the issued one.
    quiet: { series: [{ metric: "haproxy_sidecar_certificate_installed_served", labels: { ...LB, file: "shop.pem" }, values: "0 1x10" }], at: "6m" },
  },
};

/** Prometheus's humanizeDuration for whole seconds of a minute or more: "10d 0h 0m 0s", "3h 2m 1s", "5m 0s". */
function humanizeDuration(seconds: number): string {
  const [d, h, m, s] = [Math.floor(seconds / 86_400), Math.floor(seconds / 3600) % 24, Math.floor(seconds / 60) % 60, Math.floor(seconds) % 60];
  if (d > 0) return `${d}d ${h}h ${m}m ${s}s`;
  if (h > 0) return `${h}h ${m}m ${s}s`;
  return `${m}m ${s}s`;
}

/**
 * What Prometheus makes of an annotation for these labels and value: the few template forms the
 * rules use, expanded as Go's templates print them. Any other form fails the test here.
 */
function expand(template: string, labels: Record<string, string>, value: number): string {
  return template.replace(/\{\{ ([^}]+) \}\}/g, (_, body: string) => {
    const label = /^\$labels\.(\w+)$/.exec(body);
    if (label) return labels[label[1]] ?? "";
    if (body === "$value") return String(value);
    if (body === "$value | humanizePercentage") return `${Number((value * 100).toPrecision(4))}%`;
    if (body === '$value | printf "%.0f"') return value.toFixed(0);
    if (body === "$value | humanizeDuration") return humanizeDuration(value);
    throw new Error(`the test does not know how Prometheus expands {{ ${body} }}`);
  });
}

const seriesText = (s: Series) => `${s.metric}{${Object.entries(s.labels).map(([k, v]) => `${k}="${v}"`).join(",")}}`;

const dir = mkdtempSync(join(tmpdir(), "alert-rules-"));
writeFileSync(join(dir, RULES_FILE), renderAlertRules({ topology: "test", target: "local" }, RUNBOOK_PAGE));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function promtoolTest(name: string, tests: object[]): Promise<{ ok: boolean; output: string }> {
  const file = join(dir, `${name}.test.yml`);
  writeFileSync(file, stringify({ rule_files: [RULES_FILE], evaluation_interval: (tests[0] as { interval: string }).interval, tests }));
  try {
    const { stdout, stderr } = await run("promtool", ["test", "rules", file], { cwd: dir });
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("the rules file", () => {
  it("promtool check rules accepts it: every recording rule and alert", async () => {
    const { stdout } = await run("promtool", ["check", "rules", join(dir, RULES_FILE)]);
    assert.match(stdout, new RegExp(`SUCCESS: ${Object.keys(RECORDING_RULES).length + Object.keys(ALERTS).length} rules found`));
  });

  it("every alert says what it is, why it matters and what to look at first", () => {
    for (const [name, alert] of Object.entries(ALERTS)) {
      for (const field of ["summary", "description", "confirm", "runbook"] as const) assert.ok(alert[field].length > 20, `${name}.${field}`);
      assert.match(alert.severity, /^(critical|warning)$/, name);
    }
  });
});

describe("promtool test rules: each alert fires on its fault, with its labels and annotations, and stays quiet otherwise", () => {
  for (const [name, c] of Object.entries(CASES) as [AlertName, AlertCase][]) {
    it(name, async () => {
      const alert = ALERTS[name];
      const labels = { ...c.fires.labels, severity: alert.severity };
      const annotations = {
        ...Object.fromEntries((["summary", "description", "runbook"] as const).map((k) => [k, expand(alert[k], { ...labels, alertname: name }, c.fires.value)])),
        runbook_url: `${RUNBOOK_PAGE}#${runbookAnchor(name)}`,
      };
      const fires = {
        interval: c.interval,
        input_series: c.fires.series.map((s) => ({ series: seriesText(s), values: s.values })),
        alert_rule_test: [{ eval_time: c.fires.at, alertname: name, exp_alerts: [{ exp_labels: labels, exp_annotations: annotations }] }],
      };
      const quiet = {
        interval: c.interval,
        input_series: c.quiet.series.map((s) => ({ series: seriesText(s), values: s.values })),
        alert_rule_test: [{ eval_time: c.quiet.at, alertname: name, exp_alerts: [] }],
      };
      const result = await promtoolTest(name, [fires, quiet]);
      assert.ok(result.ok, `promtool test rules failed for ${name}:\n${result.output}`);
    });
  }

  it("the harness itself fails when an alert does not fire as expected (a wrong expected label)", async () => {
    const c = CASES.HAProxyServerDown;
    const result = await promtoolTest("harness", [
      {
        interval: c.interval,
        input_series: c.fires.series.map((s) => ({ series: seriesText(s), values: s.values })),
        alert_rule_test: [{ eval_time: c.fires.at, alertname: "HAProxyServerDown", exp_alerts: [{ exp_labels: { ...c.fires.labels, severity: "critical" } }] }],
      },
    ]);
    assert.equal(result.ok, false);
    assert.match(result.output, /HAProxyServerDown/);
  });
});
