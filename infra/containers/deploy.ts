// Carries a DeploySequence out on the engine, and takes down exactly what it created (every network,
// volume and container it makes carries the stack's label; images stay, as a cache).
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { pollUntil } from "../../lib/poll.ts";
import { EngineRequestError } from "../errors.ts";
import type { ContainerToRun, DeploySequence, EngineContainerCreate } from "./deploy-sequence.ts";
import { tarOneFile, type EngineClient } from "./engine.ts";
import { runtimeCommand } from "../../haproxy/runtime-api.ts";
import { parseShowStat, serverStates } from "../../haproxy/show-stat.ts";
import type { Topology } from "../model/schema.ts";
import { notReady, readyServerCount } from "../runtime/readiness.ts";
import { readApplied, topologyHash } from "../runtime/applied.ts";
import { DOCKER_HOSTS, DOCKER_PATHS } from "../render/targets.ts";

/** The label on everything the deployer creates, valued with the stack's name. */
export const STACK_LABEL = "lb-stack.deployed-by-npm-run-containers";
const labelled = (stack: string) => `${STACK_LABEL}=${stack}`;

/** How long one container may take to become healthy (start periods and retries of the slowest check, with room). */
const HEALTHY_WITHIN_MS = 120_000;

export interface UpReport {
  containers: { name: string; state: string; health: string; ms: number }[];
}

