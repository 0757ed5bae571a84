// A provider's schema as its @cdktf package carries it (docker, kubernetes): each resource's config
// interface in its .d.ts files, where every attribute is documented with its Terraform name
// ("Docs at Terraform Registry: {@link ...#tf_name ...}") and typed. Read once, it lets a test check
// every attribute of cdk.tf.json, nested blocks included: no Terraform, no provider download.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../infra/repo.ts";

export type AttributeType =
  | { kind: "string" | "number" | "boolean" | "string-list" | "number-list" | "string-map" | "dynamic" }
  | { kind: "block"; schema: string; list: boolean };

/** Interface name → Terraform attribute name → type. */
export type ProviderSchema = Map<string, Map<string, AttributeType>>;

/** The providers the stacks use: their package and resource-type prefix. */
export const PROVIDERS = {
  docker: { lib: join(REPO_ROOT, "node_modules/@cdktf/provider-docker/lib"), config: "DockerProviderConfig" },
  kubernetes: { lib: join(REPO_ROOT, "node_modules/@cdktf/provider-kubernetes/lib"), config: "KubernetesProviderConfig" },
} as const;
export type ProviderName = keyof typeof PROVIDERS;
const PROPERTY = /\{@link \S+#([a-z0-9_]+) [^}]*\}\s*\*\/\s*readonly [A-Za-z0-9]+\??: (\{[^}]*\};|[^;]+;)/g;

function attributeType(tsType: string): AttributeType {
  const t = tsType.replace(/;$/, "").replace(/\s+/g, " ").trim();
  if (t === "string") return { kind: "string" };
  if (t === "number") return { kind: "number" };
  if (t === "boolean | cdktf.IResolvable") return { kind: "boolean" };
  if (t === "string[]") return { kind: "string-list" };
  if (t === "number[]") return { kind: "number-list" };
  if (/^\{ \[key: string\]: string;? \}$/.test(t)) return { kind: "string-map" };
  // A dynamic attribute (kubernetes_manifest's manifest): any object, which the provider checks against the cluster's CRD.
  if (/^\{ \[key: string\]: any;? \}$/.test(t)) return { kind: "dynamic" };
  const list = /^([A-Z][A-Za-z0-9]*)\[\] \| cdktf\.IResolvable$/.exec(t);
  if (list) return { kind: "block", schema: list[1]!, list: true };
  if (/^[A-Z][A-Za-z0-9]*$/.test(t)) return { kind: "block", schema: t, list: false };
  throw new Error(`provider-schema: a type this reader does not know: ${t}`);
}

/** Every .d.ts file of a module (the kubernetes provider splits its structs over several). */
function declarationFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? declarationFiles(join(dir, f)) : f.endsWith(".d.ts") ? [join(dir, f)] : []));
}

/** The interfaces of one module of the provider (e.g. "container"), with their attributes. */
export function readProviderModule(module: string, provider: ProviderName = "docker"): ProviderSchema {
  const text = declarationFiles(join(PROVIDERS[provider].lib, module)).map((f) => readFileSync(f, "utf8")).join("\n");
  const schema: ProviderSchema = new Map();
  for (const match of text.matchAll(/export interface ([A-Za-z0-9]+)(?: extends [^{]+)? \{([\s\S]*?)\n\}/g)) {
    const attributes = new Map<string, AttributeType>();
    for (const [, tfName, tsType] of match[2]!.matchAll(PROPERTY)) attributes.set(tfName!, attributeType(tsType!));
    if (attributes.size > 0) schema.set(match[1]!, attributes);
  }
  return schema;
}

/** Terraform's meta-arguments, allowed on every resource. */
const META_ARGUMENTS = new Set(["depends_on", "count", "for_each", "provider", "lifecycle", "provisioner", "connection", "//"]);

/** "docker_container" → its module and config interface: container, ContainerConfig. */
export function resourceSchemaName(resourceType: string, provider: ProviderName = "docker"): { module: string; config: string } {
  const rest = resourceType.replace(new RegExp(`^${provider}_`), "");
  const pascal = rest.split("_").map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
  return { module: rest.replaceAll("_", "-"), config: `${pascal}Config` };
}

const isToken = (value: unknown) => typeof value === "string" && value.includes("${");

/** Every problem of `value` against the interface `config`, each with its path; [] when it fits. */
export function schemaProblems(schema: ProviderSchema, config: string, value: Record<string, unknown>, path: string): string[] {
  const attributes = schema.get(config);
  if (!attributes) return [`${path}: the provider has no ${config}`];
  const problems: string[] = [];
  for (const [name, item] of Object.entries(value)) {
    const at = `${path}.${name}`;
    const type = attributes.get(name);
    if (!type) {
      if (!META_ARGUMENTS.has(name)) problems.push(`${at}: not an attribute of ${config}`);
      continue;
    }
    problems.push(...valueProblems(schema, type, item, at));
  }
  return problems;
}

function valueProblems(schema: ProviderSchema, type: AttributeType, value: unknown, at: string): string[] {
  if (isToken(value)) return [];
  const wrong = (what: string) => [`${at}: ${JSON.stringify(value)?.slice(0, 60)} is not ${what}`];
  switch (type.kind) {
    case "string":
      return typeof value === "string" ? [] : wrong("a string");
    case "number":
      return typeof value === "number" ? [] : wrong("a number");
    case "boolean":
      return typeof value === "boolean" ? [] : wrong("a boolean");
    case "string-list":
      return Array.isArray(value) && value.every((v) => typeof v === "string") ? [] : wrong("a list of strings");
    case "number-list":
      return Array.isArray(value) && value.every((v) => typeof v === "number") ? [] : wrong("a list of numbers");
    case "dynamic":
      return value !== null && typeof value === "object" && !Array.isArray(value) ? [] : wrong("an object");
    case "string-map":
      return value !== null && typeof value === "object" && !Array.isArray(value) && Object.values(value).every((v) => typeof v === "string") ? [] : wrong("a map of strings");
    case "block": {
      const blocks = type.list ? value : [value];
      if (!Array.isArray(blocks) || !blocks.every((b) => b !== null && typeof b === "object" && !Array.isArray(b))) return wrong(type.list ? `a list of ${type.schema} blocks` : `a ${type.schema} block`);
      return blocks.flatMap((b, i) => schemaProblems(schema, type.schema, b as Record<string, unknown>, type.list ? `${at}[${i}]` : at));
    }
  }
}

/** Every problem of a synthesized stack's resources and provider against the provider's schema. */
export function stackSchemaProblems(stack: { resource?: Record<string, Record<string, Record<string, unknown>>>; provider?: Record<string, Record<string, unknown>[]> }, provider: ProviderName = "docker"): string[] {
  const problems: string[] = [];
  for (const [resourceType, resources] of Object.entries(stack.resource ?? {})) {
    const { module, config } = resourceSchemaName(resourceType, provider);
    let schema: ProviderSchema;
    try {
      schema = readProviderModule(module, provider);
    } catch {
      problems.push(`resource.${resourceType}: the ${provider} provider has no such resource`);
      continue;
    }
    for (const [id, value] of Object.entries(resources)) problems.push(...schemaProblems(schema, config, value, `resource.${resourceType}.${id}`));
  }
  for (const [name, configs] of Object.entries(stack.provider ?? {})) {
    if (name !== provider) problems.push(`provider.${name}: not the ${provider} provider`);
    else configs.forEach((c, i) => problems.push(...schemaProblems(readProviderModule("provider", provider), PROVIDERS[provider].config, c, `provider.${provider}[${i}]`)));
  }
  return problems;
}
