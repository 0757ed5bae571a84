// The facts about the stack's own programs that every target shares, each with one owner: HAProxy's
// command line, the sidecar's arguments, the user and group that own HAProxy's sockets. The local
// runtime, the Docker stack and the Kubernetes stack adapt these (paths, listen addresses); none
// spells a flag of its own.
import type { Topology } from "./model/schema.ts";

/** The official HAProxy image's unprivileged user and group (see its Dockerfile): they own the stats socket. */
export const HAPROXY_UID = 99;
export const HAPROXY_GID = 99;

/**
 * HAProxy's arguments after the program: the master CLI on its socket (mode 600: reloads go through
 * it) and the config. The images' entrypoint adds -W -db (master-worker in the foreground); the
 * local runtime passes -W itself.
 */
export function haproxyArguments(masterSocket: string, configFile: string): string[] {
  return ["-S", `${masterSocket},mode,600`, "-f", configFile];
}

/** Where a target's sidecar finds what it reads, and where it listens. */
export interface SidecarPaths {
  statsSocket: string;
  listenAddress: string;
  /** npm run verify's last results (the local stack only). */
  assertionsFile?: string;
  /** The apply history (where applies run beside HAProxy). */
  applyHistory?: string;
  /** The local supervisor's record of the components. */
  componentsFile?: string;
  expectedFile: string;
  /** The certificate issuer's record, where an issuer runs beside HAProxy (the local stack). */
  certificatesFile?: string;
  /** Where npm run rollout keeps its state (the local stack's run directory). */
  rolloutsDir?: string;
}

/** The sidecar's arguments for a topology, as every target runs it. */
export function sidecarArguments(topology: Topology, paths: SidecarPaths): string[] {
  const { port, pollInterval, distributionWindow } = topology.services.sidecar;
  return [
    "--stats-socket", paths.statsSocket,
    "--listen", `${paths.listenAddress}:${port}`,
    "--interval", pollInterval,
    ...(paths.assertionsFile ? ["--assertions-file", paths.assertionsFile] : []),
    ...(paths.applyHistory ? ["--apply-history", paths.applyHistory] : []),
    ...(paths.componentsFile ? ["--components-file", paths.componentsFile] : []),
    "--expected-file", paths.expectedFile,
    "--distribution-window", distributionWindow,
    ...(paths.certificatesFile ? ["--certificates-file", paths.certificatesFile] : []),
    ...(paths.rolloutsDir ? ["--rollouts-dir", paths.rolloutsDir] : []),
  ];
}
