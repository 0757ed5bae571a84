// The sidecar's HTTP contract: what it serves where. The runtime, the stacks and Prometheus's
// configuration read these paths here instead of spelling them again.
export const SIDECAR_PATHS = {
  /** HAProxy's series as its built-in exporter names them, plus haproxy_sidecar_*. */
  metrics: "/metrics",
  /** 200 while the sidecar runs and serves (whether HAProxy answers is a metric, not its health). */
  health: "/healthz",
} as const;
