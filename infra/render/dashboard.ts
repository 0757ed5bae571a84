// The Grafana dashboard, built with Grafana's own typed builder (@grafana/grafana-foundation-sdk,
// the release for Grafana 10.4, the version the CDKTF stack runs). The panels are a table here;
// test/dashboard-live.test.ts evaluates every query of the built JSON against a live Prometheus.
//
// Queries read HAProxy's series without selecting a job: Prometheus stores them from one job only
// (prometheus.ts), so nothing is counted twice.
import { DashboardBuilder, DashboardCursorSync, QueryVariableBuilder, VariableRefresh, VariableSort, type DataSourceRef } from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as TimeseriesPanel } from "@grafana/grafana-foundation-sdk/timeseries";
import { PanelBuilder as StatPanel } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as StateTimelinePanel } from "@grafana/grafana-foundation-sdk/statetimeline";
import type { RecordedSeries } from "./alert-rules.ts";

/** The uid of the provisioned Prometheus data source (the CDKTF stack's Grafana provisioning gives it). */
export const DASHBOARD_DATASOURCE_UID = "prometheus";
const PROMETHEUS: DataSourceRef = { type: "prometheus", uid: DASHBOARD_DATASOURCE_UID };

export const DASHBOARD_UID = "haproxy-gitops";

/** The dashboard's variables, in the order they filter each other. */
export const DASHBOARD_VARIABLES = {
  instance: "label_values(haproxy_process_nbthread, instance)",
  frontend: 'label_values(haproxy_frontend_status{instance=~"$instance"}, proxy)',
  backend: 'label_values(haproxy_backend_status{instance=~"$instance"}, proxy)',
  server: 'label_values(haproxy_server_status{instance=~"$instance", proxy=~"$backend"}, server)',
} as const;

const F = 'instance=~"$instance", proxy=~"$frontend"';
const B = 'instance=~"$instance", proxy=~"$backend"';
const S = 'instance=~"$instance", proxy=~"$backend", server=~"$server"';
const recorded = (series: RecordedSeries, selector: string) => `${series}{${selector}}`;

export interface PanelSpec {
  title: string;
  kind: "timeseries" | "stat" | "state";
  unit: string;
  queries: { expr: string; legend: string }[];
  description: string;
  /** Where the panel's data comes from only on the local stack (npm run verify, the supervisor). */
  localOnly?: true;
  /** Why the panel may show nothing on a healthy, busy stack (the live test accepts it, and says so). */
  mayBeEmpty?: string;
}

