// The HTTP endpoints of the components around HAProxy that the runtime, the stacks and verify
// probe: each spelled once, here. (The sidecar's own are sidecar/endpoints.ts: it owns them.)

/** Prometheus 2.x. */
export const PROMETHEUS_PATHS = {
  /** 200 once it serves queries. */
  ready: "/-/ready",
  /** Its scrape targets and their health, as JSON. */
  targetsApi: "/api/v1/targets",
  /** The same for people. */
  targetsPage: "/targets",
  metrics: "/metrics",
} as const;

/** Grafana 10. */
export const GRAFANA_PATHS = {
  health: "/api/health",
} as const;

/** The Flask app in apps/web. */
export const WEB_APP_PATHS = {
  /** 200 with the instance's name while it serves. */
  status: "/status",
} as const;
