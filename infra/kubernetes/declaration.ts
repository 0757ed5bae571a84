// What the Kubernetes topology is, decided from the model without cdktf: Kubernetes objects in the
// API's own shape (typed by kubernetes-models, so a test validates them against Kubernetes' schema),
// plus what Terraform must know beside them. stack.ts maps them onto @cdktf/provider-kubernetes.
//
// HAProxy runs as a Deployment of several replicas, each pod with the sidecar beside it sharing the
// stats socket through an emptyDir; its config comes from a ConfigMap whose hash is in the pod
// template, so a config change rolls the pods (no runtime apply in a cluster: pods are cattle). The
// web app is a Deployment behind a headless Service, whose DNS answer lists the ready pods: HAProxy's
// discovered group resolves it, and a HorizontalPodAutoscaler changes the count with no config change.
// Managed certificates are cert-manager's to issue (one issuer per cluster, the cluster's own
// ClusterIssuer): a Certificate each, whose Secret every HAProxy pod follows at runtime.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { INamespace } from "kubernetes-models/v1/Namespace";
import type { IService } from "kubernetes-models/v1/Service";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import type { IIoK8sApiCoreV1Container as Container, IIoK8sApiCoreV1PodSpec as PodSpec } from "kubernetes-models/v1";
import { parseDuration } from "../../haproxy/duration.ts";
import { bindPorts, recordRemovalMs, runsInstances, serverCount, type Backend, type ServerGroup, type Topology } from "../model/schema.ts";
import { httpCheckPath } from "../model/checks.ts";
import { containerServers } from "../render/targets.ts";
import { renderHaproxyConfig, TEMPLATES_DIR } from "../render/render.ts";
import { mapFiles, tableMapPath } from "../render/routing.ts";
import { errorDirectoryFiles } from "../render/error-pages.ts";
import { loginHashVariables } from "../model/routing.ts";
import { readLuaScripts } from "../render/lua.ts";
import { renderAlertRules, RULES_FILE } from "../render/alert-rules.ts";
import { CERTIFICATE_DIR, DOCKER_PATHS, ERROR_PAGE_DIR, KUBERNETES_CONFIG_DIR, LUA_DIR, haproxySockets, kubernetesTarget, type KubernetesTarget } from "../render/targets.ts";
import { HAPROXY_PATHS, WEB_APP_PATHS } from "../endpoints.ts";
import { TargetPlanError } from "../errors.ts";
import { expectedDistributionText, EXPECTED_DISTRIBUTION_FILE } from "../runtime/applied.ts";
import { HAPROXY_GID, HAPROXY_UID, haproxyArguments, sidecarArguments } from "../components.ts";
import { DEFAULT_TOPOLOGY_FILE } from "../model/load.ts";
import { SIDECAR_PATHS } from "../../sidecar/endpoints.ts";
import { sidecarNodeFlags } from "../../sidecar/node-flags.ts";
import { PINNED_IMAGES } from "../images.ts";
import { issuerConfig, issuerConfigText, ISSUER_CONFIG_FILE } from "../certs/config.ts";
import { ISSUED_FILES } from "../certs/follow.ts";

/** Where the ConfigMap (haproxy.cfg, its error pages, the expected distribution) is mounted in HAProxy's pod. */
export const KUBERNETES_PATHS = {
  configDir: KUBERNETES_CONFIG_DIR,
  config: `${KUBERNETES_CONFIG_DIR}/haproxy.cfg`,
  /** The stats and master sockets: an emptyDir HAProxy and the sidecar share (the model's directory). */
  socketDir: DOCKER_PATHS.socketDir,
} as const;