export const DASHBOARD_PANELS: PanelSpec[] = [
  {
    title: "Requests per second, by frontend",
    kind: "timeseries",
    unit: "reqps",
    description: "HTTP requests each frontend received.",
    queries: [{ expr: `sum by (proxy) (rate(haproxy_frontend_http_requests_total{${F}}[$__rate_interval]))`, legend: "{{proxy}}" }],
  },
  {
    title: "Requests per second, by backend",
    kind: "timeseries",
    unit: "reqps",
    description: "Responses each backend sent (recorded rule).",
    queries: [{ expr: `sum by (proxy) (${recorded("haproxy:backend_http_responses:rate1m", B)})`, legend: "{{proxy}}" }],
  },
  {
    title: "Requests per second, by server",
    kind: "timeseries",
    unit: "reqps",
    description: "Responses each server sent (recorded rule).",
    queries: [{ expr: recorded("haproxy:server_http_responses:rate1m", S), legend: "{{proxy}}/{{server}}" }],
  },
  {
    title: "Share of traffic against weight",
    kind: "timeseries",
    unit: "percentunit",
    description: "Each server's share of its backend's requests over the sidecar's window (solid), and the share its weight and state imply (expected), for algorithms that share by weight.",
    queries: [
      { expr: `haproxy_sidecar_server_share_observed{${S}}`, legend: "{{server}} observed" },
      { expr: `haproxy_sidecar_server_share_expected{${S}}`, legend: "{{server}} expected" },
    ],
  },
  {
    title: "Distribution skew, by backend",
    kind: "timeseries",
    unit: "percentunit",
    description: "Largest gap between a server's observed and expected share; the HAProxyDistributionSkew alert fires above 15%.",
    queries: [{ expr: `haproxy_sidecar_backend_distribution_skew{${B}}`, legend: "{{proxy}}" }],
    mayBeEmpty: "the skew is judged only with 20 requests in the window, for weight-shared algorithms, with no server changing state",
  },
  {
    title: "Server state",
    kind: "state",
    unit: "none",
    description: "1 while HAProxy's checks hold the server UP.",
    queries: [{ expr: `max by (proxy, server) (haproxy_server_status{${S}, state="UP"})`, legend: "{{proxy}}/{{server}}" }],
  },
  {
    title: "5xx ratio",
    kind: "timeseries",
    unit: "percentunit",
    description: "Share of responses that are 5xx, by frontend and by backend (recorded rules; alerts above 5%).",
    queries: [
      { expr: recorded("haproxy:frontend_5xx_ratio:rate1m", F), legend: "frontend {{proxy}}" },
      { expr: recorded("haproxy:backend_5xx_ratio:rate1m", B), legend: "backend {{proxy}}" },
    ],
  },
  {
    title: "Response and queue time",
    kind: "timeseries",
    unit: "s",
    description: "HAProxy's average over the last 1,024 requests, by backend.",
    queries: [
      { expr: `haproxy_backend_response_time_average_seconds{${B}}`, legend: "{{proxy}} response" },
      { expr: `haproxy_backend_queue_time_average_seconds{${B}}`, legend: "{{proxy}} queue" },
    ],
  },
  {
    title: "Sessions against limits",
    kind: "timeseries",
    unit: "short",
    description: "Current sessions of each frontend against its maxconn, and the process's connections against its limit.",
    queries: [
      { expr: `haproxy_frontend_current_sessions{${F}}`, legend: "{{proxy}} current" },
      { expr: `haproxy_frontend_limit_sessions{${F}}`, legend: "{{proxy}} limit" },
      { expr: 'haproxy_process_current_connections{instance=~"$instance"}', legend: "process current" },
      { expr: 'haproxy_process_max_connections{instance=~"$instance"}', legend: "process limit" },
    ],
  },
  {
    title: "Queued requests",
    kind: "timeseries",
    unit: "short",
    description: "Requests waiting for a server slot (servers at maxconn).",
    queries: [{ expr: `haproxy_backend_current_queue{${B}}`, legend: "{{proxy}}" }],
  },
  {
    title: "Retries and redispatches",
    kind: "timeseries",
    unit: "reqps",
    description: "A server failing under traffic shows here before its checks mark it DOWN.",
    queries: [
      { expr: `sum by (proxy) (rate(haproxy_backend_retry_warnings_total{${B}}[$__rate_interval]))`, legend: "{{proxy}} retries" },
      { expr: `sum by (proxy) (rate(haproxy_backend_redispatch_warnings_total{${B}}[$__rate_interval]))`, legend: "{{proxy}} redispatches" },
    ],
  },
  {
    title: "Health-check failures",
    kind: "timeseries",
    unit: "short",
    description: "Failed checks and UP→DOWN transitions per server in the interval.",
    queries: [
      { expr: `increase(haproxy_server_check_failures_total{${S}}[$__rate_interval])`, legend: "{{server}} failed checks" },
      { expr: `increase(haproxy_server_check_up_down_total{${S}}[$__rate_interval])`, legend: "{{server}} went DOWN" },
    ],
  },
  {
    title: "Sidecar: poll success, snapshot age, poll duration",
    kind: "timeseries",
    unit: "s",
    description: "Whether the sidecar reads HAProxy's socket (1), how old the served metrics are, and how long a poll takes.",
    queries: [
      { expr: 'haproxy_sidecar_poll_success{instance=~"$instance"}', legend: "poll success" },
      { expr: 'haproxy_sidecar_snapshot_age_seconds{instance=~"$instance"}', legend: "snapshot age" },
      { expr: 'haproxy_sidecar_poll_duration_seconds{instance=~"$instance"}', legend: "poll duration" },
    ],
  },
  {
    title: "Servers drifted from the topology",
    kind: "stat",
    unit: "none",
    description: "Servers whose weight, state or presence in HAProxy differs from the topology (npm run drift says how).",
    queries: [{ expr: `sum by (proxy) (haproxy_sidecar_topology_drift{${B}}) or on () vector(0)`, legend: "{{proxy}}" }],
  },
  {
    title: "Alerts firing",
    kind: "stat",
    unit: "none",
    description: "Alerts Prometheus is firing now (Alertmanager delivers them).",
    queries: [{ expr: 'count(ALERTS{alertstate="firing"}) or on () vector(0)', legend: "firing" }],
  },
  {
    title: "Last apply",
    kind: "stat",
    unit: "none",
    description: "1 if the last apply succeeded; applies by result.",
    queries: [
      { expr: 'haproxy_sidecar_last_apply_success{instance=~"$instance"}', legend: "last apply succeeded" },
      { expr: 'haproxy_sidecar_applies_total{instance=~"$instance"}', legend: "{{result}}" },
    ],
    mayBeEmpty: "applies_total has no series before the first apply (last_apply_success is NaN then)",
  },
  {
    title: "End-to-end assertions (npm run verify)",
    kind: "stat",
    unit: "none",
    description: "1 for each assertion that passed in the last npm run verify, 0 for one that failed.",
    queries: [{ expr: 'haproxy_sidecar_assertion_passed{instance=~"$instance"}', legend: "{{assertion}}" }],
    localOnly: true,
  },
  {
    title: "Stack components",
    kind: "stat",
    unit: "none",
    description: "1 while the local stack's supervisor records the component running; restarts in the last hour.",
    queries: [
      { expr: 'haproxy_sidecar_component_up{instance=~"$instance"}', legend: "{{component}} up" },
      { expr: 'increase(haproxy_sidecar_component_restarts_total{instance=~"$instance"}[1h])', legend: "{{component}} restarts" },
    ],
    localOnly: true,
  },
];

