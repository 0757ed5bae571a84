// A topology is valid when the schema takes it and the real HAProxy accepts what it renders, for
// every target: what render, plan and apply each check before anything is written.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CertificateMissingError, HaproxyConfigRejectedError, TargetPlanError, TlsSettingRejectedError } from "../errors.ts";
import { bindCertificates, type Topology } from "../model/schema.ts";
import { checkErrorPages } from "./error-pages.ts";
import { checkHaproxyConfig, DEFAULT_ERROR_PAGES_DIR, type HaproxyCheckOptions, type HaproxyCheckResult, type TlsFile } from "./haproxy-check.ts";

export type { TlsFile };
import { renderHaproxyConfig } from "./render.ts";
import { mapFiles } from "./routing.ts";
import { readLuaScripts } from "./lua.ts";
import { dockerTarget, localTarget, type RenderTarget } from "./targets.ts";

/** Every file of the certificate directory the topology names, each once, in the order the topology names them. */
export function certificateFiles(topology: Topology): TlsFile[] {
  const files = new Map<string, TlsFile>();
  const add = (name: string | undefined, kind: TlsFile["kind"], field: string) => {
    if (name === undefined) return;
    const file = files.get(name) ?? { name, kind, fields: [] };
    file.fields.push(field);
    files.set(name, file);
  };
  for (const f of topology.frontends) {
    f.binds.forEach((b, j) => {
      const at = `frontends.${f.name}.binds.${j}`;
      for (const name of bindCertificates(b)) add(name, "certificate", `${at}.tlsCertificate`);
      add(b.clientCertificates?.caFile, "ca", `${at}.clientCertificates.caFile`);
      add(b.clientCertificates?.crlFile, "crl", `${at}.clientCertificates.crlFile`);
    });
  }
  for (const b of topology.backends) {
    add(b.tls?.caFile, "ca", `backends.${b.name}.tls.caFile`);
    add(b.tls?.clientCertificate, "certificate", `backends.${b.name}.tls.clientCertificate`);
    add(b.healthCheck?.tlsVerify?.caFile, "ca", `backends.${b.name}.healthCheck.tlsVerify.caFile`);
  }
  return [...files.values()];
}

/** A certificate directory that was given must hold every file the topology names (CERTIFICATE_MISSING). */
export function assertCertificatesPresent(topology: Topology, certsDir: string): void {
  const managed = new Set(topology.certificates.map((c) => c.file));
  const missing = certificateFiles(topology).filter((file) => !managed.has(file.name) && !existsSync(join(certsDir, file.name)));
  if (missing.length === 0) return;
  throw new CertificateMissingError(certsDir, missing.map((f) => f.name), missing.flatMap((f) => f.fields));
}

/** The topology's cipher settings, each with its field. */
function cipherSettings(topology: Topology): { field: string; value: string }[] {
  const settings = (at: string, from: { ciphers?: string; ciphersuites?: string }) =>
    (["ciphers", "ciphersuites"] as const).flatMap((key) => (from[key] !== undefined ? [{ field: `${at}.${key}`, value: from[key]! }] : []));
  return [...settings("global.tls", topology.global.tls), ...topology.frontends.flatMap((f) => f.binds.flatMap((b, j) => settings(`frontends.${f.name}.binds.${j}`, b)))];
}

/**
 * haproxy -c on a config rendered from `topology`: a cipher list OpenSSL refuses is named by its
 * field (TLS_SETTING_REJECTED) rather than by a line of the rendered config.
 */
export async function checkTopologyConfig(topology: Topology, config: string, options: HaproxyCheckOptions): Promise<HaproxyCheckResult> {
  try {
    return await checkHaproxyConfig(config, options);
  } catch (error) {
    if (error instanceof HaproxyConfigRejectedError) {
      const refused = /unable to set (?:SSL cipher list|TLS 1\.3 cipher suites) to '([^']*)'/.exec(error.haproxyOutput)?.[1];
      const setting = cipherSettings(topology).find((s) => s.value === refused);
      if (setting) throw new TlsSettingRejectedError(setting.field, setting.value);
    }
    throw error;
  }
}

/**
 * haproxy -c on the config for each target that can run the topology (throws
 * HaproxyConfigRejectedError, or TargetPlanError when the local target cannot either). A container
 * target that cannot (a server on a unix socket) is left to its own stack's refusal, which the plan
 * shows. The error pages are checked first, so that a bad one is named by its field. Without a
 * certificate directory, throwaway certificates stand in for the ones the binds name.
 */
export async function checkEveryTarget(topology: Topology, options: { runDir?: string; certificatesDir?: string; errorPagesDir?: string; luaDir?: string } = {}): Promise<void> {
  const errorPagesDir = options.errorPagesDir ?? DEFAULT_ERROR_PAGES_DIR;
  await checkErrorPages(topology, errorPagesDir);
  readLuaScripts(topology, options.luaDir);
  const targets: RenderTarget[] = [dockerTarget(), localTarget(options.runDir ?? "/run/lb")];
  const maps = mapFiles(topology);
  const checks = targets.map(async (target) => {
    let config: string;
    try {
      config = renderHaproxyConfig(topology, target);
    } catch (error) {
      if (error instanceof TargetPlanError && target.kind !== "local") return;
      throw error;
    }
    await checkTopologyConfig(topology, config, { ...(options.certificatesDir ? { certificatesDir: options.certificatesDir } : { placeholderCertificates: certificateFiles(topology) }), maps, errorPagesDir, ...(options.luaDir && { luaDir: options.luaDir }) });
  });
  // Side by side (each haproxy -c is its own process); the first target's refusal is the one told.
  const refusal = (await Promise.allSettled(checks)).find((r) => r.status === "rejected");
  if (refusal) throw refusal.reason;
}
