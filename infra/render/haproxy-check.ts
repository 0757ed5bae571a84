// The second validation layer: the real HAProxy parses the rendered text (haproxy -c).
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HaproxyConfigRejectedError } from "../errors.ts";
import { runProgram } from "../programs.ts";
import { TEMPLATES_DIR } from "./render.ts";
import { DOCKER_INIT_ADDR } from "./view.ts";
import { CERTIFICATE_DIR, CERTIFICATE_DIR_VARIABLE, EMPTY_SERVER_STATE, ERROR_PAGE_DIR, LUA_DIR, SERVER_STATE_FILE } from "./targets.ts";
import type { MapFile } from "./routing.ts";
import { writeMapFiles } from "./map-files.ts";

/** A file of the certificate directory the config names: a certificate with its key, a CA's certificates, or a CRL. */
export interface TlsFile {
  name: string;
  kind: "certificate" | "ca" | "crl";
  /** The fields that name it ("frontends.web.binds.0.tlsCertificate"). */
  fields: string[];
}

export interface HaproxyCheckOptions {
  /** The directory the config's errors/ points at; the project's error pages by default. */
  errorPagesDir?: string;
  /** The directory the config's lua/ points at; the project's Lua scripts by default. */
  luaDir?: string;
  /** The directory the config's certs/ points at (TLS binds need their PEM files to exist). */
  certificatesDir?: string;
  /**
   * Without a certificatesDir: PEM file names to stand in for with throwaway self-signed ones, for
   * a target whose certificates exist only where it is deployed (the docker stack's variable).
   */
  placeholderCertificates?: readonly TlsFile[];
  haproxyBinary?: string;
  /** The route tables' map files, written beside the config as at run time. */
  maps?: readonly MapFile[];
}

export interface HaproxyCheckResult {
  /** HAProxy's [WARNING] lines: the config is valid, but something deserves a look. */
  warnings: string[];
}

export const DEFAULT_ERROR_PAGES_DIR = join(TEMPLATES_DIR, ERROR_PAGE_DIR);
/** The Lua scripts a topology may load: code the user owns, beside the error pages. */
export const DEFAULT_LUA_DIR = join(TEMPLATES_DIR, LUA_DIR);

/**
 * Runs `haproxy -c` on `configText` in a scratch directory laid out as at run time (the config
 * with errors/ and certs/ beside it), so that the check reads the same relative paths.
 *
 * Server names are resolved where the config runs (the docker network), never by the check: it
 * reads "init-addr none" for the target's init-addr. Resolving them here waits on this machine's DNS
 * for each name (1,000 names: 4 min 51 s measured, against 0.11 s). The servers' state file is a
 * scratch copy with no server in it.
 */
export async function checkHaproxyConfig(configText: string, options: HaproxyCheckOptions = {}): Promise<HaproxyCheckResult> {
  const dir = await mkdtemp(join(tmpdir(), "haproxy-check-"));
  try {
    const configPath = join(dir, "haproxy.cfg");
    // The servers' states are saved where the config runs, before a reload: here, an empty scratch copy (its version line).
    const stateFile = join(dir, SERVER_STATE_FILE);
    await writeFile(stateFile, EMPTY_SERVER_STATE);
    await writeFile(configPath, configText.replaceAll(`init-addr ${DOCKER_INIT_ADDR} `, "init-addr none ").replace(/^(\s*server-state-file )\S+$/m, `$1${stateFile}`));
    await symlink(options.errorPagesDir ?? DEFAULT_ERROR_PAGES_DIR, join(dir, ERROR_PAGE_DIR));
    await symlink(options.luaDir ?? DEFAULT_LUA_DIR, join(dir, LUA_DIR));
    await writeMapFiles(dir, options.maps ?? []);
    if (options.certificatesDir) await symlink(options.certificatesDir, join(dir, CERTIFICATE_DIR));
    else if (options.placeholderCertificates?.length) await writeSelfSignedCertificates(join(dir, CERTIFICATE_DIR), options.placeholderCertificates);
    // The one file HAProxy reads from an absolute path (a server's client certificate): here, the scratch copy.
    const { code, output } = await runProgram(options.haproxyBinary ?? "haproxy", ["-c", "-f", configPath], { debianPackage: "haproxy", maxBuffer: 16 * 1024 * 1024, env: { ...process.env, [CERTIFICATE_DIR_VARIABLE]: join(dir, CERTIFICATE_DIR) } });
    if (code !== 0) throw new HaproxyConfigRejectedError(output.replaceAll(dir + "/", ""), offendingLines(output, configText));
    return { warnings: output.split("\n").filter((line) => line.includes("[WARNING]")).map((l) => l.replaceAll(dir + "/", "")) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Throwaway stand-ins under each name (openssl): a self-signed certificate and key, concatenated as
 * HAProxy's crt wants (and readable as a CA file), or an empty CRL of such a CA.
 */
export async function writeSelfSignedCertificates(dir: string, files: readonly Pick<TlsFile, "name" | "kind">[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const { name, kind } of files) {
    const [key, cert] = [join(dir, `${name}.key`), join(dir, `${name}.crt`)];
    await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", key, "-out", cert]);
    if (kind === "crl") await writeEmptyCrl(join(dir, name), { key, cert });
    else await writeFile(join(dir, name), (await readFile(cert, "utf8")) + (await readFile(key, "utf8")));
    await rm(key);
    await rm(cert);
  }
}

/** An empty certificate revocation list signed by `ca` (openssl ca wants a database and a config). */
export async function writeEmptyCrl(path: string, ca: { key: string; cert: string }, days = 2): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), "crl-"));
  try {
    await writeFile(join(scratch, "index.txt"), "");
    await writeFile(join(scratch, "crlnumber"), "01\n");
    await writeFile(join(scratch, "ca.cnf"), `[ca]\ndefault_ca = d\n[d]\ndatabase = ${scratch}/index.txt\ncrlnumber = ${scratch}/crlnumber\ndefault_md = sha256\ndefault_crl_days = ${days}\n`);
    await openssl(["ca", "-batch", "-config", join(scratch, "ca.cnf"), "-gencrl", "-keyfile", ca.key, "-cert", ca.cert, "-out", path]);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function openssl(args: string[]): Promise<void> {
  const { code, output } = await run("openssl", args, "openssl");
  if (code !== 0) throw new Error(`openssl ${args[0]} failed: ${output.trim()}`);
}

/** The config lines HAProxy's messages point at ("[haproxy.cfg:12]"), numbered. */
export function offendingLines(haproxyOutput: string, configText: string): string[] {
  const lines = configText.split("\n");
  const numbers = new Set<number>();
  for (const match of haproxyOutput.matchAll(/\[[^\]\s]*haproxy\.cfg:(\d+)\]/g)) numbers.add(Number(match[1]));
  return [...numbers].sort((a, b) => a - b).map((n) => `${String(n).padStart(5)} | ${lines[n - 1] ?? ""}`);
}

const run = (binary: string, args: string[], debianPackage = "haproxy") => runProgram(binary, args, { debianPackage, maxBuffer: 16 * 1024 * 1024 });
