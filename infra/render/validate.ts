// A topology is valid when the schema takes it and the real HAProxy accepts what it renders, for
// every target: what render, plan and apply each check before anything is written.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CertificateMissingError } from "../errors.ts";
import type { Topology } from "../model/schema.ts";
import { checkErrorPages } from "./error-pages.ts";
import { checkHaproxyConfig, DEFAULT_ERROR_PAGES_DIR } from "./haproxy-check.ts";
import { renderHaproxyConfig } from "./render.ts";
import { mapFiles } from "./routing.ts";
import { readLuaScripts } from "./lua.ts";
import { dockerTarget, localTarget, type RenderTarget } from "./targets.ts";

/** A certificate directory that was given must hold every PEM file a TLS bind names (CERTIFICATE_MISSING). */
export function assertCertificatesPresent(topology: Topology, certsDir: string): void {
  const missing = certificateFiles(topology).filter((name) => !existsSync(join(certsDir, name)));
  if (missing.length === 0) return;
  const fields = topology.frontends.flatMap((f) => f.binds.flatMap((b, j) => (b.tlsCertificate && missing.includes(b.tlsCertificate) ? [`frontends.${f.name}.binds.${j}.tlsCertificate`] : [])));
  throw new CertificateMissingError(certsDir, missing, fields);
}

/** The PEM files the TLS binds name. */
export const certificateFiles = (topology: Topology) => [...new Set(topology.frontends.flatMap((f) => f.binds.flatMap((b) => b.tlsCertificate ?? [])))];

/**
 * haproxy -c on the config for each target (throws HaproxyConfigRejectedError or TargetPlanError).
 * The error pages are checked first, so that a bad one is named by its field.
 * Without a certificate directory, throwaway certificates stand in for the ones the binds name.
 */
export async function checkEveryTarget(topology: Topology, options: { runDir?: string; certificatesDir?: string } = {}): Promise<void> {
  await checkErrorPages(topology, DEFAULT_ERROR_PAGES_DIR);
  readLuaScripts(topology);
  const targets: RenderTarget[] = [dockerTarget(), localTarget(options.runDir ?? "/run/lb")];
  for (const target of targets) {
    const maps = mapFiles(topology);
    await checkHaproxyConfig(renderHaproxyConfig(topology, target), options.certificatesDir ? { certificatesDir: options.certificatesDir, maps } : { placeholderCertificates: certificateFiles(topology), maps });
  }
}
