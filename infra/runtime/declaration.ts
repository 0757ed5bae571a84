// What the local runtime will start, decided without touching the machine: the processes in start
// order, the ports each takes, the files to write, and the addresses to show.
import { join } from "node:path";
import { userInfo } from "node:os";
import { bindPorts, onNetwork, proxyMode, runsInstances, serverCount, type Backend, type Server, type Topology } from "../model/schema.ts";
import { checkKind, picksPrimary, serverProtocol } from "../model/checks.ts";
import { expandCondition, sniNamesIn } from "../model/routing.ts";
import { DEFAULT_TOPOLOGY_FILE } from "../model/load.ts";
import { mapFiles, type MapFile } from "../render/routing.ts";
import { renderHaproxyConfig } from "../render/render.ts";
import { prometheusJobs, renderPrometheusConfig } from "../render/prometheus.ts";
import { renderAlertRules, RULES_FILE } from "../render/alert-rules.ts";
import { renderDashboard } from "../render/dashboard.ts";
import { ALERTMANAGER_CONFIG_FILE, renderAlertmanagerConfig, webhookUrlsFromEnvironment } from "../render/alertmanager.ts";
import { LOCAL_ADDRESS, haproxySockets, localBindUrl, localTarget, type HaproxySockets, type LocalTarget } from "../render/targets.ts";
import { ALERTMANAGER_PATHS, HAPROXY_PATHS, PROMETHEUS_PATHS, WEB_APP_PATHS } from "../endpoints.ts";
import { statsPageServed } from "../render/view.ts";
import { TargetPlanError } from "../errors.ts";
import { REPO_ROOT } from "../repo.ts";
import { haproxyArguments, sidecarArguments } from "../components.ts";
import { SIDECAR_PATHS } from "../../sidecar/endpoints.ts";
import { CERTIFICATES_STATE_FILE, ISSUER_CONFIG_FILE, issuerConfig, issuerConfigText, type IssuerConfig } from "../certs/config.ts";
import { sidecarNodeFlags } from "../../sidecar/node-flags.ts";
import { RUN_DIR_MARKER, type ProcessSpec } from "./processes.ts";
import { APPLY_HISTORY_FILE, EXPECTED_DISTRIBUTION_FILE, HAPROXY_CONFIG_FILE } from "./applied.ts";

/** Prometheus's configuration, in the run directory. */
export const PROMETHEUS_CONFIG_FILE = "prometheus.yml";

/** What the stack runs and what its supervisor knows of each process, in the run directory. */
export const STACK_STATE_FILE = "stack.json";

/** The Grafana dashboard, written into the run directory for a user to import. */
export const DASHBOARD_FILE = "grafana-dashboard.json";

/** Where npm run verify leaves its last results, in the run directory; the sidecar exports them. */
export const ASSERTIONS_FILE = "verify.json";

/** "web": the servers HAProxy sends to (the web app, and the Redis, PostgreSQL and TLS servers of a data topology). */
export type ComponentKind = "web" | "dns" | "haproxy" | "sidecar" | "issuer" | "prometheus" | "alertmanager";

/** The name server's records (a hosts file dnsmasq re-reads on SIGHUP), in the run directory. */
export const DNS_HOSTS_FILE = "dns.hosts";

/** A file a component reads at start, in the run directory: written before it starts or restarts. */
export interface ConfigFile {
  file: string;
  content: string;
  /** 0o600 for a file holding a secret (a webhook URL). */
  mode: number;
}

export interface LocalComponent extends ProcessSpec {
  kind: ComponentKind;
  /** Every port it listens on (for pre-flight checks and messages). */
  ports: number[];
  debianPackage: string;
  /** Where a person looks: shown in the table. */
  url: string;
  /**
   * Answers 2xx once the component serves. HAProxy has none: it is ready when its stats socket
   * reports every server UP.
   */
  readyUrl?: string;
  /** A name this name server answers once it serves (dnsmasq). */
  readyDns?: { server: string; name: string };
  /** Where it accepts connections once it serves (Redis, PostgreSQL, a TLS server, a server on a unix socket). */
  readyConnect?: Listener;
  /** A development certificate it serves with, issued before it starts (a TLS server's). */
  certificate?: { file: string; names: string[] };
  /**
   * HAProxy's stats socket: a restarted HAProxy is back once it answers there (its servers may be
   * DOWN for reasons of their own; the first start waits for them, a restart does not).
   */
  readySocket?: string;
  /**
   * A pid file the program refuses to start over while the pid in it looks alive (gunicorn): a
   * crashed process can linger as a zombie that this machine's init is slow to reap, so the file is
   * removed before each start.
   */
  pidFile?: string;
  /** What it reads at start: a change of one of these restarts it on apply. */
  configFiles: ConfigFile[];
}

