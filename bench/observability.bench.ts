// Observability costs and delays, measured with the real clients: Prometheus's own
// scrape_duration_seconds for the sidecar and HAProxy's built-in exporter side by side (with and
// without no-maint on server-template slots in maintenance), and the time from a server's death to
// its alert at a webhook with the settings the local stack uses.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { parseTopology } from "../infra/model/parse.ts";
import { findFreePortRange, withFreePorts } from "../infra/runtime/ports.ts";
import { startProcess, stopProcessGroup, type ManagedProcess } from "../infra/runtime/processes.ts";
import { startLocalStack } from "../infra/runtime/stack.ts";
import { localStackAccess } from "../infra/runtime/verify.ts";
import { REPO_ROOT } from "../infra/repo.ts";
import { topology as seed } from "../infra/topology.ts";
import { pollUntil } from "../lib/poll.ts";
import { sidecarNodeFlags } from "../sidecar/node-flags.ts";
import { serverTemplateConfig } from "./sidecar.bench.ts";
import { ms, type BenchRow } from "./table.ts";

const SCRAPE_INTERVAL_S = 5;
/** Scrapes Prometheus makes of each job before the figures are read. */
const SCRAPES = 6;

async function until(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const done = await pollUntil(async () => ((await check().catch(() => false)) ? true : undefined), { timeoutMs, intervalMs: 500 });
  if (!done) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`);
}

async function promQuery(port: number, expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const response = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(10_000) });
  return (await response.json()).data.result;
}

/**
 * One HAProxy with `servers` server-template servers, a sidecar beside it, and a real Prometheus
 * scraping both (each with and without no-maint when the servers are in maintenance).
 */
async function scrapeCase(servers: number, maintenance: boolean, bundle: string): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), "lb-prometheus-bench-"));
  const started: ManagedProcess[] = [];
  try {
    const socket = join(dir, "admin.sock");
    const [builtinPort, sidecarPort, prometheusPort] = [await findFreePortRange(1), await findFreePortRange(1), await findFreePortRange(1)];
    writeFileSync(join(dir, "haproxy.cfg"), serverTemplateConfig(servers, socket, builtinPort, { disabled: maintenance }));
    started.push(await startProcess({ name: "haproxy", command: "haproxy", args: ["-f", join(dir, "haproxy.cfg")], logFile: join(dir, "haproxy.log") }));
    await until(async () => existsSync(socket), "HAProxy's stats socket", 30_000);
    started.push(
      await startProcess({
        name: "sidecar",
        command: process.execPath,
        args: [...sidecarNodeFlags(servers), bundle, "--stats-socket", socket, "--listen", `127.0.0.1:${sidecarPort}`, "--interval", "2s", "--timeout", "10s"],
        logFile: join(dir, "sidecar.log"),
      }),
    );
    const job = (name: string, port: number, noMaint: boolean) => ({
      job_name: name,
      static_configs: [{ targets: [`127.0.0.1:${port}`] }],
      ...(noMaint && { params: { "no-maint": [""] } }),
    });
    const jobs = [job("sidecar", sidecarPort, false), job("builtin", builtinPort, false), ...(maintenance ? [job("sidecar no-maint", sidecarPort, true), job("builtin no-maint", builtinPort, true)] : [])];
    writeFileSync(join(dir, "prometheus.yml"), stringify({ global: { scrape_interval: `${SCRAPE_INTERVAL_S}s`, scrape_timeout: `${SCRAPE_INTERVAL_S}s` }, scrape_configs: jobs }));
    started.push(
      await startProcess({
        name: "prometheus",
        command: "prometheus",
        args: [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${prometheusPort}`],
        logFile: join(dir, "prometheus.log"),
      }),
    );
    // SCRAPES successful scrapes of every job, then the figures over them.
    const window = `${SCRAPE_INTERVAL_S * SCRAPES}s`;
    await until(async () => (await promQuery(prometheusPort, `count_over_time(up[${window}]) >= ${SCRAPES}`)).length === jobs.length, `${SCRAPES} scrapes of every job`, (SCRAPES + 6) * SCRAPE_INTERVAL_S * 1000 * (servers >= 10_000 ? 3 : 1));
    const figure = async (expr: string, name: string) => Number((await promQuery(prometheusPort, expr)).find((r) => r.metric.job === name)?.value[1]);
    const rows: BenchRow[] = [];
    const what = `${servers} servers${maintenance ? " in maintenance" : ""}`;
    for (const { job_name: name } of jobs) {
      const avg = await figure(`avg_over_time(scrape_duration_seconds[${window}])`, name);
      const max = await figure(`max_over_time(scrape_duration_seconds[${window}])`, name);
      const samples = await figure("scrape_samples_scraped", name);
      rows.push({ group: "prometheus", case: `scrape_duration_seconds, ${name}, ${what}`, value: ms(avg * 1000), note: `mean of ${SCRAPES} scrapes by Prometheus 2.42 (max ${ms(max * 1000)}); ${samples} samples` });
    }
    const mean = (name: string) => figure(`avg_over_time(scrape_duration_seconds[${window}])`, name);
    const ratio = (await mean("sidecar")) / (await mean("builtin"));
    rows.push({ group: "prometheus", case: `sidecar ÷ built-in scrape duration, ${what}`, value: ratio.toFixed(2), note: servers === 10_000 && !maintenance ? "goal ≤ 1 at 10,000 servers" : "side by side, same HAProxy" });
    if (maintenance) {
      rows.push({ group: "prometheus", case: `sidecar ÷ built-in scrape duration with no-maint, ${what}`, value: ((await mean("sidecar no-maint")) / (await mean("builtin no-maint"))).toFixed(2), note: "side by side, same HAProxy" });
      rows.push({ group: "prometheus", case: `sidecar scrape with no-maint ÷ without, ${what}`, value: ((await mean("sidecar no-maint")) / (await mean("sidecar"))).toFixed(3), note: "what the generated configuration's no-maint saves" });
    }
    return rows;
  } finally {
    for (const p of started.reverse()) await stopProcessGroup(p.pid);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function prometheusScrapeBench(): Promise<BenchRow[]> {
  await promisify(execFile)("npm", ["run", "--silent", "build:sidecar"], { cwd: REPO_ROOT });
  const bundle = join(REPO_ROOT, "dist/sidecar.mjs");
  const rows: BenchRow[] = [];
  for (const servers of [10, 1_000, 10_000]) rows.push(...(await scrapeCase(servers, false, bundle)));
  rows.push(...(await scrapeCase(10_000, true, bundle)));
  return rows;
}

const RUNS = 3;

/** The default topology's monitoring settings, a webhook the bench runs, web-a killed RUNS times. */
export async function alertDeliveryBench(): Promise<BenchRow[]> {
  const received: { at: number; status: string; alertname: string }[] = [];
  const webhook = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      const note = JSON.parse(body) as { alerts: { status: string; labels: Record<string, string> }[] };
      for (const a of note.alerts) received.push({ at: Date.now(), status: a.status, alertname: a.labels.alertname! });
      response.end();
    });
  });
  await new Promise<void>((listening) => webhook.listen(0, "127.0.0.1", listening));
  const env = "LB_BENCH_ALERT_WEBHOOK_URL";
  process.env[env] = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/`;
  const input = structuredClone(seed) as any;
  input.services.alertmanager = { ...input.services.alertmanager, webhooks: [{ name: "bench", urlFromEnv: env }] };
  const topology = parseTopology(await withFreePorts(input));
  const runDir = mkdtempSync(join(tmpdir(), "lb-alert-bench-"));
  const stack = await startLocalStack(topology, { runDir, sidecar: true });
  const { prometheus, alertmanager } = topology.services;
  const settings = `scrape ${prometheus.scrapeInterval}, evaluation ${prometheus.evaluationInterval}, group_wait ${alertmanager.groupWait}, for 10s`;
  try {
    const access = localStackAccess(stack.plan, () => {});
    const firing: number[] = [];
    const resolved: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const seen = (status: string, after: number) => received.find((r) => r.alertname === "HAProxyServerDown" && r.status === status && r.at >= after);
      const killedAt = Date.now();
      await access.killServer("web-a");
      await until(async () => seen("firing", killedAt) !== undefined, "the server-down alert at the webhook", 120_000);
      firing.push(seen("firing", killedAt)!.at - killedAt);
      const restartedAt = Date.now();
      await access.startServer("web-a");
      await until(async () => seen("resolved", restartedAt) !== undefined, "its resolution at the webhook", 180_000);
      resolved.push(seen("resolved", restartedAt)!.at - restartedAt);
    }
    const spread = (xs: number[]) => `${ms(Math.min(...xs))} to ${ms(Math.max(...xs))} over ${RUNS} kills`;
    return [
      { group: "alerts", case: "server death → HAProxyServerDown at the webhook", value: ms(firing.reduce((a, b) => a + b, 0) / RUNS), note: `mean; ${spread(firing)}; ${settings}` },
      { group: "alerts", case: "server back → resolution at the webhook", value: ms(resolved.reduce((a, b) => a + b, 0) / RUNS), note: `mean; ${spread(resolved)}; group_interval ${alertmanager.groupInterval}` },
    ];
  } finally {
    await stack.stop();
    rmSync(runDir, { recursive: true, force: true });
    delete process.env[env];
    await new Promise((closed) => webhook.close(closed));
  }
}
