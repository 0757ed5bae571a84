// A topology is valid when the schema takes it and the real HAProxy accepts what it renders, for
// every target: what render, plan and apply each check before anything is written.
import type { Topology } from "../model/schema.ts";
import { checkHaproxyConfig } from "./haproxy-check.ts";
import { renderHaproxyConfig } from "./render.ts";
import { dockerTarget, localTarget, type RenderTarget } from "./targets.ts";

/** The PEM files the TLS binds name. */
export const certificateFiles = (topology: Topology) => [...new Set(topology.frontends.flatMap((f) => f.binds.flatMap((b) => b.tlsCertificate ?? [])))];

/**
 * haproxy -c on the config for each target (throws HaproxyConfigRejectedError or TargetPlanError).
 * Without a certificate directory, throwaway certificates stand in for the ones the binds name.
 */
export async function checkEveryTarget(topology: Topology, options: { runDir?: string; certificatesDir?: string } = {}): Promise<void> {
  const targets: RenderTarget[] = [dockerTarget(), localTarget(options.runDir ?? "/run/lb")];
  for (const target of targets) {
    await checkHaproxyConfig(renderHaproxyConfig(topology, target), options.certificatesDir ? { certificatesDir: options.certificatesDir } : { placeholderCertificates: certificateFiles(topology) });
  }
}
