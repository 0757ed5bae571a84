// npm run sidecar -- --stats-socket PATH|HOST:PORT --listen [HOST:]PORT [--interval 2s] [--timeout 1s]
import { parseArgs } from "node:util";
import { once } from "node:events";
import { createMetricsServer } from "./http.ts";
import { StatsPoller } from "./poller.ts";
import { describeEndpoint, parseEndpoint, runtimeCommand } from "./runtime-api.ts";
import { SelfMetrics } from "./self-metrics.ts";
import { parseInterval, parseListen } from "./args.ts";

const USAGE = "usage: npm run sidecar -- --stats-socket PATH|HOST:PORT --listen [HOST:]PORT [--interval 2s] [--timeout 1s] [--assertions-file FILE]";

const log = (line: string) => process.stderr.write(`${new Date().toISOString()} sidecar: ${line}\n`);

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      "stats-socket": { type: "string" },
      listen: { type: "string", default: "127.0.0.1:9101" },
      interval: { type: "string", default: "2s" },
      timeout: { type: "string", default: "1s" },
      "assertions-file": { type: "string" },
    },
    strict: true,
  });
  if (!values["stats-socket"]) throw new Error(`--stats-socket is required\n${USAGE}`);
  const endpoint = parseEndpoint(values["stats-socket"]);
  const listen = parseListen(values.listen);
  const intervalMs = parseInterval(values.interval);
  const timeoutMs = parseInterval(values.timeout);

  const metrics = new SelfMetrics({ assertionsFile: values["assertions-file"], log });
  const poller = new StatsPoller({ api: (command) => runtimeCommand(endpoint, command, { timeoutMs }), metrics, intervalMs, log });
  const server = createMetricsServer(poller, metrics);
  server.listen(listen.port, listen.host);
  await once(server, "listening");
  log(`polling ${describeEndpoint(endpoint)} every ${values.interval}; serving http://${listen.host}:${listen.port}/metrics`);
  poller.start();

  const shutdown = (signal: string) => {
    log(`${signal}: stopping`);
    poller.stop();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main(process.argv.slice(2)).catch((error: Error & { code?: string }) => {
  process.stderr.write(`sidecar: ${error.code === "EADDRINUSE" ? `cannot listen: ${error.message}; pick another --listen port` : error.message}\n`);
  process.exit(1);
});
