// The runtime API's certificate commands (HAProxy 2.6): "show ssl cert [<file>]", and the answers
// of "set ssl cert" and "commit ssl cert", which say success or failure in prose only.
import { SslCertAnswerError } from "./errors.ts";

/** A certificate as HAProxy serves it: what clients get, whatever the file on disk says. */
export interface ServedCertificate {
  /** The file name as the config gives it ("certs/shop.pem"). */
  file: string;
  /** Hexadecimal, upper case, as HAProxy prints it. */
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** DNS names of its subjectAltName. */
  names: string[];
  subject: string;
  issuer: string;
  sha1Fingerprint: string;
}

/** A serial as one spelling: upper-case hexadecimal without leading zeros (OpenSSL prints a sign byte of 00 for some). */
export const normalizeSerial = (hex: string) => hex.toUpperCase().replace(/^0+(?=.)/, "");

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "Dec  3 19:01:33 2026 GMT", OpenSSL's ASN1_TIME print. */
function parseAsn1Time(text: string, file: string): Date {
  const m = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4}) GMT$/.exec(text);
  const month = m ? MONTHS.indexOf(m[1]!) : -1;
  if (!m || month < 0) throw new SslCertAnswerError(`show ssl cert ${file}`, `a date "${text}"`);
  return new Date(Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])));
}

/** "show ssl cert <file>"; undefined when HAProxy serves no such file. */
export function parseShowSslCert(text: string, file: string): ServedCertificate | undefined {
  if (/^Can't display the certificate/m.test(text)) return undefined;
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const at = line.indexOf(": ");
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 2).trim());
  }
  const get = (key: string) => {
    const value = fields.get(key);
    if (value === undefined) throw new SslCertAnswerError(`show ssl cert ${file}`, `no "${key}:" line`);
    return value;
  };
  return {
    file: get("Filename").replace(/^\*/, ""),
    serial: normalizeSerial(get("Serial")),
    notBefore: parseAsn1Time(get("notBefore"), file),
    notAfter: parseAsn1Time(get("notAfter"), file),
    names: (fields.get("Subject Alternative Name") ?? "").split(",").map((n) => n.trim()).filter((n) => n.startsWith("DNS:")).map((n) => n.slice(4)),
    subject: get("Subject"),
    issuer: get("Issuer"),
    sha1Fingerprint: get("SHA1 FingerPrint"),
  };
}

/** "show ssl cert": the certificate files HAProxy serves. */
export const parseSslCertList = (text: string): string[] => text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));

/** Whether "set ssl cert" opened a transaction; the answer otherwise is HAProxy's reason. */
export const sslCertTransactionOpened = (answer: string) => /^Transaction (created|updated) for certificate /m.test(answer);

/** Whether "commit ssl cert" installed the certificate. */
export const sslCertCommitted = (answer: string) => /^Success!$/m.test(answer);