/** Terraform inputs of the stack: what differs per cluster and registry, never guessed. */
export const KUBERNETES_VARIABLES = {
  registry: { name: "image_registry", description: "Registry (and path) the web and sidecar images were pushed to, e.g. ghcr.io/acme" },
  tag: { name: "image_tag", description: "Tag of the web and sidecar images built from this repository (its commit, say)" },
  haproxyImage: { name: "haproxy_image", description: "HAProxy's image", default: PINNED_IMAGES.haproxy },
  kubeconfig: { name: "kubeconfig", description: "Path of the kubeconfig whose current context is the cluster", default: "~/.kube/config" },
  tlsSecret: { name: "tls_secret_name", description: "The Secret holding the PEM files the TLS binds name (one key per file)", default: "haproxy-certificates" },
  loginSecret: { name: "login_secret_name", description: "The Secret holding the userlists' password hashes, one key per environment variable the topology names", default: "haproxy-logins" },
  certManagerIssuer: { name: "cert_manager_issuer", description: "The cert-manager issuer that signs the managed certificates (its ACME account, solvers and rate limits are the cluster's), e.g. letsencrypt-prod" },
  certManagerIssuerKind: { name: "cert_manager_issuer_kind", description: "ClusterIssuer, or Issuer (one in the stack's namespace)", default: "ClusterIssuer" },
} as const;

/** A cert-manager Certificate (cert-manager.io/v1), in the fields the stack sets. */
export interface ICertificate {
  apiVersion: "cert-manager.io/v1";
  kind: "Certificate";
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: {
    secretName: string;
    dnsNames: string[];
    issuerRef: { name: string; kind: string; group: "cert-manager.io" };
    privateKey: { algorithm: "ECDSA"; size: 256; rotationPolicy: "Always" };
    renewBeforePercentage: number;
  };
}

/** Where HAProxy's pod sees what the certificates need: the issued Secrets, the given files, its certificate directory. */
export const KUBERNETES_CERTIFICATE_PATHS = {
  issued: "/etc/lb/issued-certs",
  given: "/etc/lb/given-certs",
  issuerConfig: `${KUBERNETES_CONFIG_DIR}/${ISSUER_CONFIG_FILE}`,
} as const;

/** How often a pod's route-table follower looks at its map files (the kubelet swaps a changed ConfigMap's files in within about a minute). */
const TABLES_FOLLOW_EVERY = "5s";

/** How often a pod's follower looks for a certificate cert-manager renewed (the kubelet refreshes a Secret's files within about a minute). */
const FOLLOW_EVERY = "30s";
const variable = (v: { name: string }) => `\${var.${v.name}}`;

export interface KubernetesOptions {
  /** HAProxy replicas (at least 2: the PodDisruptionBudget and the rolling update keep one ready). */
  haproxyReplicas?: number;
  /** How the frontends are exposed (LoadBalancer by default: the cloud's load balancer in front of the replicas). */
  frontendServiceType?: "LoadBalancer" | "NodePort" | "ClusterIP";
  source?: string;
}

export type KubernetesObject = INamespace | IConfigMap | IService | IDeployment | IPodDisruptionBudget | IHorizontalPodAutoscaler | ICertificate;

export interface PlannedObject {
  /** The Terraform resource id. */
  id: string;
  object: KubernetesObject;
  /** Fields Terraform leaves to the cluster after creation (an autoscaler's replica count). */
  ignoreChanges?: string[];
}

export interface KubernetesStackDeclaration {
  name: string;
  namespace: string;
  target: KubernetesTarget;
  haproxyConfig: string;
  objects: PlannedObject[];
  /** Whether a TLS file the user gives is needed: the certificates Secret. */
  usesTls: boolean;
  /** Whether cert-manager issues managed certificates: its issuer's variables. */
  managesCertificates: boolean;
  /** Whether HAProxy reads userlists' password hashes: the logins Secret. */
  readsLogins: boolean;
}

/** A name Kubernetes takes (an RFC 1123 label) from a model name, or why not. */
export function kubernetesName(name: string, field: string): string {
  const label = name.toLowerCase().replace(/[_.:]/g, "-");
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label)) throw new TargetPlanError(`${field}: ${JSON.stringify(name)} cannot name a Kubernetes object: use letters, digits and "-" (at most 63)`);
  return label;
}

