// npm run agent -- --desired FILE (--run-dir DIR | --target docker [--state-dir DIR]) [--interval 2s] [--once]
//                | --follow-maps DIR --map FILE... --admin-socket PATH [--interval 10s] [--once]
// The apply agent: runs where HAProxy runs and applies the topology it is given, with npm run apply's
// engine, each time that file changes. In the Docker stack CDKTF uploads the topology to the agent's
// container, so a topology change re-creates the agent and never HAProxy; the agent also writes
// HAProxy's first config into their shared volume. In Kubernetes it follows the route tables' map
// files of its pod's ConfigMap instead, and puts each changed one into HAProxy at runtime.
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseCliArgs, runMain } from "../../lib/cli.ts";
import { UsageError } from "../../lib/errors.ts";
import { parseDuration } from "../../haproxy/duration.ts";
import { loadTopologyFile } from "../model/load.ts";
import type { Topology } from "../model/schema.ts";
import { renderHaproxyConfig } from "../render/render.ts";
import { dockerTarget } from "../render/targets.ts";
import { readApplied, recordApplied, sha256 } from "../runtime/applied.ts";
import { recordedProcesses } from "../runtime/stack.ts";
import { APPLY_EXIT_CODES, runApply } from "./apply-run.ts";
import { CONTAINER_DEFAULTS, containerIO, writeContainerConfig } from "./container-io.ts";
import { localIO } from "./local-io.ts";
import { followMaps, type MapFollowIo } from "./map-follow.ts";
import { runtimeCommand } from "../../haproxy/runtime-api.ts";

const USAGE = `usage: npm run agent -- --desired FILE (--run-dir DIR | --target docker [--state-dir DIR]) [--interval 2s] [--once] [--source NAME]

  --desired FILE   the topology to run (.ts/.js module or .json); applied at start and whenever it changes
  --target         local (default): the local stack of --run-dir; docker: HAProxy in a container sharing --state-dir
  --run-dir DIR    the local stack (target local)
  --state-dir DIR  HAProxy's volume: sockets, haproxy.cfg, apply state (target docker; default ${CONTAINER_DEFAULTS.stateDir})
  --interval       how often the file is looked at (default 2s)
  --once           apply once and exit with apply's exit code
  --source NAME    what the topology came from, for the config's header (default: the --desired path)
  --follow-maps DIR  instead: follow the map files under DIR (HAProxy's config directory) and replace each
                   changed one in HAProxy at runtime
  --map FILE       with --follow-maps: a map to follow, as the config names it (maps/FRONTEND.TABLE.map); repeat
  --admin-socket PATH  with --follow-maps: HAProxy's admin socket`;

interface Agent {
  stateDir: string;
  target: "local" | "docker";
  log: (line: string) => void;
}

/** HAProxy in a container has no config before the agent's first: write it, and record it as applied. */
async function bootstrap(agent: Agent, topology: Topology, source: string): Promise<void> {
  const config = renderHaproxyConfig(topology, dockerTarget(), { source });
  await writeContainerConfig(agent.stateDir, topology, config);
  await recordApplied(agent.stateDir, { appliedAt: new Date().toISOString(), source, topology, haproxyConfigSha256: sha256(config) });
  agent.log("wrote HAProxy's first configuration");
}

