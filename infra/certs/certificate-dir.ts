// Where the issuer owns HAProxy's certificate directory (the Docker stack, where it runs in a
// container of its own before HAProxy starts): it copies in the files the user gives, read-only
// from the deploying machine, and writes a placeholder for each managed certificate not issued
// yet, so that HAProxy starts and can answer the challenge that replaces it. Issued certificates
// already there are kept: a restart of the stack serves them, not placeholders.
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { CertificateMissingError } from "../errors.ts";
import { writeFileAtomic } from "../files.ts";
import { CERTIFICATE_DIR } from "../render/targets.ts";
import type { IssuerConfig } from "./config.ts";
import { placeholderCertificate } from "./placeholder.ts";

export interface PreparedDirectory {
  copied: string[];
  placeholders: string[];
}

/** Every file HAProxy's config names is in `runDir`/certs afterwards, or nothing was changed and the missing ones are named. */
export async function prepareCertificateDirectory(runDir: string, config: Pick<IssuerConfig, "certificates" | "given">, givenDir: string | undefined): Promise<PreparedDirectory> {
  const dir = join(runDir, CERTIFICATE_DIR);
  const missing = config.given.filter((name) => givenDir === undefined || !existsSync(join(givenDir, name)));
  if (missing.length) throw new CertificateMissingError(givenDir ?? "(no directory given)", missing, [], "the Docker stack mounts the directory its certificates_dir variable names: put the PEM files there (TF_VAR_certificates_dir)");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const prepared: PreparedDirectory = { copied: [], placeholders: [] };
  for (const name of config.given) {
    // Copied through a temporary name: HAProxy, restarted now, never reads half a file.
    await writeFileAtomic(join(dir, name), await readFile(join(givenDir!, name), "utf8"), { mode: 0o600 });
    prepared.copied.push(name);
  }
  for (const certificate of config.certificates) {
    const path = join(dir, certificate.file);
    if (existsSync(path)) continue;
    await writeFileAtomic(path, await placeholderCertificate(certificate.names), { mode: 0o600 });
    prepared.placeholders.push(certificate.file);
  }
  return prepared;
}
