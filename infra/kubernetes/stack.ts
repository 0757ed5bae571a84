// The Kubernetes CDKTF stack: the plan's objects as @cdktf/provider-kubernetes resources. With the
// Docker stack, the only modules that import cdktf. The provider spells the API's fields its own way
// (a list of containers is repeated "container" blocks, a port number in an IntOrString is a string),
// so one mechanical translation maps each object; tests hold the result to the provider's schema.
import { Construct } from "constructs";
import { LocalBackend, TerraformOutput, TerraformStack, TerraformVariable } from "cdktf";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1/index.js";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1/index.js";
import { HorizontalPodAutoscalerV2 } from "@cdktf/provider-kubernetes/lib/horizontal-pod-autoscaler-v2/index.js";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1/index.js";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1/index.js";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider/index.js";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1/index.js";
import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest/index.js";
import { KUBERNETES_VARIABLES, type KubernetesStackDeclaration, type PlannedObject } from "./declaration.ts";

/** API list fields whose provider block is named in the singular. */
const SINGULAR: Record<string, string> = {
  containers: "container",
  ports: "port",
  volumeMounts: "volumeMount",
  volumes: "volume",
  topologySpreadConstraints: "topologySpreadConstraint",
  metrics: "metric",
};

/** API fields the provider names otherwise. */
const RENAMED: Record<string, string> = { clusterIP: "clusterIp", preferredDuringSchedulingIgnoredDuringExecution: "preferredDuringSchedulingIgnoredDuringExecution" };

/** API objects the provider takes as a list of one block ("field@parent" where only under that parent). */
const AS_LIST = new Set(["labelSelector", "preStop", "projected", "secret@sources"]);

/** Numbers the provider takes as strings (IntOrString fields, and a few it types so). */
const AS_STRING = new Set(["replicas", "maxUnavailable", "maxSurge", "targetPort", "runAsUser", "runAsGroup", "fsGroup", "port@httpGet"]);

/** Pure: an object in the API's shape → the provider's config for it (camelCase; cdktf writes snake_case). */
export function toProviderConfig(value: unknown, key = "", parent = ""): unknown {
  if (Array.isArray(value)) return value.map((v) => toProviderConfig(v, key, parent));
  if (value !== null && typeof value === "object") {
    // Maps of strings (labels, annotations, data, resources' requests and limits) are kept as they are.
    if (["labels", "annotations", "data", "matchLabels", "selector", "requests", "limits"].includes(key) && Object.values(value).every((v) => typeof v === "string")) return value;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => {
        const name = Array.isArray(v) && v.some((x) => x !== null && typeof x === "object") ? (SINGULAR[k] ?? k) : (RENAMED[k] ?? k);
        const converted = toProviderConfig(v, k, key);
        return [name, (AS_LIST.has(k) || AS_LIST.has(`${k}@${key}`)) && !Array.isArray(v) ? [converted] : converted];
      }),
    );
  }
  if (typeof value === "number" && (AS_STRING.has(key) || AS_STRING.has(`${key}@${parent}`))) return String(value);
  return value;
}

export class KubernetesTopologyStack extends TerraformStack {
  constructor(scope: Construct, plan: KubernetesStackDeclaration) {
    super(scope, `${plan.name}-kubernetes`);
    new LocalBackend(this, { path: `../../../terraform.${plan.name}-kubernetes.tfstate` });
    for (const v of Object.values(KUBERNETES_VARIABLES)) {
      if (v === KUBERNETES_VARIABLES.tlsSecret && !plan.usesTls) continue;
      if ((v === KUBERNETES_VARIABLES.certManagerIssuer || v === KUBERNETES_VARIABLES.certManagerIssuerKind) && !plan.managesCertificates) continue;
      if (v === KUBERNETES_VARIABLES.loginSecret && !plan.readsLogins) continue;
      new TerraformVariable(this, v.name, { type: "string", description: v.description, ...("default" in v && { default: v.default }) });
    }
    new KubernetesProvider(this, "kubernetes", { configPath: `\${var.${KUBERNETES_VARIABLES.kubeconfig.name}}` });

    const namespace = plan.objects.find((o) => o.object.kind === "Namespace")!;
    const ns = new NamespaceV1(this, namespace.id, toProviderConfig(namespace.object) as any);
    for (const planned of plan.objects) {
      if (planned === namespace) continue;
      // A custom resource (cert-manager's Certificate) is a manifest as the API takes it; its CRD must be installed before the plan.
      if (planned.object.kind === "Certificate") {
        new Manifest(this, planned.id, { manifest: planned.object as unknown as Record<string, unknown>, dependsOn: [ns] });
        continue;
      }
      const config = { ...(toProviderConfig(stripTypeMeta(planned)) as object), dependsOn: [ns], ...(planned.ignoreChanges && { lifecycle: { ignoreChanges: planned.ignoreChanges } }) };
      const Resource = RESOURCES[planned.object.kind];
      if (!Resource) throw new Error(`no provider resource for ${planned.object.kind}`);
      new Resource(this, planned.id, config as any);
    }
    new TerraformOutput(this, "stack_namespace", { value: plan.namespace, description: "Where the stack's objects are" });
  }
}

/** apiVersion and kind are the resource type's in Terraform, not fields. */
function stripTypeMeta({ object }: PlannedObject): object {
  const { apiVersion: _apiVersion, kind: _kind, ...rest } = object;
  return rest;
}

const RESOURCES: Record<string, new (scope: Construct, id: string, config: any) => unknown> = {
  ConfigMap: ConfigMapV1,
  Deployment: DeploymentV1,
  Service: ServiceV1,
  PodDisruptionBudget: PodDisruptionBudgetV1,
  HorizontalPodAutoscaler: HorizontalPodAutoscalerV2,
};
