// Where a rendered config runs. The model says what the topology is; a target says where its
// pieces live: addresses, sockets, and the directories that error pages and certificates sit in.

/** Paths inside the docker containers; the CDKTF stack mounts and uploads to exactly these. */
export const DOCKER_PATHS = {
  configDir: "/usr/local/etc/haproxy",
  config: "/usr/local/etc/haproxy/haproxy.cfg",
  /** The one directory the official image's unprivileged "haproxy" user (uid/gid 99) may write. */
  socketDir: "/var/lib/haproxy",
  /** Docker's embedded DNS server on user-defined networks. */
  dns: "127.0.0.11:53",
} as const;

/** Container (and host) names on the docker network; Prometheus scrapes by these names. */
export const DOCKER_HOSTS = {
  haproxy: "haproxy",
  sidecar: "sidecar",
  prometheus: "prometheus",
  grafana: "grafana",
} as const;

/** Relative to the config file's directory (HAProxy's "default-path config"). */
export const ERROR_PAGE_DIR = "errors";
export const CERTIFICATE_DIR = "certs";

export type TargetKind = "local" | "docker";

export interface DockerTarget {
  kind: "docker";
}

export interface LocalTarget {
  kind: "local";
  /** Absolute directory holding the sockets (and, at run time, the config and its assets). */
  runDir: string;
}

export type RenderTarget = DockerTarget | LocalTarget;

export const dockerTarget = (): DockerTarget => ({ kind: "docker" });
export const localTarget = (runDir: string): LocalTarget => ({ kind: "local", runDir });

/** On the local target every process shares 127.0.0.1: nothing listens beyond loopback. */
export const LOCAL_ADDRESS = "127.0.0.1";
