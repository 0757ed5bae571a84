// The sidecar's own metrics, as data: what the reference page lists. Read from the same registry the
// sidecar serves (every optional source switched on), so a metric added there is listed here.
import type { Registry } from "prom-client";
import { SelfMetrics } from "./self-metrics.ts";
import { SlowAnswers } from "./slow-answers.ts";

export interface MetricDescription {
  name: string;
  type: string;
  help: string;
  labels: readonly string[];
}

export function sidecarOwnMetrics(): MetricDescription[] {
  const metrics = new SelfMetrics({
    assertionsFile: "/nonexistent",
    applyHistoryFile: "/nonexistent",
    componentsFile: "/nonexistent",
    distribution: () => ({ backends: [] }) as never,
    certificates: { served: async () => [], log: () => {} },
    rolloutsDir: "/nonexistent",
  });
  new SlowAnswers(async () => "", metrics.registry, () => {});
  return describeRegistry(metrics.registry);
}

function describeRegistry(registry: Registry): MetricDescription[] {
  return registry
    .getMetricsAsArray()
    .map((m) => {
      const metric = m as unknown as { name: string; help: string; type: string; labelNames?: string[] };
      return { name: metric.name, type: String(metric.type), help: metric.help, labels: metric.labelNames ?? [] };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}
