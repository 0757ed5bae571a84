// Certificates the stack does not obtain itself, taken at runtime all the same: where another
// issuer obtains them (cert-manager in Kubernetes, which writes each into a Secret the kubelet keeps
// current in HAProxy's pod), a follower compares what HAProxy serves with what was issued and
// installs the difference; a certificate the user gives is replaced by npm run certs -- install.
// Judged first, with no reload and no new pod. The I/O is passed in.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ServedCertificate } from "../../haproxy/ssl-cert.ts";
import { CertificateRefusedError } from "../errors.ts";
import type { ManagedCertificate } from "../model/certificates.ts";
import { certificateFacts, certificateProblems, pemCertificates, type CertificateBundle } from "./policy.ts";
import { DEVELOPMENT_ISSUER } from "./status.ts";

/** The keys of a kubernetes.io/tls Secret, as the pod sees them: ISSUED_DIR/FILE/tls.crt and tls.key. */
export const ISSUED_FILES = { chain: "tls.crt", key: "tls.key" } as const;

/** The bundle issued for `file` under `dir`, or undefined while there is none (cert-manager has not issued it yet). */
export async function readIssuedBundle(dir: string, file: string): Promise<CertificateBundle | undefined> {
  const [chainPath, keyPath] = [join(dir, file, ISSUED_FILES.chain), join(dir, file, ISSUED_FILES.key)];
  if (!existsSync(chainPath) || !existsSync(keyPath)) return undefined;
  const [chain, key] = await Promise.all([readFile(chainPath, "utf8"), readFile(keyPath, "utf8")]);
  return { chain: pemCertificates(chain), key };
}

export interface FollowIo {
  now(): Date;
  served(file: string): Promise<ServedCertificate | undefined>;
  issued(file: string): Promise<CertificateBundle | undefined>;
  install(file: string, bundle: CertificateBundle): Promise<void>;
  log(line: string): void;
}

export type FollowOutcome =
  | { file: string; action: "kept" | "not issued yet" }
  | { file: string; action: "installed"; serial: string }
  | { file: string; action: "refused"; problems: string[] };

/** One look: each managed certificate whose issued serial differs from the served one is judged and installed. */
export async function followIssued(certificates: readonly ManagedCertificate[], io: FollowIo): Promise<FollowOutcome[]> {
  const outcomes: FollowOutcome[] = [];
  for (const { file, names } of certificates) {
    const bundle = await io.issued(file);
    if (bundle === undefined || bundle.chain.length === 0) {
      outcomes.push({ file, action: "not issued yet" });
      continue;
    }
    const { serial } = certificateFacts(bundle.chain[0]!);
    if ((await io.served(file))?.serial === serial) {
      outcomes.push({ file, action: "kept" });
      continue;
    }
    const problems = certificateProblems(bundle, names, io.now());
    if (problems.length) {
      io.log(new CertificateRefusedError(file, problems).message);
      outcomes.push({ file, action: "refused", problems });
      continue;
    }
    await io.install(file, bundle);
    io.log(`${file}: installed serial ${serial} as issued`);
    outcomes.push({ file, action: "installed", serial });
  }
  return outcomes;
}

/**
 * Replaces a certificate the user gives: the new one must cover every name the served one has
 * (a client asking for a dropped name would be refused; a development stand-in's names excepted),
 * besides the key, dates and chain.
 * Refused with CertificateRefusedError, the served one unchanged.
 */
export async function installGiven(file: string, bundle: CertificateBundle, io: Pick<FollowIo, "now" | "served" | "install">): Promise<{ file: string; serial: string; notAfter: string; previousSerial?: string }> {
  const served = await io.served(file);
  const required = served && !DEVELOPMENT_ISSUER.test(served.issuer) ? served.names : [];
  const problems = certificateProblems(bundle, required, io.now());
  if (problems.length) throw new CertificateRefusedError(file, problems);
  await io.install(file, bundle);
  const facts = certificateFacts(bundle.chain[0]!);
  return { file, serial: facts.serial, notAfter: facts.notAfter.toISOString(), ...(served && { previousSerial: served.serial }) };
}