const LABEL = "app.kubernetes.io/name";
const PART_OF = "app.kubernetes.io/part-of";
/** The pod-template annotation that rolls HAProxy's pods when what they read changes. */
export const CONFIG_HASH_ANNOTATION = "checksum/haproxy-config";
/** The id of HAProxy's ConfigMap among the stack's objects. */
export const HAPROXY_CONFIG_MAP = "haproxy-config";

const image = (name: string) => `${variable(KUBERNETES_VARIABLES.registry)}/${name}:${variable(KUBERNETES_VARIABLES.tag)}`;

/** What every container of the stack runs with: no root, no privilege to gain, nothing writable but its volumes. */
const RESTRICTED = { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" as const } };

export function declareKubernetesStack(topology: Topology, options: KubernetesOptions = {}): KubernetesStackDeclaration {
  const name = kubernetesName(topology.name, "name");
  const namespace = name;
  const target = kubernetesTarget(namespace);
  const replicas = options.haproxyReplicas ?? 2;
  if (!Number.isInteger(replicas) || replicas < 2) throw new TargetPlanError(`${replicas} HAProxy replicas: use at least 2, so that a rolling update or a drained node never takes the last one away`);
  const haproxyConfig = renderHaproxyConfig(topology, target, { source: options.source ?? DEFAULT_TOPOLOGY_FILE });
  const errorPages = errorDirectoryFiles(topology);
  const maps = mapFiles(topology);
  const tableMaps = tableMapPaths(topology);
  const luaScripts = topology.lua.scripts.map((s) => s.file);
  const sockets = haproxySockets(topology.global, target);
  const certificates = issuerConfig(topology, sockets.admin);
  const managesCertificates = certificates.certificates.length > 0;
  const configData: Record<string, string> = {
    "haproxy.cfg": haproxyConfig,
    ...(managesCertificates && { [ISSUER_CONFIG_FILE]: issuerConfigText(certificates) }),
    [EXPECTED_DISTRIBUTION_FILE]: expectedDistributionText(topology),
    ...Object.fromEntries(errorPages.map((file) => [errorPageKey(file), readFileSync(join(TEMPLATES_DIR, ERROR_PAGE_DIR, file), "utf8")])),
    ...Object.fromEntries(maps.map((map) => [mapKey(map.path), map.content])),
    ...Object.fromEntries(readLuaScripts(topology).map(({ file, text }) => [luaKey(file), text])),
  };
  // A table's entries change in the ConfigMap only: the follower in each pod puts them into HAProxy at runtime, so they stay out of the hash that rolls the pods.
  const followed = new Set(followedConfigKeys(topology));
  const rolling = Object.fromEntries(Object.entries(configData).filter(([key]) => !followed.has(key)));
  const configHash = createHash("sha256").update(JSON.stringify(rolling)).digest("hex");
  const meta = (object: string, extra: Record<string, string> = {}) => ({ name: object, namespace, labels: { [LABEL]: object, [PART_OF]: name, ...extra } });
  const usesTls = certificates.given.length > 0;

  const objects: PlannedObject[] = [
    { id: "namespace", object: { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace, labels: { [PART_OF]: name } } } },
    { id: HAPROXY_CONFIG_MAP, object: { apiVersion: "v1", kind: "ConfigMap", metadata: meta("haproxy-config"), data: configData } },
    // The alert rules, for the cluster's own Prometheus (a rule-file sidecar or an operator picks them up).
    { id: "alert-rules", object: { apiVersion: "v1", kind: "ConfigMap", metadata: meta("haproxy-alert-rules", { "prometheus.io/rules": "true" }), data: { [RULES_FILE]: renderAlertRules({ source: options.source ?? DEFAULT_TOPOLOGY_FILE, topology: topology.name, target: "kubernetes" }, topology.services.prometheus.runbookUrl) } } },
    haproxyDeployment(topology, { name, namespace, replicas, configHash, errorPages, maps: maps.map((m) => m.path), tableMaps, luaScripts, usesTls, managed: certificates.certificates.map((c) => c.file), meta }),
    {
      id: "haproxy-pdb",
      object: { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: meta("haproxy"), spec: { maxUnavailable: 1, selector: { matchLabels: { [LABEL]: "haproxy" } } } },
    },
    frontendService(topology, meta, options.frontendServiceType ?? "LoadBalancer"),
    ...webObjects(topology, meta),
    ...topology.certificates.map((c): PlannedObject => ({
      id: `certificate-${issuedSecretName(c.file)}`,
      object: {
        apiVersion: "cert-manager.io/v1",
        kind: "Certificate",
        metadata: meta(issuedSecretName(c.file)),
        spec: {
          secretName: issuedSecretName(c.file),
          dnsNames: c.names,
          issuerRef: { name: variable(KUBERNETES_VARIABLES.certManagerIssuer), kind: variable(KUBERNETES_VARIABLES.certManagerIssuerKind), group: "cert-manager.io" },
          // A new key with every certificate, as the stack's own issuer does.
          privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
          renewBeforePercentage: Math.round(c.renewWhenLeft * 100),
        },
      },
    })),
  ];
  return { name, namespace, target, haproxyConfig, objects, usesTls, managesCertificates, readsLogins: loginHashVariables(topology).length > 0 };
}

