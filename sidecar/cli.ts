// npm run sidecar -- --stats-socket PATH|HOST:PORT --listen [HOST:]PORT [--interval 2s] [--timeout 1s]
import { parseCliArgs, runMain } from "../lib/cli.ts";
import { PortInUseError, UsageError } from "../lib/errors.ts";
import { describeEndpoint, parseEndpoint, runtimeCommand } from "../haproxy/runtime-api.ts";
import { parseShowSslCert, parseSslCertList, type ServedCertificate } from "../haproxy/ssl-cert.ts";
import { createMetricsServer } from "./http.ts";
import { StatsPoller } from "./poller.ts";
import { SelfMetrics } from "./self-metrics.ts";
import { parseInterval, parseListen } from "./args.ts";
import { SIDECAR_PATHS } from "./endpoints.ts";
import { DistributionCheck } from "./distribution-check.ts";
import { SlowAnswers } from "./slow-answers.ts";

const USAGE = `usage: npm run sidecar -- --stats-socket PATH|HOST:PORT [--listen [HOST:]PORT] [--interval 2s] [--timeout 1s] [--assertions-file FILE] [--apply-history FILE] [--components-file FILE]
                          [--expected-file FILE] [--distribution-window 30s] [--certificates-file FILE] [--rollouts-dir DIR]

  --stats-socket     HAProxy's admin socket: a unix socket path, or host:port
  --listen           where /metrics and /healthz are served (default 127.0.0.1:9101)
  --interval         how often HAProxy is polled, as HAProxy writes durations (default 2s)
  --timeout          how long one poll may take (default 1s)
  --assertions-file  where npm run verify leaves its results, exported as haproxy_sidecar_assertion_passed
  --apply-history    npm run apply's history, exported as haproxy_sidecar_last_apply_success, _applies_total...
  --components-file  the local runtime's stack.json, exported as haproxy_sidecar_component_up, _component_restarts_total
  --expected-file    the topology's weights (written by npm start and apply): the continuous distribution check
                     and drift (haproxy_sidecar_server_share_*, _backend_distribution_skew, _topology_drift)
  --distribution-window  how far back the distribution check measures shares (default 30s)
  --certificates-file    the certificate issuer's record (certificates.json): its renewals, exported beside
                     what HAProxy serves (haproxy_sidecar_certificate_*)
  --rollouts-dir     where npm run rollout keeps its state (the run directory): haproxy_sidecar_rollout_*`;

/** Every certificate HAProxy serves: the list, then each file's details. */
async function servedCertificates(api: (command: string) => Promise<string>): Promise<ServedCertificate[]> {
  const files = parseSslCertList(await api("show ssl cert"));
  const served = await Promise.all(files.map(async (file) => parseShowSslCert(await api(`show ssl cert ${file}`), file)));
  return served.filter((c): c is ServedCertificate => c !== undefined);
}

const log = (line: string) => process.stderr.write(`${new Date().toISOString()} sidecar: ${line}\n`);

async function main(argv: string[]): Promise<void> {
  const { values } = parseCliArgs(
    argv,
    {
      "stats-socket": { type: "string" },
      listen: { type: "string", default: "127.0.0.1:9101" },
      interval: { type: "string", default: "2s" },
      timeout: { type: "string", default: "1s" },
      "assertions-file": { type: "string" },
      "apply-history": { type: "string" },
      "components-file": { type: "string" },
      "expected-file": { type: "string" },
      "distribution-window": { type: "string", default: "30s" },
      "certificates-file": { type: "string" },
      "rollouts-dir": { type: "string" },
    },
    USAGE,
  );
  if (!values["stats-socket"]) throw new UsageError(`--stats-socket is required\n${USAGE}`);
  const endpoint = parseEndpoint(values["stats-socket"]);
  const listen = parseListen(values.listen);
  const intervalMs = parseInterval("interval", values.interval);
  const timeoutMs = parseInterval("timeout", values.timeout);
  const windowMs = parseInterval("distribution-window", values["distribution-window"]);

  const expectedFile = values["expected-file"];
  const distribution = expectedFile ? new DistributionCheck({ expectedFile, windowMs, log }) : undefined;
  const metrics = new SelfMetrics({
    assertionsFile: values["assertions-file"],
    applyHistoryFile: values["apply-history"],
    componentsFile: values["components-file"],
    distribution: distribution && (() => distribution.latest()),
    rolloutsDir: values["rollouts-dir"],
    certificates: { served: () => servedCertificates((command) => runtimeCommand(endpoint, command, { timeoutMs })), recordsFile: values["certificates-file"], log },
    log,
  });
  const api = (command: string) => runtimeCommand(endpoint, command, { timeoutMs });
  const slowAnswers = new SlowAnswers(api, metrics.registry, log);
  const poller = new StatsPoller({
    api,
    metrics,
    intervalMs,
    log,
    observe: async (atMs, rows) => {
      await slowAnswers.observe(rows);
      await distribution?.observe(atMs, rows);
    },
  });
  const server = createMetricsServer(poller, metrics);
  await new Promise<void>((listening, failed) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      failed(error.code === "EADDRINUSE" ? new PortInUseError(listen.port, "the sidecar", undefined, "pick another --listen port") : error),
    );
    server.listen(listen.port, listen.host, listening);
  });
  log(`polling ${describeEndpoint(endpoint)} every ${values.interval}; serving http://${listen.host}:${listen.port}${SIDECAR_PATHS.metrics}`);
  poller.start();

  await new Promise<void>((done) => {
    const shutdown = (signal: string) => {
      log(`${signal}: stopping`);
      poller.stop();
      server.close(() => done());
      setTimeout(done, 2000).unref();
    };
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    process.on("SIGINT", () => shutdown("SIGINT"));
  });
}

runMain(main);
