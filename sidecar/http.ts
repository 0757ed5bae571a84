// The sidecar's HTTP side: /metrics (HAProxy's series from the cache + the sidecar's own) and /healthz.
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { StatsPoller } from "./poller.ts";
import type { SelfMetrics } from "./self-metrics.ts";

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export function createMetricsServer(poller: StatsPoller, metrics: SelfMetrics): Server {
  return createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/metrics") {
      metrics.registry.metrics().then(
        async (own) => {
          const exposition = poller.exposition();
          const gzip = /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
          response.writeHead(200, { "content-type": EXPOSITION_CONTENT_TYPE, vary: "accept-encoding", ...(gzip ? { "content-encoding": "gzip" } : {}) });
          if (request.method === "HEAD") return void response.end();
          if (gzip) {
            for (const piece of exposition.gzipWith(own)) response.write(piece);
          } else {
            for await (const piece of exposition.plain()) {
              if (response.destroyed) return;
              if (!response.write(piece)) await once(response, "drain");
            }
            response.write(own);
          }
          response.end();
        },
        (error: Error) => response.writeHead(500, { "content-type": "text/plain" }).end(`${error.message}\n`),
      );
    } else if (path === "/healthz") {
      // The sidecar is healthy while it runs and serves; whether HAProxy answers is a metric, not its health.
      metrics.scrapeSuccess.get().then((success) => {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(`${JSON.stringify({ status: "ok", haproxy: success.values[0]?.value === 1 ? "answering" : "not answering" })}\n`);
      });
    } else {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found: try /metrics or /healthz\n");
    }
  });
}
