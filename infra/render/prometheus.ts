// Topology → prometheus.yml, built as a typed object and written with a YAML library (no string
// templates: quoting cannot go wrong).
//
// One source per series: Prometheus takes HAProxy's series from one job, "haproxy". With the
// sidecar, that job is the sidecar (the stack's exporter, with its own health and assertion metrics);
// HAProxy's built-in exporter is still scraped as "haproxy-exporter" so that its health is watched,
// but its haproxy_* series are dropped before storage: stored twice, every sum over them would count
// each request twice. Without the sidecar, "haproxy" is HAProxy's own exporter.
import { generatedYaml } from "./yaml.ts";
import type { Topology } from "../model/schema.ts";
import { SIDECAR_PATHS } from "../../sidecar/endpoints.ts";
import { RULES_FILE } from "./alert-rules.ts";
import { ALERTMANAGER_PATHS } from "../endpoints.ts";
import { DOCKER_HOSTS, LOCAL_ADDRESS, type RenderTarget } from "./targets.ts";

/** The job every dashboard query and rule selects HAProxy's series from. */
export const HAPROXY_JOB = "haproxy";

export interface PrometheusJob {
  name: string;
  path: string;
  target: string;
  /** Series names dropped before storage (a regular expression over __name__). */
  dropSeries?: string;
  /** Query parameters of the scrape. */
  params?: Record<string, string[]>;
}

export interface ScrapeConfig {
  job_name: string;
  metrics_path: string;
  static_configs: { targets: string[] }[];
  params?: Record<string, string[]>;
  metric_relabel_configs?: { source_labels: string[]; regex: string; action: "drop" }[];
}

export interface PrometheusConfig {
  global: { scrape_interval: string; evaluation_interval: string; external_labels: Record<string, string> };
  rule_files: string[];
  alerting: { alertmanagers: { static_configs: { targets: string[] }[]; path_prefix?: string }[] };
  scrape_configs: ScrapeConfig[];
}

export interface PrometheusOptions {
  sidecar: boolean;
  source?: string;
}

/**
 * HAProxy's exporter (and the sidecar, with the same meaning) leave out servers in maintenance:
 * server-template slots and DNS-discovered groups park unused servers there, and at 10 backends of
 * 1,000 slots that is 1,194 lines instead of 551,286 per scrape. A server put in maintenance by hand
 * still shows: as drift (the sidecar reads every server) and on the stats page.
 */
const SKIP_MAINTENANCE = { "no-maint": [""] };

const hostOn = (target: RenderTarget) => (name: keyof typeof DOCKER_HOSTS) => (target.kind === "local" ? LOCAL_ADDRESS : DOCKER_HOSTS[name]);

/** The scrape jobs: what Prometheus watches, at which address on this target. */
export function prometheusJobs(topology: Topology, target: RenderTarget, options: { sidecar: boolean }): PrometheusJob[] {
  const host = hostOn(target);
  const { services, monitoring } = topology;
  const builtin = { path: monitoring.metricsPath, target: `${host("haproxy")}:${monitoring.port}`, params: SKIP_MAINTENANCE };
  return [
    ...(options.sidecar
      ? [
          { name: HAPROXY_JOB, path: SIDECAR_PATHS.metrics, target: `${host("sidecar")}:${services.sidecar.port}`, params: SKIP_MAINTENANCE },
          { name: "haproxy-exporter", ...builtin, dropSeries: "haproxy_.*" },
        ]
      : [{ name: HAPROXY_JOB, ...builtin }]),
    { name: "alertmanager", path: ALERTMANAGER_PATHS.metrics, target: `${host("alertmanager")}:${services.alertmanager.port}` },
    { name: "prometheus", path: "/metrics", target: `${host("prometheus")}:${services.prometheus.port}` },
  ];
}

export function prometheusConfig(topology: Topology, target: RenderTarget, options: PrometheusOptions): PrometheusConfig {
  const { prometheus, alertmanager } = topology.services;
  return {
    global: { scrape_interval: prometheus.scrapeInterval, evaluation_interval: prometheus.evaluationInterval, external_labels: { topology: topology.name } },
    // Relative to the configuration file: the rules are written beside it on every target.
    rule_files: [RULES_FILE],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [`${hostOn(target)("alertmanager")}:${alertmanager.port}`] }] }] },
    scrape_configs: prometheusJobs(topology, target, options).map((job) => ({
      job_name: job.name,
      metrics_path: job.path,
      static_configs: [{ targets: [job.target] }],
      ...(job.params && { params: job.params }),
      ...(job.dropSeries && { metric_relabel_configs: [{ source_labels: ["__name__"], regex: job.dropSeries, action: "drop" as const }] }),
    })),
  };
}

export function renderPrometheusConfig(topology: Topology, target: RenderTarget, options: PrometheusOptions): string {
  return generatedYaml(prometheusConfig(topology, target, options), { source: options.source, topology: topology.name, target: target.kind });
}
