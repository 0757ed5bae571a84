// What the Docker topology is, decided from the model without cdktf: containers, images, ports,
// files, health checks. stack.ts only maps this onto cdktf resources, so cdktf stays confined
// there and this declaration can be read and tested on its own.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Topology } from "../model/schema.ts";
import { bindPorts, runsInstances, serverCount } from "../model/schema.ts";
import { loginHashVariables } from "../model/routing.ts";
import { httpCheckPath } from "../model/checks.ts";
import { certificateFiles } from "../render/validate.ts";
import { containerServers } from "../render/targets.ts";
import { parseDuration } from "../../haproxy/duration.ts";
import { TEMPLATES_DIR } from "../render/render.ts";
import { renderPrometheusConfig } from "../render/prometheus.ts";
import { generatedYaml } from "../render/yaml.ts";
import { renderAlertRules, RULES_FILE } from "../render/alert-rules.ts";
import { ALERTMANAGER_CONFIG_FILE, renderAlertmanagerConfig } from "../render/alertmanager.ts";
import { DASHBOARD_DATASOURCE_UID, renderDashboard } from "../render/dashboard.ts";
import { CERTIFICATE_DIR, DOCKER_HOSTS, DOCKER_PATHS, dockerTarget, haproxySockets, type HaproxySockets } from "../render/targets.ts";
import { DEFAULT_TOPOLOGY_FILE } from "../model/load.ts";
import { ALERTMANAGER_PATHS, GRAFANA_PATHS, HAPROXY_PATHS, PROMETHEUS_PATHS, WEB_APP_PATHS } from "../endpoints.ts";
import { statsPageServed } from "../render/view.ts";
import { SIDECAR_PATHS } from "../../sidecar/endpoints.ts";
import { sidecarNodeFlags } from "../../sidecar/node-flags.ts";
import { TargetPlanError } from "../errors.ts";
import { PINNED_IMAGES } from "../images.ts";
import { HAPROXY_GID, HAPROXY_UID, haproxyArguments, sidecarArguments } from "../components.ts";
import { APPLY_HISTORY_FILE, EXPECTED_DISTRIBUTION_FILE } from "../runtime/applied.ts";
import { CERTIFICATES_STATE_FILE, issuerConfig, issuerConfigText } from "../certs/config.ts";


/** The official HAProxy image's unprivileged group, which owns the stats socket, as Docker takes it. */
export const HAPROXY_IMAGE_GID = String(HAPROXY_GID);

/**
 * Build contexts relative to the synthesized stack's directory (cdktf.out/stacks/<name>), where
 * Terraform runs: no path of the synthesizing machine ends up in cdk.tf.json.
 */
export const FROM_STACK_DIR_TO_REPO = "${path.module}/../../..";

export interface UploadedFile {
  /** Absolute path inside the container. */
  path: string;
  content: string;
}

export interface PublishedPort {
  internal: number;
  external: number;
  /** Host address: frontends on every address, operator endpoints on loopback only. */
  ip: string;
}

/**
 * What goes into a built image, relative to the repository root: files and directories copied as
 * they are, and the entry points of esbuild bundles (whose inputs esbuild itself lists). The stack
 * hashes exactly these into the image's trigger, so an edit elsewhere (the topology) rebuilds nothing.
 */
export interface ImageSources {
  files: readonly string[];
  bundles: readonly string[];
}

export interface BuiltImage {
  kind: "build";
  name: string;
  /** Relative to the repository root. */
  context: string;
  dockerfile: string;
  sources: ImageSources;
}

export interface PulledImage {
  kind: "pull";
  name: string;
}

