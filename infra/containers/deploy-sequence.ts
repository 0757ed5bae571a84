// What `cdktf deploy` would create, read from the synthesized cdk.tf.json and turned into Docker
// Engine API requests for a local engine (podman's Docker-compatible service). A test and
// development tool: it covers exactly the resource types and attributes the stack uses, with the
// docker provider's documented meaning, and refuses anything else by name, so that an attribute
// added to the stack is never silently ignored here. Pure: no engine, no files.
import { posix } from "node:path";
import { DeployUnsupportedError } from "../errors.ts";

/** The attributes each resource type may carry: anything else is refused. "//" is cdktf's metadata. */
export const KNOWN_ATTRIBUTES = {
  docker_image: ["name", "keep_locally", "build", "triggers", "//"],
  docker_network: ["name", "driver", "//"],
  docker_volume: ["name", "//"],
  docker_container: [
    "name", "hostname", "image", "restart", "entrypoint", "command", "env", "user", "group_add", "networks_advanced",
    "ports", "upload", "volumes", "healthcheck", "read_only", "tmpfs", "privileged", "security_opts", "must_run", "wait",
    "depends_on", "//",
  ],
} as const;
type ResourceType = keyof typeof KNOWN_ATTRIBUTES;
const NESTED_ATTRIBUTES: Record<string, readonly string[]> = {
  "docker_image.build": ["context", "dockerfile", "build_args"],
  "docker_container.networks_advanced": ["name", "aliases"],
  "docker_container.ports": ["internal", "external", "ip", "protocol"],
  "docker_container.upload": ["file", "content"],
  "docker_container.volumes": ["volume_name", "container_path", "read_only", "host_path"],
  "docker_container.healthcheck": ["test", "interval", "timeout", "retries", "start_period"],
};

export interface ImageToBuild {
  kind: "build";
  resource: string;
  name: string;
  /** The build context, relative to the synthesized stack's directory resolved against `stackDir`. */
  context: string;
  dockerfile: string;
  buildArgs: Record<string, string>;
}
export interface ImageToPull {
  kind: "pull";
  resource: string;
  name: string;
}

/** The body of POST /containers/create (Docker Engine API 1.41, which podman 4 serves). */
export interface EngineContainerCreate {
  Image: string;
  Hostname?: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Healthcheck?: { Test: string[]; Interval: number; Timeout: number; Retries: number; StartPeriod: number };
  HostConfig: {
    NetworkMode: string;
    PortBindings?: Record<string, { HostIp: string; HostPort: string }[]>;
    Mounts?: { Type: "volume" | "bind"; Source: string; Target: string; ReadOnly: boolean }[];
    RestartPolicy?: { Name: string };
    ReadonlyRootfs: boolean;
    Tmpfs?: Record<string, string>;
    Privileged: boolean;
    SecurityOpt?: string[];
    GroupAdd?: string[];
    Dns?: string[];
  };
  NetworkingConfig: { EndpointsConfig: Record<string, { Aliases: string[] }> };
}

export interface ContainerToRun {
  resource: string;
  name: string;
  create: EngineContainerCreate;
  /** Files copied in after create, before start (Terraform's upload blocks). */
  uploads: { path: string; content: string }[];
  /** Terraform waits for its health check before creating what depends on it. */
  waitHealthy: boolean;
  /** Containers (by name) created before this one. */
  after: string[];
}

export interface DeploySequence {
  images: (ImageToBuild | ImageToPull)[];
  networks: { name: string; driver: string }[];
  volumes: string[];
  /** In an order that respects depends_on. */
  containers: ContainerToRun[];
}

export interface DeployInputs {
  /** The synthesized stack's directory: ${path.module} in the stack. */
  stackDir: string;
  /** Values of the stack's Terraform variables (TF_VAR_<name>). */
  variables: Record<string, string>;
}

