// The sidecar against the real HAProxy: it agrees with HAProxy's own exporter, survives every way
// the stats socket can fail, and recovers by itself.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, chmodSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { build, stop as stopEsbuild } from "esbuild";
import { runtimeCommand } from "../haproxy/runtime-api.ts";
import { StatsPoller } from "../sidecar/poller.ts";
import { SelfMetrics } from "../sidecar/self-metrics.ts";
import { createMetricsServer } from "../sidecar/http.ts";
import { killProcessGroup, startProcess, stopProcessGroup, type ManagedProcess } from "../infra/runtime/processes.ts";
import { findFreePortRange } from "../infra/runtime/ports.ts";
import { eventually, startTestStack, type TestStack } from "./support/stack.ts";
import { metricNames, parseExposition, seriesKey, type ParsedExposition } from "./support/exposition.ts";
import { runCli, REPO_ROOT } from "./support/run-cli.ts";

const text = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(5000) })).text();
const DASHBOARD = join(REPO_ROOT, "../shared/reference/grafana-haproxy-dashboard.json");

/** Metric names that a Grafana dashboard's queries use. */
function dashboardMetricNames(file: string): Set<string> {
  const names = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if ((key === "expr" || key === "query") && typeof value === "string") for (const m of value.matchAll(/\bhaproxy_[a-z0-9_]+/g)) names.add(m[0]);
        else walk(value);
      }
    }
  };
  walk(JSON.parse(readFileSync(file, "utf8")));
  return names;
}

