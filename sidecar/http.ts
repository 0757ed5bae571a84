// The sidecar's HTTP side: /metrics (HAProxy's series from the cache + the sidecar's own) and /healthz.
import { createServer, type Server, type ServerResponse } from "node:http";
import { CompressedExposition } from "./compressed-exposition.ts";
import { parseShowInfo, parseShowStat, withoutMaintenanceServers } from "../haproxy/show-stat.ts";
import { parseExpositionQuery, renderHaproxyExposition, type ExpositionFilter } from "./exposition.ts";
import type { StatsPoller } from "./poller.ts";
import type { SelfMetrics } from "./self-metrics.ts";
import { SIDECAR_PATHS } from "./endpoints.ts";

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Resolves when the response can take more, or when the client has gone (then nothing more is written). */
function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off("drain", done);
      response.off("close", done);
      resolve();
    };
    response.once("drain", done);
    response.once("close", done);
  });
}

async function serveMetrics(exposition: CompressedExposition, metrics: SelfMetrics, head: boolean, gzip: boolean, response: ServerResponse): Promise<void> {
  const own = await metrics.registry.metrics();
  response.writeHead(200, { "content-type": EXPOSITION_CONTENT_TYPE, vary: "accept-encoding", ...(gzip ? { "content-encoding": "gzip" } : {}) });
  if (head) return void response.end();
  if (gzip) {
    for (const piece of exposition.gzipWith(own)) response.write(piece);
  } else {
    // Inflated block by block, with backpressure: a slow client never makes the sidecar hold the whole text.
    for await (const piece of exposition.plain()) {
      if (response.destroyed) return;
      if (!response.write(piece)) await drained(response);
    }
    response.write(own);
  }
  response.end();
}

/**
 * The exposition a scrape that asks for some scopes or no-maint gets: rendered from the last poll's
 * answers, kept as text, so no scrape ever waits on HAProxy's socket; compressed as it is rendered,
 * so it is served like the full one (one gzip stream, or inflated with backpressure).
 */
function filteredExposition(poller: StatsPoller, filter: ExpositionFilter): CompressedExposition {
  const compressed = new CompressedExposition();
  const answers = poller.answers();
  if (answers) {
    // no-maint: parked server lines are dropped by a scan, not parsed (10,000 template slots).
    const { text, maintenanceServers } = filter.noMaint ? withoutMaintenanceServers(answers.stat) : { text: answers.stat, maintenanceServers: undefined };
    renderHaproxyExposition({ info: parseShowInfo(answers.info).info, stat: parseShowStat(text), maintenanceServers }, (piece) => compressed.append(piece), filter);
  }
  compressed.flush();
  return compressed;
}

export function createMetricsServer(poller: StatsPoller, metrics: SelfMetrics): Server {
  return createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://sidecar");
    const path = url.pathname;
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === SIDECAR_PATHS.metrics) {
      const head = request.method === "HEAD";
      const gzip = /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
      const filtered = url.searchParams.has("scope") || url.searchParams.has("no-maint");
      const filter = parseExpositionQuery(url.searchParams);
      if ("problem" in filter) {
        response.writeHead(400, { "content-type": "text/plain" }).end(`${filter.problem}\n`);
        return;
      }
      serveMetrics(filtered ? filteredExposition(poller, filter) : poller.exposition(), metrics, head, gzip, response).catch((error: Error) => {
        if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain" }).end(`${error.message}\n`);
        else response.destroy(error);
      });
    } else if (path === SIDECAR_PATHS.health) {
      // The sidecar is healthy while it runs and serves; whether HAProxy answers is a metric, not its health.
      metrics.pollSuccess.get().then((success) => {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(`${JSON.stringify({ status: "ok", haproxy: success.values[0]?.value === 1 ? "answering" : "not answering" })}\n`);
      });
    } else {
      response.writeHead(404, { "content-type": "text/plain" }).end(`not found: try ${SIDECAR_PATHS.metrics} or ${SIDECAR_PATHS.health}\n`);
    }
  });
}
