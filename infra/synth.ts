// The CDKTF app (cdktf.json "app", npm run synth): the topology → cdktf.out/, two stacks from one
// model: "<name>" for one Docker host, "<name>-kubernetes" for a cluster.
//   npm run synth [-- --topology FILE] [--outdir DIR] [--haproxy-replicas N]
import { relative, resolve } from "node:path";
import { parseCliArgs, runMain } from "../lib/cli.ts";
import { UsageError } from "../lib/errors.ts";
import { DEFAULT_TOPOLOGY_FILE, loadTopologyFile } from "./model/load.ts";
import { dockerTarget } from "./render/targets.ts";
import { renderHaproxyConfig } from "./render/render.ts";
import { mapFiles } from "./render/routing.ts";
import { certificateFiles, checkTopologyConfig } from "./render/validate.ts";
import { REPO_ROOT } from "./repo.ts";
import { declareKubernetesStack } from "./kubernetes/declaration.ts";
import { synthesizeStacks } from "./stacks.ts";

const USAGE = `usage: npm run synth [-- --topology FILE] [--outdir DIR] [--haproxy-replicas N]

  --topology FILE         a .ts/.js module exporting "topology", or a .json document (default ${DEFAULT_TOPOLOGY_FILE})
  --outdir DIR            where cdktf writes the stacks (default $CDKTF_OUTDIR, else cdktf.out)
  --haproxy-replicas N    HAProxy's replicas in the Kubernetes stack (default 2, at least 2)`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(argv, { topology: { type: "string", default: DEFAULT_TOPOLOGY_FILE }, outdir: { type: "string" }, "haproxy-replicas": { type: "string", default: "2" } }, USAGE);
  const replicas = Number(values["haproxy-replicas"]);
  if (!Number.isInteger(replicas)) throw new UsageError(`--haproxy-replicas ${values["haproxy-replicas"]}: use a whole number\n${USAGE}`);
  const topology = await loadTopologyFile(values.topology);
  const source = relative(REPO_ROOT, resolve(values.topology));
  const kubernetes = declareKubernetesStack(topology, { source, haproxyReplicas: replicas });
  // Every config either stack runs has passed the real HAProxy's check, as render's do. TLS
  // certificates exist only where the stack is deployed: stand in for them.
  for (const config of [renderHaproxyConfig(topology, dockerTarget()), kubernetes.haproxyConfig]) {
    await checkTopologyConfig(topology, config, { placeholderCertificates: certificateFiles(topology), maps: mapFiles(topology) });
  }
  // cdktf's CLI passes the output directory in CDKTF_OUTDIR; run on its own, it is cdktf.out.
  const { outdir, stacks } = synthesizeStacks(topology, values.outdir ?? process.env.CDKTF_OUTDIR ?? resolve(REPO_ROOT, "cdktf.out"), { source, haproxyReplicas: replicas });
  const where = relative(process.cwd(), outdir) || ".";
  for (const id of stacks.keys()) process.stderr.write(`synthesized stack "${id}" into ${where}/stacks/${id}/cdk.tf.json\n`);
  process.stderr.write("haproxy -c: both configs valid\n");
  return 0;
}

runMain(main);