export interface ContainerDeclaration {
  name: string;
  image: BuiltImage | PulledImage;
  /** Network aliases: the names other containers (and haproxy.cfg) reach it by. */
  aliases: string[];
  command?: string[];
  env?: Record<string, string>;
  user?: string;
  groupAdd?: string[];
  ports: PublishedPort[];
  uploads: UploadedFile[];
  volumes: { volume: string; containerPath: string; readOnly?: boolean }[];
  healthcheck: { test: string[]; interval: string; timeout: string; retries: number; startPeriod: string };
  /** Replaces the image's entrypoint (the apply agent runs from the sidecar's image). */
  entrypoint?: string[];
  /** Containers created (and healthy, when they wait) before this one. */
  dependsOn?: string[];
  /** Terraform waits for this container's health check before creating what depends on it. */
  waitHealthy?: boolean;
  /** TLS binds need certificates from the deploying machine: a Terraform variable names the directory. */
  certificates?: { containerPath: string };
  /**
   * The root file system is mounted read-only (writes go to volumes and tmpfs). Not possible where
   * Terraform uploads a file into it: Docker refuses to copy into a read-only root file system.
   */
  readOnlyRootfs: boolean;
  /** In-memory directories a read-only container still writes (gunicorn's worker heartbeats in /tmp). */
  tmpfs?: Record<string, string>;
}

/**
 * The unprivileged user each image runs as, stated on the container so that a check of the stack
 * (and a reader) need not know the images: our Dockerfiles' USER lines, and the upstream images' own.
 */
export const CONTAINER_USERS = {
  web: "web",
  haproxy: `${HAPROXY_UID}:${HAPROXY_GID}`,
  sidecar: "node",
  prometheus: "nobody",
  alertmanager: "nobody",
  grafana: "472",
} as const;

/** A small tmpfs for /tmp, never executable. */
const TMP = { "/tmp": "rw,noexec,nosuid,size=16m" };

/** A Terraform input of the stack: a secret the deploying environment gives (TF_VAR_<name>), never the repository. */
export interface StackVariable {
  name: string;
  description: string;
  sensitive: boolean;
}

export interface DockerStackDeclaration {
  name: string;
  network: string;
  volumes: string[];
  containers: ContainerDeclaration[];
  variables: StackVariable[];
}

/** The Terraform variable that holds a secret the model names by environment variable: that name in lower case (TF_VAR_ + that). */
export const secretVariable = (urlFromEnv: string) => urlFromEnv.toLowerCase();

const LOOPBACK = "127.0.0.1";
const EVERY_ADDRESS = "0.0.0.0";

/** "500ms" stays "500ms"; Docker takes Go durations, which HAProxy's "us|ms|s|m|h" are, but not "d". */
function goDuration(haproxyDuration: string): string {
  return haproxyDuration.endsWith("d") ? `${parseDuration(haproxyDuration) / 1000}s` : haproxyDuration;
}

/** What the containers share: names derived from the topology's, and the rendered files. */
interface StackContext {
  topology: Topology;
  source: string;
  sockets: HaproxySockets;
  volumes: { socket: string; prometheus: string; alertmanager: string; grafana: string };
}

export function declareDockerStack(topology: Topology, options: { source?: string } = {}): DockerStackDeclaration {
  const name = topology.name;
  const context: StackContext = {
    topology,
    source: options.source ?? DEFAULT_TOPOLOGY_FILE,
    sockets: haproxySockets(topology.global, dockerTarget()),
    volumes: { socket: `${name}-haproxy-socket`, prometheus: `${name}-prometheus-data`, alertmanager: `${name}-alertmanager-data`, grafana: `${name}-grafana-data` },
  };
  return {
    name,
    network: name,
    volumes: Object.values(context.volumes),
    containers: [
      ...webContainers(topology),
      agentContainer(context),
      ...(topology.certificates.length > 0 ? [issuerContainer(context)] : []),
      haproxyContainer(context),
      sidecarContainer(context),
      alertmanagerContainer(context),
      prometheusContainer(context),
      grafanaContainer(context),
    ],
    variables: [
      ...statsSecrets(topology).map((name) => ({ name: secretVariable(name), description: `Part of the HAProxy stats page's login (set TF_VAR_${secretVariable(name)}; never in the repository)`, sensitive: true })),
      ...loginHashVariables(topology).map((name) => ({ name: secretVariable(name), description: `A password hash of the userlists ($6$..., from openssl passwd -6; set TF_VAR_${secretVariable(name)}; never in the repository)`, sensitive: true })),
      ...topology.services.alertmanager.webhooks.map((w) => ({
        name: secretVariable(w.urlFromEnv),
        description: `The URL of alert webhook "${w.name}" (set TF_VAR_${secretVariable(w.urlFromEnv)}; it carries a token, so it is never in the repository)`,
        sensitive: true,
      })),
      ...acmeVariables(topology),
    ],
  };
}

