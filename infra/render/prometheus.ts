// Topology → prometheus.yml: scrape HAProxy's built-in exporter, the sidecar and Prometheus itself.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Handlebars from "handlebars";
import type { Topology } from "../model/schema.ts";
import { TEMPLATES_DIR } from "./render.ts";
import { DOCKER_HOSTS, LOCAL_ADDRESS, type RenderTarget } from "./targets.ts";

export interface PrometheusJob {
  name: string;
  path: string;
  target: string;
}

/** The scrape jobs: what Prometheus watches, at which address on this target. */
export function prometheusJobs(topology: Topology, target: RenderTarget, options: { sidecar: boolean }): PrometheusJob[] {
  const host = (name: keyof typeof DOCKER_HOSTS) => (target.kind === "local" ? LOCAL_ADDRESS : DOCKER_HOSTS[name]);
  const { services, monitoring } = topology;
  return [
    { name: "haproxy", path: monitoring.metricsPath, target: `${host("haproxy")}:${monitoring.port}` },
    ...(options.sidecar ? [{ name: "haproxy-sidecar", path: "/metrics", target: `${host("sidecar")}:${services.sidecar.port}` }] : []),
    { name: "prometheus", path: "/metrics", target: `${host("prometheus")}:${services.prometheus.port}` },
  ];
}

let template: Handlebars.TemplateDelegate | undefined;

export function renderPrometheusConfig(
  topology: Topology,
  target: RenderTarget,
  options: { sidecar: boolean; source?: string },
): string {
  template ??= Handlebars.create().compile(readFileSync(join(TEMPLATES_DIR, "prometheus.yml.hbs"), "utf8"), { noEscape: true, strict: true });
  return template({
    source: options.source ?? "a topology",
    topology: topology.name,
    target: target.kind,
    scrapeInterval: topology.services.prometheus.scrapeInterval,
    jobs: prometheusJobs(topology, target, options),
  });
}
