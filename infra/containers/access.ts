// npm run verify's access to the stack deployed on the local engine: HAProxy's admin socket in its
// volume, and a web server killed and started by stopping and starting its container.
import type { StackAccess } from "../../verification/run.ts";
import { runtimeCommand } from "../../haproxy/runtime-api.ts";
import { VerifyNotPossibleError } from "../errors.ts";
import type { Topology } from "../model/schema.ts";
import { httpCheckPath } from "../model/checks.ts";
import { WEB_APP_PATHS } from "../endpoints.ts";
import { containerServers } from "../render/targets.ts";
import { hostAdminSocket } from "./deploy.ts";
import type { EngineClient } from "./engine.ts";

export async function containerStackAccess(engine: EngineClient, topology: Topology, log: (line: string) => void): Promise<StackAccess> {
  const socket = await hostAdminSocket(engine, topology);
  const server = (name: string) => {
    const found = topology.backends.flatMap((b) => containerServers(b, "docker").map((s) => ({ ...s, healthPath: httpCheckPath(b) ?? WEB_APP_PATHS.status }))).find((s) => s.name === name);
    if (!found) throw new VerifyNotPossibleError(`no server named ${name} in the topology`);
    return found;
  };
  // The host reaches a container on the engine's bridge network by its address, which a restart may change.
  const addresses = new Map<string, string>();
  const addressOf = async (container: string) => {
    const networks = (await engine.inspect(container)).NetworkSettings.Networks;
    const address = Object.values(networks).map((n) => n.IPAddress).find(Boolean);
    if (address) addresses.set(container, address);
  };
  return {
    api: (command) => runtimeCommand({ path: socket }, command, { timeoutMs: 2000 }),
    // Each server address is one container named after it (the docker target).
    killServer: async (name) => {
      await engine.stop(server(name).address, 2);
    },
    startServer: async (name) => {
      await engine.start(server(name).address);
      await addressOf(server(name).address);
    },
    serverHealthUrl: (name) => `http://${addresses.get(server(name).address) ?? server(name).address}:${server(name).port}${server(name).healthPath}`,
    log,
  };
}