export async function deployUp(engine: EngineClient, stack: string, plan: DeploySequence, log: (line: string) => void): Promise<UpReport> {
  // Terraform's containers name their image by its id: a rebuilt image replaces the container.
  const imageIds = new Map<string, string>();
  for (const image of new Set(plan.containers.map((c) => c.create.Image))) {
    const info = await engine.inspectImage(image);
    if (!info) throw new EngineRequestError(`inspect image ${image}`, 404, "no such image: it was neither built nor stood in for");
    imageIds.set(image, info.Id);
  }
  const labels = { [STACK_LABEL]: stack };
  const existing = new Map((await engine.listContainers(labelled(stack))).map((c) => [c.Names[0]!.replace(/^\//, ""), c]));
  const networks = new Set((await engine.listNetworks(labelled(stack))).map((n) => n.Name));
  const volumes = new Set((await engine.listVolumes(labelled(stack))).map((v) => v.Name));
  const gateways = new Map<string, string>();
  for (const network of plan.networks) {
    if (!networks.has(network.name)) await engine.createNetwork(network.name, network.driver, labels);
    gateways.set(network.name, await networkGateway(engine, network.name));
  }
  for (const volume of plan.volumes) if (!volumes.has(volume)) await engine.createVolume(volume, labels);
  const kept = new Set<string>();
  const started = performance.now();
  for (const container of plan.containers) {
    // As Terraform does: a container whose definition is unchanged stays; a changed one is replaced.
    const definition = definitionHash(container, imageIds.get(container.create.Image)!);
    const current = existing.get(container.name);
    if (current?.Labels[DEFINITION_LABEL] === definition && current.State === "running") {
      kept.add(container.name);
      continue;
    }
    if (current) {
      log(`replacing ${container.name}: its definition changed`);
      await engine.removeContainer(current.Id);
    } else log(`creating ${container.name}`);
    await engine.createContainer(container.name, { ...forPodman(container.create, gateways.get(container.create.HostConfig.NetworkMode)), Labels: { ...labels, [DEFINITION_LABEL]: definition } });
    for (const upload of container.uploads) await engine.putArchive(container.name, posix.dirname(upload.path), tarOneFile(posix.basename(upload.path), upload.content));
    await engine.start(container.name);
    // Terraform waits here only where the stack says so (wait = true); the rest are checked at the end.
    if (container.waitHealthy) await waitHealthy(engine, container);
  }
  const report: UpReport = { containers: [] };
  for (const container of plan.containers) {
    if (kept.has(container.name)) {
      report.containers.push({ name: container.name, state: "running", health: "kept", ms: 0 });
      continue;
    }
    const health = await waitHealthy(engine, container);
    report.containers.push({ name: container.name, state: (await engine.inspect(container.name)).State.Status, health, ms: Math.round(performance.now() - started) });
  }
  return report;
}

/** The label holding a container's definition hash: what decides "unchanged" on the next up. */
export const DEFINITION_LABEL = "lb-stack.definition";

/** Pure: a hash of what a container is made from (its create request, its image's id, its uploads). */
export function definitionHash(container: ContainerToRun, imageId: string): string {
  return createHash("sha256").update(JSON.stringify([container.create, imageId, container.uploads])).digest("hex").slice(0, 16);
}

/**
 * The same request, said so that podman 4.3's Docker-compatible API does what Docker would:
 * - it splits a "CMD" health check's arguments at spaces again (measured: node -e "a ? b : c"
 *   arrived as five arguments): the same command through the shell, each argument quoted;
 * - netavark turns a port published on HostIp "0.0.0.0" into a rule for destination 0.0.0.0 only
 *   (measured: connections to 127.0.0.1 hung): "" means every address to both engines;
 * - podman lists the host's name servers after the network's own (aardvark-dns) in a container's
 *   resolv.conf, where Docker lists its embedded server alone; HAProxy asks every name server, and
 *   the host's NXDOMAIN for a container's name kept a restarted server unresolved for 28 to 55 s
 *   (measured): the network's own server, given as the container's DNS, leaves aardvark-dns alone.
 */
export function forPodman(create: EngineContainerCreate, networkDns?: string): EngineContainerCreate {
  const test = create.Healthcheck?.Test;
  const quoted = test?.[0] === "CMD" ? test.slice(1).map((arg) => (/^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)).join(" ") : undefined;
  const bindings = create.HostConfig.PortBindings;
  return {
    ...create,
    ...(quoted !== undefined && { Healthcheck: { ...create.Healthcheck!, Test: ["CMD-SHELL", quoted] } }),
    HostConfig: {
      ...create.HostConfig,
      ...(networkDns && { Dns: [networkDns] }),
      ...(bindings && { PortBindings: Object.fromEntries(Object.entries(bindings).map(([port, list]) => [port, list.map((b) => ({ ...b, HostIp: b.HostIp === "0.0.0.0" ? "" : b.HostIp }))])) }),
    },
  };
}

/**
 * Runs the container's health check until it passes (podman runs checks from systemd timers, which
 * this machine does not have, so the deployer runs them); throws with the container's last log
 * lines when it does not within the bound.
 */
export async function waitHealthy(engine: EngineClient, container: ContainerToRun): Promise<string> {
  if (!container.create.Healthcheck) return "none";
  const interval = Math.max(200, Math.min(container.create.Healthcheck.Interval / 1e6, 2000));
  const healthy = await pollUntil(async () => {
    if (!(await engine.inspect(container.name)).State.Running) return "exited";
    return (await engine.runHealthcheck(container.name)) === "healthy" ? "healthy" : undefined;
  }, { timeoutMs: HEALTHY_WITHIN_MS, intervalMs: interval });
  if (healthy === "exited") throw new EngineRequestError(`start ${container.name}`, 500, `exited with ${(await engine.inspect(container.name)).State.ExitCode}:\n${await engine.logs(container.name)}`);
  if (!healthy) throw new EngineRequestError(`health check of ${container.name}`, 500, `not healthy within ${HEALTHY_WITHIN_MS / 1000} s:\n${await engine.logs(container.name)}`);
  return healthy;
}

/** Removes every container, network and volume labelled with this stack, and nothing else; how many of each. */
export async function deployDown(engine: EngineClient, stack: string, log: (line: string) => void): Promise<{ containers: number; networks: number; volumes: number }> {
  const containers = await engine.listContainers(labelled(stack));
  for (const c of containers) {
    log(`removing ${c.Names.join(",")}`);
    await engine.removeContainer(c.Id);
  }
  const networks = await engine.listNetworks(labelled(stack));
  for (const n of networks) await engine.removeNetwork(n.Name);
  const volumes = await engine.listVolumes(labelled(stack));
  for (const v of volumes) await engine.removeVolume(v.Name);
  return { containers: containers.length, networks: networks.length, volumes: volumes.length };
}

/** The gateway of a network: where podman's aardvark-dns answers for it. */
async function networkGateway(engine: EngineClient, network: string): Promise<string> {
  const info = await engine.call<{ IPAM?: { Config?: { Gateway?: string }[] } }>("GET", `/v1.41/networks/${encodeURIComponent(network)}`);
  const gateway = info.IPAM?.Config?.find((c) => c.Gateway)?.Gateway;
  if (!gateway) throw new EngineRequestError(`inspect network ${network}`, 500, "no gateway, so no DNS server to give the containers");
  return gateway;
}

/** Where a named volume's files are on this host (rootful podman: readable by the deployer). */
export async function volumePath(engine: EngineClient, volume: string): Promise<string> {
  return (await engine.call<{ Mountpoint: string }>("GET", `/v1.41/volumes/${encodeURIComponent(volume)}`)).Mountpoint;
}

/** HAProxy's admin socket in its volume, as the host sees it. */
export async function hostAdminSocket(engine: EngineClient, topology: Topology): Promise<string> {
  const haproxy = await engine.call<{ Mounts: { Name?: string; Destination: string }[] }>("GET", `/v1.41/containers/${DOCKER_HOSTS.haproxy}/json`);
  const mount = haproxy.Mounts.find((m) => m.Destination === DOCKER_PATHS.socketDir);
  if (!mount?.Name) throw new EngineRequestError(`inspect ${DOCKER_HOSTS.haproxy}`, 500, `no volume at ${DOCKER_PATHS.socketDir}`);
  return posix.join(await volumePath(engine, mount.Name), posix.basename(topology.global.statsSocket.path));
}

/** Until HAProxy reports every server the model checks UP (read through its socket in the volume); how long it took. */
export async function waitServersUp(engine: EngineClient, topology: Topology, log: (line: string) => void, timeoutMs = 60_000): Promise<number> {
  const started = performance.now();
  const socket = await hostAdminSocket(engine, topology);
  // The apply agent applies the uploaded topology after its container starts: until it records it, HAProxy may still reload.
  // Its apply includes a reload (up to 45 s) and the verification by traffic.
  const agentMs = 120_000;
  const applied = await pollUntil(async () => {
    const record = await readApplied(posix.dirname(socket)).catch(() => undefined);
    return record && topologyHash(record.topology) === topologyHash(topology) ? true : undefined;
  }, { timeoutMs: agentMs, intervalMs: 250 });
  if (!applied) throw new EngineRequestError("waiting for the apply agent", 500, `it did not record the topology as applied within ${agentMs / 1000} s: its container's log says why (podman logs apply-agent)`);
  let last = "";
  const up = await pollUntil(async () => {
    const states = serverStates(parseShowStat(await runtimeCommand({ path: socket }, "show stat", { timeoutMs: 2000 })));
    last = notReady(topology, states).join(", ");
    return last === "" ? true : undefined;
  }, { timeoutMs, intervalMs: 250 });
  if (!up) throw new EngineRequestError("waiting for HAProxy's servers", 500, `not UP after ${timeoutMs / 1000} s: ${last || "the stats socket did not answer"}`);
  log(`every server UP in HAProxy (${readyServerCount(topology)})`);
  return performance.now() - started;
}
