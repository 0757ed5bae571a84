// Both CDKTF stacks of a topology synthesized into a directory: what npm run synth writes, and what
// npm run plan compares for each side of a change. The only caller of the two stack modules.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { App } from "cdktf";
import type { Topology } from "./model/schema.ts";
import { declareDockerStack } from "./docker/declaration.ts";
import { DockerTopologyStack } from "./docker/stack.ts";
import { declareKubernetesStack } from "./kubernetes/declaration.ts";
import { KubernetesTopologyStack } from "./kubernetes/stack.ts";

export interface StackOptions {
  source: string;
  haproxyReplicas?: number;
}

export interface SynthesizedStacks {
  outdir: string;
  /** Stack name → its cdk.tf.json, parsed. */
  stacks: Map<string, { resource?: Record<string, Record<string, Record<string, unknown>>> }>;
}

export function synthesizeStacks(topology: Topology, outdir: string, options: StackOptions): SynthesizedStacks {
  const docker = declareDockerStack(topology, { source: options.source });
  const kubernetes = declareKubernetesStack(topology, { source: options.source, haproxyReplicas: options.haproxyReplicas });
  const app = new App({ outdir, skipValidation: false });
  const ids = [new DockerTopologyStack(app, docker), new KubernetesTopologyStack(app, kubernetes)].map((s) => s.node.id);
  app.synth();
  return { outdir, stacks: new Map(ids.map((id) => [id, JSON.parse(readFileSync(join(outdir, "stacks", id, "cdk.tf.json"), "utf8"))])) };
}