/** The Secret cert-manager writes a managed certificate into: "shop.pem" → "cert-shop-pem". */
export const issuedSecretName = (file: string) => kubernetesName(`cert-${file}`, `certificates[${JSON.stringify(file)}].file`);

/** ConfigMap keys cannot hold "/": error pages are keys of their own, mounted back into errors/. */
const errorPageKey = (file: string) => `error-page-${file}`;
/** A ConfigMap key has no "/": the map file's name, marked as one. */
const mapKey = (path: string) => `map-${basename(path)}`;

/** The route tables' map files, as the config names them. */
const tableMapPaths = (topology: Pick<Topology, "frontends">): string[] => topology.frontends.flatMap((f) => f.routeTables.map((t) => tableMapPath(f.name, t.name)));

/** The ConfigMap keys the pods' route-tables follower puts into HAProxy at runtime: a change of these alone rolls no pod. */
export const followedConfigKeys = (topology: Pick<Topology, "frontends">): string[] => tableMapPaths(topology).map(mapKey);
const luaKey = (file: string) => `lua-${file}`;

type Meta = (object: string, extra?: Record<string, string>) => { name: string; namespace: string; labels: Record<string, string> };

function haproxyDeployment(
  topology: Topology,
  c: { name: string; namespace: string; replicas: number; configHash: string; errorPages: string[]; maps: string[]; tableMaps: string[]; luaScripts: string[]; usesTls: boolean; managed: string[]; meta: Meta },
): PlannedObject {
  const sockets = haproxySockets(topology.global, kubernetesTarget(c.namespace));
  const { monitoring, services } = topology;
  const ports = bindPorts(topology.frontends.flatMap((f) => f.binds));
  const health = { httpGet: { path: HAPROXY_PATHS.health, port: monitoring.port } };
  const logins = loginHashVariables(topology);
  const haproxy: Container = {
    name: "haproxy",
    image: variable(KUBERNETES_VARIABLES.haproxyImage),
    // The image's entrypoint adds -W -db (master-worker, foreground); -S opens the master CLI.
    args: ["haproxy", ...haproxyArguments(sockets.master, KUBERNETES_PATHS.config)],
    // The userlists' password hashes, which HAProxy reads from its environment as it parses its config.
    ...(logins.length && { env: logins.map((name) => ({ name, valueFrom: { secretKeyRef: { name: variable(KUBERNETES_VARIABLES.loginSecret), key: name } } })) }),
    ports: [...ports.map((p) => ({ name: portName("fe", p), containerPort: p })), { name: "monitoring", containerPort: monitoring.port }, ...(topology.peers ? [{ name: "peers", containerPort: topology.peers.port }] : [])],
    readinessProbe: { ...health, periodSeconds: 2, failureThreshold: 2 },
    livenessProbe: { ...health, periodSeconds: 10, failureThreshold: 3 },
    // Kubernetes stops a container with SIGTERM, which HAProxy's master takes as a hard stop (every
    // connection cut; the image's STOPSIGNAL SIGUSR1 is Docker's, not the kubelet's). Instead: wait for
    // the Service to stop sending here, then a soft stop (listeners closed, connections finish within
    // hard-stop-after), and let the kubelet's SIGTERM find it gone.
    lifecycle: { preStop: { exec: { command: ["sh", "-c", `sleep ${ENDPOINT_DEREGISTRATION_SECONDS}; kill -USR1 1; while kill -0 1 2>/dev/null; do sleep 1; done`] } } },
    securityContext: { ...RESTRICTED, runAsUser: HAPROXY_UID, runAsGroup: HAPROXY_GID, ...(ports.some((p) => p < 1024) && { capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] } }) },
    resources: { requests: { cpu: "250m", memory: "128Mi" }, limits: { memory: "512Mi" } },
    volumeMounts: [
      { name: "config", mountPath: KUBERNETES_PATHS.configDir, readOnly: true },
      { name: "sockets", mountPath: KUBERNETES_PATHS.socketDir },
      ...(c.usesTls || c.managed.length ? [{ name: "certificates", mountPath: `${KUBERNETES_PATHS.configDir}/${CERTIFICATE_DIR}`, readOnly: true }] : []),
    ],
  };
  const follower = c.managed.length ? certificateContainers(topology, c) : undefined;
  const sidecar: Container = {
    name: "sidecar",
    image: image(`${topology.name}-sidecar`),
    // The image's entrypoint runs the bundle; its heap is sized by the servers HAProxy may report.
    env: [{ name: "NODE_OPTIONS", value: sidecarNodeFlags(serverCount(topology)).join(" ") }],
    args: sidecarArguments(topology, { statsSocket: sockets.admin, listenAddress: "0.0.0.0", expectedFile: `${KUBERNETES_PATHS.configDir}/${EXPECTED_DISTRIBUTION_FILE}` }),
    ports: [{ name: "metrics", containerPort: services.sidecar.port }],
    readinessProbe: { httpGet: { path: SIDECAR_PATHS.health, port: services.sidecar.port }, periodSeconds: 5 },
    livenessProbe: { httpGet: { path: SIDECAR_PATHS.health, port: services.sidecar.port }, periodSeconds: 10, failureThreshold: 3 },
    // HAProxy's group owns the socket (mode 660): the sidecar runs in it to read it (the image's node user otherwise).
    securityContext: { ...RESTRICTED, runAsUser: 1000, runAsGroup: HAPROXY_GID },
    resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
    volumeMounts: [
      { name: "sockets", mountPath: KUBERNETES_PATHS.socketDir },
      { name: "config", mountPath: KUBERNETES_PATHS.configDir, readOnly: true },
    ],
  };
  // The route tables' follower: the apply agent's bundle, watching this pod's ConfigMap files.
  const tables: Container | undefined = c.tableMaps.length
    ? {
        name: "route-tables",
        image: image(`${topology.name}-sidecar`),
        command: ["node", "/app/agent.mjs"],
        args: ["--follow-maps", KUBERNETES_PATHS.configDir, ...c.tableMaps.flatMap((map) => ["--map", map]), "--admin-socket", sockets.admin, "--interval", TABLES_FOLLOW_EVERY],
        securityContext: { ...RESTRICTED, runAsUser: HAPROXY_UID, runAsGroup: HAPROXY_GID },
        resources: { requests: { cpu: "10m", memory: "48Mi" }, limits: { memory: "128Mi" } },
        volumeMounts: [
          { name: "sockets", mountPath: KUBERNETES_PATHS.socketDir },
          { name: "config", mountPath: KUBERNETES_PATHS.configDir, readOnly: true },
        ],
      }
    : undefined;
  const spec: PodSpec = {
    ...(follower && { initContainers: [follower.prepare] }),
    containers: [haproxy, sidecar, ...(follower ? [follower.follow] : []), ...(tables ? [tables] : [])],
    securityContext: { fsGroup: HAPROXY_GID },
    // Replicas on different nodes where the cluster has them; on one node, still scheduled.
    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: { [LABEL]: "haproxy" } } }],
    affinity: {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { [LABEL]: "haproxy" } } } }],
      },
    },
    // The preStop's wait, then connections in flight finish within hard-stop-after.
    terminationGracePeriodSeconds: ENDPOINT_DEREGISTRATION_SECONDS + Math.ceil(parseDuration(topology.global.hardStopAfter) / 1000) + 5,
    volumes: [
      {
        name: "config",
        configMap: {
          name: "haproxy-config",
          items: [
            { key: "haproxy.cfg", path: "haproxy.cfg" },
            { key: EXPECTED_DISTRIBUTION_FILE, path: EXPECTED_DISTRIBUTION_FILE },
            ...c.errorPages.map((file) => ({ key: errorPageKey(file), path: `${ERROR_PAGE_DIR}/${file}` })),
            ...c.maps.map((path) => ({ key: mapKey(path), path })),
            ...c.luaScripts.map((file) => ({ key: luaKey(file), path: `${LUA_DIR}/${file}` })),
          ],
        },
      },
      { name: "sockets", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
      ...(c.managed.length
        ? [
            // Filled by the init container, kept current by the follower: HAProxy reads it.
            { name: "certificates", emptyDir: { medium: "Memory" as const, sizeLimit: "16Mi" } },
            // Each managed certificate's Secret, optional: a pod starts before cert-manager has issued (a placeholder serves until then).
            { name: "issued-certificates", projected: { sources: c.managed.map((file) => ({ secret: { name: issuedSecretName(file), optional: true, items: [{ key: ISSUED_FILES.chain, path: `${file}/${ISSUED_FILES.chain}` }, { key: ISSUED_FILES.key, path: `${file}/${ISSUED_FILES.key}` }] } })) } },
            ...(c.usesTls ? [{ name: "given-certificates", secret: { secretName: variable(KUBERNETES_VARIABLES.tlsSecret) } }] : []),
          ]
        : c.usesTls
          ? [{ name: "certificates", secret: { secretName: variable(KUBERNETES_VARIABLES.tlsSecret) } }]
          : []),
    ],
  };
  return {
    id: "haproxy",
    object: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: c.meta("haproxy"),
      spec: {
        replicas: c.replicas,
        selector: { matchLabels: { [LABEL]: "haproxy" } },
        // A new pod is ready before an old one goes: never fewer ready replicas than asked for.
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        minReadySeconds: 5,
        template: {
          metadata: {
            labels: { [LABEL]: "haproxy", [PART_OF]: c.name },
            annotations: {
              [CONFIG_HASH_ANNOTATION]: c.configHash,
              // The cluster's Prometheus scrapes the sidecar (the stack's exporter: one source per series).
              "prometheus.io/scrape": "true",
              "prometheus.io/port": String(services.sidecar.port),
              "prometheus.io/path": SIDECAR_PATHS.metrics,
            },
          },
          spec,
        },
      },
    },
  };
}

