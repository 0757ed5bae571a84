// The issuer's I/O on the local stack: its HAProxy's admin socket, the run directory's certificate
// files, its state file (certificates.json) and account keys, and the ACME server the topology
// names (its URL and CA from the environment where the model says so).
import { existsSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { readStateFile, stateFileText } from "../../lib/state-file.ts";
import { ISSUANCE_RECORDS_FORMAT } from "../../sidecar/certificates.ts";
import { AcmeSettingsError, IssuerBusyError } from "../errors.ts";
import { createFileExclusive, writeFileAtomic } from "../files.ts";
import { isAlive } from "../runtime/processes.ts";
import { acmeDirectoryUrl, type ManagedCertificate } from "../model/certificates.ts";
import { CERTIFICATE_DIR } from "../render/targets.ts";
import { CERTIFICATES_STATE_FILE, type IssuerConfig } from "./config.ts";
import { issueCertificate, newAccountKey } from "./acme.ts";
import { bundlePem, installCertificate, mapChallengeResponder, servedCertificate } from "./haproxy-io.ts";
import type { CertificateIo } from "./renewer.ts";

/** Held during a pass: the issuer's loop and npm run certs -- renew never issue at once. */
const LOCK_FILE = "certificates.lock";
/** The ACME account keys, in the run directory. */
const ACCOUNT_DIR = "acme";

/** What the issuer needs from the ACME settings, resolved now: a missing variable or CA file is named by its field. */
async function acmeAccess(certificate: ManagedCertificate, index: number, env: NodeJS.ProcessEnv) {
  const field = `certificates[${index}].acme`;
  const directoryUrl = acmeDirectoryUrl(certificate.acme, env);
  if (!directoryUrl) throw new AcmeSettingsError(`${field}.directoryUrlFromEnv`, `the environment variable ${certificate.acme.directoryUrlFromEnv} is not set: export it to the ACME directory's URL`);
  let caPem: string | undefined;
  if (certificate.acme.caFileFromEnv !== undefined) {
    const path = env[certificate.acme.caFileFromEnv];
    if (!path) throw new AcmeSettingsError(`${field}.caFileFromEnv`, `the environment variable ${certificate.acme.caFileFromEnv} is not set: export it to the path of the ACME server's CA (PEM)`);
    caPem = await readFile(path, "utf8").catch((error: Error) => {
      throw new AcmeSettingsError(`${field}.caFileFromEnv`, `${path} (from ${certificate.acme.caFileFromEnv}) cannot be read: ${error.message}`);
    });
  }
  return { directoryUrl, caPem };
}

/** The account key for a certificate's settings: made once (ECDSA P-256), kept in the run directory, mode 600. */
async function accountKey(runDir: string, certificate: ManagedCertificate): Promise<string> {
  const path = join(runDir, ACCOUNT_DIR, certificate.acme.accountKeyFile);
  if (existsSync(path)) return readFile(path, "utf8");
  await mkdir(join(runDir, ACCOUNT_DIR), { recursive: true, mode: 0o700 });
  const key = await newAccountKey();
  await writeFileAtomic(path, key, { mode: 0o600 });
  return key;
}

/** The issuer's I/O for the certificates of `config`, through the HAProxy at its admin socket. */
export function localCertificateIo(runDir: string, config: Pick<IssuerConfig, "adminSocket" | "certificates">, options: { env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {}): CertificateIo {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => console.log(line));
  const admin = config.adminSocket;
  const stateFile = join(runDir, CERTIFICATES_STATE_FILE);
  return {
    now: () => new Date(),
    random: Math.random,
    served: (file) => servedCertificate(admin, file),
    async issue(certificate) {
      const index = config.certificates.indexOf(certificate);
      const { directoryUrl, caPem } = await acmeAccess(certificate, index, env);
      return issueCertificate(certificate, { directoryUrl, ...(caPem !== undefined && { caPem }), accountKey: await accountKey(runDir, certificate), responder: mapChallengeResponder([admin]), log });
    },
    async install(file, bundle) {
      await installCertificate([admin], file, bundle);
      // The same certificate on disk, so that the next reload or restart serves it too.
      await writeFileAtomic(join(runDir, CERTIFICATE_DIR, file), bundlePem(bundle), { mode: 0o600 });
    },
    readRecords: async () => (await readStateFile(stateFile, ISSUANCE_RECORDS_FORMAT))?.certificates ?? {},
    writeRecords: (certificates) => writeFileAtomic(stateFile, stateFileText(ISSUANCE_RECORDS_FORMAT, { certificates })),
    log,
  };
}

/**
 * Runs `pass` holding the issuer's lock (a file with the holder's pid): a second pass at the same
 * time is refused with IssuerBusyError; a lock whose holder died is taken over.
 */
export async function withIssuerLock<T>(runDir: string, pass: () => Promise<T>): Promise<T> {
  const path = join(runDir, LOCK_FILE);
  try {
    await createFileExclusive(path, `${process.pid}\n`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const holder = Number((await readFile(path, "utf8").catch(() => "")).trim());
    if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) throw new IssuerBusyError(holder);
    await writeFileAtomic(path, `${process.pid}\n`);
  }
  try {
    return await pass();
  } finally {
    await rm(path, { force: true });
  }
}
