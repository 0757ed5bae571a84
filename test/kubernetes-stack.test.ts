// The Kubernetes CDKTF stack, tested offline (no cluster here): every object against Kubernetes' own
// schema (kubernetes-models), every resource against the provider's types, the ConfigMap's config
// against the real HAProxy, and what holds the pods together: the shared socket, the probes' ports,
// the rolling update and disruption budget, the headless Service the discovered group resolves.
import assert from "node:assert/strict";
import { tmpdir, userInfo } from "node:os";
import { describe, it } from "vitest";
import { Testing } from "cdktf";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Service } from "kubernetes-models/v1/Service";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import { CONFIG_HASH_ANNOTATION, KUBERNETES_CERTIFICATE_PATHS, KUBERNETES_PATHS, leaveDelaySeconds, declareKubernetesStack, type KubernetesStackDeclaration } from "../infra/kubernetes/declaration.ts";
import { KubernetesTopologyStack, toProviderConfig } from "../infra/kubernetes/stack.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { checkHaproxyConfig } from "../infra/render/haproxy-check.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { kubernetesTarget } from "../infra/render/targets.ts";
import { certificateFiles } from "../infra/render/validate.ts";
import { mapFiles } from "../infra/render/routing.ts";
import { REPO_ROOT } from "../infra/repo.ts";
import { TargetPlanError } from "../infra/errors.ts";
import { parseDuration } from "../haproxy/duration.ts";
import { DEFAULT_TOPOLOGY_FILE } from "../infra/model/load.ts";
import { discoveryTopology, everyFeatureTopology } from "./support/goldens.ts";
import { stackSchemaProblems } from "./support/provider-schema.ts";
import { editedTopology, seedTopology } from "./support/topologies.ts";
import { z } from "zod";
import { topology as acmeExample } from "../infra/topologies/acme.ts";

const TOPOLOGIES = [
  ["the default topology", seedTopology],
  ["the discovery example", discoveryTopology],
  ["every feature of the model", everyFeatureTopology],
  ["the ACME example", () => structuredClone(acmeExample)],
] as const;

/**
 * cert-manager's Certificate is a custom resource kubernetes-models does not know: the fields the
 * stack sets, held to cert-manager.io/v1's CRD (required, types, enums).
 */
const CertificateSchema = z.strictObject({
  apiVersion: z.literal("cert-manager.io/v1"),
  kind: z.literal("Certificate"),
  metadata: z.strictObject({ name: z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/), namespace: z.string(), labels: z.record(z.string(), z.string()) }),
  spec: z.strictObject({
    secretName: z.string().min(1),
    dnsNames: z.array(z.string()).min(1),
    issuerRef: z.strictObject({ name: z.string(), kind: z.string(), group: z.string() }),
    privateKey: z.strictObject({ algorithm: z.enum(["RSA", "ECDSA", "Ed25519"]), size: z.number().int(), rotationPolicy: z.enum(["Never", "Always"]) }),
    renewBeforePercentage: z.number().int().min(1).max(99),
  }),
});
class Certificate {
  constructor(private readonly data: unknown) {}
  validate() {
    CertificateSchema.parse(this.data);
  }
}

const MODELS: Record<string, new (data: any) => { validate(): void }> = { Namespace, ConfigMap, Service, Deployment, PodDisruptionBudget, HorizontalPodAutoscaler, Certificate };

const plan = (input: unknown, options = {}) => declareKubernetesStack(parseTopology(input as any), { source: DEFAULT_TOPOLOGY_FILE, ...options });
const synth = (p: KubernetesStackDeclaration) => JSON.parse(Testing.synth(new KubernetesTopologyStack(Testing.app(), p)));
const deployment = (p: KubernetesStackDeclaration, name: string) => p.objects.find((o) => o.object.kind === "Deployment" && o.object.metadata?.name === name)!.object as IDeployment;
const containersOf = (d: IDeployment) => d.spec!.template.spec!.containers;