export interface LocalStackDeclaration {
  runDir: string;
  topology: Topology;
  haproxyConfig: string;
  /** The route tables' map files, beside haproxy.cfg. */
  haproxyMaps: MapFile[];
  /** Grafana's JSON model of the dashboard, every panel included (the local stack feeds them all). */
  dashboard: string;
  sockets: HaproxySockets;
  components: LocalComponent[];
  /** Prometheus's scrape-target API and the jobs it must report up. */
  prometheus: { targetsApiUrl: string; jobs: string[] };
  links: { label: string; urls: string[] }[];
}

export interface LocalStackOptions {
  runDir: string;
  /** Start the metrics sidecar too. */
  sidecar: boolean;
  source?: string;
  /** Where the alert webhooks' URLs are read from (default: this process's environment). */
  env?: NodeJS.ProcessEnv;
}

const url = (port: number, path = "/") => `http://${LOCAL_ADDRESS}:${port}${path}`;

export function declareLocalStack(topology: Topology, options: LocalStackOptions): LocalStackDeclaration {
  const { runDir } = options;
  const target = localTarget(runDir);
  const sockets = haproxySockets(topology.global, target);
  const logs = join(runDir, "logs");
  const { services, monitoring } = topology;
  const source = options.source ?? DEFAULT_TOPOLOGY_FILE;

  const components = [
    ...webComponents(topology, runDir, logs),
    ...groupInstanceComponents(topology, runDir, logs),
    ...dnsComponents(topology, runDir, logs),
    haproxyComponent(topology, sockets, runDir, logs),
    ...(options.sidecar ? [sidecarComponent(topology, sockets, runDir, logs)] : []),
    ...(topology.certificates.length > 0 ? [issuerComponent(issuerConfig(topology, sockets.admin), runDir, logs)] : []),
    alertmanagerComponent(topology, runDir, logs, options.env ?? process.env),
    prometheusComponent(topology, target, logs, { sidecar: options.sidecar, source }),
  ].map((c) => ({ ...c, env: { ...c.env, [RUN_DIR_MARKER]: runDir } }));
  refuseSharedPorts(components);

  const frontendUrls = topology.frontends.flatMap((f) => f.binds.flatMap((b) => bindPorts([b]).map((p) => (proxyMode(f, topology.defaults) === "tcp" ? `tcp://${LOCAL_ADDRESS}:${p}` : localBindUrl(b, p)))));
  return {
    runDir,
    topology,
    haproxyConfig: renderHaproxyConfig(topology, target, { source }),
    haproxyMaps: mapFiles(topology),
    dashboard: renderDashboard({ localPanels: true }),
    sockets,
    components,
    prometheus: {
      targetsApiUrl: url(services.prometheus.port, PROMETHEUS_PATHS.targetsApi),
      jobs: prometheusJobs(topology, target, { sidecar: options.sidecar }).map((j) => j.name),
    },
    links: [
      { label: "frontend", urls: frontendUrls },
      ...(statsPageServed(monitoring, target) ? [{ label: "HAProxy stats page", urls: [url(monitoring.port, monitoring.statsUri)] }] : []),
      { label: "HAProxy metrics", urls: [url(monitoring.port, monitoring.metricsPath)] },
      ...(options.sidecar ? [{ label: "sidecar metrics", urls: [url(services.sidecar.port, SIDECAR_PATHS.metrics)] }] : []),
      { label: "Prometheus", urls: [url(services.prometheus.port, PROMETHEUS_PATHS.targetsPage), url(services.prometheus.port, PROMETHEUS_PATHS.alertsPage)] },
      { label: "Alertmanager", urls: [url(services.alertmanager.port, ALERTMANAGER_PATHS.ui)] },
      { label: "Grafana dashboard", urls: [join(runDir, DASHBOARD_FILE)] },
    ],
  };
}

/**
 * A TLS server's development certificate: for the name HAProxy verifies it by and the names the
 * routes to its backend ask for by SNI (what a client of that route sees), beside the local ones.
 */
