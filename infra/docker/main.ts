// The CDKTF app (cdktf.json "app", npm run synth): the topology → cdktf.out/.
//   npm run synth [-- --topology FILE]
import { relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { App } from "cdktf";
import { runMain } from "../cli-main.ts";
import { DEFAULT_TOPOLOGY_FILE, loadTopologyFile } from "../model/load.ts";
import { REPO_ROOT } from "../repo.ts";
import { planDockerStack } from "./plan.ts";
import { DockerTopologyStack } from "./stack.ts";

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { topology: { type: "string", default: DEFAULT_TOPOLOGY_FILE }, outdir: { type: "string" } }, strict: true });
  const topology = await loadTopologyFile(values.topology);
  // cdktf's CLI passes the output directory in CDKTF_OUTDIR; run on its own, it is cdktf.out.
  const app = new App({ outdir: values.outdir ?? process.env.CDKTF_OUTDIR ?? resolve(REPO_ROOT, "cdktf.out"), skipValidation: false });
  new DockerTopologyStack(app, planDockerStack(topology, { source: relative(REPO_ROOT, resolve(values.topology)) }));
  app.synth();
  process.stderr.write(`synthesized stack "${topology.name}" into ${relative(process.cwd(), app.outdir) || "."}/stacks/${topology.name}/cdk.tf.json\n`);
  return 0;
}

runMain(main);