async function applyOnce(agent: Agent, file: string, source: string): Promise<number> {
  const topology = await loadTopologyFile(file);
  if (agent.target === "docker" && !(await readApplied(agent.stateDir))) {
    await bootstrap(agent, topology, source);
    return 0;
  }
  const result = await runApply({
    stateDir: agent.stateDir,
    head: { topology, source },
    verify: true,
    log: agent.log,
    io: async (applied, step) => {
      const io = { stateDir: agent.stateDir, runDir: agent.stateDir, running: applied.topology.global, step, log: agent.log };
      if (agent.target === "docker") return containerIO(io);
      const sidecar = (await recordedProcesses(agent.stateDir))?.some((p) => p.name === "sidecar") ?? false;
      return localIO({ ...io, sidecar });
    },
  });
  agent.log(`${result.plan.summary} → ${result.outcome}${result.failure ? `: ${result.failure}; ${result.rollback}` : ""}`);
  return APPLY_EXIT_CODES[result.outcome];
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(
    argv,
    {
      desired: { type: "string" },
      target: { type: "string", default: "local" },
      "run-dir": { type: "string" },
      "state-dir": { type: "string", default: CONTAINER_DEFAULTS.stateDir },
      interval: { type: "string", default: "2s" },
      once: { type: "boolean", default: false },
      source: { type: "string" },
      "follow-maps": { type: "string" },
      map: { type: "string", multiple: true },
      "admin-socket": { type: "string" },
    },
    USAGE,
  );
  if (values["follow-maps"] !== undefined) return followMapsLoop(values["follow-maps"], values.map ?? [], values["admin-socket"], values.interval, values.once);
  if (values.map !== undefined || values["admin-socket"] !== undefined) throw new UsageError(`--map and --admin-socket go with --follow-maps\n${USAGE}`);
  if (!values.desired) throw new UsageError(`--desired is required\n${USAGE}`);
  if (values.target !== "local" && values.target !== "docker") throw new UsageError(`--target ${JSON.stringify(values.target)}: use local or docker\n${USAGE}`);
  if (values.target === "local" && !values["run-dir"]) throw new UsageError(`--run-dir is required with --target local\n${USAGE}`);
  const intervalMs = parseDuration(values.interval);
  const agent: Agent = {
    target: values.target,
    stateDir: resolve(values.target === "local" ? values["run-dir"]! : values["state-dir"]),
    log: (line) => process.stderr.write(`${new Date().toISOString()} agent: ${line}\n`),
  };
  const file = resolve(values.desired);
  const source = values.source ?? values.desired;
  if (values.once) return applyOnce(agent, file, source);

  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => (stopping = true));
  agent.log(`watching ${file} every ${values.interval}; applying to ${agent.target === "docker" ? `HAProxy's volume ${agent.stateDir}` : `the stack in ${agent.stateDir}`}`);
  let seen = "";
  while (!stopping) {
    const text = await readFile(file, "utf8").catch(() => "");
    if (text !== "" && text !== seen) {
      try {
        await applyOnce(agent, file, source);
        seen = text;
      } catch (error) {
        // A topology that does not load, or a HAProxy that does not answer yet: said, and tried again.
        agent.log(`not applied: ${(error as Error).message}`);
      }
    }
    await sleep(intervalMs);
  }
  agent.log("stopping");
  return 0;
}

/** Follows the maps under `dir` every `interval` (or once): a look that fails is said and tried again. */
async function followMapsLoop(dir: string, maps: string[], adminSocket: string | undefined, interval: string, once: boolean): Promise<number> {
  if (maps.length === 0) throw new UsageError(`--follow-maps needs at least one --map FILE\n${USAGE}`);
  if (adminSocket === undefined) throw new UsageError(`--follow-maps needs --admin-socket PATH: this pod's HAProxy\n${USAGE}`);
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} agent: ${line}\n`);
  const io: MapFollowIo = {
    read: (file) => readFile(join(resolve(dir), file), "utf8").catch(() => undefined),
    admin: (command) => runtimeCommand({ path: adminSocket }, command, { timeoutMs: 10_000 }),
    log,
  };
  if (once) return (await followMaps(maps, io)).some((o) => o.action === "missing") ? 1 : 0;
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => (stopping = true));
  log(`following ${maps.join(", ")} under ${dir} every ${interval}`);
  const seen = new Map<string, string>();
  while (!stopping) {
    await followMaps(maps, io, seen).catch((error: Error) => log(`not followed: ${error.message}`));
    await sleep(parseDuration(interval));
  }
  return 0;
}

runMain(main);
