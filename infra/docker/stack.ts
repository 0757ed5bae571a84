// The CDKTF stack: the docker plan as Terraform resources (@cdktf/provider-docker). The only module
// that imports cdktf; its output, cdk.tf.json, is plain Terraform JSON.
import { Construct } from "constructs";
import { LocalBackend, TerraformOutput, TerraformStack, TerraformVariable } from "cdktf";
import { Container } from "@cdktf/provider-docker/lib/container/index.js";
import { Image, type ImageConfig } from "@cdktf/provider-docker/lib/image/index.js";
import { Network } from "@cdktf/provider-docker/lib/network/index.js";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider/index.js";
import { Volume } from "@cdktf/provider-docker/lib/volume/index.js";
import { REPO_ROOT } from "../repo.ts";
import { imageSourceHash } from "./image-sources.ts";
import { FROM_STACK_DIR_TO_REPO, type DockerStackDeclaration } from "./declaration.ts";

export class DockerTopologyStack extends TerraformStack {
  constructor(scope: Construct, plan: DockerStackDeclaration) {
    super(scope, plan.name);
    // Relative to cdktf.out/stacks/<name>, where Terraform runs: the state lands at the repository
    // root, and no absolute path of the synthesizing machine is written (cdktf's default would be).
    new LocalBackend(this, { path: `../../../terraform.${plan.name}.tfstate` });
    new DockerProvider(this, "docker", {});

    const network = new Network(this, "network", { name: plan.network, driver: "bridge" });
    const volumes = new Map(plan.volumes.map((name) => [name, new Volume(this, `volume-${name}`, { name })]));
    const images = new Map<string, Image>();
    const needsCertificates = plan.containers.some((c) => c.certificates);
    const certificatesDir = needsCertificates
      ? new TerraformVariable(this, "certificates_dir", { type: "string", description: "Directory on the Docker host holding the PEM files the TLS binds name" })
      : undefined;

    for (const variable of plan.variables) new TerraformVariable(this, variable.name, { type: "string", description: variable.description, sensitive: variable.sensitive });

    const created = new Map<string, Container>();
    for (const container of plan.containers) {
      let image = images.get(container.image.name);
      if (!image) {
        const spec = container.image;
        const config: ImageConfig =
          spec.kind === "build"
            ? {
                name: spec.name,
                keepLocally: true,
                buildAttribute: { context: spec.context === "." ? FROM_STACK_DIR_TO_REPO : `${FROM_STACK_DIR_TO_REPO}/${spec.context}`, dockerfile: spec.dockerfile },
                // A change to the sources changes this hash, and Terraform rebuilds the image.
                triggers: { source: imageSourceHash(REPO_ROOT, spec.sources) },
              }
            : { name: spec.name, keepLocally: true };
        image = new Image(this, `image-${spec.name.replace(/[^a-zA-Z0-9-]/g, "-")}`, config);
        images.set(spec.name, image);
      }
      const resource = new Container(this, `container-${container.name}`, {
        name: container.name,
        hostname: container.name,
        image: image.imageId,
        restart: "unless-stopped",
        entrypoint: container.entrypoint,
        command: container.command,
        env: container.env ? Object.entries(container.env).map(([k, v]) => `${k}=${v}`) : undefined,
        user: container.user,
        groupAdd: container.groupAdd,
        networksAdvanced: [{ name: network.name, aliases: container.aliases }],
        ports: container.ports.map((p) => ({ internal: p.internal, external: p.external, ip: p.ip, protocol: "tcp" })),
        upload: container.uploads.map((u) => ({ file: u.path, content: u.content })),
        volumes: [
          ...container.volumes.map((v) => ({ volumeName: volumes.get(v.volume)!.name, containerPath: v.containerPath, readOnly: v.readOnly })),
          ...(container.certificates && certificatesDir ? [{ hostPath: certificatesDir.stringValue, containerPath: container.certificates.containerPath, readOnly: true }] : []),
        ],
        healthcheck: container.healthcheck,
        readOnly: container.readOnlyRootfs,
        tmpfs: container.tmpfs,
        // Nothing in the stack needs more than its image gives: no privileged mode, no host network
        // (every container is on the stack's bridge network), and no gaining privileges by setuid.
        privileged: false,
        securityOpts: ["no-new-privileges:true"],
        mustRun: true,
        wait: container.waitHealthy,
        dependsOn: container.dependsOn?.map((name) => created.get(name)!),
      });
      created.set(container.name, resource);
    }

    const published = plan.containers.flatMap((c) => c.ports.map((p) => `${c.name}: ${p.ip}:${p.external}`));
    new TerraformOutput(this, "published_ports", { value: published, description: "What listens on the Docker host" });
  }
}
