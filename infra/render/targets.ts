// Where a rendered config runs. The model says what the topology is; a target says where its
// pieces live: addresses, sockets, and the directories that error pages and certificates sit in.
import { isIP } from "node:net";
import { basename, dirname, join } from "node:path";
import { ENV_REFERENCE, onNetwork, runsInstances, type Backend, type Bind, type NetworkServer, type Server, type ServerGroup, type Topology } from "../model/schema.ts";
import { serverProtocol } from "../model/checks.ts";
import { TargetPlanError } from "../errors.ts";

/** Paths inside the docker containers; the CDKTF stack mounts and uploads to exactly these. */
export const DOCKER_PATHS = {
  /**
   * The one directory the official image's unprivileged "haproxy" user (uid/gid 99) may write: a
   * volume HAProxy shares with the sidecar and the apply agent, holding the sockets, the config the
   * agent writes (and HAProxy reads), its error pages and the apply state.
   */
  socketDir: "/var/lib/haproxy",
  config: "/var/lib/haproxy/haproxy.cfg",
  /** The topology CDKTF uploads to the apply agent: a change re-creates the agent, never HAProxy. */
  desiredTopology: "/etc/lb/topology.json",
  /** The certificate issuer's configuration, uploaded: a change of names re-creates the issuer, never HAProxy. */
  issuerConfig: "/etc/lb/issuer.json",
  /** Where the issuer sees the certificate files the deploying machine gives (its certificates_dir), read-only. */
  givenCertificates: "/etc/lb/given-certs",
  /** The ACME servers' CAs, uploaded from Terraform variables, one file per environment variable the model names. */
  acmeCaDir: "/etc/lb/acme-ca",
} as const;

/** Container (and host) names on the docker network; Prometheus scrapes by these names. */
export const DOCKER_HOSTS = {
  haproxy: "haproxy",
  agent: "apply-agent",
  /** Only where the topology manages certificates (ACME). */
  issuer: "certificate-issuer",
  sidecar: "sidecar",
  prometheus: "prometheus",
  alertmanager: "alertmanager",
  grafana: "grafana",
} as const;

/**
 * The servers' states as the running worker knew them (show servers state), saved before each reload
 * and read by the new worker (load-server-state-from-file): a DOWN server stays DOWN, one in
 * maintenance stays there, a weight set at runtime stays, and init-addr "last" has its address, instead
 * of every server starting UP until its checks say otherwise. The local stack's apply and the Docker
 * stack's agent save it; Kubernetes replaces pods, never reloads.
 */
export const SERVER_STATE_FILE = "server-state";
/** A state file with no server in it (its format's version line): what HAProxy reads before the first reload, without a warning. */
export const EMPTY_SERVER_STATE = "1\n";
export function serverStateFile(target: RenderTarget): string | undefined {
  if (target.kind === "local") return join(target.runDir, SERVER_STATE_FILE);
  if (target.kind === "docker") return `${DOCKER_PATHS.socketDir}/${SERVER_STATE_FILE}`;
  return undefined;
}

/** Relative to the config file's directory (HAProxy's "default-path config"). */
export const ERROR_PAGE_DIR = "errors";
export const CERTIFICATE_DIR = "certs";
/** How a bind's crt names a certificate file, which is also its name in the runtime API's "set ssl cert". */
export const bindCertificatePath = (file: string) => `${CERTIFICATE_DIR}/${file}`;
export const LUA_DIR = "lua";

/** Where the Kubernetes pods hold haproxy.cfg and what sits beside it (a ConfigMap, the certificates' Secret). */
export const KUBERNETES_CONFIG_DIR = "/etc/haproxy";

/**
 * The certificate directory as an absolute path on a target. HAProxy 2.6 reads a server's client
 * certificate (crt on a server line) relative to where it was started, not beside the config as
 * every other file: the config names that one through this directory, in an environment variable
 * the check sets to its scratch copy (presetenv keeps a value already set).
 */
export function certificateDirPath(target: RenderTarget): string {
  if (target.kind === "local") return join(target.runDir, CERTIFICATE_DIR);
  if (target.kind === "docker") return `${DOCKER_PATHS.socketDir}/${CERTIFICATE_DIR}`;
  return `${KUBERNETES_CONFIG_DIR}/${CERTIFICATE_DIR}`;
}
/** The variable that names the certificate directory in the config (see certificateDirPath). */
export const CERTIFICATE_DIR_VARIABLE = "LB_CERTIFICATE_DIR";

export interface DockerTarget {
  kind: "docker";
}

export interface LocalTarget {
  kind: "local";
  /** Absolute directory holding the sockets (and, at run time, the config and its assets). */
  runDir: string;
}

/** HAProxy in a Kubernetes pod: servers are Services of this namespace, found through the cluster's DNS. */
export interface KubernetesTarget {
  kind: "kubernetes";
  namespace: string;
  clusterDomain: string;
}

export type RenderTarget = DockerTarget | LocalTarget | KubernetesTarget;
/** Where HAProxy runs in a container: sockets in a shared volume, servers by name through the container's DNS. */
export type ContainerTarget = DockerTarget | KubernetesTarget;
export const isContainerTarget = (target: RenderTarget): target is ContainerTarget => target.kind !== "local";

export const dockerTarget = (): DockerTarget => ({ kind: "docker" });
export const kubernetesTarget = (namespace: string, clusterDomain = "cluster.local"): KubernetesTarget => ({ kind: "kubernetes", namespace, clusterDomain });
export const localTarget = (runDir: string): LocalTarget => ({ kind: "local", runDir });

/** On the local target every process shares 127.0.0.1: nothing listens beyond loopback. */
export const LOCAL_ADDRESS = "127.0.0.1";