const labelNames = (exposition: ParsedExposition, name: string) =>
  new Set([...exposition.samples.keys()].filter((k) => k === name || k.startsWith(`${name}{`)).flatMap((k) => [...k.matchAll(/([a-z_]+)="/g)].map((m) => m[1]!)));

describe("the sidecar beside a real HAProxy, in the local stack", () => {
  let running: TestStack;
  let sidecarUrl: string;
  let builtinUrl: string;
  beforeAll(async () => {
    running = await startTestStack(() => {}, { sidecar: true });
    sidecarUrl = `http://127.0.0.1:${running.topology.services.sidecar.port}`;
    builtinUrl = `http://127.0.0.1:${running.topology.monitoring.port}${running.topology.monitoring.metricsPath}`;
  });
  afterAll(() => running?.cleanup());

  /** Both expositions once the sidecar has polled after the last request (bounded wait). */
  async function quiescentPair(): Promise<{ ours: ParsedExposition; builtin: ParsedExposition }> {
    const frontend = seriesKey("haproxy_frontend_http_requests_total", { proxy: "http_front" });
    let ours!: ParsedExposition;
    let builtin!: ParsedExposition;
    const agreed = await eventually(async () => {
      builtin = parseExposition(await text(builtinUrl));
      ours = parseExposition(await text(`${sidecarUrl}/metrics`));
      return ours.samples.get(frontend) === builtin.samples.get(frontend);
    }, 15_000, 300);
    assert.ok(agreed, `the sidecar never caught up: ${ours?.samples.get(frontend)} vs ${builtin?.samples.get(frontend)}`);
    return { ours, builtin };
  }

  it("serves every series HAProxy's exporter serves, with the same labels", async () => {
    const port = running.topology.frontends[0]!.binds[0]!.port;
    for (let i = 0; i < 30; i++) await (await fetch(`http://127.0.0.1:${port}/`)).arrayBuffer();
    const { ours, builtin } = await quiescentPair();
    const missing = [...builtin.samples.keys()].filter((k) => !ours.samples.has(k));
    assert.deepEqual(missing, []);
    const extra = [...ours.samples.keys()].filter((k) => k.startsWith("haproxy_") && !k.startsWith("haproxy_sidecar_") && !builtin.samples.has(k));
    assert.deepEqual(extra, []);
  });

  it("has counters equal to HAProxy's for the traffic proxies, and never ahead of them elsewhere", async () => {
    const { ours, builtin } = await quiescentPair();
    const counters = new Set(builtin.metadata.filter((m) => m.type === "counter").map((m) => m.name));
    const compared: string[] = [];
    for (const [key, theirs] of builtin.samples) {
      const name = key.replace(/\{.*$/, "");
      if (!counters.has(name)) continue;
      const value = ours.samples.get(key)!;
      // The monitoring proxy and process totals count the scrapes themselves, which go on between
      // the sidecar's poll and this read: there, the sidecar may lag by what one interval explains.
      if (key.includes('proxy="monitoring"') || name.startsWith("haproxy_process_")) assert.ok(value <= theirs, `${key}: sidecar ${value} is ahead of HAProxy ${theirs}`);
      else {
        assert.equal(value, theirs, key);
        compared.push(key);
      }
    }
    assert.ok(compared.length > 50, `only ${compared.length} counters compared`);
    assert.equal(ours.samples.get(seriesKey("haproxy_backend_http_requests_total", { proxy: "flask_servers" })), builtin.samples.get(seriesKey("haproxy_backend_http_requests_total", { proxy: "flask_servers" })));
  });

  it("reports both servers UP, as HAProxy's exporter does", async () => {
    const { ours } = await quiescentPair();
    for (const server of ["web-a", "web-b"]) {
      assert.equal(ours.samples.get(seriesKey("haproxy_server_status", { proxy: "flask_servers", server, state: "UP" })), 1);
      assert.equal(ours.samples.get(seriesKey("haproxy_server_status", { proxy: "flask_servers", server, state: "DOWN" })), 0);
    }
    assert.equal(ours.samples.get("haproxy_sidecar_poll_success"), 1);
  });

  it("serves every metric of the reference Grafana dashboard that HAProxy's exporter serves (141 for 2.6)", async (t) => {
    if (!existsSync(DASHBOARD)) return t.skip("../shared/reference is not beside this checkout");
    const wanted = dashboardMetricNames(DASHBOARD);
    const builtin = parseExposition(await text(builtinUrl));
    const ours = parseExposition(await text(`${sidecarUrl}/metrics`));
    const declared = new Set(builtin.metadata.map((m) => m.name));
    const shared = [...wanted].filter((n) => declared.has(n));
    assert.equal(shared.length, 141);
    const ourDeclared = new Set(ours.metadata.map((m) => m.name));
    assert.deepEqual(shared.filter((n) => !ourDeclared.has(n)), []);
    const served = metricNames(builtin);
    for (const name of shared.filter((n) => served.has(n))) assert.deepEqual(labelNames(ours, name), labelNames(builtin, name), name);
  });

  it("answers scope= and no-maint as HAProxy's exporter does, from its cache: the same series, the same refusals", async () => {
    const admin = join(running.runDir, "admin.sock");
    await runtimeCommand({ path: admin }, "set server flask_servers/web-b state maint", { timeoutMs: 2000 });
    try {
      // The one series the sidecar cannot serve: for a server in maintenance HAProxy's exporter keeps
      // printing its last check's duration, which `show stat` (the sidecar's source) leaves empty.
      const unknowable = seriesKey("haproxy_server_check_duration_seconds", { proxy: "flask_servers", server: "web-b" });
      const seriesOf = (exposition: ParsedExposition) => [...exposition.samples.keys()].filter((k) => !k.startsWith("haproxy_sidecar_") && k !== unknowable).sort();
      const familiesOf = (exposition: ParsedExposition) => exposition.metadata.map((m) => m.name).filter((n) => !n.startsWith("haproxy_sidecar_"));
      // The sidecar must have polled since web-b went into maintenance.
      assert.ok(await eventually(async () => !(await text(`${sidecarUrl}/metrics?no-maint`)).includes('haproxy_server_status{proxy="flask_servers",server="web-b"'), 10_000, 200), "the sidecar never saw web-b in maintenance");
      const polls = Number(parseExposition(await text(`${sidecarUrl}/metrics`)).samples.get("haproxy_sidecar_polls_total"));
      const queries = ["no-maint", "scope=server", "scope=server&no-maint", "scope=global", "scope=frontend&scope=backend", "scope=*", "scope=*&scope=", "scope=&scope=backend", "scope=sticktable"];
      for (const query of queries) {
        const [theirs, ours] = await Promise.all([fetch(`${builtinUrl}?${query}`), fetch(`${sidecarUrl}/metrics?${query}`)]);
        assert.equal(ours.status, theirs.status, query);
        const [builtin, sidecar] = [parseExposition(await theirs.text()), parseExposition(await ours.text())];
        assert.deepEqual(seriesOf(sidecar), seriesOf(builtin), query);
        // State series do not move with traffic: their values must agree too (the backends' totals count web-b as MAINT).
        // (The check-state totals are the same unknowable: HAProxy counts web-b by its last check.)
        const states = (e: ParsedExposition) => [...e.samples].filter(([k]) => /^haproxy_(backend_agg_server|server_status|backend_status|frontend_status)/.test(k)).sort();
        assert.deepEqual(states(sidecar), states(builtin), `${query}: state values`);
        assert.deepEqual(familiesOf(sidecar), familiesOf(builtin), `${query}: the same families, in the same order`);
      }
      const all = parseExposition(await text(`${sidecarUrl}/metrics`));
      assert.ok(all.samples.has(seriesKey("haproxy_server_status", { proxy: "flask_servers", server: "web-b", state: "MAINT" })), "without no-maint web-b is served");
      for (const bad of ["scope=bogus", "scope=server&scope=nope"]) {
        const [theirs, ours] = await Promise.all([fetch(`${builtinUrl}?${bad}`), fetch(`${sidecarUrl}/metrics?${bad}`)]);
        assert.deepEqual([ours.status, theirs.status], [400, 400], bad);
        assert.match(await ours.text(), /unknown scope "(bogus|nope)": use global, frontend, backend, server, sticktable or \*/);
      }
      // Filtered scrapes are rendered from the last poll's answers: none of them polled HAProxy.
      const after = Number(parseExposition(await text(`${sidecarUrl}/metrics`)).samples.get("haproxy_sidecar_polls_total"));
      assert.ok(after - polls <= Math.ceil(2 + (queries.length * 2 * 100) / 1000), `polls went from ${polls} to ${after}: about one a second, not one per scrape`);
      // gzip, as Prometheus asks for it
      const gz = await fetch(`${sidecarUrl}/metrics?no-maint`, { headers: { "accept-encoding": "gzip" } });
      assert.equal(gz.headers.get("content-encoding"), "gzip");
      assert.ok((await gz.text()).includes("haproxy_server_status"), "fetch inflates it: a valid gzip stream");
    } finally {
      await runtimeCommand({ path: admin }, "set server flask_servers/web-b state ready", { timeoutMs: 2000 });
    }
  });

  it("answers /healthz and refuses other paths", async () => {
    const health = await fetch(`${sidecarUrl}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok", haproxy: "answering" });
    assert.equal((await fetch(`${sidecarUrl}/nope`)).status, 404);
  });
});

// --- faults ---------------------------------------------------------------------------------------

/** A poller and its HTTP side on an ephemeral port, for one fault scenario. */
async function harness(socketPath: string, timeoutMs = 500) {
  const metrics = new SelfMetrics();
  const logs: string[] = [];
  const poller = new StatsPoller({ api: (command) => runtimeCommand({ path: socketPath }, command, { timeoutMs }), metrics, intervalMs: 60_000, log: (l) => logs.push(l) });
  const server = createMetricsServer(poller, metrics);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  return {
    poller,
    logs,
    scrape: async () => parseExposition(await text(url)),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A unix socket that behaves as `onConnection` says: the misbehaving HAProxy. */
async function fakeSocket(dir: string, onConnection: (socket: Socket) => void): Promise<{ path: string; server: NetServer }> {
  const path = join(dir, `fake-${Math.random().toString(36).slice(2)}.sock`);
  const server = createNetServer(onConnection);
  server.listen(path);
  await once(server, "listening");
  return { path, server };
}

describe("sidecar faults: it keeps serving, says what is wrong, and recovers", () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), "sidecar-faults-"))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function startHaproxy(socket: string, port: number): Promise<ManagedProcess> {
    const config = join(dir, "haproxy.cfg");
    writeFileSync(config, `global\n    stats socket ${socket} mode 600 level admin\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend fe\n    bind 127.0.0.1:${port}\n    default_backend be\nbackend be\n    server s1 127.0.0.1:9\n`);
    const haproxy = await startProcess({ name: "haproxy", command: "haproxy", args: ["-f", config], logFile: join(dir, "haproxy.log") });
    assert.ok(await eventually(async () => existsSync(socket), 5000, 50), "HAProxy never created its stats socket");
    return haproxy;
  }

  it("HAProxy killed under it: scrape_success 0, last snapshot kept, one log line; back when HAProxy is", async () => {
    const socket = join(dir, "admin.sock");
    const port = await findFreePortRange(1);
    let haproxy = await startHaproxy(socket, port);
    const h = await harness(socket);
    try {
      assert.equal(await h.poller.pollOnce(), true);
      const before = await h.scrape();
      assert.equal(before.samples.get("haproxy_sidecar_poll_success"), 1);
      const fe = seriesKey("haproxy_frontend_status", { proxy: "fe", state: "UP" });
      assert.equal(before.samples.get(fe), 1);

      await killProcessGroup(haproxy.pid); // SIGKILL only: the socket file stays, nobody listens
      assert.equal(await h.poller.pollOnce(), false);
      assert.equal(await h.poller.pollOnce(), false);
      const during = await h.scrape();
      assert.equal(during.samples.get("haproxy_sidecar_poll_success"), 0);
      assert.equal(during.samples.get(fe), 1, "the last good snapshot is no longer served");
      assert.ok(during.samples.get("haproxy_sidecar_snapshot_age_seconds")! >= 0);
      assert.equal(during.samples.get(seriesKey("haproxy_sidecar_poll_failures_total", { code: "STATS_SOCKET_REFUSED" })), 2);
      assert.equal(h.logs.filter((l) => l.includes("poll failed")).length, 1, h.logs.join("\n"));
      assert.match(h.logs.find((l) => l.includes("poll failed"))!, /poll failed \(STATS_SOCKET_REFUSED\): the stats socket .*admin\.sock refused the connection: HAProxy is down or restarting; serving the last good snapshot, marked stale/);

      rmSync(socket, { force: true });
      haproxy = await startHaproxy(socket, port);
      assert.equal(await h.poller.pollOnce(), true);
      assert.equal((await h.scrape()).samples.get("haproxy_sidecar_poll_success"), 1);
      assert.match(h.logs.at(-1)!, /HAProxy answers again/);
    } finally {
      await h.close();
      await stopProcessGroup(haproxy.pid);
    }
  });

  const faults: { name: string; behave: (s: Socket) => void; code: string; message: RegExp }[] = [
    { name: "a socket that accepts and never answers", behave: () => {}, code: "STATS_SOCKET_TIMEOUT", message: /did not answer within 500 ms/ },
    { name: "an answer cut short", behave: (s) => s.end("# pxname,svname,qcur\nfe,FRONT"), code: "STATS_SOCKET_TRUNCATED", message: /closed after \d+ bytes, before the answer's end/ },
    { name: "garbage", behave: (s) => s.end("\x00\x01 garbage\n\n"), code: "STAT_PARSE_FAILED", message: /no "Name: value" line|header/ },
    { name: "an HAProxy refusing the command", behave: (s) => s.end("Unknown command. Please enter one of the following commands only :\n\n"), code: "STAT_PARSE_FAILED", message: /header/ },
  ];
  for (const fault of faults) {
    it(`${fault.name}: ${fault.code}, and /metrics still answers at once`, async () => {
      const fake = await fakeSocket(dir, fault.behave);
      const h = await harness(fake.path);
      try {
        const poll = h.poller.pollOnce();
        // A scrape while the poll is stuck on the socket is answered from the cache, not after it.
        let pollDone = false;
        void poll.then(() => (pollDone = true));
        const during = await h.scrape();
        if (fault.code === "STATS_SOCKET_TIMEOUT") assert.equal(pollDone, false, "the scrape waited for the hung socket");
        assert.equal(during.samples.get("haproxy_sidecar_poll_success"), 0);
        assert.equal(await poll, false);
        const after = await h.scrape();
        assert.equal(after.samples.get(seriesKey("haproxy_sidecar_poll_failures_total", { code: fault.code })), 1);
        assert.match(h.logs.join("\n"), new RegExp(`poll failed \\(${fault.code}\\): .*${fault.message.source}`));
      } finally {
        await h.close();
        fake.server.close();
      }
    });
  }

  it("a garbled line inside a good answer is skipped and counted, the rest is served", async () => {
    const statHeader = readFileSync(new URL("fixtures/haproxy-2.6/show-stat.txt", import.meta.url), "utf8").trimEnd().split("\n");
    const stat = [statHeader[0], "%%% not a stat line %%%", ...statHeader.slice(1)].join("\n") + "\n\n";
    const info = readFileSync(new URL("fixtures/haproxy-2.6/show-info.txt", import.meta.url), "utf8").trimEnd() + "\n\n";
    const fake = await fakeSocket(dir, (s) => s.once("data", (d) => s.end(d.toString().startsWith("show info") ? info : stat)));
    const h = await harness(fake.path);
    try {
      assert.equal(await h.poller.pollOnce(), true);
      const scraped = await h.scrape();
      assert.equal(scraped.samples.get("haproxy_sidecar_parse_errors_total"), 1);
      assert.equal(scraped.samples.get(seriesKey("haproxy_server_status", { proxy: "flask_servers", server: "web-a", state: "UP" })), 1);
      assert.match(h.logs.join("\n"), /skipped what could not be parsed: show stat line 2: 1 fields where the header has \d+/);
    } finally {
      await h.close();
      fake.server.close();
    }
  });

  it("a socket path that does not exist: STATS_SOCKET_MISSING, naming the path", async () => {
    const h = await harness(join(dir, "nowhere.sock"));
    try {
      assert.equal(await h.poller.pollOnce(), false);
      assert.match(h.logs[0]!, /STATS_SOCKET_MISSING\): no stats socket at .*nowhere\.sock: is HAProxy running with "stats socket/);
    } finally {
      await h.close();
    }
  });

  it("permission denied, for a user outside the socket's mode: STATS_SOCKET_PERMISSION", async (t) => {
    if (process.getuid?.() !== 0) return t.skip("needs root to run the client as another user");
    const privateDir = mkdtempSync(join(tmpdir(), "sidecar-perm-"));
    chmodSync(privateDir, 0o700);
    // The real client, bundled where the other user can read it: the checkout may not be readable to it.
    const clientDir = mkdtempSync(join(tmpdir(), "sidecar-perm-client-"));
    chmodSync(clientDir, 0o755);
    const client = join(clientDir, "client.mjs");
    await build({
      stdin: {
        contents: `import { runtimeCommand } from ${JSON.stringify(join(REPO_ROOT, "haproxy/runtime-api.ts"))};
          runtimeCommand({ path: process.argv[2] }, "show info").then(() => console.log("ANSWERED"), (e) => console.log(e.code));`,
        resolveDir: REPO_ROOT,
        loader: "ts",
      },
      bundle: true,
      platform: "node",
      format: "esm",
      outfile: client,
      logLevel: "silent",
    });
    // esbuild's service process would outlive this file when it runs last (the leak check names it).
    await stopEsbuild();
    chmodSync(client, 0o644);
    const fake = await fakeSocket(privateDir, (s) => s.end("Name: x\n\n"));
    try {
      const child = spawn(process.execPath, [client, fake.path], { uid: 65534, gid: 65534, cwd: clientDir });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      await once(child, "close");
      assert.equal(out.trim(), "STATS_SOCKET_PERMISSION");
    } finally {
      fake.server.close();
      rmSync(privateDir, { recursive: true, force: true });
      rmSync(clientDir, { recursive: true, force: true });
    }
  });
});

describe("npm run sidecar: its command line", () => {
  const cases: [string, string[], RegExp][] = [
    ["without --stats-socket", ["--listen", "127.0.0.1:1"], /^error USAGE: --stats-socket is required\nusage: npm run sidecar/],
    ["with a bad interval", ["--stats-socket", "/x.sock", "--interval", "soon"], /^error USAGE: --interval: "soon" is not a duration: use a positive whole number with a unit/],
    ["with a bad timeout", ["--stats-socket", "/x.sock", "--timeout", "0s"], /^error USAGE: --timeout: "0s" is not a duration/],
    ["with a bad listen address", ["--stats-socket", "/x.sock", "--listen", "here"], /^error USAGE: --listen: "here" is not a listen address: use PORT or HOST:PORT/],
  ];
  for (const [name, args, message] of cases) {
    it(`exits 2 ${name}, saying what to type`, async () => {
      const result = await runCli("sidecar/cli.ts", args);
      assert.equal(result.code, 2);
      assert.match(result.stderr, message);
    });
  }

  it("takes every duration the model takes: a topology's pollInterval of 1h starts it", async () => {
    const port = await findFreePortRange(1);
    const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "sidecar/cli.ts"), "--stats-socket", "/nonexistent.sock", "--listen", `127.0.0.1:${port}`, "--interval", "1h"], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    try {
      assert.ok(await eventually(async () => err.includes("polling /nonexistent.sock every 1h"), 20_000), err);
    } finally {
      child.kill("SIGTERM");
      await once(child, "close");
    }
  });

  it("a listen port in use: says so and exits 1", async () => {
    const blocker = createNetServer();
    blocker.listen(0, "127.0.0.1");
    await once(blocker, "listening");
    try {
      const port = (blocker.address() as AddressInfo).port;
      const result = await runCli("sidecar/cli.ts", ["--stats-socket", "/x.sock", "--listen", `127.0.0.1:${port}`]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`^error PORT_IN_USE: port ${port} \\(needed by the sidecar\\) is already in use: pick another --listen port`));
    } finally {
      blocker.close();
    }
  });
});
