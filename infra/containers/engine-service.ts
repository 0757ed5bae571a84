// podman's Docker-compatible service, started for the length of one deployer command on a socket of
// the project's own, with the project's containers.conf (CONTAINERS_CONF): no system file changes.
// Containers outlive the service (podman's conmon keeps them), so nothing of it stays running.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pollUntil } from "../../lib/poll.ts";
import { BinaryMissingError, EngineUnavailableError } from "../errors.ts";
import { runProgram } from "../programs.ts";
import { findOnPath, lastLines, startProcess, stopProcessGroup } from "../runtime/processes.ts";
import { EngineClient } from "./engine.ts";
import { parseProcLimits, renderContainersConf } from "./engine-config.ts";

export interface EngineService {
  client: EngineClient;
  /** The environment a podman command needs to act on the same engine settings. */
  env: NodeJS.ProcessEnv;
  /** Runs the podman CLI (image import) with those settings. */
  podman(args: string[], timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

const REQUIRED = [["podman", "podman"], ["runc", "runc"], ["mmdebstrap", "mmdebstrap"]] as const;

/** Why no engine can run here, or undefined: the tests skip with this reason. */
export function engineUnavailableReason(): string | undefined {
  // runc is in /usr/sbin, which a user's PATH may not have.
  const missing = REQUIRED.filter(([binary]) => !findOnPath(binary) && !existsSync(join("/usr/sbin", binary))).map(([, pkg]) => pkg);
  if (missing.length) return `${missing.join(", ")} not installed (apt-get install ${missing.join(" ")}; npm test installs them)`;
  if (process.getuid?.() !== 0) return "podman here runs rootful: run as root";
  return undefined;
}

/** Runs one of the engine's tools (podman, mmdebstrap); its failure is the engine's (CONTAINER_ENGINE_UNAVAILABLE). */
export async function runTool(binary: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<string> {
  const { code, stdout, output } = await runProgram(binary, args, { debianPackage: binary, ...options }).catch((error: Error) => {
    throw error instanceof BinaryMissingError ? error : new EngineUnavailableError(`${binary} ${args[0]} did not finish: ${error.message}`);
  });
  if (code !== 0) throw new EngineUnavailableError(`${binary} ${args[0]} failed: ${output.trim()}`);
  return stdout;
}

export async function startEngineService(dir: string): Promise<EngineService> {
  const reason = engineUnavailableReason();
  if (reason) throw new EngineUnavailableError(reason);
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, "containers.conf");
  writeFileSync(conf, renderContainersConf(parseProcLimits(readFileSync("/proc/self/limits", "utf8"))));
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const socketPath = join(dir, "podman.sock");
  const logFile = join(dir, "engine.log");
  const service = await startProcess({ name: "podman-service", command: "podman", args: ["system", "service", "--time=0", `unix://${socketPath}`], env: { CONTAINERS_CONF: conf }, logFile });
  const client = new EngineClient(socketPath);
  const stop = async () => {
    await client.close();
    await stopProcessGroup(service.pid, 5000);
  };
  const answered = await pollUntil(async () => {
    try {
      return await client.version();
    } catch {
      return undefined;
    }
  }, { timeoutMs: 15_000, intervalMs: 200 });
  if (!answered) {
    await stop();
    throw new EngineUnavailableError(`podman system service did not answer on ${socketPath} within 15 s:\n${lastLines(logFile).join("\n")}`);
  }
  const podman = (args: string[], timeoutMs = 120_000) => runTool("podman", args, { env, timeoutMs });
  return { client, env, podman, stop };
}
