// One pass of the issuer over the topology's managed certificates: for each, what HAProxy serves,
// whether it must be issued (policy.ts), the ACME order, the judgement of what came back, the
// installation, and the record of it all. The I/O (HAProxy, the ACME server, the state file, the
// clock) is passed in, so that the same pass runs under the supervisor, in `npm run certs`, and in tests.
import type { ServedCertificate } from "../../haproxy/ssl-cert.ts";
import type { ManagedCertificate } from "../model/certificates.ts";
import type { Topology } from "../model/schema.ts";
import { AcmeIssueFailedError, CertificateRefusedError } from "../errors.ts";
import { certificateFacts, certificateProblems, emptyRecord, issueReason, nextAttemptAt, type CertificateBundle, type IssuanceRecord } from "./policy.ts";

export interface CertificateIo {
  now(): Date;
  /** A draw in [0, 1): the jitter of a new certificate's renewal. */
  random(): number;
  served(file: string): Promise<ServedCertificate | undefined>;
  issue(certificate: ManagedCertificate): Promise<CertificateBundle>;
  /** Into every HAProxy, and the file on disk, so that a later reload keeps it. */
  install(file: string, bundle: CertificateBundle): Promise<void>;
  readRecords(): Promise<Record<string, IssuanceRecord>>;
  writeRecords(records: Record<string, IssuanceRecord>): Promise<void>;
  log(line: string): void;
}

export type RenewalOutcome =
  | { file: string; action: "kept"; renewalAt?: string }
  | { file: string; action: "waiting"; reason: string; nextAttemptAt: string }
  | { file: string; action: "installed"; reason: string; serial: string; notAfter: string }
  | { file: string; action: "failed"; reason: string; error: string; nextAttemptAt: string };

export interface RenewOptions {
  /** Issue these files now, whatever their dates and backoff say (npm run certs -- renew). */
  force?: readonly string[];
}

/** One pass: every managed certificate checked, those due issued and installed, each outcome recorded. */
export async function renewDue(topology: Pick<Topology, "certificates">, io: CertificateIo, options: RenewOptions = {}): Promise<RenewalOutcome[]> {
  const records = await io.readRecords();
  const outcomes: RenewalOutcome[] = [];
  for (const certificate of topology.certificates) {
    const record = records[certificate.file] ?? emptyRecord();
    const outcome = await renewOne(certificate, record, io, options.force?.includes(certificate.file) ?? false);
    records[certificate.file] = record;
    outcomes.push(outcome);
    await io.writeRecords(records);
  }
  return outcomes;
}

async function renewOne(certificate: ManagedCertificate, record: IssuanceRecord, io: CertificateIo, forced: boolean): Promise<RenewalOutcome> {
  const { file } = certificate;
  const now = io.now();
  const served = await io.served(file);
  const reason = forced ? "renewal asked for (npm run certs -- renew)" : issueReason(certificate, served, record, now);
  if (reason === undefined) return { file, action: "kept" };
  if (!forced && record.nextAttemptAt !== undefined && now < new Date(record.nextAttemptAt)) {
    return { file, action: "waiting", reason: `${reason}; retrying after ${record.failures} failed attempts`, nextAttemptAt: record.nextAttemptAt };
  }
  io.log(`${file}: issuing (${reason})`);
  try {
    const bundle = await io.issue(certificate);
    const problems = certificateProblems(bundle, certificate.names, io.now());
    if (problems.length) throw new CertificateRefusedError(file, problems);
    await io.install(file, bundle);
    const facts = certificateFacts(bundle.chain[0]!);
    Object.assign(record, { serial: facts.serial, installedAt: io.now().toISOString(), jitterDraw: io.random(), failures: 0 });
    delete record.lastError;
    delete record.nextAttemptAt;
    record.renewals.succeeded++;
    io.log(`${file}: installed serial ${facts.serial}, valid until ${facts.notAfter.toISOString()}`);
    return { file, action: "installed", reason, serial: facts.serial, notAfter: facts.notAfter.toISOString() };
  } catch (error) {
    record.failures++;
    record.renewals.failed++;
    record.lastError = (error as Error).message;
    // A rate limit's Retry-After is respected: asking sooner only extends the limit.
    record.nextAttemptAt = nextAttemptAt(record.failures, io.now(), error instanceof AcmeIssueFailedError ? error.retryAfterMs : undefined).toISOString();
    io.log(`${file}: ${record.lastError} (attempt ${record.failures}; next after ${record.nextAttemptAt})`);
    return { file, action: "failed", reason, error: record.lastError, nextAttemptAt: record.nextAttemptAt };
  }
}
