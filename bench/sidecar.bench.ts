// The sidecar beside HAProxy's built-in exporter and Debian's prometheus-haproxy-exporter (Go),
// all three reading the same HAProxy, whose servers server-template makes: 10, 1,000, 10,000.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { findFreePortRange } from "../infra/runtime/ports.ts";
import { startProcess, stopProcessGroup, type ManagedProcess } from "../infra/runtime/processes.ts";
import { REPO_ROOT } from "../infra/repo.ts";
import { median, ms, type BenchRow } from "./table.ts";
import { pollUntil } from "../lib/poll.ts";
import { sidecarNodeFlags } from "../sidecar/node-flags.ts";

const SAMPLES = 5;

/**
 * A HAProxy with `servers` servers (100 per backend), a stats socket and its built-in exporter;
 * `disabled`: every server starts in maintenance, as unused server-template slots do.
 */
export function serverTemplateConfig(servers: number, socket: string, metricsPort: number, options: { disabled?: boolean } = {}): string {
  const perBackend = Math.min(servers, 100);
  const lines = [
    "global", `    stats socket ${socket} mode 600 level admin`, "    maxconn 4096",
    "defaults", "    mode http", "    timeout connect 1s", "    timeout client 5s", "    timeout server 5s",
    "frontend monitoring", `    bind 127.0.0.1:${metricsPort}`, "    http-request use-service prometheus-exporter if { path /metrics }",
  ];
  for (let b = 0; b < Math.ceil(servers / perBackend); b++) lines.push(`backend pool_${b}`, `    server-template srv 1-${perBackend} 127.0.0.1:9${options.disabled ? " disabled" : ""}`);
  return `${lines.join("\n")}\n`;
}

const rssKb = (pid: number, field: "VmRSS" | "VmHWM") => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);

