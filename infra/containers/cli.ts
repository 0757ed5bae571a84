// npm run containers -- up|verify|down [--topology FILE] [--state-dir DIR]
// A test and development tool: deploys exactly what the synthesized CDKTF stack declares on this
// machine's podman (no Terraform provider can be downloaded here). `cdktf deploy` stays the way to deploy.
import { join, relative, resolve } from "node:path";
import { parseCliArgs, runMain } from "../../lib/cli.ts";
import { handleInterrupts } from "../../lib/interrupt.ts";
import { declareDockerStack } from "../docker/declaration.ts";
import type { Topology } from "../model/schema.ts";
import { UsageError } from "../../lib/errors.ts";
import { formatTable } from "../../lib/text-table.ts";
import { DEFAULT_TOPOLOGY_FILE, loadTopologyFile } from "../model/load.ts";
import { REPO_ROOT } from "../repo.ts";
import { deploySequence } from "./deploy-sequence.ts";
import { deployDown, deployUp, hostAdminSocket, waitServersUp } from "./deploy.ts";
import { startEngineService } from "./engine-service.ts";
import { ensureImages } from "./images.ts";
import { containerStackAccess } from "./access.ts";
import { expectationsFromTopology, readDiscoveredServers } from "../runtime/verify.ts";
import { runAssertions } from "../../verification/run.ts";
import { renderTable } from "../../verification/report.ts";
import { LEFT_OUT, synthesizeStack, withoutLeftOut } from "./stack-source.ts";

const USAGE = `usage: npm run containers -- up|verify|down [--topology FILE] [--state-dir DIR]

  up      synthesize the CDKTF stack and deploy what cdk.tf.json declares on the local podman
  verify  the end-to-end assertions through the published ports (failover stops a web container)
  down    remove every container, network and volume up created (images stay, as a cache)

  --topology FILE  a .ts/.js module exporting "topology", or a .json document (default ${DEFAULT_TOPOLOGY_FILE})
  --state-dir DIR  where the engine's socket, settings and log live (default .containers)
Terraform variables come from TF_VAR_<name>, as for cdktf deploy.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const options = { topology: { type: "string", default: DEFAULT_TOPOLOGY_FILE }, "state-dir": { type: "string", default: join(REPO_ROOT, ".containers") } } as const;
  // A flag where the command goes is checked as a flag first: a mistyped one is named as such.
  if (command?.startsWith("-")) parseCliArgs(argv, options, USAGE);
  if (command !== "up" && command !== "down" && command !== "verify") throw new UsageError(`unknown command ${JSON.stringify(command ?? "")}\n${USAGE}`);
  const { values } = parseCliArgs(rest, options, USAGE);
  const topology = await loadTopologyFile(values.topology);
  const log = (line: string) => process.stderr.write(`containers: ${line}\n`);
  // Interrupted, it stops the engine's service it started (containers it created stay, as Terraform's would: down removes them).
  handleInterrupts(log);
  const engine = await startEngineService(resolve(values["state-dir"]));
  try {
    if (command === "down") {
      const removed = await deployDown(engine.client, topology.name, log);
      console.log(`removed ${removed.containers} containers, ${removed.networks} networks, ${removed.volumes} volumes of stack "${topology.name}"`);
      return 0;
    }
    if (command === "verify") {
      const socket = await hostAdminSocket(engine.client, topology);
      const expectations = expectationsFromTopology(topology, { discovered: await readDiscoveredServers(socket, topology) });
      // A discovered slot's container is known by its address only: its failover is verified on the local stack.
      const discoveredUnderTest = topology.backends.find((b) => b.name === expectations.backend)?.discovery !== undefined;
      if (discoveredUnderTest) log(`${expectations.backend} discovers its servers: failover and recovery are left to npm run verify on the local stack`);
      const only = ["health", "entrypoints", "distribution", "persistence", ...(discoveredUnderTest ? [] : ["failover", "recovery"] as const)] as const;
      const run = await runAssertions(expectations, await containerStackAccess(engine.client, topology, log), { only: [...only], requests: 400 });
      console.log(renderTable(run.results));
      const failed = run.results.filter((r) => r.verdict === "fail").length;
      console.log(`\n${run.results.length - failed} passed, ${failed} failed`);
      return failed === 0 ? 0 : 1;
    }
    const { json, stackDir } = synthesizeStack(topology, relative(REPO_ROOT, resolve(values.topology)));
    const variables = Object.fromEntries(Object.keys(json.variable ?? {}).map((name) => [name, process.env[`TF_VAR_${name}`] as string]).filter(([, v]) => v !== undefined));
    const plan = withoutLeftOut(deploySequence(json, { stackDir, variables }), log);
    const started = performance.now();
    await ensureImages(engine, plan.images, { leaveOut: [...LEFT_OUT], log });
    const imagesMs = performance.now() - started;
    const report = await deployUp(engine.client, topology.name, plan, log);
    const upMs = await waitServersUp(engine.client, topology, log);
    console.log(formatTable([["container", "state", "health", "ready after"], ...report.containers.map((c) => [c.name, c.state, c.health, `${(c.ms / 1000).toFixed(1)} s`])]));
    console.log(`\nstack "${topology.name}" is up: images ${(imagesMs / 1000).toFixed(1)} s, then every server UP in HAProxy after ${(upMs / 1000).toFixed(1)} s more; npm run containers -- down removes it`);
    console.log(`\nwhere to look:\n${whereToLook(topology, report.containers.map((c) => c.name)).map((l) => `  ${l}`).join("\n")}`);
    return 0;
  } finally {
    await engine.stop();
  }
}

/** The published ports of what a person looks at, as npm start prints them: the frontends, HAProxy's metrics, the sidecar, Prometheus, Alertmanager. */
function whereToLook(topology: Topology, running: string[]): string[] {
  const looked: Record<string, string> = { haproxy: "HAProxy", sidecar: "sidecar metrics", prometheus: "Prometheus", alertmanager: "Alertmanager", grafana: "Grafana" };
  return declareDockerStack(topology, {}).containers
    .filter((c) => looked[c.name] && running.includes(c.name))
    .flatMap((c) => c.ports.map((p) => `${looked[c.name]!.padEnd(16)} http://${p.ip === "" || p.ip === "0.0.0.0" ? "127.0.0.1" : p.ip}:${p.external}/`));
}

runMain(main);
