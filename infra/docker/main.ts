// The CDKTF app (cdktf.json "app", npm run synth): the topology → cdktf.out/.
//   npm run synth [-- --topology FILE] [--outdir DIR]
import { relative, resolve } from "node:path";
import { App } from "cdktf";
import { parseCliArgs, runMain } from "../../lib/cli.ts";
import { DEFAULT_TOPOLOGY_FILE, loadTopologyFile } from "../model/load.ts";
import { checkHaproxyConfig } from "../render/haproxy-check.ts";
import { dockerTarget } from "../render/targets.ts";
import { renderHaproxyConfig } from "../render/render.ts";
import { certificateFiles } from "../render/validate.ts";
import { REPO_ROOT } from "../repo.ts";
import { planDockerStack } from "./plan.ts";
import { DockerTopologyStack } from "./stack.ts";

const USAGE = `usage: npm run synth [-- --topology FILE] [--outdir DIR]

  --topology FILE  a .ts/.js module exporting "topology", or a .json document (default ${DEFAULT_TOPOLOGY_FILE})
  --outdir DIR     where cdktf writes the stacks (default $CDKTF_OUTDIR, else cdktf.out)`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(argv, { topology: { type: "string", default: DEFAULT_TOPOLOGY_FILE }, outdir: { type: "string" } }, USAGE);
  const topology = await loadTopologyFile(values.topology);
  const plan = planDockerStack(topology, { source: relative(REPO_ROOT, resolve(values.topology)) });
  // Every config the apply agent will write has passed the real HAProxy's check, as render's do.
  // TLS certificates exist only on the Docker host (the certificates_dir variable): stand in for them.
  await checkHaproxyConfig(renderHaproxyConfig(topology, dockerTarget()), { placeholderCertificates: certificateFiles(topology) });
  // cdktf's CLI passes the output directory in CDKTF_OUTDIR; run on its own, it is cdktf.out.
  const app = new App({ outdir: values.outdir ?? process.env.CDKTF_OUTDIR ?? resolve(REPO_ROOT, "cdktf.out"), skipValidation: false });
  new DockerTopologyStack(app, plan);
  app.synth();
  process.stderr.write(`synthesized stack "${topology.name}" into ${relative(process.cwd(), app.outdir) || "."}/stacks/${topology.name}/cdk.tf.json (haproxy -c: valid)\n`);
  return 0;
}

runMain(main);