/** Reads a synthesized docker stack into what to build, create and start; refuses what it does not know. */
export function deploySequence(stack: { resource?: Record<string, Record<string, Record<string, unknown>>>; variable?: Record<string, unknown> }, inputs: DeployInputs): DeploySequence {
  const resources = stack.resource ?? {};
  for (const type of Object.keys(resources)) {
    if (!(type in KNOWN_ATTRIBUTES)) throw new DeployUnsupportedError(`resource.${type}`, "the local deployer knows no such resource type");
  }
  for (const [type, byId] of Object.entries(resources) as [ResourceType, Record<string, Record<string, unknown>>][]) {
    for (const [id, body] of Object.entries(byId)) refuseUnknown(`resource.${type}.${id}`, type, body);
  }
  for (const name of Object.keys(stack.variable ?? {})) {
    if (inputs.variables[name] === undefined) throw new DeployUnsupportedError(`variable.${name}`, "has no value", `set TF_VAR_${name}`);
  }
  const of = (type: ResourceType) => Object.entries(resources[type] ?? {});
  const resolve = interpolator(resources, inputs);
  // Every expression anywhere in a resource must be one this deployer evaluates, used or not.
  const everyString = (value: unknown): void => {
    if (typeof value === "string") resolve(value);
    else if (value !== null && typeof value === "object") Object.values(value).forEach(everyString);
  };
  for (const byId of Object.values(resources)) for (const body of Object.values(byId)) everyString(Object.fromEntries(Object.entries(body).filter(([key]) => key !== "//" && key !== "depends_on")));

  const images = of("docker_image").map(([id, body]): ImageToBuild | ImageToPull => {
    const build = body.build as { context: string; dockerfile?: string; build_args?: Record<string, string> } | undefined;
    if (!build) return { kind: "pull", resource: id, name: String(body.name) };
    return { kind: "build", resource: id, name: String(body.name), context: posix.normalize(resolve(build.context)), dockerfile: build.dockerfile ?? "Dockerfile", buildArgs: build.build_args ?? {} };
  });
  const networks = of("docker_network").map(([, body]) => ({ name: String(body.name), driver: String(body.driver ?? "bridge") }));
  const volumes = of("docker_volume").map(([, body]) => String(body.name));
  const containers = of("docker_container").map(([id, body]) => containerToRun(id, body, resolve));
  return { images, networks, volumes, containers: inDependencyOrder(containers) };
}

function refuseUnknown(path: string, type: ResourceType, body: Record<string, unknown>): void {
  const known: readonly string[] = KNOWN_ATTRIBUTES[type];
  for (const [key, value] of Object.entries(body)) {
    if (!known.includes(key)) throw new DeployUnsupportedError(`${path}.${key}`, "the local deployer knows no such attribute");
    const nested = NESTED_ATTRIBUTES[`${type}.${key}`];
    if (!nested) continue;
    for (const [i, item] of (Array.isArray(value) ? value : [value]).entries()) {
      for (const inner of Object.keys(item as object)) {
        if (!nested.includes(inner)) throw new DeployUnsupportedError(`${path}.${key}${Array.isArray(value) ? `[${i}]` : ""}.${inner}`, "the local deployer knows no such attribute");
      }
    }
  }
}

/** Replaces the Terraform references our stack uses: images, networks, volumes, variables, path.module. */
function interpolator(resources: Record<string, Record<string, Record<string, unknown>>>, inputs: DeployInputs): (text: string) => string {
  return (text) =>
    text.replace(/\$\{([^}]+)\}/g, (whole, expression: string) => {
      if (expression === "path.module") return inputs.stackDir;
      const variable = /^var\.([A-Za-z0-9_]+)$/.exec(expression);
      if (variable) return inputs.variables[variable[1]!] ?? whole;
      const reference = /^(docker_image|docker_network|docker_volume)\.([^.]+)\.(image_id|name)$/.exec(expression);
      if (reference) {
        const target = resources[reference[1]!]?.[reference[2]!];
        if (!target) throw new DeployUnsupportedError(`\${${expression}}`, "names a resource the stack does not declare", "fix the stack");
        return String(target.name);
      }
      throw new DeployUnsupportedError(`\${${expression}}`, "an expression the local deployer does not evaluate");
    });
}

/** Go's duration strings ("5s", "500ms", "1m30s") in nanoseconds, as the Engine API wants them. */
export function goDurationNs(text: string): number {
  const units: Record<string, number> = { h: 3600e9, m: 60e9, s: 1e9, ms: 1e6, us: 1e3, µs: 1e3, ns: 1 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) throw new DeployUnsupportedError(`"${text}"`, "is not a Go duration", "use one like 5s or 500ms");
  return Math.round(parts.reduce((ns, [, value, unit]) => ns + Number(value) * units[unit!]!, 0));
}

