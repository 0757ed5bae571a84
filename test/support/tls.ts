// A throwaway self-signed certificate, so that TLS binds can pass haproxy -c.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeSelfSignedCertificates } from "../../infra/render/haproxy-check.ts";

/** A directory holding site.pem (certificate and key); the caller removes it. */
export async function makeCertificateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "lb-certs-"));
  await writeSelfSignedCertificates(dir, [{ name: "site.pem", kind: "certificate" }]);
  return dir;
}