/** Time to the last byte of a scrape, asking for gzip as Prometheus does. */
async function scrapeMs(url: string): Promise<{ ms: number; text: string }> {
  const started = performance.now();
  const response = await fetch(url, { headers: { "accept-encoding": "gzip" }, signal: AbortSignal.timeout(60_000) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return { ms: performance.now() - started, text };
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const happened = await pollUntil(async () => ((await check()) ? true : undefined), { timeoutMs, intervalMs: 200 });
  if (!happened) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`);
}

export async function sidecarBench(): Promise<BenchRow[]> {
  await promisify(execFile)("npm", ["run", "--silent", "build:sidecar"], { cwd: REPO_ROOT });
  const bundle = join(REPO_ROOT, "dist/sidecar.mjs");
  if (!existsSync(bundle)) throw new Error("npm run build:sidecar wrote no dist/sidecar.mjs");
  const rows: BenchRow[] = [];
  for (const servers of [10, 1_000, 10_000]) {
    const dir = mkdtempSync(join(tmpdir(), "lb-sidecar-bench-"));
    const started: ManagedProcess[] = [];
    try {
      const socket = join(dir, "admin.sock");
      const [builtinPort, sidecarPort, goPort] = [await findFreePortRange(1), await findFreePortRange(1), await findFreePortRange(1)];
      writeFileSync(join(dir, "haproxy.cfg"), serverTemplateConfig(servers, socket, builtinPort));
      started.push(await startProcess({ name: "haproxy", command: "haproxy", args: ["-f", join(dir, "haproxy.cfg")], logFile: join(dir, "haproxy.log") }));
      await waitFor(async () => existsSync(socket), "HAProxy's stats socket");
      const sidecar = await startProcess({
        name: "sidecar",
        command: process.execPath,
        args: [...sidecarNodeFlags(servers), bundle, "--stats-socket", socket, "--listen", `127.0.0.1:${sidecarPort}`, "--interval", "2s", "--timeout", "10s"],
        logFile: join(dir, "sidecar.log"),
      });
      started.push(sidecar);
      const go = await startProcess({
        name: "prometheus-haproxy-exporter",
        command: "prometheus-haproxy-exporter",
        args: [`--haproxy.scrape-uri=unix:${socket}`, `--web.listen-address=127.0.0.1:${goPort}`, "--haproxy.timeout=30s"],
        logFile: join(dir, "go-exporter.log"),
      });
      started.push(go);
      const sidecarUrl = `http://127.0.0.1:${sidecarPort}/metrics`;
      await waitFor(async () => (await scrapeMs(sidecarUrl)).text.includes("haproxy_sidecar_poll_success 1"), "the sidecar's first poll");
      await waitFor(async () => (await scrapeMs(`http://127.0.0.1:${goPort}/metrics`)).text.includes("haproxy_up 1"), "the Go exporter's first scrape");

      const polls: number[] = [];
      const ours: number[] = [];
      const builtin: number[] = [];
      const goScrapes: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const scrape = await scrapeMs(sidecarUrl);
        ours.push(scrape.ms);
        polls.push(1000 * Number(/^haproxy_sidecar_poll_duration_seconds (\S+)$/m.exec(scrape.text)![1]));
        builtin.push((await scrapeMs(`http://127.0.0.1:${builtinPort}/metrics`)).ms);
        goScrapes.push((await scrapeMs(`http://127.0.0.1:${goPort}/metrics`)).ms);
        await new Promise((r) => setTimeout(r, 1000)); // let at least one more poll happen between samples
      }
      const note = `median of ${SAMPLES}`;
      const n = `${servers} servers`;
      rows.push({ group: "sidecar", case: `sidecar poll (socket, parse, render, compress), ${n}`, value: ms(median(polls)), note });
      rows.push({ group: "sidecar", case: `sidecar /metrics from its cache, ${n}`, value: ms(median(ours)), note: `${note}; gzip` });
      rows.push({ group: "sidecar", case: `HAProxy built-in exporter /metrics, ${n}`, value: ms(median(builtin)), note });
      rows.push({ group: "sidecar", case: `Go haproxy_exporter /metrics (polls on scrape), ${n}`, value: ms(median(goScrapes)), note });
      rows.push({
        group: "sidecar",
        case: `Go exporter scrape ÷ sidecar poll + scrape, ${n}`,
        value: (median(goScrapes) / (median(polls) + median(ours))).toFixed(1),
        note: "goal ≥ 1 at 10,000 servers",
      });
      rows.push({ group: "sidecar", case: `sidecar resident memory (now / peak), ${n}`, value: `${Math.round(rssKb(sidecar.pid, "VmRSS") / 1024)} MB`, note: `peak ${Math.round(rssKb(sidecar.pid, "VmHWM") / 1024)} MB; goal < 150 MB; bundled, ${sidecarNodeFlags(servers).join(" ")}` });
      rows.push({ group: "sidecar", case: `Go exporter resident memory (now / peak), ${n}`, value: `${Math.round(rssKb(go.pid, "VmRSS") / 1024)} MB`, note: `peak ${Math.round(rssKb(go.pid, "VmHWM") / 1024)} MB` });
    } finally {
      for (const p of started.reverse()) await stopProcessGroup(p.pid);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

/** Reads a whole /metrics answer the way a scraper does: gzip (Prometheus) or identity (curl, other tools). */
async function scrapeBody(url: string, gzip: boolean): Promise<number> {
  const response = await fetch(url, { headers: { "accept-encoding": gzip ? "gzip" : "identity" }, signal: AbortSignal.timeout(120_000) });
  return (await response.arrayBuffer()).byteLength;
}

/**
 * The sidecar's memory under 10 concurrent scrapers at 10,000 servers, side by side: one sidecar
 * scraped with gzip, another (same HAProxy) with identity, 5 rounds each.
 */
export async function concurrentScrapersBench(): Promise<BenchRow[]> {
  await promisify(execFile)("npm", ["run", "--silent", "build:sidecar"], { cwd: REPO_ROOT });
  const bundle = join(REPO_ROOT, "dist/sidecar.mjs");
  const servers = 10_000;
  const dir = mkdtempSync(join(tmpdir(), "lb-sidecar-scrapers-"));
  const started: ManagedProcess[] = [];
  const rows: BenchRow[] = [];
  try {
    const socket = join(dir, "admin.sock");
    writeFileSync(join(dir, "haproxy.cfg"), serverTemplateConfig(servers, socket, await findFreePortRange(1)));
    started.push(await startProcess({ name: "haproxy", command: "haproxy", args: ["-f", join(dir, "haproxy.cfg")], logFile: join(dir, "haproxy.log") }));
    await waitFor(async () => existsSync(socket), "HAProxy's stats socket");
    for (const gzip of [true, false]) {
      const port = await findFreePortRange(1);
      const sidecar = await startProcess({
        name: `sidecar-${gzip ? "gzip" : "identity"}`,
        command: process.execPath,
        args: [...sidecarNodeFlags(servers), bundle, "--stats-socket", socket, "--listen", `127.0.0.1:${port}`, "--interval", "2s", "--timeout", "10s"],
        logFile: join(dir, `sidecar-${gzip}.log`),
      });
      started.push(sidecar);
      const url = `http://127.0.0.1:${port}/metrics`;
      await waitFor(async () => (await scrapeMs(url)).text.includes("haproxy_sidecar_poll_success 1"), "the sidecar's first poll");
      let bytes = 0;
      for (let round = 0; round < 5; round++) bytes = Math.max(...(await Promise.all(Array.from({ length: 10 }, () => scrapeBody(url, gzip)))));
      const kind = gzip ? "gzip" : "identity";
      rows.push({
        group: "sidecar",
        case: `sidecar resident memory (now / peak), ${servers} servers, 10 concurrent ${kind} scrapers`,
        value: `${Math.round(rssKb(sidecar.pid, "VmRSS") / 1024)} MB`,
        note: `peak ${Math.round(rssKb(sidecar.pid, "VmHWM") / 1024)} MB; goal < 150 MB; 5 rounds, ${(bytes / 1e6).toFixed(1)} MB per answer`,
      });
    }
  } finally {
    for (const p of started.reverse()) await stopProcessGroup(p.pid);
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
