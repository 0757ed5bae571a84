// What the local deployer deploys: the CDKTF stack as cdktf writes it (cdktf.out, as npm run synth
// does), read back from its cdk.tf.json, less what cannot run here.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { App } from "cdktf";
import type { Topology } from "../model/schema.ts";
import { REPO_ROOT } from "../repo.ts";
import { declareDockerStack } from "../docker/declaration.ts";
import { PINNED_IMAGES } from "../images.ts";
import { DockerTopologyStack } from "../docker/stack.ts";
import type { DeploySequence } from "./deploy-sequence.ts";

/** Upstream images with no stand-in here: their containers are left out of the local deployment. */
export const LEFT_OUT = [PINNED_IMAGES.grafana];

/** Writes the stack with cdktf into cdktf.out (as npm run synth does) and reads back its cdk.tf.json. */
export function synthesizeStack(topology: Topology, source: string): { json: any; stackDir: string } {
  const app = new App({ outdir: resolve(REPO_ROOT, "cdktf.out") });
  new DockerTopologyStack(app, declareDockerStack(topology, { source }));
  app.synth();
  const stackDir = join(app.outdir, "stacks", topology.name);
  return { json: JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")), stackDir };
}

/** The deploy plan without the containers whose image cannot exist here. */
export function withoutLeftOut(plan: DeploySequence, log: (line: string) => void): DeploySequence {
  const leftOut = plan.containers.filter((c) => LEFT_OUT.includes(c.create.Image as (typeof LEFT_OUT)[number]));
  for (const c of leftOut) log(`${c.name} left out: ${c.create.Image} cannot be pulled here and has no Debian package to stand in (its provisioning files are checked at synth level)`);
  return { ...plan, images: plan.images.filter((i) => !LEFT_OUT.includes(i.name as (typeof LEFT_OUT)[number])), containers: plan.containers.filter((c) => !leftOut.includes(c)) };
}

