// The upstream images the stacks pull (Docker and Kubernetes alike): pinned to the versions the test
// suite runs locally (Debian's), so that what is tested is what is deployed.
export const PINNED_IMAGES = {
  haproxy: "haproxy:2.6.12",
  prometheus: "prom/prometheus:v2.42.0",
  alertmanager: "prom/alertmanager:v0.25.0",
  grafana: "grafana/grafana:10.4.2",
} as const;