function tlsServerCertificate(topology: Topology, backend: string, server: string, runDir: string): NonNullable<LocalComponent["certificate"]> {
  const names = topology.frontends.flatMap((f) => f.routes.filter((r) => r.backend === backend && r.when !== undefined).flatMap((r) => sniNamesIn(expandCondition(r.when!, f.conditions))));
  const serverName = topology.backends.find((b) => b.name === backend)?.tls?.serverName;
  return { file: join(runDir, "tls", `${server}.pem`), names: [...new Set([...(serverName ? [serverName] : []), ...names])] };
}

/**
 * A Redis server on 127.0.0.1:port, replicating the one on `replicaOf` when given; nothing kept
 * on disk (no snapshots, no append-only file): the local stack's data lives as long as it runs.
 */
function redisComponent(name: string, port: number, replicaOf: number | undefined, runDir: string, logs: string): LocalComponent {
  return {
    kind: "web",
    name,
    command: "redis-server",
    args: ["--bind", LOCAL_ADDRESS, "--port", String(port), "--save", "", "--appendonly", "no", "--dir", runDir, "--dbfilename", `${name}.rdb`, ...(replicaOf !== undefined ? ["--replicaof", LOCAL_ADDRESS, String(replicaOf)] : [])],
    logFile: join(logs, `${name}.log`),
    ports: [port],
    debianPackage: "redis-server",
    url: `redis://${LOCAL_ADDRESS}:${port}`,
    readyConnect: { host: LOCAL_ADDRESS, port },
    configFiles: [],
  };
}

/**
 * A PostgreSQL server on 127.0.0.1:port, its data in the run directory (made by apps/postgres/run.sh
 * on first start, with a login role for the health check that needs no password from loopback).
 */
function postgresComponent(name: string, port: number, checkUser: string, runDir: string, logs: string): LocalComponent {
  return {
    kind: "web",
    name,
    command: join(REPO_ROOT, "apps/postgres/run.sh"),
    args: [join(runDir, name), String(port), checkUser],
    logFile: join(logs, `${name}.log`),
    ports: [port],
    debianPackage: "postgresql",
    url: `postgresql://${LOCAL_ADDRESS}:${port}/postgres`,
    readyConnect: { host: LOCAL_ADDRESS, port },
    configFiles: [],
  };
}

/** Where a server listens: host and port, or a unix socket's path. */
export type Listener = { host: string; port: number } | { path: string };

/** One gunicorn serving on a listener, named `name` (its log, pid file and INSTANCE_NAME); over TLS with a certificate. */
function gunicornComponent(name: string, listener: Listener, runDir: string, logs: string, certificate?: LocalComponent["certificate"]): LocalComponent {
  const onSocket = "path" in listener;
  const base = onSocket ? `unix:${listener.path}` : `${certificate ? "https" : "http"}://${listener.host}:${listener.port}`;
  return {
    kind: "web",
    name,
    command: "gunicorn",
    // --pid puts the run directory on gunicorn's command line, where npm stop and the tests'
    // leak checks can see it, besides recording the master's pid.
    args: ["--chdir", join(REPO_ROOT, "apps/web"), "--config", join(REPO_ROOT, "apps/web/gunicorn.conf.py"), "--pid", join(runDir, `${name}.pid`), "app:app"],
    env: { INSTANCE_NAME: name, BIND: onSocket ? `unix:${listener.path}` : `${listener.host}:${listener.port}`, ...(certificate ? { TLS_CERTIFICATE: certificate.file } : {}) },
    pidFile: join(runDir, `${name}.pid`),
    logFile: join(logs, `${name}.log`),
    // Only 127.0.0.1's ports can collide with the stack's other listeners.
    ports: !onSocket && listener.host === LOCAL_ADDRESS ? [listener.port] : [],
    debianPackage: "gunicorn",
    url: onSocket ? base : `${base}${WEB_APP_PATHS.status}`,
    // A TLS server's certificate is the development CA's, which this process does not trust, and a
    // socket is no URL: accepting connections is enough.
    ...(certificate || onSocket ? { readyConnect: listener, ...(certificate && { certificate }) } : { readyUrl: `${base}${WEB_APP_PATHS.status}` }),
    configFiles: [],
  };
}

