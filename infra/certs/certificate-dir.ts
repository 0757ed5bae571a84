// Where the stack owns HAProxy's certificate directory (the Docker stack's issuer, before HAProxy
// starts; a Kubernetes pod's init container): the files the user gives are copied in, read-only
// from where they are mounted, and each managed certificate is the one issued (already there, or
// issued elsewhere: cert-manager's Secret) or else a placeholder, so that HAProxy starts and the
// issuer can replace it. Issued certificates already there are kept: a restart serves them.
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { CertificateMissingError } from "../errors.ts";
import { writeFileAtomic } from "../files.ts";
import { CERTIFICATE_DIR } from "../render/targets.ts";
import type { IssuerConfig } from "./config.ts";
import { placeholderCertificate } from "./placeholder.ts";
import { readIssuedBundle } from "./follow.ts";
import { bundlePem } from "./haproxy-io.ts";

export interface PreparedDirectory {
  copied: string[];
  placeholders: string[];
  /** Copied from the issued bundles (issuedDir). */
  issued: string[];
}

/** Every file HAProxy's config names is in `runDir`/certs afterwards, or nothing was changed and the missing ones are named. */
export async function prepareCertificateDirectory(runDir: string, config: Pick<IssuerConfig, "certificates" | "given">, givenDir: string | undefined, issuedDir?: string): Promise<PreparedDirectory> {
  const dir = join(runDir, CERTIFICATE_DIR);
  const missing = config.given.filter((name) => givenDir === undefined || !existsSync(join(givenDir, name)));
  if (missing.length) throw new CertificateMissingError(givenDir ?? "(no directory given)", missing, [], "the Docker stack mounts the directory its certificates_dir variable names: put the PEM files there (TF_VAR_certificates_dir)");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const prepared: PreparedDirectory = { copied: [], placeholders: [], issued: [] };
  for (const name of config.given) {
    // Copied through a temporary name: HAProxy, restarted now, never reads half a file.
    await writeFileAtomic(join(dir, name), await readFile(join(givenDir!, name), "utf8"), { mode: 0o600 });
    prepared.copied.push(name);
  }
  for (const certificate of config.certificates) {
    const path = join(dir, certificate.file);
    if (existsSync(path)) continue;
    const issued = issuedDir === undefined ? undefined : await readIssuedBundle(issuedDir, certificate.file);
    if (issued) {
      await writeFileAtomic(path, bundlePem(issued), { mode: 0o600 });
      prepared.issued.push(certificate.file);
      continue;
    }
    await writeFileAtomic(path, await placeholderCertificate(certificate.names), { mode: 0o600 });
    prepared.placeholders.push(certificate.file);
  }
  return prepared;
}
