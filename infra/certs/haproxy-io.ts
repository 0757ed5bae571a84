// The issuer's hands on HAProxy, through the runtime API of every HAProxy of the stack: what it
// serves ("show ssl cert"), installing a certificate in one transaction per process ("set ssl
// cert" then "commit ssl cert", aborted on a refusal), and the HTTP-01 tokens ("add map"/"del map").
import { runtimeCommand } from "../../haproxy/runtime-api.ts";
import { parseShowSslCert, sslCertCommitted, sslCertTransactionOpened, type ServedCertificate } from "../../haproxy/ssl-cert.ts";
import { CertificateInstallFailedError } from "../errors.ts";
import { ACME_CHALLENGE_MAP } from "../render/routing.ts";
import { bindCertificatePath } from "../render/targets.ts";
import type { ChallengeResponder } from "./acme.ts";
import type { CertificateBundle } from "./policy.ts";

const TIMEOUT_MS = 5000;

/** The bundle as HAProxy's crt file holds it: the chain (leaf first), then the key. */
export const bundlePem = (bundle: CertificateBundle) => `${bundle.chain.map((c) => c.trim()).join("\n")}\n${bundle.key.trim()}\n`;

/** What the HAProxy at `socket` serves for the model's certificate `file`; undefined when it serves none by that name. */
export async function servedCertificate(socket: string, file: string): Promise<ServedCertificate | undefined> {
  const path = bindCertificatePath(file);
  return parseShowSslCert(await runtimeCommand({ path: socket }, `show ssl cert ${path}`, { timeoutMs: TIMEOUT_MS }), path);
}

/**
 * Installs the bundle in every HAProxy: a transaction opened and committed on each, so that new
 * handshakes get it at once and connections in flight keep theirs. A refusal aborts that
 * process's transaction (the served certificate stays) and throws; processes already committed
 * keep the new one, which is valid (judged before), and the next attempt installs it everywhere.
 */
export async function installCertificate(sockets: readonly string[], file: string, bundle: CertificateBundle): Promise<void> {
  const path = bindCertificatePath(file);
  for (const socket of sockets) {
    const set = await runtimeCommand({ path: socket }, `set ssl cert ${path} <<\n${bundlePem(bundle)}`, { timeoutMs: TIMEOUT_MS });
    if (!sslCertTransactionOpened(set)) throw new CertificateInstallFailedError(file, socket, set);
    const commit = await runtimeCommand({ path: socket }, `commit ssl cert ${path}`, { timeoutMs: TIMEOUT_MS });
    if (!sslCertCommitted(commit)) {
      await runtimeCommand({ path: socket }, `abort ssl cert ${path}`, { timeoutMs: TIMEOUT_MS }).catch(() => undefined);
      throw new CertificateInstallFailedError(file, socket, commit);
    }
  }
}

/** HTTP-01 tokens in the challenge map of every HAProxy: each answers them on its plain binds. */
export function mapChallengeResponder(sockets: readonly string[]): ChallengeResponder {
  const each = async (command: string) => {
    for (const socket of sockets) {
      const answer = await runtimeCommand({ path: socket }, command, { timeoutMs: TIMEOUT_MS });
      if (answer.trim() !== "" && !/^Done\.?$/m.test(answer)) throw new Error(`"${command.split(" ").slice(0, 3).join(" ")} ..." at ${socket}: ${answer.trim()}`);
    }
  };
  // Tokens and key authorizations are base64url (and a "."): anything else from an ACME server is
  // refused before it reaches the runtime API, where a space or a line break would be a new argument or command.
  const safe = (value: string) => {
    if (!/^[A-Za-z0-9_.-]{1,512}$/.test(value)) throw new Error(`the ACME server sent a challenge value that is not base64url: ${JSON.stringify(value.slice(0, 40))}`);
    return value;
  };
  return {
    put: (token, keyAuthorization) => each(`add map ${ACME_CHALLENGE_MAP} ${safe(token)} ${safe(keyAuthorization)}`),
    remove: (token) => each(`del map ${ACME_CHALLENGE_MAP} ${safe(token)}`),
  };
}
