// The images the stack names, made here where no registry can be reached: a Debian base bootstrapped
// once from this machine's configured sources (mmdebstrap, then podman import; cached by content),
// stand-ins for the upstream images, and the stack's own images built from their declared contexts
// with their base image given as a build argument.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { EngineUnavailableError } from "../errors.ts";
import { PINNED_IMAGES } from "../images.ts";
import type { ImageToBuild, ImageToPull } from "./deploy-sequence.ts";
import { runTool, type EngineService } from "./engine-service.ts";

const STAND_INS_DIR = fileURLToPath(new URL("./stand-ins/", import.meta.url));
const SOURCES = ["/etc/apt/sources.list", "/etc/apt/sources.list.d"];
/** The machine's own extra CA certificates: what its package mirrors and registries are trusted with. */
const LOCAL_CA_DIR = "/usr/local/share/ca-certificates";
/** minbase with CA certificates, and this machine's own CAs when it has any (a mirror or registry behind a proxy needs them). */
const mmdebstrapArgs = () => [
  "--quiet", "--variant=minbase", "--include=ca-certificates",
  ...(filesOf(LOCAL_CA_DIR).length ? [`--customize-hook=copy-in ${LOCAL_CA_DIR} /usr/local/share`, '--customize-hook=chroot "$1" update-ca-certificates'] : []),
  "bookworm",
];

/**
 * Upstream images the stack pulls, and what stands in for each here. Grafana has no Debian package:
 * the local deployment leaves it out (its provisioning files are checked at synth level).
 */
export const STAND_INS: Record<string, string | undefined> = {
  [PINNED_IMAGES.haproxy]: "haproxy",
  [PINNED_IMAGES.prometheus]: "prometheus",
  [PINNED_IMAGES.alertmanager]: "alertmanager",
  [PINNED_IMAGES.grafana]: undefined,
  /** The sidecar's Dockerfile's default base. */
  "node:20-bookworm-slim": "node",
};
/** The label on a stand-in image: what it was built from, to tell when it must be built again. */
const STAND_IN_LABEL = "lb.stand-in";
/** The web app's Dockerfile's default base: the bootstrapped Debian base itself. */
const DEBIAN_BASE = "debian:bookworm-slim";

const hash = (...parts: (string | Buffer)[]) => {
  const h = createHash("sha256");
  for (const part of parts) h.update(part).update("\0");
  return h.digest("hex").slice(0, 12);
};
const filesOf = (path: string): Buffer[] => (!existsSync(path) ? [] : readdirSync(path, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesOf(join(path, e.name)) : [readFileSync(join(path, e.name))])));
const contentOf = (path: string): Buffer[] => (!existsSync(path) ? [] : statSync(path).isDirectory() ? filesOf(path) : [readFileSync(path)]);

export interface ImageLog {
  (line: string): void;
}

