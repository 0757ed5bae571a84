// One metric of HAProxy's built-in exporter, and where the sidecar finds its value.
export interface MetricDef {
  /** The full metric name, as HAProxy's exporter prints it. */
  name: string;
  type: "gauge" | "counter";
  /** A "show info" field (process metrics) or a "show stat" column (the others). */
  source: string;
  /** "show stat" gives milliseconds where the exporter gives seconds. */
  unit?: "ms";
  /** Only for proxies in mode http (the exporter omits them for tcp proxies). */
  httpOnly?: boolean;
  help: string;
}