/**
 * Where cert-manager issues: an init container fills HAProxy's certificate directory (the given
 * files, each issued certificate or a placeholder), and a follower beside HAProxy installs every
 * certificate cert-manager renews through this pod's admin socket, with no reload and no new pod.
 * Both run the certificate bundle of the sidecar's image, as HAProxy's user.
 */
function certificateContainers(topology: Topology, c: { usesTls: boolean }): { prepare: Container; follow: Container } {
  const common = ["--run-dir", KUBERNETES_PATHS.configDir, "--config", KUBERNETES_CERTIFICATE_PATHS.issuerConfig, "--issued", KUBERNETES_CERTIFICATE_PATHS.issued];
  const container = (name: string, args: string[], mounts: Container["volumeMounts"]): Container => ({
    name,
    image: image(`${topology.name}-sidecar`),
    command: ["node", "/app/certs.mjs"],
    args,
    securityContext: { ...RESTRICTED, runAsUser: HAPROXY_UID, runAsGroup: HAPROXY_GID },
    resources: { requests: { cpu: "10m", memory: "48Mi" }, limits: { memory: "128Mi" } },
    volumeMounts: [
      { name: "config", mountPath: KUBERNETES_PATHS.configDir, readOnly: true },
      { name: "certificates", mountPath: `${KUBERNETES_PATHS.configDir}/${CERTIFICATE_DIR}` },
      { name: "issued-certificates", mountPath: KUBERNETES_CERTIFICATE_PATHS.issued, readOnly: true },
      ...(mounts ?? []),
    ],
  });
  return {
    prepare: container("certificates", ["prepare", ...common, ...(c.usesTls ? ["--given", KUBERNETES_CERTIFICATE_PATHS.given] : [])], c.usesTls ? [{ name: "given-certificates", mountPath: KUBERNETES_CERTIFICATE_PATHS.given, readOnly: true }] : []),
    follow: container("certificate-follower", ["follow", ...common, "--every", FOLLOW_EVERY], [{ name: "sockets", mountPath: KUBERNETES_PATHS.socketDir }]),
  };
}