/**
 * The ACME settings the model takes from the environment, as the issuer's container gets them: a
 * directory URL as it is, a CA file as its PEM text (uploaded, the variable pointing at it).
 */
function acmeSettings(topology: Topology): { urls: string[]; caFiles: string[] } {
  const issuers = topology.certificates.map((c) => c.acme);
  const unique = (names: (string | undefined)[]) => [...new Set(names.filter((n): n is string => n !== undefined))];
  return { urls: unique(issuers.map((a) => a.directoryUrlFromEnv)), caFiles: unique(issuers.map((a) => a.caFileFromEnv)) };
}

function acmeVariables(topology: Topology): StackVariable[] {
  const { urls, caFiles } = acmeSettings(topology);
  return [
    ...urls.map((name) => ({ name: secretVariable(name), description: `The ACME directory's URL the certificates take from ${name} (set TF_VAR_${secretVariable(name)})`, sensitive: false })),
    ...caFiles.map((name) => ({ name: secretVariable(name), description: `The ACME server's CA as PEM text, for ${name} (set TF_VAR_${secretVariable(name)}="$(cat ca.pem)")`, sensitive: false })),
  ];
}

/** The environment variables of the stats page's login, when the docker target serves the page. */
function statsSecrets(topology: Topology): string[] {
  const auth = topology.monitoring.statsAuth;
  return auth && statsPageServed(topology.monitoring, dockerTarget()) ? [auth.userFromEnv, auth.passwordFromEnv] : [];
}

/** Every secret HAProxy's config reads from its environment. */
const haproxySecrets = (topology: Topology): string[] => [...statsSecrets(topology), ...loginHashVariables(topology)];

const readTemplate = (...parts: string[]) => readFileSync(join(TEMPLATES_DIR, ...parts), "utf8");

/** One web container per distinct server address: the address is its host name on the network. */
function webContainers(topology: Topology): ContainerDeclaration[] {
  const image: BuiltImage = { kind: "build", name: `${topology.name}-web:local`, context: "apps/web", dockerfile: "Dockerfile", sources: { files: ["apps/web"], bundles: [] } };
  const webs = new Map<string, ContainerDeclaration>();
  for (const backend of topology.backends) {
    for (const server of containerServers(backend, "docker").filter((s) => !s.external)) {
      const existing = webs.get(server.address);
      if (existing) {
        if (existing.env?.BIND !== `0.0.0.0:${server.port}`) {
          throw new TargetPlanError(`server address "${server.address}" is used with ports ${existing.env?.BIND?.split(":")[1]} and ${server.port}: on the docker target each address is one container listening on one port`);
        }
        continue;
      }
      webs.set(server.address, webContainer({ name: server.address, alias: server.address, instance: server.name, port: server.port, healthPath: httpCheckPath(backend), checks: server, image }));
    }
  }
  return [...webs.values(), ...groupContainers(topology, image)];
}

/**
 * A discovered group's instances: `instances` containers that all answer to the group's DNS name (a
 * network alias), so that Docker's name server returns one address per container and HAProxy's
 * slots follow a new count without a change to its config or its container.
 */