/** The process that serves one server of a backend, by the protocol its check speaks. */
function serverComponent(topology: Topology, backend: Backend, server: Server, primary: Server | undefined, runDir: string, logs: string): LocalComponent {
  const protocol = serverProtocol(backend);
  if (!onNetwork(server)) {
    if (protocol !== "http" || backend.tls !== undefined) throw new TargetPlanError(`backends.${backend.name}.servers.${server.name}.unixSocket: the local stack runs plain HTTP servers on unix sockets, not ${backend.tls ? "TLS" : protocol} ones: give it a port, or mark it external`);
    return gunicornComponent(server.name, { path: server.unixSocket! }, runDir, logs);
  }
  if (protocol === "redis") return redisComponent(server.name, server.port, server === primary || primary === undefined || !onNetwork(primary) ? undefined : primary.port, runDir, logs);
  if (protocol === "postgresql") return postgresComponent(server.name, server.port, backend.healthCheck!.postgresql!.user, runDir, logs);
  // TLS passed through, or re-encrypted by HAProxy: the server keeps a certificate of its own.
  if (protocol === "tls" || backend.tls !== undefined) return gunicornComponent(server.name, { host: LOCAL_ADDRESS, port: server.port }, runDir, logs, tlsServerCertificate(topology, backend.name, server.name, runDir));
  return gunicornComponent(server.name, { host: LOCAL_ADDRESS, port: server.port }, runDir, logs);
}

/** One process per distinct server port or socket: on 127.0.0.1 the port is what tells servers apart. */
function webComponents(topology: Topology, runDir: string, logs: string): LocalComponent[] {
  // Keyed by where each listens: servers on one port (or socket) are one process.
  const webByListener = new Map<string, LocalComponent>();
  for (const backend of topology.backends) {
    const protocol = serverProtocol(backend);
    const servers = backend.servers.filter((s) => !s.external);
    if (servers.length > 0 && protocol === undefined) {
      throw new TargetPlanError(`backends.${backend.name}: its check (${checkKind(backend.healthCheck!)}) does not say what its servers are, so the local stack cannot run them: mark them external, or use an http, redis, postgresql or tlsHello check`);
    }
    // In a backend whose check finds the primary, the first server starts as the primary and the others replicate it.
    const primary = picksPrimary(backend) ? servers.find((s) => !s.backup && !s.disabled) : undefined;
    for (const server of servers) {
      const key = server.unixSocket ?? String(server.port);
      if (webByListener.has(key)) continue;
      webByListener.set(key, serverComponent(topology, backend, server, primary, runDir, logs));
    }
  }
  const webs = [...webByListener.values()];
  const names = new Set<string>();
  for (const web of webs) {
    if (names.has(web.name)) throw new TargetPlanError(`two servers named "${web.name}" listen on different ports: on the local target each server name must be unique`);
    names.add(web.name);
  }
  return webs;
}

/** A discovered group's instance on the local stack: its own loopback address, the group's port. */
export interface GroupInstance {
  backend: string;
  /** "web-3": the group's name and the instance's number. */
  name: string;
  address: string;
  port: number;
  dnsName: string;
}

/**
 * The instances a discovered group runs with `count` of them on the local stack: instance i of the
 * g-th group listens on 127.0.g.i (every 127/8 address is loopback on Linux), so that the group's
 * name resolves to one address per instance, as it would to one per host or container.
 */
export function groupInstances(topology: Topology, backendName: string, count: number): GroupInstance[] {
  const groups = topology.backends.filter((b) => b.discovery !== undefined);
  const at = groups.findIndex((b) => b.name === backendName);
  const group = groups[at]?.discovery;
  if (!group) throw new TargetPlanError(`backend "${backendName}" has no discovery group; known groups: ${groups.map((b) => b.name).join(", ") || "(none)"}`);
  if (!runsInstances(group)) throw new TargetPlanError(`backends.${backendName}.discovery: its records are served by its own name servers (resolver.nameservers): the local stack runs no instances of it`);
  if (group.record !== "A") {
    throw new TargetPlanError(`backends.${backendName}.discovery.record: the local stack answers a group's name with its own dnsmasq, as A records: use "A" (or give resolver.nameservers that serve the ${group.record} records)`);
  }
  if (count > LOCAL_INSTANCES_MAX) throw new TargetPlanError(`backends.${backendName}.discovery: the local stack runs at most ${LOCAL_INSTANCES_MAX} instances of a group (one loopback address each), not ${count}`);
  return Array.from({ length: count }, (_, i) => ({ backend: backendName, name: `${group.name}-${i + 1}`, address: `127.0.${at + 1}.${i + 1}`, port: group.port!, dnsName: group.dnsName }));
}

/** Addresses 127.0.g.1 to 127.0.g.254 per group. */
export const LOCAL_INSTANCES_MAX = 254;