/** Where a client reaches one port of a bind on the local target: https:// for a TLS bind. */
export const localBindUrl = (bind: Pick<Bind, "tlsCertificate">, port: number) => `${bind.tlsCertificate !== undefined ? "https" : "http"}://${LOCAL_ADDRESS}:${port}/`;

/** The local stack's name server (dnsmasq), which answers for the discovered groups' names. */
export const localNameServer = (topology: Pick<Topology, "services">) => `${LOCAL_ADDRESS}:${topology.services.dns.port}`;

/**
 * The name a discovered group's records are asked for on a target: the model's, which the local
 * stack's dnsmasq and the Docker network's aliases answer for (Kubernetes answers for a Service's
 * own name, chosen by that stack).
 */
export function groupDnsName(group: Pick<ServerGroup, "name" | "dnsName">, target: RenderTarget): string {
  return target.kind === "kubernetes" ? serviceDnsName(group.name, target) : group.dnsName;
}

/**
 * A Service's name in the cluster's DNS. HAProxy's resolvers use no search domains, so a name must be
 * whole: "web" alone resolves for libc in the pod, never for a resolvers section.
 */
export const serviceDnsName = (service: string, target: KubernetesTarget) => `${service}.${target.namespace}.svc.${target.clusterDomain}`;

/** Where a listed server is reached from HAProxy on a target. */
/**
 * Where HAProxy connects to a server: a unix socket on its own host (local target only: in a
 * container or pod HAProxy shares no file system with the server), else address:port.
 */
export function serverEndpoint(backendName: string, server: Server, target: RenderTarget): string {
  if (onNetwork(server)) return hostPort(server.external ? server.address : serverHost(server.address, target), server.port);
  if (target.kind !== "local") throw new TargetPlanError(`backends.${backendName}.servers.${server.name}.unixSocket: the ${target.kind} stack's HAProxy shares no file system with its servers: give the server an address and port`);
  return `unix@${server.unixSocket}`;
}

/** ADDRESS:PORT as HAProxy reads it: an IPv6 address in brackets, an environment variable's reference quoted (HAProxy expands it only there). */
export function hostPort(address: string, port: number): string {
  if (ENV_REFERENCE.test(address)) return `"${address}:${port}"`;
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

export function serverHost(address: string, target: RenderTarget): string {
  if (target.kind === "local") return LOCAL_ADDRESS;
  // A bare name is a Service of the namespace; a dotted name or an address is reached as it is.
  if (target.kind === "kubernetes" && !address.includes(".")) return serviceDnsName(address, target);
  return address;
}

export interface HaproxySockets {
  /** The admin runtime API (stats socket): the sidecar, verify, drift and apply talk to it. */
  admin: string;
  /** The master CLI (haproxy -S): reloads and worker status. */
  master: string;
}

/**
 * Where HAProxy's two sockets are on a target, the one place that decides it. Docker: the model's
 * paths, which must lie in the socket volume the sidecar shares. Local: the model's file names,
 * inside the run directory (the model's directories are container paths).
 */
export function haproxySockets(global: Pick<Topology["global"], "statsSocket" | "masterSocket">, target: RenderTarget): HaproxySockets {
  const paths = { admin: global.statsSocket.path, master: global.masterSocket };
  if (target.kind === "local") return { admin: join(target.runDir, basename(paths.admin)), master: join(target.runDir, basename(paths.master)) };
  // Docker and Kubernetes alike: the socket volume (a named volume, an emptyDir) is mounted there.
  const fields = { admin: "global.statsSocket.path", master: "global.masterSocket" } as const;
  for (const which of ["admin", "master"] as const) {
    if (dirname(paths[which]) !== DOCKER_PATHS.socketDir) {
      throw new TargetPlanError(`${fields[which]}: ${JSON.stringify(paths[which])} is outside ${DOCKER_PATHS.socketDir}, the volume HAProxy shares with the sidecar (and the only directory the image's haproxy user may write): use ${DOCKER_PATHS.socketDir}/${basename(paths[which])}`);
    }
  }
  if (paths.admin === paths.master) throw new TargetPlanError(`global.masterSocket: ${JSON.stringify(paths.master)} is also the stats socket: give each its own file`);
  return paths;
}

/**
 * A backend's servers as a container stack reaches them, or why it cannot. The container stacks
 * build one image for servers, the web app: a backend whose servers speak another protocol (Redis,
 * PostgreSQL, TLS) runs them elsewhere, marked external, until those stacks build images for them
 * too (the local stack runs them). A unix socket is on HAProxy's host, which a container does not share.
 */
export function containerServers(backend: Pick<Backend, "name" | "servers" | "discovery" | "healthCheck">, target: "docker" | "kubernetes"): NetworkServer[] {
  const onSocket = backend.servers.find((s) => !onNetwork(s));
  if (onSocket) throw new TargetPlanError(`backends.${backend.name}.servers.${onSocket.name}.unixSocket: the ${target} stack's HAProxy shares no file system with its servers: give the server an address and port, or use the local stack`);
  const servers = backend.servers.filter(onNetwork);
  const protocol = serverProtocol(backend);
  if (protocol === "http") return servers;
  const run = [...backend.servers.filter((s) => !s.external).map((s) => `backends.${backend.name}.servers.${s.name}`), ...(backend.discovery && runsInstances(backend.discovery) ? [`backends.${backend.name}.discovery`] : [])];
  if (run.length === 0) return servers;
  throw new TargetPlanError(`${run.join(", ")}: the ${target} stack runs web servers only, and these speak ${protocol ?? "a protocol their check does not name"}: mark them external (run them where they run today), or use the local stack`);
}