function containerToRun(id: string, body: Record<string, any>, resolve: (text: string) => string): ContainerToRun {
  const resolveAll = (values: string[] | undefined) => values?.map(resolve);
  const networks = (body.networks_advanced ?? []) as { name: string; aliases?: string[] }[];
  if (networks.length !== 1) throw new DeployUnsupportedError(`resource.docker_container.${id}.networks_advanced`, `${networks.length} networks, where the local deployer handles exactly one`);
  const network = resolve(networks[0]!.name);
  const ports = (body.ports ?? []) as { internal: number; external?: number; ip?: string; protocol?: string }[];
  const portKey = (p: (typeof ports)[number]) => `${p.internal}/${p.protocol ?? "tcp"}`;
  const hc = body.healthcheck as { test: string[]; interval?: string; timeout?: string; retries?: number; start_period?: string } | undefined;
  const create: EngineContainerCreate = {
    Image: resolve(body.image),
    ...(body.hostname !== undefined && { Hostname: resolve(body.hostname) }),
    ...(body.entrypoint && { Entrypoint: resolveAll(body.entrypoint) }),
    ...(body.command && { Cmd: resolveAll(body.command) }),
    ...(body.env && { Env: resolveAll(body.env) }),
    ...(body.user && { User: body.user }),
    ...(ports.length && { ExposedPorts: Object.fromEntries(ports.map((p) => [portKey(p), {}])) }),
    // The provider's defaults: 0s means "not set" to the engine, which then uses its own.
    ...(hc && { Healthcheck: { Test: hc.test, Interval: goDurationNs(hc.interval ?? "0s"), Timeout: goDurationNs(hc.timeout ?? "0s"), Retries: hc.retries ?? 0, StartPeriod: goDurationNs(hc.start_period ?? "0s") } }),
    HostConfig: {
      NetworkMode: network,
      ...(ports.length && { PortBindings: Object.fromEntries(ports.map((p) => [portKey(p), [{ HostIp: p.ip ?? "0.0.0.0", HostPort: String(p.external ?? p.internal) }]])) }),
      ...(body.volumes && {
        Mounts: (body.volumes as { volume_name?: string; host_path?: string; container_path: string; read_only?: boolean }[]).map((v) => ({
          Type: v.volume_name !== undefined ? ("volume" as const) : ("bind" as const),
          Source: resolve(v.volume_name ?? v.host_path!),
          Target: v.container_path,
          ReadOnly: v.read_only ?? false,
        })),
      }),
      ...(body.restart && { RestartPolicy: { Name: body.restart } }),
      ReadonlyRootfs: body.read_only ?? false,
      ...(body.tmpfs && { Tmpfs: body.tmpfs }),
      Privileged: body.privileged ?? false,
      ...(body.security_opts && { SecurityOpt: body.security_opts }),
      ...(body.group_add && { GroupAdd: body.group_add }),
    },
    NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: networks[0]!.aliases ?? [] } } },
  };
  const after = ((body.depends_on ?? []) as string[]).map((ref) => {
    const m = /^docker_container\.(.+)$/.exec(ref);
    if (!m) throw new DeployUnsupportedError(`resource.docker_container.${id}.depends_on`, `depends on ${ref}, and the local deployer orders containers only`);
    return m[1]!;
  });
  return {
    resource: id,
    name: String(body.name),
    create,
    uploads: ((body.upload ?? []) as { file: string; content: string }[]).map((u) => ({ path: u.file, content: resolve(u.content) })),
    waitHealthy: body.wait === true,
    after,
  };
}

/** Containers ordered so that each comes after what it depends on (resource ids in `after` become names). */
function inDependencyOrder(containers: ContainerToRun[]): ContainerToRun[] {
  const byResource = new Map(containers.map((c) => [c.resource, c]));
  const ordered: ContainerToRun[] = [];
  const visiting = new Set<string>();
  const visit = (c: ContainerToRun) => {
    if (ordered.includes(c)) return;
    if (visiting.has(c.resource)) throw new DeployUnsupportedError(`resource.docker_container.${c.resource}.depends_on`, "depends on itself through a cycle", "fix the stack");
    visiting.add(c.resource);
    for (const dep of c.after) {
      const target = byResource.get(dep);
      if (!target) throw new DeployUnsupportedError(`resource.docker_container.${c.resource}.depends_on`, `depends on docker_container.${dep}, which the stack does not declare`, "fix the stack");
      visit(target);
    }
    ordered.push(c);
  };
  containers.forEach(visit);
  return ordered.map((c) => ({ ...c, after: c.after.map((dep) => byResource.get(dep)!.name) }));
}
