// A stand-in for a managed certificate that has not been issued yet, where no development CA and
// no openssl exist (the issuer's container): self-signed for the certificate's names, short-lived,
// so that HAProxy can start and answer the HTTP-01 challenge that replaces it. The issuer tells it
// from an issued one by its serial (issueReason), never by its subject.
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

/** Marks a placeholder for a person reading "npm run certs -- status" or a browser's warning. */
export const PLACEHOLDER_ORGANIZATION = "lb-stack placeholder (not yet issued)";
const LIFETIME_DAYS = 7;

/** A self-signed ECDSA P-256 certificate for `names` and its key, as one PEM bundle (certificate first, as HAProxy takes it). */
export async function placeholderCertificate(names: readonly string[], now = new Date()): Promise<string> {
  x509.cryptoProvider.set(webcrypto as Crypto);
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString("hex").replace(/^[89a-f]/, "1"),
    name: `CN=${names[0]}, O=${PLACEHOLDER_ORGANIZATION}`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + LIFETIME_DAYS * 86_400_000),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: "dns" as const, value }))),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    ],
  });
  const key = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey)).toString("base64").match(/.{1,64}/g)!.join("\n");
  return `${certificate.toString("pem")}\n-----BEGIN PRIVATE KEY-----\n${key}\n-----END PRIVATE KEY-----\n`;
}
