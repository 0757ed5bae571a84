// The local stack's certificates, made with the real openssl: the development CA is made once per
// run directory and reused; a directory given must hold every file a TLS bind names.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { CertificateMissingError } from "../infra/errors.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { DEV_CA_FILE, devCertificateExtensions, provisionCertificates } from "../infra/runtime/certificates.ts";
import { editedTopology } from "./support/topologies.ts";

const scratch = mkdtempSync(join(tmpdir(), "lb-certificates-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const withTls = (...names: string[]) => parseTopology(editedTopology((t) => names.forEach((name, i) => t.frontends[0].binds.push({ port: 8443 + i, tlsCertificate: name }))));
const fingerprint = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;

describe("provisionCertificates", () => {
  it("no TLS bind: nothing is made", async () => {
    const runDir = mkdtempSync(join(scratch, "run-"));
    assert.deepEqual(await provisionCertificates(runDir, withTls()), { dir: join(runDir, "certs"), given: [], generated: [] });
  });

  it("makes one development CA, signs each file once, and reuses both on the next start", async () => {
    const runDir = mkdtempSync(join(scratch, "run-"));
    const first = await provisionCertificates(runDir, withTls("a.pem", "b.pem"));
    assert.deepEqual(first.generated, ["a.pem", "b.pem"]);
    assert.equal(first.devCaFile, join(runDir, DEV_CA_FILE));
    assert.equal(statSync(join(runDir, "tls/dev-ca.key")).mode & 0o777, 0o600, "the CA's key is private");
    assert.equal(statSync(join(runDir, "certs/a.pem")).mode & 0o777, 0o600);
    const ca = new X509Certificate(readFileSync(first.devCaFile));
    assert.equal(ca.ca, true);
    const before = [fingerprint(first.devCaFile), fingerprint(join(runDir, "certs/a.pem"))];
    const second = await provisionCertificates(runDir, withTls("a.pem", "b.pem"));
    assert.deepEqual([fingerprint(second.devCaFile!), fingerprint(join(runDir, "certs/a.pem"))], before, "reused, not made anew");
  });

  it("a directory given must hold every file: CERTIFICATE_MISSING names the bind and the file", async () => {
    const runDir = mkdtempSync(join(scratch, "run-"));
    const given = mkdtempSync(join(scratch, "given-"));
    await assert.rejects(provisionCertificates(runDir, withTls("site.pem"), given), (error: Error) => {
      assert.ok(error instanceof CertificateMissingError);
      assert.match(error.message, /^frontends\.http_front\.binds\.1\.tlsCertificate: site\.pem is not in .*given-\w+: put the PEM file/);
      return true;
    });
  });

  it("the development certificate is a server certificate for the local stack's names", () => {
    assert.equal(devCertificateExtensions(), "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n");
  });
});
