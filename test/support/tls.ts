// A throwaway self-signed certificate, so that TLS binds can pass haproxy -c.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A directory holding site.pem (certificate and key); the caller removes it. */
export function makeCertificateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "lb-certs-"));
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
    "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
  ], { stdio: "ignore" });
  writeFileSync(join(dir, "site.pem"), readFileSync(join(dir, "cert.pem"), "utf8") + readFileSync(join(dir, "key.pem"), "utf8"));
  return dir;
}