function groupContainers(topology: Topology, image: BuiltImage): ContainerDeclaration[] {
  return topology.backends.flatMap((backend) => {
    const group = backend.discovery;
    // A group with name servers of its own (Consul, a cloud DNS) is run by someone else: HAProxy only asks.
    if (!group || !runsInstances(group)) return [];
    if (group.record !== "A") {
      throw new TargetPlanError(`backends.${backend.name}.discovery.record: on the docker target the group's name is a network alias, which Docker's name server answers with A records only: use "A" (or give resolver.nameservers that serve the ${group.record} records)`);
    }
    return Array.from({ length: group.instances }, (_, i) =>
      webContainer({ name: `${group.name}-${i + 1}`, alias: group.dnsName, instance: `${group.name}-${i + 1}`, port: group.port!, healthPath: httpCheckPath(backend), checks: group, image }),
    );
  });
}

/** One container of the web app: reached by `alias` on the network, answering as `instance`, checked as the model says. */
function webContainer(w: { name: string; alias: string; instance: string; port: number; healthPath: string | undefined; checks: { inter: string; fall: number }; image: BuiltImage }): ContainerDeclaration {
  return {
    name: w.name,
    image: w.image,
    aliases: [w.alias],
    env: { INSTANCE_NAME: w.instance, BIND: `0.0.0.0:${w.port}`, PYTHONDONTWRITEBYTECODE: "1" },
    user: CONTAINER_USERS.web,
    readOnlyRootfs: true,
    tmpfs: TMP,
    ports: [],
    uploads: [],
    volumes: [],
    healthcheck: { test: ["CMD", "curl", "-fsS", "-o", "/dev/null", `http://127.0.0.1:${w.port}${w.healthPath ?? WEB_APP_PATHS.status}`], interval: goDuration(w.checks.inter), timeout: "2s", retries: w.checks.fall, startPeriod: "10s" },
  };
}

/**
 * HAProxy reads the config the apply agent writes into their shared volume: its own definition does
 * not depend on the topology's proxies, so a config change never replaces it (only its published
 * ports, monitoring listener and sockets do).
 */
