// What `npm run certs -- status` shows for each certificate file the binds serve: what HAProxy
// serves (so what clients get), where it comes from, and for a managed one its next renewal and
// the issuer's trouble, if any. Pure: the served certificates and records are read by the caller.
import type { ServedCertificate } from "../../haproxy/ssl-cert.ts";
import type { IssuerConfig } from "./config.ts";
import { emptyRecord, issueReason, renewalAt, type IssuanceRecord } from "./policy.ts";

export interface CertificateStatus {
  file: string;
  names: string[];
  issuer: string;
  serial: string;
  notAfter?: string;
  /** "acme": the stack renews it; "given": a file the user provides; "development": the local stack's stand-in. */
  source: "acme" | "given" | "development";
  /** For a managed one: when it renews, or why it is issued at the next pass. */
  renewal?: string;
  failures?: number;
  lastError?: string;
}

/** The development CA's subject, by which a stand-in is told from a given certificate. */
export const DEVELOPMENT_ISSUER = /lb-stack development CA/;

export function certificateStatuses(config: Pick<IssuerConfig, "files" | "certificates">, served: ReadonlyMap<string, ServedCertificate | undefined>, records: Readonly<Record<string, IssuanceRecord>>, now: Date): CertificateStatus[] {
  return config.files.map((file) => {
    const certificate = served.get(file);
    const managed = config.certificates.find((c) => c.file === file);
    const record = records[file] ?? emptyRecord();
    const base = {
      file,
      names: certificate?.names ?? [],
      issuer: certificate?.issuer ?? "(not served)",
      serial: certificate?.serial ?? "",
      ...(certificate && { notAfter: certificate.notAfter.toISOString() }),
    };
    if (!managed) return { ...base, source: certificate && DEVELOPMENT_ISSUER.test(certificate.issuer) ? "development" : "given" };
    const due = issueReason(managed, certificate, record, now);
    const renewal = due !== undefined ? `at the next pass: ${due}` : certificate ? renewalAt(certificate, managed, record.jitterDraw ?? 0).toISOString() : "";
    return {
      ...base,
      source: "acme",
      renewal: record.nextAttemptAt !== undefined && due !== undefined ? `after ${record.nextAttemptAt} (backoff): ${due}` : renewal,
      ...(record.failures > 0 && { failures: record.failures }),
      ...(record.lastError !== undefined && { lastError: record.lastError }),
    };
  });
}