/** How long a terminating pod keeps accepting, while endpoints and the cloud's load balancer stop sending to it. */
const ENDPOINT_DEREGISTRATION_SECONDS = 5;

/** Port names are at most 15 characters: "fe-60000". */
const portName = (prefix: string, port: number) => `${prefix}-${port}`;

function frontendService(topology: Topology, meta: Meta, type: "LoadBalancer" | "NodePort" | "ClusterIP"): PlannedObject {
  const ports = bindPorts(topology.frontends.flatMap((f) => f.binds));
  return {
    id: "frontend-service",
    object: {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta("haproxy"),
      spec: {
        type,
        selector: { [LABEL]: "haproxy" },
        ports: ports.map((p) => ({ name: portName("fe", p), port: p, targetPort: p, protocol: "TCP" })),
        // Keep the client's address (rate limits and allowlists judge it), and send only to nodes running HAProxy.
        ...(type !== "ClusterIP" && { externalTrafficPolicy: "Local" }),
      },
    },
  };
}

/** Web pods: the app's own checks, restricted, with requests the autoscaler measures against. */
function webContainer(name: string, port: number, healthPath: string): Container {
  const health = { httpGet: { path: healthPath, port } };
  return {
    name: "web",
    image: image(`${name}-web`),
    env: [{ name: "BIND", value: `0.0.0.0:${port}` }, { name: "INSTANCE_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }, { name: "PYTHONDONTWRITEBYTECODE", value: "1" }],
    ports: [{ name: "http", containerPort: port }],
    readinessProbe: { ...health, periodSeconds: 2, failureThreshold: 2 },
    livenessProbe: { ...health, periodSeconds: 10, failureThreshold: 3 },
    securityContext: { ...RESTRICTED, runAsUser: 1000 },
    resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { memory: "256Mi" } },
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
  };
}

/** Listed servers whose address is a bare name become a Deployment and a Service of that name; a discovered group, a Deployment, a headless Service and an autoscaler. */
function webObjects(topology: Topology, meta: Meta): PlannedObject[] {
  const objects: PlannedObject[] = [];
  const seen = new Set<string>();
  for (const backend of topology.backends) {
    const servers = containerServers(backend, "kubernetes");
    const healthPath = httpCheckPath(backend) ?? WEB_APP_PATHS.status;
    for (const server of servers) {
      if (server.external || server.address.includes(".") || seen.has(server.address)) continue; // reached as it is, outside the cluster
      seen.add(server.address);
      const name = kubernetesName(server.address, `backends.${backend.name}.servers.${server.name}.address`);
      objects.push(webDeployment(topology, name, server.port, healthPath, 1, meta, undefined));
      objects.push(webService(name, server.port, meta, false));
    }
    const group = backend.discovery;
    if (group && runsInstances(group)) objects.push(...groupObjects(topology, backend, group, meta));
  }
  return objects;
}

function groupObjects(topology: Topology, backend: Backend, group: ServerGroup, meta: Meta): PlannedObject[] {
  if (group.record !== "A") throw new TargetPlanError(`backends.${backend.name}.discovery.record: the Kubernetes stack's group is a headless Service, resolved as A records: use "A" (or give resolver.nameservers that serve the ${group.record} records)`);
  const name = kubernetesName(group.name, `backends.${backend.name}.discovery.name`);
  const healthPath = httpCheckPath(backend) ?? WEB_APP_PATHS.status;
  return [
    webDeployment(topology, name, group.port!, healthPath, Math.max(1, group.instances), meta, group),
    webService(name, group.port!, meta, true),
    {
      id: `${name}-autoscaler`,
      object: {
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: meta(name),
        spec: {
          scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name },
          // HAProxy has maxServers slots: more pods than that would take no traffic.
          minReplicas: Math.max(1, group.instances),
          maxReplicas: group.maxServers,
          metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }],
        },
      },
    },
  ];
}