/** Every discovered group's instances at its count (npm run scale records a new count in the applied topology): the records dnsmasq serves. */
export const allGroupInstances = (topology: Topology) => topology.backends.flatMap((b) => (b.discovery && runsInstances(b.discovery) ? groupInstances(topology, b.name, b.discovery.instances) : []));

function groupInstanceComponents(topology: Topology, runDir: string, logs: string): LocalComponent[] {
  return allGroupInstances(topology).map((i) => gunicornComponent(i.name, { host: i.address, port: i.port }, runDir, logs));
}

/** The name server's records: one A record per instance. */
export const dnsHostsFile = (instances: readonly GroupInstance[]) => instances.map((i) => `${i.address} ${i.dnsName}\n`).join("");

/**
 * dnsmasq answers the discovered groups' names from a hosts file (re-read on SIGHUP) and nothing
 * else: no upstream, no /etc/hosts, on 127.0.0.1 only; started only when a backend discovers.
 */
function dnsComponents(topology: Topology, runDir: string, logs: string): LocalComponent[] {
  const instances = allGroupInstances(topology);
  const groups = topology.backends.filter((b) => b.discovery !== undefined && runsInstances(b.discovery));
  if (groups.length === 0) return [];
  const { port } = topology.services.dns;
  return [
    {
      kind: "dns",
      name: "dnsmasq",
      command: "dnsmasq",
      args: [
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        `--addn-hosts=${join(runDir, DNS_HOSTS_FILE)}`,
        `--listen-address=${LOCAL_ADDRESS}`,
        "--bind-interfaces",
        `--port=${port}`,
        // HAProxy asks every resolveEvery anyway; a client that caches should not hold an old answer.
        "--local-ttl=1",
        "--log-facility=-",
        // As whoever started the stack: no privileges to drop, and the run directory stays readable.
        `--user=${userInfo().username}`,
        `--pid-file=${join(runDir, "dnsmasq.pid")}`,
      ],
      logFile: join(logs, "dnsmasq.log"),
      ports: [port],
      debianPackage: "dnsmasq-base",
      url: `dns://${LOCAL_ADDRESS}:${port}`,
      readyDns: { server: `${LOCAL_ADDRESS}:${port}`, name: groups[0]!.discovery!.dnsName },
      configFiles: [{ file: DNS_HOSTS_FILE, content: dnsHostsFile(instances), mode: 0o644 }],
    },
  ];
}

function haproxyComponent(topology: Topology, sockets: HaproxySockets, runDir: string, logs: string): LocalComponent {
  const { monitoring } = topology;
  return {
    kind: "haproxy",
    name: "haproxy",
    command: "haproxy",
    // -W: master-worker, so a reload (the master socket) swaps workers without dropping traffic.
    // Exit-on-failure stays HAProxy's default: a dead worker takes its master down and the
    // supervisor restarts both (supervisor.ts says why; bench/supervision.bench.ts measures it).
    args: ["-W", ...haproxyArguments(sockets.master, join(runDir, HAPROXY_CONFIG_FILE))],
    logFile: join(logs, "haproxy.log"),
    ports: [...bindPorts(topology.frontends.flatMap((f) => f.binds)), monitoring.port],
    debianPackage: "haproxy",
    url: url(monitoring.port, HAPROXY_PATHS.health),
    readySocket: sockets.admin,
    configFiles: [], // haproxy.cfg has its own path through apply: validated, reloaded, never restarted
  };
}

/**
 * The certificate issuer (npm run certs -- run): obtains and renews the managed certificates and
 * installs them in HAProxy at runtime. Started after HAProxy, whose placeholder it replaces; the
 * ACME settings it reads from the environment are the stack's (LB_ACME_DIRECTORY and the like).
 */
export const ISSUER_COMPONENT = "issuer";

function issuerComponent(config: IssuerConfig, runDir: string, logs: string): LocalComponent {
  return {
    kind: "issuer",
    name: ISSUER_COMPONENT,
    command: process.execPath,
    args: ["--import", "tsx", join(REPO_ROOT, "infra/certs/cli.ts"), "run", "--run-dir", runDir, "--every", ISSUER_PASS_EVERY],
    cwd: REPO_ROOT,
    logFile: join(logs, "issuer.log"),
    ports: [],
    debianPackage: "nodejs",
    url: join(logs, "issuer.log"),
    configFiles: [{ file: ISSUER_CONFIG_FILE, content: issuerConfigText(config), mode: 0o644 }],
  };
}