describe("every object against Kubernetes' schema, every resource against the provider's", () => {
  for (const [name, input] of TOPOLOGIES) {
    it(`${name}: each object validates as its kind (kubernetes-models, the API's OpenAPI schema)`, () => {
      for (const { id, object } of plan(input()).objects) {
        assert.doesNotThrow(() => new MODELS[object.kind]!(object).validate(), `${id} (${object.kind})`);
      }
    });
    it(`${name}: the synthesized JSON has only attributes the kubernetes provider has, with their types`, () => {
      assert.deepEqual(stackSchemaProblems(synth(plan(input())), "kubernetes"), []);
    });
  }

  it("the schema check can fail: a container port as text, a misspelt field", () => {
    const p = plan(seedTopology());
    const haproxy = containersOf(deployment(p, "haproxy"))[0]!;
    (haproxy.ports![0] as any).containerPort = "60000";
    assert.throws(() => new Deployment(deployment(p, "haproxy")).validate(), /containerPort must be integer/);
    const stack = synth(plan(seedTopology()));
    stack.resource.kubernetes_deployment_v1.haproxy.spec.template.spec.container[0].imagePullPolicy = "Always";
    assert.deepEqual(stackSchemaProblems(stack, "kubernetes"), ["resource.kubernetes_deployment_v1.haproxy.spec.template.spec.container[0].imagePullPolicy: not an attribute of DeploymentV1SpecTemplateSpecContainer"]);
  });

  it("the translation to the provider's spelling: lists in the singular, IntOrString numbers as text, single blocks the provider lists", () => {
    assert.deepEqual(toProviderConfig({ spec: { replicas: 2, containers: [{ ports: [{ containerPort: 80 }], lifecycle: { preStop: { exec: { command: ["sleep", "7"] } } } }], clusterIP: "None" } }), {
      spec: { replicas: "2", container: [{ port: [{ containerPort: 80 }], lifecycle: { preStop: [{ exec: { command: ["sleep", "7"] } }] } }], clusterIp: "None" },
    });
  });
});

describe("managed certificates in the Kubernetes stack: cert-manager issues, each HAProxy pod follows at runtime", () => {
  const p = plan(structuredClone(acmeExample));
  const d = deployment(p, "haproxy");
  const pod = d.spec!.template.spec!;
  const container = (name: string) => [...pod.containers, ...(pod.initContainers ?? [])].find((c) => c.name === name)!;
  const certificate = p.objects.find((o) => o.object.kind === "Certificate")!.object as any;
  const stack = synth(p);

  it("a cert-manager Certificate per managed certificate: its names, the cluster's issuer from variables, renewal at the model's share of the lifetime", () => {
    assert.deepEqual(certificate.spec, {
      secretName: "cert-shop-pem",
      dnsNames: ["shop.lb.test", "www.shop.lb.test"],
      issuerRef: { name: "${var.cert_manager_issuer}", kind: "${var.cert_manager_issuer_kind}", group: "cert-manager.io" },
      privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
      renewBeforePercentage: 33,
    });
    assert.deepEqual(stack.resource.kubernetes_manifest[Object.keys(stack.resource.kubernetes_manifest)[0]!].manifest.kind, "Certificate");
    assert.equal(stack.variable.cert_manager_issuer_kind.default, "ClusterIssuer");
    assert.ok(stack.variable.cert_manager_issuer);
    assert.equal(stack.variable.tls_secret_name, undefined, "no file is given: no Secret of the user's to mount");
  });

  it("an init container fills HAProxy's certificate directory (an emptyDir) from the issued Secret, or a placeholder while there is none", () => {
    const init = container("certificates");
    assert.deepEqual(init.command, ["node", "/app/certs.mjs"]);
    assert.deepEqual(init.args, ["prepare", "--run-dir", KUBERNETES_PATHS.configDir, "--config", KUBERNETES_CERTIFICATE_PATHS.issuerConfig, "--issued", KUBERNETES_CERTIFICATE_PATHS.issued]);
    const issued = pod.volumes!.find((v) => v.name === "issued-certificates")!;
    assert.deepEqual(issued.projected!.sources, [{ secret: { name: "cert-shop-pem", optional: true, items: [{ key: "tls.crt", path: "shop.pem/tls.crt" }, { key: "tls.key", path: "shop.pem/tls.key" }] } }]);
    assert.ok(pod.volumes!.find((v) => v.name === "certificates")!.emptyDir);
    assert.deepEqual(container("haproxy").volumeMounts!.find((m) => m.name === "certificates"), { name: "certificates", mountPath: `${KUBERNETES_PATHS.configDir}/certs`, readOnly: true });
  });

  it("a follower beside HAProxy installs what cert-manager renews through this pod's admin socket, as HAProxy's user", () => {
    const follower = container("certificate-follower");
    assert.equal(follower.args![0], "follow");
    assert.equal(follower.args![follower.args!.indexOf("--every") + 1], "30s");
    assert.deepEqual(follower.volumeMounts!.find((m) => m.name === "sockets")?.mountPath, KUBERNETES_PATHS.socketDir);
    assert.equal(follower.securityContext!.runAsUser, container("haproxy").securityContext!.runAsUser);
    assert.equal(follower.securityContext!.readOnlyRootFilesystem, true);
    const config = JSON.parse((p.objects.find((o) => o.id === "haproxy-config")!.object as ConfigMap).data!["issuer.json"]!);
    const container_ = container("sidecar");
    assert.equal(config.adminSocket, container_.args![container_.args!.indexOf("--stats-socket") + 1], "the admin socket HAProxy's config opens");
    assert.deepEqual(pod.volumes!.find((v) => v.name === "config")!.configMap!.items!.some((i) => i.key === "issuer.json"), false, "mounted as the whole ConfigMap's items list names it");
  });

  it("given files beside managed ones come from the user's Secret into the init container only", () => {
    const input = structuredClone(acmeExample) as any;
    input.frontends[0].binds.push({ address: "*", port: 61443, tlsCertificate: "given.pem" });
    const withGiven = deployment(plan(input), "haproxy").spec!.template.spec!;
    const init = withGiven.initContainers![0]!;
    assert.deepEqual(init.args!.slice(-2), ["--given", KUBERNETES_CERTIFICATE_PATHS.given]);
    assert.ok(withGiven.volumes!.some((v) => v.name === "given-certificates" && v.secret?.secretName === "${var.tls_secret_name}"));
    assert.equal(withGiven.containers.some((c) => c.volumeMounts!.some((m) => m.name === "given-certificates")), false);
  });
});

