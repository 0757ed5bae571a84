// What the local runtime will start, decided without touching the machine: the processes in start
// order, the ports each takes, the files to write, and the addresses to show.
import { join } from "node:path";
import { bindPorts, type Topology } from "../model/schema.ts";
import { renderHaproxyConfig } from "../render/render.ts";
import { renderPrometheusConfig } from "../render/prometheus.ts";
import { LOCAL_ADDRESS, localTarget } from "../render/targets.ts";
import { TargetPlanError } from "../errors.ts";
import { REPO_ROOT } from "../repo.ts";
import type { ProcessSpec } from "./processes.ts";

/** Where npm run verify leaves its last results, in the run directory; the sidecar exports them. */
export const ASSERTIONS_FILE = "verify.json";

export type ComponentKind = "web" | "haproxy" | "sidecar" | "prometheus";

export interface ComponentPlan extends ProcessSpec {
  kind: ComponentKind;
  /** Every port it listens on, with what for (for pre-flight checks and messages). */
  ports: number[];
  debianPackage: string;
  /** Where it answers: shown in the table. */
  url: string;
}

export interface LocalStackPlan {
  runDir: string;
  topology: Topology;
  haproxyConfig: string;
  prometheusConfig: string;
  adminSocket: string;
  masterSocket: string;
  components: ComponentPlan[];
  links: { label: string; urls: string[] }[];
}

export interface PlanOptions {
  runDir: string;
  /** Start the metrics sidecar too. */
  sidecar: boolean;
  source?: string;
}

const url = (port: number, path = "/") => `http://${LOCAL_ADDRESS}:${port}${path}`;

export function planLocalStack(topology: Topology, options: PlanOptions): LocalStackPlan {
  const { runDir } = options;
  const logs = join(runDir, "logs");
  const target = localTarget(runDir);
  const adminSocket = join(runDir, "admin.sock");
  const masterSocket = join(runDir, "master.sock");

  // One gunicorn per distinct server port: on 127.0.0.1 the port is what tells servers apart.
  const webByPort = new Map<number, ComponentPlan>();
  for (const backend of topology.backends) {
    for (const server of backend.servers) {
      if (webByPort.has(server.port)) continue;
      webByPort.set(server.port, {
        kind: "web",
        name: server.name,
        command: "gunicorn",
        // --pid puts the run directory on gunicorn's command line, where npm stop and the tests'
        // leak checks can see it, besides recording the master's pid.
        args: ["--chdir", join(REPO_ROOT, "apps/web"), "--config", join(REPO_ROOT, "apps/web/gunicorn.conf.py"), "--pid", join(runDir, `${server.name}.pid`), "app:app"],
        env: { INSTANCE_NAME: server.name, BIND: `${LOCAL_ADDRESS}:${server.port}` },
        logFile: join(logs, `${server.name}.log`),
        ports: [server.port],
        debianPackage: "gunicorn",
        url: url(server.port, "/status"),
      });
    }
  }
  const webs = [...webByPort.values()];
  const names = new Set<string>();
  for (const web of webs) {
    if (names.has(web.name)) throw new TargetPlanError(`two servers named "${web.name}" listen on different ports: on the local target each server name must be unique`);
    names.add(web.name);
  }

  const frontendPorts = bindPorts(topology.frontends.flatMap((f) => f.binds));
  const haproxy: ComponentPlan = {
    kind: "haproxy",
    name: "haproxy",
    command: "haproxy",
    // -W: master-worker, so a reload (-USR2 or the master socket) swaps workers without dropping traffic.
    args: ["-W", "-S", `${masterSocket},mode,600`, "-f", join(runDir, "haproxy.cfg")],
    logFile: join(logs, "haproxy.log"),
    ports: [...frontendPorts, topology.monitoring.port],
    debianPackage: "haproxy",
    url: url(topology.monitoring.port, topology.monitoring.statsUri),
  };
  const sidecar: ComponentPlan = {
    kind: "sidecar",
    name: "sidecar",
    command: process.execPath,
    args: [
      "--import", "tsx", join(REPO_ROOT, "sidecar/cli.ts"),
      "--stats-socket", adminSocket,
      "--listen", `${LOCAL_ADDRESS}:${topology.services.sidecar.port}`,
      "--interval", topology.services.sidecar.pollInterval,
      "--assertions-file", join(runDir, ASSERTIONS_FILE),
    ],
    cwd: REPO_ROOT,
    logFile: join(logs, "sidecar.log"),
    ports: [topology.services.sidecar.port],
    debianPackage: "nodejs",
    url: url(topology.services.sidecar.port, "/metrics"),
  };
  const prometheus: ComponentPlan = {
    kind: "prometheus",
    name: "prometheus",
    command: "prometheus",
    args: [
      `--config.file=${join(runDir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(runDir, "prometheus-data")}`,
      "--storage.tsdb.retention.time=1d",
      `--web.listen-address=${LOCAL_ADDRESS}:${topology.services.prometheus.port}`,
    ],
    logFile: join(logs, "prometheus.log"),
    ports: [topology.services.prometheus.port],
    debianPackage: "prometheus",
    url: url(topology.services.prometheus.port),
  };

  const components = [...webs, haproxy, ...(options.sidecar ? [sidecar] : []), prometheus];
  const owners = new Map<number, string>();
  for (const component of components) {
    for (const port of component.ports) {
      const owner = owners.get(port);
      if (owner) throw new TargetPlanError(`${component.name} and ${owner} both need port ${port} on ${LOCAL_ADDRESS}: on the local target every listener needs its own port`);
      owners.set(port, component.name);
    }
  }

  const source = options.source ?? "infra/topology.ts";
  return {
    runDir,
    topology,
    haproxyConfig: renderHaproxyConfig(topology, target, { source }),
    prometheusConfig: renderPrometheusConfig(topology, target, { sidecar: options.sidecar, source }),
    adminSocket,
    masterSocket,
    components,
    links: [
      { label: "frontend", urls: frontendPorts.map((p) => url(p)) },
      { label: "HAProxy stats page", urls: [url(topology.monitoring.port, topology.monitoring.statsUri)] },
      { label: "HAProxy metrics", urls: [url(topology.monitoring.port, topology.monitoring.metricsPath)] },
      ...(options.sidecar ? [{ label: "sidecar metrics", urls: [url(topology.services.sidecar.port, "/metrics")] }] : []),
      { label: "Prometheus", urls: [url(topology.services.prometheus.port, "/targets")] },
    ],
  };
}