/** How often the issuer looks at the certificates: a renewal is due days ahead, a failed attempt backs off from 30 s. */
const ISSUER_PASS_EVERY = "30s";

function sidecarComponent(topology: Topology, sockets: HaproxySockets, runDir: string, logs: string): LocalComponent {
  const { port } = topology.services.sidecar;
  return {
    kind: "sidecar",
    name: "sidecar",
    command: process.execPath,
    args: [
      ...sidecarNodeFlags(serverCount(topology)),
      "--import", "tsx", join(REPO_ROOT, "sidecar/cli.ts"),
      ...sidecarArguments(topology, {
        statsSocket: sockets.admin,
        listenAddress: LOCAL_ADDRESS,
        assertionsFile: join(runDir, ASSERTIONS_FILE),
        applyHistory: join(runDir, APPLY_HISTORY_FILE),
        componentsFile: join(runDir, STACK_STATE_FILE),
        expectedFile: join(runDir, EXPECTED_DISTRIBUTION_FILE),
        ...(topology.certificates.length > 0 && { certificatesFile: join(runDir, CERTIFICATES_STATE_FILE) }),
        ...(topology.backends.some((b) => b.canary) && { rolloutsDir: runDir }),
      }),
    ],
    cwd: REPO_ROOT,
    logFile: join(logs, "sidecar.log"),
    ports: [port],
    debianPackage: "nodejs",
    url: url(port, SIDECAR_PATHS.metrics),
    readyUrl: url(port, SIDECAR_PATHS.health),
    configFiles: [],
  };
}

function prometheusComponent(topology: Topology, target: LocalTarget, logs: string, options: { sidecar: boolean; source: string }): LocalComponent {
  const { port } = topology.services.prometheus;
  const { runDir } = target;
  return {
    kind: "prometheus",
    name: "prometheus",
    command: "prometheus",
    args: [
      `--config.file=${join(runDir, PROMETHEUS_CONFIG_FILE)}`,
      `--storage.tsdb.path=${join(runDir, "prometheus-data")}`,
      "--storage.tsdb.retention.time=1d",
      `--web.listen-address=${LOCAL_ADDRESS}:${port}`,
    ],
    logFile: join(logs, "prometheus.log"),
    ports: [port],
    debianPackage: "prometheus",
    url: url(port),
    readyUrl: url(port, PROMETHEUS_PATHS.ready),
    configFiles: [
      { file: PROMETHEUS_CONFIG_FILE, content: renderPrometheusConfig(topology, target, options), mode: 0o644 },
      { file: RULES_FILE, content: renderAlertRules({ source: options.source, topology: topology.name, target: target.kind }, topology.services.prometheus.runbookUrl), mode: 0o644 },
    ],
  };
}

function alertmanagerComponent(topology: Topology, runDir: string, logs: string, env: NodeJS.ProcessEnv): LocalComponent {
  const { port } = topology.services.alertmanager;
  const config = renderAlertmanagerConfig(topology, webhookUrlsFromEnvironment(env), { target: "local" });
  return {
    kind: "alertmanager",
    name: "alertmanager",
    command: "prometheus-alertmanager",
    args: [
      `--config.file=${join(runDir, ALERTMANAGER_CONFIG_FILE)}`,
      `--storage.path=${join(runDir, "alertmanager-data")}`,
      `--web.listen-address=${LOCAL_ADDRESS}:${port}`,
      // One Alertmanager: no cluster gossip, which would otherwise listen on 0.0.0.0:9094.
      "--cluster.listen-address=",
    ],
    logFile: join(logs, "alertmanager.log"),
    ports: [port],
    debianPackage: "prometheus-alertmanager",
    url: url(port, ALERTMANAGER_PATHS.ui),
    readyUrl: url(port, ALERTMANAGER_PATHS.ready),
    // Webhook URLs carry tokens: only the stack's user reads this file.
    configFiles: [{ file: ALERTMANAGER_CONFIG_FILE, content: config, mode: 0o600 }],
  };
}

function refuseSharedPorts(components: LocalComponent[]): void {
  const owners = new Map<number, string>();
  for (const component of components) {
    for (const port of component.ports) {
      const owner = owners.get(port);
      if (owner) throw new TargetPlanError(`${component.name} and ${owner} both need port ${port} on ${LOCAL_ADDRESS}: on the local target every listener needs its own port`);
      owners.set(port, component.name);
    }
  }
}