describe("HAProxy's pods", () => {
  for (const [name, input] of TOPOLOGIES) {
    it(`${name}: the ConfigMap holds the config rendered for the cluster, which haproxy -c accepts`, async () => {
      const topology = parseTopology(input() as any);
      const p = plan(input());
      const config = (p.objects.find((o) => o.id === "haproxy-config")!.object as ConfigMap).data!["haproxy.cfg"]!;
      assert.equal(config, renderHaproxyConfig(topology, kubernetesTarget(p.namespace), { source: DEFAULT_TOPOLOGY_FILE }));
      await checkHaproxyConfig(config, { placeholderCertificates: certificateFiles(topology), maps: mapFiles(topology) });
    });
  }

  it("the sidecar is a second container of the pod, reading the stats socket HAProxy's config names, through the emptyDir both mount", () => {
    const p = plan(seedTopology());
    const d = deployment(p, "haproxy");
    const [haproxy, sidecar] = containersOf(d);
    assert.deepEqual([haproxy!.name, sidecar!.name], ["haproxy", "sidecar"]);
    const socketVolume = d.spec!.template.spec!.volumes!.find((v) => v.emptyDir)!;
    for (const c of [haproxy!, sidecar!]) assert.deepEqual(c.volumeMounts!.find((m) => m.name === socketVolume.name)?.mountPath, KUBERNETES_PATHS.socketDir, c.name);
    const statsSocket = /^\s+stats socket (\S+)/m.exec(p.haproxyConfig)![1]!;
    const sidecarReads = sidecar!.args![sidecar!.args!.indexOf("--stats-socket") + 1]!;
    assert.equal(sidecarReads, statsSocket);
    assert.ok(statsSocket.startsWith(`${KUBERNETES_PATHS.socketDir}/`));
    // The socket is HAProxy's group's (mode 660): the sidecar runs in that group.
    assert.equal(sidecar!.securityContext!.runAsGroup, haproxy!.securityContext!.runAsGroup);
    assert.match(p.haproxyConfig, /stats socket \S+ mode 660 /);
  });

  it("with peers, HAProxy's container declares the local peer's port", () => {
    const ports = containersOf(deployment(plan(editedTopology((t) => (t.peers = { localPeer: "lb1", port: 10000 }))), "haproxy"))[0]!.ports!;
    assert.deepEqual(ports.find((p) => p.name === "peers"), { name: "peers", containerPort: 10000 });
    assert.equal(containersOf(deployment(plan(seedTopology()), "haproxy"))[0]!.ports!.find((p) => p.name === "peers"), undefined);
  });

  it("every probe points at a port its container listens on (the certificate follower listens on none: a container that exits is restarted)", () => {
    for (const [, input] of TOPOLOGIES) {
      const p = plan(input());
      for (const { object } of p.objects.filter((o) => o.object.kind === "Deployment")) {
        for (const c of containersOf(object as IDeployment).filter((c) => c.name !== "certificate-follower")) {
          const listening = (c.ports ?? []).map((port) => port.containerPort);
          for (const probe of [c.readinessProbe, c.livenessProbe]) {
            assert.ok(probe?.httpGet, `${c.name} has a probe`);
            assert.ok(listening.includes(Number(probe!.httpGet!.port)), `${object.metadata!.name}/${c.name}: probe on ${probe!.httpGet!.port}, listening on ${listening.join(", ")}`);
          }
        }
      }
    }
  });

  it("HAProxy's readiness is its monitor-uri on the monitoring port, which the config declares", () => {
    const p = plan(seedTopology());
    const haproxy = containersOf(deployment(p, "haproxy"))[0]!;
    assert.match(p.haproxyConfig, new RegExp(`monitor-uri ${haproxy.readinessProbe!.httpGet!.path}`));
    assert.match(p.haproxyConfig, new RegExp(`bind \\*:${haproxy.readinessProbe!.httpGet!.port}\\b`));
  });

  it("several replicas spread over nodes; a rolling update never goes below them; a disruption takes one at most", () => {
    const p = plan(seedTopology(), { haproxyReplicas: 3 });
    const d = deployment(p, "haproxy");
    assert.equal(d.spec!.replicas, 3);
    assert.deepEqual(d.spec!.strategy, { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    assert.equal(d.spec!.template.spec!.topologySpreadConstraints![0]!.topologyKey, "kubernetes.io/hostname");
    const pdb = p.objects.find((o) => o.object.kind === "PodDisruptionBudget")!.object as PodDisruptionBudget;
    assert.equal(pdb.spec!.maxUnavailable, 1);
    assert.deepEqual(pdb.spec!.selector!.matchLabels, d.spec!.selector.matchLabels);
    assert.throws(() => plan(seedTopology(), { haproxyReplicas: 1 }), (e: unknown) => e instanceof TargetPlanError && /at least 2/.test(e.message));
  });

  it("a terminating HAProxy pod stops softly: it keeps accepting while it leaves the Service, then finishes its connections within hard-stop-after and its grace period", () => {
    const topology = parseTopology(seedTopology() as any);
    const d = deployment(plan(seedTopology()), "haproxy");
    const preStop = containersOf(d)[0]!.lifecycle!.preStop!.exec!.command!.join(" ");
    const [, wait] = /sleep (\d+); kill -USR1 1;/.exec(preStop) ?? [];
    assert.ok(wait, preStop);
    assert.equal(d.spec!.template.spec!.terminationGracePeriodSeconds, Number(wait) + parseDuration(topology.global.hardStopAfter) / 1000 + 5);
  });

  it("a config change rolls the pods (the config's hash is in the pod template); a new instance count does not touch HAProxy", () => {
    const base = plan(discoveryTopology());
    const weight = discoveryTopology() as any;
    weight.backends[0].discovery.maxServers = 20;
    const hash = (p: KubernetesStackDeclaration) => deployment(p, "haproxy").spec!.template.metadata!.annotations![CONFIG_HASH_ANNOTATION];
    assert.notEqual(hash(plan(weight)), hash(base));
    const more = discoveryTopology() as any;
    more.backends[0].discovery.instances = 5;
    assert.deepEqual(deployment(plan(more), "haproxy"), deployment(base, "haproxy"));
  });

  it("the cluster's Prometheus scrapes the sidecar through the pod's annotations", () => {
    const p = plan(seedTopology());
    const annotations = deployment(p, "haproxy").spec!.template.metadata!.annotations!;
    const sidecar = containersOf(deployment(p, "haproxy"))[1]!;
    assert.equal(annotations["prometheus.io/scrape"], "true");
    assert.equal(Number(annotations["prometheus.io/port"]), sidecar.ports![0]!.containerPort);
  });

  it("a Service exposes every frontend port, keeping the client's address", () => {
    const topology = parseTopology(seedTopology() as any);
    const service = plan(seedTopology()).objects.find((o) => o.id === "frontend-service")!.object as Service;
    assert.deepEqual(service.spec!.ports!.map((port) => port.port), [60000, 60001]);
    assert.equal(service.spec!.externalTrafficPolicy, "Local");
    assert.equal(service.spec!.type, "LoadBalancer");
    assert.equal(topology.frontends[0]!.binds[0]!.lastPort, 60001);
  });
});

describe("the web tier", () => {
  it("a discovered group is a Deployment behind a headless Service, the very name HAProxy's slots resolve, scaled by an autoscaler within the slots", () => {
    const p = plan(discoveryTopology());
    const service = p.objects.find((o) => o.id === "web-service")!.object as Service;
    assert.equal(service.spec!.clusterIP, "None");
    assert.match(p.haproxyConfig, new RegExp(`server-template web 10 ${service.metadata!.name}\\.${p.namespace}\\.svc\\.cluster\\.local:5100 `));
    assert.match(p.haproxyConfig, /resolvers dns_web_pool\n\s+parse-resolv-conf\n/);
    const hpa = p.objects.find((o) => o.object.kind === "HorizontalPodAutoscaler")!.object as HorizontalPodAutoscaler;
    assert.deepEqual([hpa.spec!.minReplicas, hpa.spec!.maxReplicas, hpa.spec!.scaleTargetRef.name], [2, 10, "web"]);
    assert.deepEqual(p.objects.find((o) => o.id === "web-deployment")!.ignoreChanges, ["spec[0].replicas"], "Terraform leaves the count to the autoscaler");
  });

  it("a leaving pod keeps serving until HAProxy has stopped sending to it (preStop), within its grace period", () => {
    const topology = parseTopology(discoveryTopology() as any);
    const web = containersOf(deployment(plan(discoveryTopology()), "web"))[0]!;
    const sleep = Number(web.lifecycle!.preStop!.exec!.command![1]);
    assert.equal(sleep, leaveDelaySeconds(topology.backends[0]!.discovery!));
    assert.ok(sleep >= 2 + 5, `${sleep} s covers a resolution, a retry and the cluster DNS's cache`);
    assert.ok(deployment(plan(discoveryTopology()), "web").spec!.template.spec!.terminationGracePeriodSeconds! > sleep);
  });

  it("listed servers are a Deployment and a Service each, named by their address; an address outside the cluster gets none", () => {
    const names = plan(everyFeatureTopology()).objects.map((o) => o.id);
    for (const id of ["web-a-deployment", "web-a-service", "web-b-deployment", "web-b-service"]) assert.ok(names.includes(id), id);
    assert.ok(!names.some((n) => n.startsWith("10-") || n.includes("internal")), names.join(", "));
  });

  it("images are the stack's parameters (registry, tag), pinned where they come from upstream, never guessed", () => {
    const json = JSON.stringify(synth(plan(discoveryTopology())));
    const images = [...json.matchAll(/"image":"([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(images)].sort(), ["${var.haproxy_image}", "${var.image_registry}/flask-lb-discovery-sidecar:${var.image_tag}", "${var.image_registry}/flask-lb-discovery-web:${var.image_tag}"]);
    assert.doesNotMatch(json, /:latest|:local\b/);
  });

  it("names no path or user of the machine that synthesized it", () => {
    const json = JSON.stringify(synth(plan(everyFeatureTopology())));
    for (const machine of [REPO_ROOT.replace(/\/$/, ""), `${tmpdir()}/`, process.env.HOME ?? "/root", `"${userInfo().username}"`]) assert.ok(!json.includes(machine), `the output names ${machine}`);
  });

  it("SRV records the cluster's headless Service cannot be asked for as the model names them are refused, naming the field", () => {
    const srv = discoveryTopology() as any;
    Object.assign(srv.backends[0].discovery, { record: "SRV", dnsName: "_http._tcp.web.lb.internal", port: undefined });
    assert.throws(() => plan(srv), (e: unknown) => e instanceof TargetPlanError && /^backends\.web_pool\.discovery\.record: /.test(e.message));
  });
});

describe("route tables in the Kubernetes stack", () => {
  it("the userlists' password hashes reach HAProxy's environment from the logins Secret (a variable names it); without userlists, no such variable", () => {
    const withLogin = declareKubernetesStack(parseTopology({ name: "routed", userlists: [{ name: "admins", users: [{ name: "alice", passwordHashFromEnv: "LB_ALICE_HASH" }] }], frontends: [{ name: "edge", binds: [{ port: 8080 }], defaultBackend: "app", routes: [{ when: { pathPrefix: "/admin" }, backend: "app", auth: { userlist: "admins", realm: "Admin" } }] }], backends: [{ name: "app", servers: [{ name: "a", address: "app", port: 8080 }] }] }));
    const haproxy = (withLogin.objects.find((o) => o.id === "haproxy")!.object as IDeployment).spec!.template.spec!.containers.find((c) => c.name === "haproxy")!;
    assert.deepEqual(haproxy.env, [{ name: "LB_ALICE_HASH", valueFrom: { secretKeyRef: { name: "${var.login_secret_name}", key: "LB_ALICE_HASH" } } }]);
    assert.equal(synth(withLogin).variable.login_secret_name.default, "haproxy-logins");
    assert.equal(synth(declareKubernetesStack(parseTopology(seedTopology()))).variable.login_secret_name, undefined);
  });

  it("the map files are in the ConfigMap and mounted beside haproxy.cfg where the config names them; an entry changes the ConfigMap, not the pods: a follower in each pod puts it into HAProxy", async () => {
    const input = (entries: { host: string; backend: string }[]) =>
      parseTopology({
        name: "routed",
        frontends: [{ name: "edge", binds: [{ port: 8080 }], defaultBackend: "app", routes: [{ table: "hosts" }], routeTables: [{ name: "hosts", entries }] }],
        backends: [{ name: "app", servers: [{ name: "a", address: "app", port: 8080 }] }],
      });
    const plan = declareKubernetesStack(input([{ host: "a.example.com", backend: "app" }]));
    const configMap = plan.objects.find((o) => o.id === "haproxy-config")!.object as { data: Record<string, string> };
    assert.equal(configMap.data["map-edge.hosts.map"], "a.example.com app\n");
    const deployment = plan.objects.find((o) => o.id === "haproxy")!.object as IDeployment;
    const items = deployment.spec!.template.spec!.volumes!.find((v) => v.name === "config")!.configMap!.items!;
    assert.ok(items.some((i) => i.key === "map-edge.hosts.map" && i.path === "maps/edge.hosts.map"));
    assert.match(plan.haproxyConfig, /map\(maps\/edge\.hosts\.map\)/);
    await checkHaproxyConfig(plan.haproxyConfig, { maps: [{ path: "maps/edge.hosts.map", content: configMap.data["map-edge.hosts.map"]! }] });
    const changed = declareKubernetesStack(input([{ host: "b.example.com", backend: "app" }]));
    const pod = (p: KubernetesStackDeclaration) => (p.objects.find((o) => o.id === "haproxy")!.object as IDeployment).spec!.template;
    assert.deepEqual(pod(changed), pod(plan), "the pod template (its config hash included) does not change: the pods do not roll");
    assert.notDeepEqual(changed.objects.find((o) => o.id === "haproxy-config"), plan.objects.find((o) => o.id === "haproxy-config"));
    const follower = pod(plan).spec!.containers.find((c) => c.name === "route-tables")!;
    assert.deepEqual([follower.command, follower.args], [["node", "/app/agent.mjs"], ["--follow-maps", "/etc/haproxy", "--map", "maps/edge.hosts.map", "--admin-socket", "/var/lib/haproxy/admin.sock", "--interval", "5s"]]);
    assert.deepEqual(follower.securityContext?.runAsGroup, 99, "in HAProxy's group: the admin socket is its");
    // A new table is a new config line: that one does roll the pods.
    const another = declareKubernetesStack(parseTopology({ name: "routed", frontends: [{ name: "edge", binds: [{ port: 8080 }], defaultBackend: "app", routes: [{ table: "hosts" }, { table: "more" }], routeTables: [{ name: "hosts", entries: [] }, { name: "more", entries: [] }] }], backends: [{ name: "app", servers: [{ name: "a", address: "app", port: 8080 }] }] }));
    assert.notEqual(pod(another).metadata!.annotations![CONFIG_HASH_ANNOTATION], pod(plan).metadata!.annotations![CONFIG_HASH_ANNOTATION]);
  });
});
