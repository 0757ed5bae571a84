// The HTTP endpoints of the components around HAProxy that the runtime, the stacks and verify
// probe: each spelled once, here. (The sidecar's own are sidecar/endpoints.ts: it owns them.)

/** HAProxy's monitoring listener (the model names its metrics path and stats page). */
export const HAPROXY_PATHS = {
  /** monitor-uri: 200 while HAProxy runs, answered without logging or touching a backend. */
  health: "/healthz",
} as const;

/** RFC 8555's HTTP-01: where an ACME server fetches a token's key authorization, on port 80 of each name. */
export const ACME_CHALLENGE_PATH = "/.well-known/acme-challenge/";

/** Prometheus 2.x. */
export const PROMETHEUS_PATHS = {
  /** 200 once it serves queries. */
  ready: "/-/ready",
  /** Its scrape targets and their health, as JSON. */
  targetsApi: "/api/v1/targets",
  /** The same for people. */
  targetsPage: "/targets",
  metrics: "/metrics",
  /** Alerts and their state (pending, firing), as JSON. */
  alertsApi: "/api/v1/alerts",
  /** PromQL at one instant. */
  queryApi: "/api/v1/query",
  alertsPage: "/alerts",
} as const;

/** Alertmanager 0.25. */
export const ALERTMANAGER_PATHS = {
  ready: "/-/ready",
  metrics: "/metrics",
  /** The alerts it holds, as JSON. */
  alertsApi: "/api/v2/alerts",
  ui: "/#/alerts",
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