/** The Debian base, made once per content of the machine's sources and CA certificates. */
export async function ensureBaseImage(engine: EngineService, log: ImageLog): Promise<string> {
  const args = mmdebstrapArgs();
  const key = hash(JSON.stringify(args), ...SOURCES.flatMap(contentOf), ...filesOf(LOCAL_CA_DIR));
  const tag = `localhost/lb-debian-base:${key}`;
  if (await engine.client.inspectImage(tag)) return tag;
  log(`bootstrapping a Debian base image with mmdebstrap (once; about 20 s): ${tag}`);
  const scratch = mkdtempSync(join(tmpdir(), "lb-base-"));
  try {
    const tar = join(scratch, "base.tar");
    await runTool("mmdebstrap", [...args, tar], { timeoutMs: 600_000 });
    await engine.podman(["import", "--quiet", tar, tag], 300_000);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return tag;
}

/** A stand-in for an upstream image, tagged with the upstream name so that the stack's references find it. */
export async function ensureStandIn(engine: EngineService, upstream: string, base: string, log: ImageLog): Promise<void> {
  const dir = STAND_INS[upstream];
  if (dir === undefined) throw new EngineUnavailableError(`${upstream} cannot be pulled here and has no stand-in`);
  const context = join(STAND_INS_DIR, dir);
  const extra = dir === "node" ? nodeFiles() : [];
  // Node and npm by version: the binary itself is 100 MB, not worth hashing.
  const key = hash(base, ...filesOf(context), dir === "node" ? `${process.version} npm ${JSON.parse(readFileSync(join(extra[1]!.from, "package.json"), "utf8")).version}` : "");
  if ((await engine.client.inspectImage(upstream))?.Labels[STAND_IN_LABEL] === key) return;
  log(`building a stand-in for ${upstream} (no registry here) from ${join("infra/containers/stand-ins", dir)}`);
  const scratch = mkdtempSync(join(tmpdir(), "lb-stand-in-"));
  try {
    cpSync(context, scratch, { recursive: true });
    for (const file of extra) cpSync(file.from, join(scratch, file.to), { recursive: true });
    await engine.client.build(await tarDirectory(scratch), { tag: upstream, dockerfile: "Dockerfile", buildArgs: { BASE_IMAGE: base }, labels: { [STAND_IN_LABEL]: key } }, log);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** This machine's Node and npm, for the node stand-in. */
function nodeFiles(): { from: string; to: string }[] {
  const npm = [join(dirname(process.execPath), "..", "lib", "node_modules", "npm"), "/usr/lib/node_modules/npm", "/usr/local/lib/node_modules/npm"].find(existsSync);
  if (!npm) throw new EngineUnavailableError("npm's directory (lib/node_modules/npm beside this Node) was not found for the node stand-in");
  return [{ from: process.execPath, to: "node" }, { from: npm, to: "npm" }];
}

/** The base image a Dockerfile asks for by default (ARG BASE_IMAGE=...), and what stands in for it here. */
export function baseImageArgument(dockerfileText: string): string | undefined {
  return /^ARG BASE_IMAGE=(\S+)$/m.exec(dockerfileText)?.[1];
}

/** Makes every image the plan names: stand-ins for pulled ones, builds for the rest (with their base given). */
export async function ensureImages(engine: EngineService, images: (ImageToBuild | ImageToPull)[], options: { leaveOut: string[]; log: ImageLog }): Promise<void> {
  const base = await ensureBaseImage(engine, options.log);
  for (const image of images.filter((i): i is ImageToPull => i.kind === "pull" && !options.leaveOut.includes(i.name))) await ensureStandIn(engine, image.name, base, options.log);
  for (const image of images.filter((i): i is ImageToBuild => i.kind === "build")) {
    const upstreamBase = baseImageArgument(readFileSync(join(image.context, image.dockerfile), "utf8"));
    let baseArg: string | undefined;
    if (upstreamBase === DEBIAN_BASE) baseArg = base;
    else if (upstreamBase !== undefined) {
      await ensureStandIn(engine, upstreamBase, base, options.log);
      baseArg = upstreamBase;
    }
    options.log(`building ${image.name} from ${image.dockerfile} (base ${baseArg ?? "as written"})`);
    await engine.client.build(await tarDirectory(image.context), { tag: image.name, dockerfile: image.dockerfile, buildArgs: { ...image.buildArgs, ...(baseArg && { BASE_IMAGE: baseArg }) } }, options.log);
  }
}

/** A tar of a build context, leaving out what its .dockerignore names (as the Docker client does). */
export async function tarDirectory(dir: string): Promise<Buffer> {
  const ignore = existsSync(join(dir, ".dockerignore")) ? readFileSync(join(dir, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#")) : [];
  return new Promise((resolve, reject) => {
    execFile("tar", ["-C", dir, ...ignore.map((p) => `--exclude=./${p.replace(/^\//, "")}`), "-cf", "-", "."], { encoding: "buffer", maxBuffer: 1024 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`tar of ${dir} failed: ${stderr.toString() || error.message}`));
      else resolve(stdout);
    });
  });
}
