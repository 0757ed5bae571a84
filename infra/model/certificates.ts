// Certificates the stack obtains and renews itself (ACME), beside the ones given as files: the
// model's part. A managed certificate is installed as the file the binds already name, so one
// certificate serves every bind that names it, and a bind does not say where its file came from.
import { z } from "zod";
import { EnvName, FileName, show } from "./names.ts";
import { ExactHost } from "./routing.ts";

/** A lifetime share: how much of a certificate's validity is left when it is renewed. */
const Share = z
  .number({ error: (iss) => `${show(iss.input)} is not a share of the lifetime: use a number between 0 and 1, e.g. 0.33` })
  .gt(0, { error: (iss) => `${show(iss.input)} is not a share of the lifetime: use a number between 0 and 1, e.g. 0.33` })
  .lt(1, { error: (iss) => `${show(iss.input)} is not a share of the lifetime: use a number between 0 and 1, e.g. 0.33` });

const HTTPS_URL = /^https:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~/-]*)?$/;

/** How the certificate is obtained from an ACME server (RFC 8555). */
export const AcmeIssuer = z
  .strictObject({
    directoryUrl: z.string().regex(HTTPS_URL, { error: (iss) => `${show(iss.input)} is not an ACME directory URL: use "https://host[:port]/path"` }).optional().describe("The ACME server's directory, e.g. \"https://acme-v02.api.letsencrypt.org/directory\"."),
    directoryUrlFromEnv: EnvName.optional().describe("Or the environment variable that holds it (a test ACME server's URL differs per machine)."),
    contact: z.array(z.string().regex(/^[^@\s:]+@[A-Za-z0-9.-]+$/, { error: (iss) => `${show(iss.input)} is not an e-mail address` })).default([]).describe("Addresses the ACME server may write to about this account (\"mailto:\" is added)."),
    challenge: z.literal("http-01", { error: (iss) => `${show(iss.input)} is not a challenge the stack answers: use "http-01"` }).default("http-01").describe("HTTP-01: the ACME server fetches /.well-known/acme-challenge/TOKEN on port 80 of each name; HAProxy answers it from a map."),
    caFileFromEnv: EnvName.optional().describe("The ACME server's own CA, for one whose TLS a public CA did not sign (pebble, a private step-ca): the environment variable holding its PEM file's path."),
    rootsFileFromEnv: EnvName.optional().describe("The roots its certificates chain to, when no public CA's are (a private or test ACME CA: pebble's /roots/0): the environment variable holding their PEM file's path. npm run verify and apply trust them beside the system's roots."),
    accountKeyFile: FileName.default("acme-account.key").describe("The account's key, in the stack's state directory: made on first use, kept across renewals."),
  })
  .superRefine((issuer, ctx) => {
    if ((issuer.directoryUrl === undefined) === (issuer.directoryUrlFromEnv === undefined)) {
      ctx.addIssue({ code: "custom", path: ["directoryUrl"], message: "name the ACME directory: either directoryUrl or directoryUrlFromEnv" });
    }
  }).meta({ id: "AcmeIssuer" });

export const ManagedCertificate = z.strictObject({
  file: FileName.describe("The PEM file it is installed as: the name the binds give in tlsCertificate."),
  names: z.array(ExactHost).min(1, { error: "a certificate needs at least one name" }).describe("The names it is for: the first is its subject, all are in its subjectAltName."),
  acme: AcmeIssuer.describe("The ACME server (Let's Encrypt, an internal CA) that issues it, and the account."),
  renewWhenLeft: Share.default(1 / 3).describe("Renewed when this share of its lifetime is left (Caddy's third by default)."),
  jitter: z.number().min(0).max(0.1).default(0.02).describe("Renewal moves earlier by up to this share of the lifetime, at random, so that many certificates do not renew at one instant."),
}).meta({ id: "ManagedCertificate" });

export type ManagedCertificate = z.output<typeof ManagedCertificate>;
export type AcmeIssuer = z.output<typeof AcmeIssuer>;

/** The directory URL the certificate is issued from, resolved against the environment; undefined when its variable is unset. */
export const acmeDirectoryUrl = (issuer: AcmeIssuer, env: NodeJS.ProcessEnv): string | undefined => issuer.directoryUrl ?? env[issuer.directoryUrlFromEnv!];
