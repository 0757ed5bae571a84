// The local stack's TLS certificates: the ones the user gives (--certs-dir), or, for a bind whose
// certificate is not there, one signed by a development CA of the run directory, the way mkcert
// does it: one CA per machine (here per run directory), reused, so that a client trusts it once.
import { existsSync } from "node:fs";
import { copyFile, chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Topology } from "../model/schema.ts";
import { CERTIFICATE_DIR } from "../render/targets.ts";
import { assertCertificatesPresent, certificateFiles } from "../render/validate.ts";
import { writeFileAtomic } from "../files.ts";
import { writeEmptyCrl } from "../render/haproxy-check.ts";
import { runProgram } from "../programs.ts";

/** The development CA, relative to the run directory: what `curl --cacert` takes. */
export const DEV_CA_FILE = "tls/dev-ca.pem";
const DEV_CA_KEY_FILE = "tls/dev-ca.key";
/** Names a development certificate answers for: the local stack listens on 127.0.0.1. */
export const DEV_CERTIFICATE_NAMES = ["localhost", "127.0.0.1"] as const;

export interface ProvisionedCertificates {
  /** Where HAProxy reads them (the run directory's certs/). */
  dir: string;
  /** Copied from the directory the user gave. */
  given: string[];
  /** Signed by the development CA because the user gave none. */
  generated: string[];
  /** The development CA's certificate, when one signed anything. */
  devCaFile?: string;
}

/**
 * Puts every certificate the topology's TLS binds name into `runDir`/certs: copied from `certsDir`,
 * which must hold every file (a production certificate silently replaced by a development one
 * would be worse than an error); without it, one signed by the development CA (kept across runs)
 * for each file that is not there yet.
 */
export async function provisionCertificates(runDir: string, topology: Topology, certsDir?: string): Promise<ProvisionedCertificates> {
  const files = certificateFiles(topology);
  const dir = join(runDir, CERTIFICATE_DIR);
  const result: ProvisionedCertificates = { dir, given: [], generated: [] };
  if (files.length === 0) return result;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // A managed certificate is the issuer's: a stand-in for its names until it installs one (kept across runs once it has).
  const managed = new Set(topology.certificates.map((c) => c.file));
  const managedNames = (file: string) => topology.certificates.find((c) => c.file === file)?.names ?? [];
  if (certsDir !== undefined) {
    assertCertificatesPresent(topology, certsDir);
    for (const { name } of files.filter((f) => !managed.has(f.name))) {
      await copyFile(join(certsDir, name), join(dir, name));
      await chmod(join(dir, name), 0o600);
      result.given.push(name);
    }
    for (const name of managed) {
      if (!existsSync(join(dir, name))) await issueDevCertificate(await ensureDevCa(runDir), join(dir, name), managedNames(name));
      result.generated.push(name);
    }
    if (managed.size) result.devCaFile = join(runDir, DEV_CA_FILE);
    return result;
  }
  // Without a directory: what is there stays (a certificate given at start, or one made before).
  // A CA file stands for the development CA (which signs the servers' development certificates
  // too), a CRL for an empty one of it.
  for (const { name, kind } of files) {
    const path = join(dir, name);
    if (!existsSync(path)) {
      const ca = await ensureDevCa(runDir);
      if (kind === "certificate") await issueDevCertificate(ca, path, managedNames(name));
      else if (kind === "ca") await copyFile(ca.cert, path);
      else await writeEmptyCrl(path, ca, 365);
    }
    if (kind !== "certificate" || (existsSync(join(runDir, DEV_CA_FILE)) && (await signedBy(path, join(runDir, DEV_CA_FILE))))) result.generated.push(name);
    else result.given.push(name);
  }
  if (result.generated.length) result.devCaFile = join(runDir, DEV_CA_FILE);
  return result;
}

interface DevCa {
  cert: string;
  key: string;
}

async function ensureDevCa(runDir: string): Promise<DevCa> {
  const ca = { cert: join(runDir, DEV_CA_FILE), key: join(runDir, DEV_CA_KEY_FILE) };
  if (existsSync(ca.cert) && existsSync(ca.key)) return ca;
  await mkdir(join(runDir, "tls"), { recursive: true, mode: 0o700 });
  await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
    "-subj", "/O=lb-stack development CA/CN=lb-stack development CA", "-keyout", ca.key, "-out", ca.cert,
    "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  await chmod(ca.key, 0o600);
  return ca;
}

/**
 * A development certificate for one of the local stack's own servers (a TLS service behind a TCP
 * frontend): signed by the run directory's development CA for `names` and the local ones, kept
 * across runs while that CA signed it.
 */
export async function provisionServerCertificate(runDir: string, pemPath: string, names: readonly string[]): Promise<void> {
  const caFile = join(runDir, DEV_CA_FILE);
  if (existsSync(pemPath) && existsSync(caFile) && (await signedBy(pemPath, caFile))) return;
  await mkdir(dirname(pemPath), { recursive: true, mode: 0o700 });
  await issueDevCertificate(await ensureDevCa(runDir), pemPath, names);
}

/** A leaf for the local stack's names (and `names`), signed by the CA, written as HAProxy's crt wants (cert + key). */
async function issueDevCertificate(ca: DevCa, pemPath: string, names: readonly string[] = []): Promise<void> {
  const [key, csr, cert, ext] = [".key", ".csr", ".crt", ".ext"].map((suffix) => `${pemPath}${suffix}`) as [string, string, string, string];
  try {
    await writeFile(ext, devCertificateExtensions(names), { mode: 0o600 });
    await openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", `/O=lb-stack development certificate/CN=${names[0] ?? "localhost"}`, "-keyout", key, "-out", csr]);
    // 397 days: the longest validity browsers accept for a leaf.
    await openssl(["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-days", "397", "-extfile", ext, "-out", cert]);
    await writeFileAtomic(pemPath, (await readFile(cert, "utf8")) + (await readFile(key, "utf8")), { mode: 0o600 });
  } finally {
    for (const file of [key, csr, cert, ext]) await rm(file, { force: true });
  }
}

/** Pure: the X.509 extensions of a development certificate (a server certificate for the local names). */
export function devCertificateExtensions(names: readonly string[] = []): string {
  const alt = [...names, ...DEV_CERTIFICATE_NAMES].map((n) => (/^[0-9.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(",");
  return `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${alt}\n`;
}

/** Whether the PEM at `pemPath` exists and verifies against the CA (a CA made anew invalidates old leaves). */
async function signedBy(pemPath: string, caCert: string): Promise<boolean> {
  if (!existsSync(pemPath)) return false;
  try {
    await openssl(["verify", "-CAfile", caCert, pemPath]);
    return true;
  } catch {
    return false;
  }
}

async function openssl(args: string[]): Promise<string> {
  const { code, stdout, output } = await runProgram("openssl", args, { debianPackage: "openssl", timeoutMs: 30_000 });
  if (code !== 0) throw new Error(`openssl ${args[0]} failed: ${output.trim()}`);
  return stdout;
}