function variable(name: keyof typeof DASHBOARD_VARIABLES) {
  return new QueryVariableBuilder(name)
    .label(name)
    .datasource(PROMETHEUS)
    .query(DASHBOARD_VARIABLES[name])
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue(".*");
}

function panel(spec: PanelSpec) {
  const builder = spec.kind === "timeseries" ? new TimeseriesPanel() : spec.kind === "stat" ? new StatPanel() : new StateTimelinePanel();
  builder.title(spec.title).description(spec.description).datasource(PROMETHEUS).unit(spec.unit).height(8).span(spec.kind === "stat" ? 8 : 12);
  spec.queries.forEach((q, i) => builder.withTarget(new DataqueryBuilder().expr(q.expr).legendFormat(q.legend).refId(String.fromCharCode(65 + i))));
  return builder;
}

/** The dashboard as Grafana's JSON model; without `localPanels`, the panels fed only on the local stack are left out. */
export function buildDashboard(options: { localPanels: boolean }) {
  const dashboard = new DashboardBuilder("HAProxy (gitops-haproxy-stack)")
    .uid(DASHBOARD_UID)
    .tags(["haproxy", "gitops-haproxy-stack"])
    .refresh("10s")
    .time({ from: "now-30m", to: "now" })
    .tooltip(DashboardCursorSync.Crosshair);
  for (const name of Object.keys(DASHBOARD_VARIABLES) as (keyof typeof DASHBOARD_VARIABLES)[]) dashboard.withVariable(variable(name));
  for (const spec of DASHBOARD_PANELS) if (options.localPanels || !spec.localOnly) dashboard.withPanel(panel(spec));
  return dashboard.build();
}

export function renderDashboard(options: { localPanels: boolean }): string {
  return `${JSON.stringify(buildDashboard(options), null, 2)}\n`;
}
