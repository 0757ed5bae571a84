// When a managed certificate is (re)issued, how long a failed attempt waits, and whether a
// certificate may be installed: pure functions of the facts, the model and the clock.
import { X509Certificate, createPrivateKey } from "node:crypto";
import { normalizeSerial } from "../../haproxy/ssl-cert.ts";
import type { IssuanceRecord } from "../../sidecar/certificates.ts";
import type { ManagedCertificate } from "../model/certificates.ts";

export type { IssuanceRecord };

/** What the stack knows of a certificate it serves (from HAProxy's "show ssl cert"). */
export interface CertificateFacts {
  serial: string;
  notBefore: Date;
  notAfter: Date;
  names: string[];
}

export const emptyRecord = (): IssuanceRecord => ({ failures: 0, renewals: { succeeded: 0, failed: 0 } });

/** When a certificate is renewed: when `renewWhenLeft` (plus up to `jitter`) of its lifetime is left. */
export function renewalAt(facts: Pick<CertificateFacts, "notBefore" | "notAfter">, certificate: Pick<ManagedCertificate, "renewWhenLeft" | "jitter">, jitterDraw: number): Date {
  const lifetime = facts.notAfter.getTime() - facts.notBefore.getTime();
  return new Date(facts.notAfter.getTime() - lifetime * (certificate.renewWhenLeft + certificate.jitter * jitterDraw));
}

/** Why the certificate must be issued now, or undefined when the served one stands. */
export function issueReason(certificate: ManagedCertificate, served: CertificateFacts | undefined, record: IssuanceRecord, now: Date): string | undefined {
  if (served === undefined) return "HAProxy serves no certificate for this file";
  if (record.serial !== served.serial) return `the served certificate (serial ${served.serial}) is not one the stack obtained: a placeholder or a hand-installed one`;
  const missing = certificate.names.filter((n) => !served.names.includes(n));
  if (missing.length) return `the served certificate lacks ${missing.join(", ")}`;
  const at = renewalAt(served, certificate, record.jitterDraw ?? 0);
  if (now >= at) return `${Math.round(certificate.renewWhenLeft * 100)} % of its lifetime is left (renewal due ${at.toISOString()})`;
  return undefined;
}

/** Backoff after `failures` failed attempts in a row: 30 s, doubling, at most 6 hours (ACME servers rate-limit failed validations). */
export function retryDelayMs(failures: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, failures - 1), 6 * 3600_000);
}

/**
 * An HTTP Retry-After header (RFC 9110 §10.2.3: seconds, or an HTTP date) as milliseconds from
 * `now`; undefined when absent, unreadable or already past. ACME servers send it with a rate
 * limit (429) or while they are unavailable (503).
 */
export function retryAfterMs(header: string | undefined, now: Date): number | undefined {
  const text = header?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) > 0 ? Number(text) * 1000 : undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at) || !/[a-z]/i.test(text)) return undefined;
  return at > now.getTime() ? at - now.getTime() : undefined;
}

/** When a failed attempt is tried again: after the backoff, or later when the ACME server asked for longer. */
export function nextAttemptAt(failures: number, now: Date, serverAskedMs?: number): Date {
  return new Date(now.getTime() + Math.max(retryDelayMs(failures), serverAskedMs ?? 0));
}

/** A certificate chain and its key as issued: leaf first, then the intermediates. */
export interface CertificateBundle {
  chain: string[];
  key: string;
}

/** Splits PEM text into its certificates, in order. */
export const pemCertificates = (pem: string): string[] => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

/** A crt file as HAProxy takes it (the chain, then the key, in one PEM file) as a bundle; "" for a key it lacks, which the judgement then names. */
export function bundleFromPem(pem: string): CertificateBundle {
  const key = /-----BEGIN ((?:EC|RSA) )?PRIVATE KEY-----[\s\S]+?-----END \1PRIVATE KEY-----/.exec(pem)?.[0] ?? "";
  return { chain: pemCertificates(pem), key };
}

/**
 * Why a certificate must not be installed, each said so that a person can act on it; [] when it
 * may. Checks what a client would otherwise find out: the key, the names, the dates, the chain.
 */
export function certificateProblems(bundle: CertificateBundle, names: readonly string[], now: Date): string[] {
  if (bundle.chain.length === 0) return ["no certificate in the bundle"];
  let certificates: X509Certificate[];
  try {
    certificates = bundle.chain.map((pem) => new X509Certificate(pem));
  } catch (error) {
    return [`a certificate of the chain does not parse: ${(error as Error).message}`];
  }
  const problems: string[] = [];
  const leaf = certificates[0]!;
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(bundle.key))) problems.push("the key does not match the certificate");
  } catch (error) {
    problems.push(`the key does not parse: ${(error as Error).message}`);
  }
  const lacking = names.filter((name) => leaf.checkHost(name, { wildcards: true, subject: "never" }) === undefined);
  if (lacking.length) problems.push(`the certificate lacks ${lacking.join(", ")}`);
  if (now.getTime() >= new Date(leaf.validTo).getTime()) problems.push(`the certificate expired on ${new Date(leaf.validTo).toISOString()}`);
  if (now.getTime() < new Date(leaf.validFrom).getTime()) problems.push(`the certificate is not valid before ${new Date(leaf.validFrom).toISOString()}`);
  for (let i = 0; i + 1 < certificates.length; i++) {
    const [child, parent] = [certificates[i]!, certificates[i + 1]!];
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) problems.push(`the chain is broken: certificate ${i + 1} (${child.subject.replace(/\n/g, ", ")}) is not signed by the next one (${parent.subject.replace(/\n/g, ", ")})`);
  }
  return problems;
}

/** Facts of a PEM certificate, in HAProxy's spelling (serial upper-case hexadecimal). */
export function certificateFacts(pem: string): CertificateFacts {
  const x = new X509Certificate(pem);
  return {
    serial: normalizeSerial(x.serialNumber),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    names: (x.subjectAltName ?? "").split(", ").filter((n) => n.startsWith("DNS:")).map((n) => n.slice(4)),
  };
}