function haproxyContainer({ topology, sockets, volumes }: StackContext): ContainerDeclaration {
  const { monitoring } = topology;
  // Where the stack manages certificates, the issuer fills the certificate directory in the volume
  // (given files copied in, issued ones written); otherwise HAProxy reads the given ones in place.
  const mountsCertificates = certificateFiles(topology).length > 0 && topology.certificates.length === 0;
  const secrets = haproxySecrets(topology);
  return {
    name: DOCKER_HOSTS.haproxy,
    image: { kind: "pull", name: PINNED_IMAGES.haproxy },
    aliases: [DOCKER_HOSTS.haproxy],
    // The image's entrypoint adds -W -db (master-worker, foreground); -S opens the master CLI for hitless reloads.
    command: ["haproxy", ...haproxyArguments(sockets.master, DOCKER_PATHS.config)],
    // The stats page's login, when it is served, and the userlists' password hashes: HAProxy reads these variables as it parses its config.
    env: secrets.length ? Object.fromEntries(secrets.map((name) => [name, `\${var.${secretVariable(name)}}`])) : undefined,
    user: CONTAINER_USERS.haproxy,
    readOnlyRootfs: true,
    ports: [
      ...bindPorts(topology.frontends.flatMap((f) => f.binds)).map((p) => ({ internal: p, external: p, ip: EVERY_ADDRESS })),
      { internal: monitoring.port, external: monitoring.port, ip: LOOPBACK },
      // The other load balancers connect to the local peer to share the stick tables.
      ...(topology.peers?.remotes.length ? [{ internal: topology.peers.port, external: topology.peers.port, ip: EVERY_ADDRESS }] : []),
    ],
    uploads: [],
    volumes: [{ volume: volumes.socket, containerPath: DOCKER_PATHS.socketDir }],
    // The image has bash but no curl: ask the stats page over bash's /dev/tcp.
    healthcheck: {
      test: ["CMD", "bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${monitoring.port} && printf 'GET ${HAPROXY_PATHS.health} HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '`],
      interval: "5s", timeout: "2s", retries: 3, startPeriod: "5s",
    },
    certificates: mountsCertificates ? { containerPath: `${DOCKER_PATHS.socketDir}/${CERTIFICATE_DIR}` } : undefined,
    // After its servers too: their names resolve as HAProxy starts (init-addr libc). Started before
    // them, HAProxy's resolvers took 40 to 55 s to find them (measured on podman); later restarts of
    // a server are followed within seconds.
    dependsOn: [DOCKER_HOSTS.agent, ...(topology.certificates.length > 0 ? [DOCKER_HOSTS.issuer] : []), ...new Set(topology.backends.flatMap((b) => containerServers(b, "docker").filter((s) => !s.external).map((s) => s.address)))],
  };
}

/**
 * The apply agent: given the topology (an upload, so a change re-creates this container and nothing
 * else), it writes HAProxy's first config into the shared volume, and applies every later change
 * with npm run apply's engine: the runtime API or a master-socket reload, verified, rolled back.
 * It runs from the sidecar's image as HAProxy's user (uid/gid 99), which owns the volume.
 */
function agentContainer({ topology, source, volumes }: StackContext): ContainerDeclaration {
  const sidecar = sidecarImage(topology);
  return {
    name: DOCKER_HOSTS.agent,
    image: sidecar,
    aliases: [DOCKER_HOSTS.agent],
    entrypoint: ["node", "/app/agent.mjs"],
    command: ["--target", "docker", "--state-dir", DOCKER_PATHS.socketDir, "--desired", DOCKER_PATHS.desiredTopology, "--source", source],
    user: `${HAPROXY_IMAGE_GID}:${HAPROXY_IMAGE_GID}`,
    readOnlyRootfs: false, // the topology is uploaded
    ports: [],
    uploads: [{ path: DOCKER_PATHS.desiredTopology, content: `${JSON.stringify(topology, null, 2)}\n` }],
    volumes: [{ volume: volumes.socket, containerPath: DOCKER_PATHS.socketDir }],
    healthcheck: {
      test: ["CMD", "node", "-e", `process.exit(require('fs').existsSync('${DOCKER_PATHS.config}') ? 0 : 1)`],
      interval: "2s", timeout: "2s", retries: 15, startPeriod: "2s",
    },
    waitHealthy: true,
  };
}

/**
 * The certificate issuer, one per stack (ACME accounts and rate limits are per stack, not per
 * HAProxy): from the sidecar's image, as HAProxy's user, which owns the volume. Before HAProxy
 * starts it fills the certificate directory (the given files, a placeholder for each managed
 * certificate not issued yet); then it renews what is due through HAProxy's admin socket, with
 * the HTTP-01 challenges in HAProxy's map, and writes each certificate it installs into the volume.
 */
function issuerContainer({ topology, sockets, volumes }: StackContext): ContainerDeclaration {
  const config = issuerConfig(topology, sockets.admin);
  const { urls, caFiles } = acmeSettings(topology);
  const caFile = (name: string) => `${DOCKER_PATHS.acmeCaDir}/${name}.pem`;
  return {
    name: DOCKER_HOSTS.issuer,
    image: sidecarImage(topology),
    aliases: [DOCKER_HOSTS.issuer],
    entrypoint: ["node", "/app/certs.mjs"],
    command: ["run", "--run-dir", DOCKER_PATHS.socketDir, "--config", DOCKER_PATHS.issuerConfig, "--prepare-certificates", ...(config.given.length ? ["--given", DOCKER_PATHS.givenCertificates] : [])],
    env: Object.fromEntries([...urls.map((name) => [name, `\${var.${secretVariable(name)}}`]), ...caFiles.map((name) => [name, caFile(name)])]),
    user: `${HAPROXY_IMAGE_GID}:${HAPROXY_IMAGE_GID}`,
    readOnlyRootfs: false, // its configuration and the ACME CAs are uploaded
    ports: [],
    uploads: [
      { path: DOCKER_PATHS.issuerConfig, content: issuerConfigText(config) },
      ...caFiles.map((name) => ({ path: caFile(name), content: `\${var.${secretVariable(name)}}` })),
    ],
    volumes: [{ volume: volumes.socket, containerPath: DOCKER_PATHS.socketDir }],
    // Healthy once every file HAProxy's config names is in place: HAProxy starts after that.
    healthcheck: {
      test: ["CMD", "node", "-e", `process.exit(${JSON.stringify([...config.given, ...config.certificates.map((c) => c.file)])}.every((f) => require('fs').existsSync('${DOCKER_PATHS.socketDir}/${CERTIFICATE_DIR}/' + f)) ? 0 : 1)`],
      interval: "2s", timeout: "2s", retries: 15, startPeriod: "2s",
    },
    certificates: config.given.length ? { containerPath: DOCKER_PATHS.givenCertificates } : undefined,
    dependsOn: [DOCKER_HOSTS.agent],
    waitHealthy: true,
  };
}

/**
 * The sidecar and the apply agent, each an esbuild bundle (package.json's build:sidecar and
 * build:agent), with the templates the agent renders: all the final image holds.
 */
export const SIDECAR_IMAGE_SOURCES: ImageSources = {
  files: ["sidecar/Dockerfile", "package.json", "package-lock.json", "templates"],
  bundles: ["sidecar/cli.ts", "infra/gitops/agent-cli.ts", "infra/certs/cli.ts"],
};

const sidecarImage = (topology: Topology): BuiltImage => ({ kind: "build", name: `${topology.name}-sidecar:local`, context: ".", dockerfile: "sidecar/Dockerfile", sources: SIDECAR_IMAGE_SOURCES });

function sidecarContainer({ topology, sockets, volumes }: StackContext): ContainerDeclaration {
  const { port } = topology.services.sidecar;
  return {
    name: DOCKER_HOSTS.sidecar,
    image: sidecarImage(topology),
    aliases: [DOCKER_HOSTS.sidecar],
    // The apply history and the expected distribution are written by the apply agent with every apply, like applied.json.
    command: sidecarArguments(topology, {
      statsSocket: sockets.admin,
      listenAddress: EVERY_ADDRESS,
      applyHistory: `${DOCKER_PATHS.socketDir}/${APPLY_HISTORY_FILE}`,
      expectedFile: `${DOCKER_PATHS.socketDir}/${EXPECTED_DISTRIBUTION_FILE}`,
      ...(topology.certificates.length > 0 && { certificatesFile: `${DOCKER_PATHS.socketDir}/${CERTIFICATES_STATE_FILE}` }),
    }),
    // The socket is HAProxy's (group 99, mode from the model): the sidecar joins that group, no more.
    user: CONTAINER_USERS.sidecar,
    groupAdd: [HAPROXY_IMAGE_GID],
    readOnlyRootfs: true,
    tmpfs: TMP,
    env: { NODE_OPTIONS: sidecarNodeFlags(serverCount(topology)).join(" ") },
    ports: [{ internal: port, external: port, ip: LOOPBACK }],
    uploads: [],
    volumes: [{ volume: volumes.socket, containerPath: DOCKER_PATHS.socketDir, readOnly: false }],
    healthcheck: {
      test: ["CMD", "node", "-e", `fetch('http://127.0.0.1:${port}${SIDECAR_PATHS.health}').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`],
      interval: "10s", timeout: "3s", retries: 3, startPeriod: "5s",
    },
  };
}

function prometheusContainer({ topology, source, volumes }: StackContext): ContainerDeclaration {
  const { port } = topology.services.prometheus;
  return {
    name: DOCKER_HOSTS.prometheus,
    image: { kind: "pull", name: PINNED_IMAGES.prometheus },
    aliases: [DOCKER_HOSTS.prometheus],
    command: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", `--web.listen-address=0.0.0.0:${port}`],
    user: CONTAINER_USERS.prometheus,
    readOnlyRootfs: false, // its config and rules are uploaded
    ports: [{ internal: port, external: port, ip: LOOPBACK }],
    uploads: [
      { path: "/etc/prometheus/prometheus.yml", content: renderPrometheusConfig(topology, dockerTarget(), { sidecar: true, source }) },
      { path: `/etc/prometheus/${RULES_FILE}`, content: renderAlertRules({ source, topology: topology.name, target: "docker" }, topology.services.prometheus.runbookUrl) },
    ],
    volumes: [{ volume: volumes.prometheus, containerPath: "/prometheus" }],
    healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${port}${PROMETHEUS_PATHS.ready}`], interval: "10s", timeout: "3s", retries: 3, startPeriod: "10s" },
  };
}

/** Alertmanager: its webhook URLs are Terraform variables, interpolated into the uploaded file at deploy. */
function alertmanagerContainer({ topology, source, volumes }: StackContext): ContainerDeclaration {
  const { port } = topology.services.alertmanager;
  return {
    name: DOCKER_HOSTS.alertmanager,
    image: { kind: "pull", name: PINNED_IMAGES.alertmanager },
    aliases: [DOCKER_HOSTS.alertmanager],
    command: [`--config.file=/etc/alertmanager/${ALERTMANAGER_CONFIG_FILE}`, "--storage.path=/alertmanager", `--web.listen-address=0.0.0.0:${port}`, "--cluster.listen-address="],
    user: CONTAINER_USERS.alertmanager,
    readOnlyRootfs: false, // its config is uploaded
    ports: [{ internal: port, external: port, ip: LOOPBACK }],
    uploads: [{ path: `/etc/alertmanager/${ALERTMANAGER_CONFIG_FILE}`, content: renderAlertmanagerConfig(topology, (w) => `\${var.${secretVariable(w.urlFromEnv)}}`, { source, target: "docker" }) }],
    volumes: [{ volume: volumes.alertmanager, containerPath: "/alertmanager" }],
    healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${port}${ALERTMANAGER_PATHS.ready}`], interval: "10s", timeout: "3s", retries: 3, startPeriod: "5s" },
  };
}

