// The apply engine's edges where HAProxy runs in a container: the volume it shares with the apply
// agent (sockets, haproxy.cfg, error pages, apply state), and HAProxy by its name on the network.
// Containers themselves are Terraform's: the agent starts, stops and restarts none of them.
import { existsSync } from "node:fs";
import { cp, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { runtimeCommand } from "../../haproxy/runtime-api.ts";
import { runAssertions } from "../../verification/run.ts";
import { VerifyNotPossibleError } from "../errors.ts";
import { writeFileAtomic } from "../files.ts";
import type { Topology } from "../model/schema.ts";
import { DEFAULT_ERROR_PAGES_DIR, DEFAULT_LUA_DIR } from "../render/haproxy-check.ts";
import { renderHaproxyConfig } from "../render/render.ts";
import { writeMapFiles } from "../render/map-files.ts";
import { mapFiles } from "../render/routing.ts";
import { DOCKER_HOSTS, DOCKER_PATHS, EMPTY_SERVER_STATE, ERROR_PAGE_DIR, LOCAL_ADDRESS, LUA_DIR, SERVER_STATE_FILE, dockerTarget, haproxySockets, serverStateFile } from "../render/targets.ts";
import { HAPROXY_CONFIG_FILE, LAST_GOOD_CONFIG_FILE } from "../runtime/applied.ts";
import { APPLY_CHECKS, expectationsFromTopology, readDiscoveredServers } from "../runtime/verify.ts";
import type { ApplyIO } from "./apply.ts";
import { checkpoint } from "./apply-run.ts";
import { makePlan } from "./plan.ts";

/** The generated file the agent changes; the others (Prometheus, containers) are Terraform's. */
const AGENT_FILES = ["haproxy.cfg (target docker)"];

/** Writes the config, the error pages and the map files it names into HAProxy's volume (before its first start too). */
export async function writeContainerConfig(stateDir: string, topology: Topology, text: string): Promise<void> {
  await mkdir(join(stateDir, ERROR_PAGE_DIR), { recursive: true });
  await cp(DEFAULT_ERROR_PAGES_DIR, join(stateDir, ERROR_PAGE_DIR), { recursive: true });
  await cp(DEFAULT_LUA_DIR, join(stateDir, LUA_DIR), { recursive: true });
  await writeMapFiles(stateDir, mapFiles(topology));
  // Where the config reads the servers' states: before HAProxy's first start, a file with no server in it.
  if (serverStateFile(dockerTarget()) && !existsSync(join(stateDir, SERVER_STATE_FILE))) await writeFileAtomic(join(stateDir, SERVER_STATE_FILE), EMPTY_SERVER_STATE);
  await writeFileAtomic(join(stateDir, HAPROXY_CONFIG_FILE), text);
}

export interface ContainerApply {
  /** HAProxy's volume, as the agent mounts it. */
  stateDir: string;
  running: Topology["global"];
  step: (step: string) => Promise<void>;
  log: (line: string) => void;
}

export function containerIO({ stateDir, running, step, log }: ContainerApply): ApplyIO {
  // The sockets are where the model puts them in the volume; the agent mounts the volume at the same path.
  const sockets = haproxySockets(running, dockerTarget());
  const noContainers = async () => async () => {};
  const unavailable = () => {
    throw new VerifyNotPossibleError("the apply agent does not stop or start containers: npm run verify's failover checks run from outside");
  };
  return {
    target: "docker",
    admin: (command) => runtimeCommand({ path: sockets.admin }, command, { timeoutMs: 5000 }),
    master: (command) => runtimeCommand({ path: sockets.master }, command, { timeoutMs: 5000 }),
    // Certificates are the certificates_dir variable's, mounted by Terraform.
    writeConfig: (side) => writeContainerConfig(stateDir, side.topology, renderHaproxyConfig(side.topology, dockerTarget(), { source: side.source })),
    keepLastGood: (text) => writeFileAtomic(join(stateDir, LAST_GOOD_CONFIG_FILE), text),
    // Saved where the config reads it, if it reads one (serverStateFile decides per target).
    saveServerState: async (text) => {
      if (serverStateFile(dockerTarget())) await writeFileAtomic(join(stateDir, SERVER_STATE_FILE), text);
    },
    render: (side) => renderHaproxyConfig(side.topology, dockerTarget(), { source: side.source }),
    plan: (base, head) => makePlan(base, head, { files: AGENT_FILES }),
    // Terraform creates, replaces and destroys the containers; the agent changes HAProxy alone.
    startComponents: noContainers,
    stopComponents: async () => {},
    restartComponents: noContainers,
    verify: async (t) => {
      const port = t.frontends[0]!.binds.find((b) => b.tlsCertificate === undefined)?.port;
      // A discovered group's servers are the slots HAProxy filled from Docker's DNS.
      const local = expectationsFromTopology(t, { discovered: await readDiscoveredServers(sockets.admin, t) });
      // HAProxy by its container name; TLS ports need the deployer's CA, which the agent is not given.
      const inContainer = (url: string) => url.replace(`//${LOCAL_ADDRESS}:`, `//${DOCKER_HOSTS.haproxy}:`);
      const entrypoints = local.entrypoints?.filter((e) => !e.tls && !e.redirectTo).map((e) => ({ ...e, url: inContainer(e.url) }));
      // The agent's requests come from its own address, not loopback: routes that depend on the client's address are checked from outside.
      const sourceBound = t.frontends.some((f) => f.allowlist !== undefined || JSON.stringify(f.routes).includes('"source"') || JSON.stringify(f.conditions).includes('"source"'));
      const routing = sourceBound ? undefined : local.routing?.filter((e) => e.url.startsWith("http:")).map((e) => ({ ...e, url: inContainer(e.url), source: "" }));
      const expectations = { ...local, frontendUrl: `http://${DOCKER_HOSTS.haproxy}:${port}/`, entrypoints, routing };
      const access = {
        api: (command: string) => runtimeCommand({ path: sockets.admin }, command, { timeoutMs: 2000 }),
        killServer: unavailable,
        startServer: unavailable,
        serverHealthUrl: unavailable,
        log,
      };
      return (await runAssertions(expectations, access, APPLY_CHECKS)).results;
    },
    checkpoint: (s) => checkpoint(step, s, log),
    log,
  };
}

/** Where the agent finds what it needs in a container, by default. */
export const CONTAINER_DEFAULTS = { stateDir: DOCKER_PATHS.socketDir, desired: DOCKER_PATHS.desiredTopology } as const;
