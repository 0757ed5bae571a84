// Obtaining a certificate from an ACME server (RFC 8555) with acme-client: the account, the order,
// the HTTP-01 challenges (put where HAProxy answers them, removed after), the key and the chain.
// No JOSE or CSR code of our own.
import { Agent, get } from "node:https";
import * as acme from "acme-client";
import type { ManagedCertificate } from "../model/certificates.ts";
import { AcmeIssueFailedError } from "../errors.ts";
import { pemCertificates, retryAfterMs, type CertificateBundle } from "./policy.ts";

/** Where the HTTP-01 key authorizations are published while the ACME server validates. */
export interface ChallengeResponder {
  put(token: string, keyAuthorization: string): Promise<void>;
  remove(token: string): Promise<void>;
}

export interface AcmeAccess {
  directoryUrl: string;
  /** The ACME server's CA (PEM) when a public CA did not sign its TLS certificate. */
  caPem?: string;
  /** The account key (PEM); made by the caller once and kept. */
  accountKey: string;
  responder: ChallengeResponder;
  log: (line: string) => void;
}

/** A new private key for an account (ECDSA P-256), PEM. */
export const newAccountKey = async (): Promise<string> => (await acme.crypto.createPrivateEcdsaKey("P-256")).toString();

/** Issues a certificate for `certificate.names`: a fresh key, a CSR, the order completed through HTTP-01. */
export async function issueCertificate(certificate: Pick<ManagedCertificate, "file" | "names" | "acme">, access: AcmeAccess): Promise<CertificateBundle> {
  const agent = new Agent(access.caPem ? { ca: access.caPem } : {});
  // A server that is down is said so at once, in Node's words (acme-client would retry for over a minute, then lose the cause).
  await directoryAnswers(access.directoryUrl, agent).catch((error: Error & { retryAfterMs?: number }) => {
    throw new AcmeIssueFailedError(certificate.file, access.directoryUrl, `cannot reach it: ${error.message}`, error.retryAfterMs);
  });
  // acme-client speaks through one axios instance: its TLS trust is set for this server's CA. It
  // retries nothing within an attempt (it would sleep out a rate limit's Retry-After, an hour
  // perhaps, inside the pass): the issuer's backoff spaces the attempts, as long as the server asked.
  acme.axios.defaults.httpsAgent = agent;
  Object.assign((acme.axios.defaults as { acmeSettings?: object }).acmeSettings ?? {}, { retryMaxAttempts: 0 });
  const client = new acme.Client({ directoryUrl: access.directoryUrl, accountKey: access.accountKey, backoffAttempts: 5, backoffMin: 500, backoffMax: 5000 });
  const [key, csr] = await acme.crypto.createCsr({ commonName: certificate.names[0]!, altNames: [...certificate.names] }, await acme.crypto.createPrivateEcdsaKey("P-256"));
  // acme-client's errors keep the problem's detail but not the headers: the last Retry-After of a
  // 429 or 503 is noted as the answers pass, so that the issuer waits as long as the server asked.
  let askedToWaitMs: number | undefined;
  const noteRetryAfter = (response?: { status?: number; headers?: Record<string, unknown> }) => {
    if (response?.status === 429 || response?.status === 503) askedToWaitMs = retryAfterMs(String(response.headers?.["retry-after"] ?? ""), new Date()) ?? askedToWaitMs;
  };
  const interceptor = acme.axios.interceptors.response.use(
    (response) => (noteRetryAfter(response), response),
    (error: { response?: { status?: number; headers?: Record<string, unknown> } }) => (noteRetryAfter(error.response), Promise.reject(error)),
  );
  try {
    const chain = await client.auto({
      csr,
      email: certificate.acme.contact[0],
      termsOfServiceAgreed: true,
      challengePriority: ["http-01"],
      // acme-client would fetch the challenge itself first, over the public name: HAProxy answers it, and the ACME server checks.
      skipChallengeVerification: true,
      challengeCreateFn: async (authz, challenge, keyAuthorization) => {
        access.log(`${certificate.file}: answering ${challenge.type} for ${authz.identifier.value}`);
        await access.responder.put(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        await access.responder.remove(challenge.token);
      },
    });
    return { chain: pemCertificates(chain), key: key.toString() };
  } catch (error) {
    throw new AcmeIssueFailedError(certificate.file, access.directoryUrl, describeAcmeError(error), askedToWaitMs);
  } finally {
    acme.axios.interceptors.response.eject(interceptor);
  }
}

/** Resolves once the directory answers 200, within 5 s; a refusal carries the server's Retry-After. */
function directoryAnswers(url: string, agent: Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent, timeout: 5000 }, (response) => {
      response.resume();
      if (response.statusCode === 200) return resolve();
      const retryAfter = retryAfterMs(response.headers["retry-after"], new Date());
      reject(Object.assign(new Error(`the directory answered HTTP ${response.statusCode}`), { retryAfterMs: retryAfter }));
    });
    request.on("timeout", () => request.destroy(new Error("no answer within 5 s"))).on("error", reject);
  });
}

/** An ACME problem document's detail when there is one (RFC 8555 §6.7), else the error's message. */
function describeAcmeError(error: unknown): string {
  const e = error as { message?: string; response?: { data?: { detail?: string; type?: string } }; code?: string };
  const detail = e.response?.data?.detail;
  if (detail) return `${detail}${e.response?.data?.type ? ` (${e.response.data.type})` : ""}`;
  return e.message ?? String(error);
}