/**
 * Seconds a leaving pod keeps serving after Kubernetes takes it out of the Service's DNS answer:
 * HAProxy's next resolution, a retry, and hold obsolete, plus the cluster DNS's own cache (its TTL,
 * 5 s by default in CoreDNS's kubernetes plugin). Only then does the app stop.
 */
export function leaveDelaySeconds(group: ServerGroup): number {
  return Math.ceil(recordRemovalMs(group.resolver) / 1000) + COREDNS_TTL_SECONDS;
}
const COREDNS_TTL_SECONDS = 5;

function webDeployment(topology: Topology, name: string, port: number, healthPath: string, replicas: number, meta: Meta, group: ServerGroup | undefined): PlannedObject {
  const container = webContainer(topology.name, port, healthPath);
  const leave = group ? leaveDelaySeconds(group) : 0;
  if (group) container.lifecycle = { preStop: { exec: { command: ["sleep", String(leave)] } } };
  return {
    id: `${name}-deployment`,
    object: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: meta(name),
      spec: {
        replicas,
        selector: { matchLabels: { [LABEL]: name } },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels: { [LABEL]: name, [PART_OF]: kubernetesName(topology.name, "name") } },
          spec: {
            containers: [container],
            volumes: [{ name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } }],
            terminationGracePeriodSeconds: leave + Math.ceil(parseDuration(topology.defaults.timeouts.server) / 1000) + 5,
          },
        },
      },
    },
    // The autoscaler owns a group's replica count once it runs; Terraform sets it only at creation.
    ignoreChanges: group ? ["spec[0].replicas"] : undefined,
  };
}

function webService(name: string, port: number, meta: Meta, headless: boolean): PlannedObject {
  return {
    id: `${name}-service`,
    object: {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta(name),
      spec: {
        // Headless: the name resolves to every ready pod's address (what HAProxy's slots take), not one virtual IP.
        ...(headless && { clusterIP: "None" }),
        selector: { [LABEL]: name },
        ports: [{ name: "http", port, targetPort: port, protocol: "TCP" }],
      },
    },
  };
}