function grafanaContainer({ topology, source, volumes }: StackContext): ContainerDeclaration {
  const { services } = topology;
  const datasource = {
    apiVersion: 1,
    // The uid the dashboard's panels name (infra/render/dashboard.ts).
    datasources: [{ name: "Prometheus", uid: DASHBOARD_DATASOURCE_UID, type: "prometheus", access: "proxy", url: `http://${DOCKER_HOSTS.prometheus}:${services.prometheus.port}`, isDefault: true, jsonData: { timeInterval: services.prometheus.scrapeInterval } }],
  };
  return {
    name: DOCKER_HOSTS.grafana,
    image: { kind: "pull", name: PINNED_IMAGES.grafana },
    aliases: [DOCKER_HOSTS.grafana],
    env: { GF_SERVER_HTTP_PORT: String(services.grafana.port), GF_AUTH_ANONYMOUS_ENABLED: "true", GF_AUTH_ANONYMOUS_ORG_ROLE: "Viewer" },
    user: CONTAINER_USERS.grafana,
    readOnlyRootfs: false, // its provisioning files are uploaded
    ports: [{ internal: services.grafana.port, external: services.grafana.port, ip: LOOPBACK }],
    uploads: [
      {
        path: "/etc/grafana/provisioning/datasources/prometheus.yml",
        content: generatedYaml(datasource, { source, topology: topology.name, target: "docker" }),
      },
      { path: "/etc/grafana/provisioning/dashboards/haproxy.yml", content: readTemplate("grafana", "dashboards.yml") },
      // No npm run verify runs beside the containers: the dashboard leaves its assertion and component panels out there
      // (the sidecar's continuous distribution check, which needs no synthetic traffic, stands in).
      { path: "/etc/grafana/dashboards/haproxy.json", content: renderDashboard({ localPanels: false }) },
    ],
    volumes: [{ volume: volumes.grafana, containerPath: "/var/lib/grafana" }],
    healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${services.grafana.port}${GRAFANA_PATHS.health}`], interval: "10s", timeout: "3s", retries: 3, startPeriod: "20s" },
  };
}
