// npm run render -- [--topology FILE] [--target local|docker] [--run-dir DIR] [--out FILE] [--print-topology]
import { dirname, resolve, relative } from "node:path";
import { parseCliArgs, runMain } from "../../lib/cli.ts";
import { UsageError } from "../../lib/errors.ts";
import { DEFAULT_TOPOLOGY_FILE, loadTopologyFile } from "../model/load.ts";
import { writeFileAtomic } from "../files.ts";
import { checkErrorPages } from "./error-pages.ts";
import { DEFAULT_ERROR_PAGES_DIR } from "./haproxy-check.ts";
import { assertCertificatesPresent, certificateFiles, checkTopologyConfig } from "./validate.ts";
import { renderHaproxyConfig } from "./render.ts";
import { writeMapFiles } from "./map-files.ts";
import { mapFiles } from "./routing.ts";
import { readLuaScripts } from "./lua.ts";
import { dockerTarget, localTarget, type RenderTarget } from "./targets.ts";

const USAGE = `usage: npm run render -- [--topology FILE] [--target local|docker] [--run-dir DIR] [--certs-dir DIR] [--out FILE]
       npm run render -- --print-topology [--topology FILE]

  --topology FILE   a .ts/.js module exporting "topology", or a .json document (default ${DEFAULT_TOPOLOGY_FILE})
  --target          local: everything on 127.0.0.1, sockets in --run-dir (default); docker: container names
  --run-dir DIR     where the local target's sockets live (default .run)
  --certs-dir DIR   where the PEM files the TLS binds name are (default: checked with throwaway ones)
  --out FILE        write atomically, only after haproxy -c accepts the config; otherwise print it
  --print-topology  print the validated topology, defaults filled in, as JSON that --topology accepts`;

function parseTarget(name: string, runDir: string): RenderTarget {
  if (name === "docker") return dockerTarget();
  if (name === "local") return localTarget(resolve(runDir));
  throw new UsageError(`--target ${JSON.stringify(name)} is not a target: use local or docker\n${USAGE}`);
}

async function main(argv: string[]): Promise<number> {
  const { values: args } = parseCliArgs(
    argv,
    {
      topology: { type: "string", default: DEFAULT_TOPOLOGY_FILE },
      target: { type: "string", default: "local" },
      "run-dir": { type: "string", default: ".run" },
      out: { type: "string" },
      "certs-dir": { type: "string" },
      "print-topology": { type: "boolean", default: false },
    },
    USAGE,
  );
  const target = parseTarget(args.target, args["run-dir"]);
  const topology = await loadTopologyFile(args.topology);
  if (args["print-topology"]) {
    process.stdout.write(`${JSON.stringify(topology, null, 2)}\n`);
    return 0;
  }
  const config = renderHaproxyConfig(topology, target, { source: relative(process.cwd(), resolve(args.topology)) });
  await checkErrorPages(topology, DEFAULT_ERROR_PAGES_DIR);
  readLuaScripts(topology);
  const certificates = certificateFiles(topology);
  const certsDir = args["certs-dir"] && resolve(args["certs-dir"]);
  if (certsDir) await assertCertificatesPresent(topology, certsDir);
  else if (certificates.length) process.stderr.write(`no --certs-dir: checked with throwaway certificates standing in for ${certificates.map((c) => c.name).join(", ")}\n`);
  const maps = mapFiles(topology);
  const { warnings } = await checkTopologyConfig(topology, config, certsDir ? { certificatesDir: certsDir, maps } : { placeholderCertificates: certificates, maps });
  for (const warning of warnings) process.stderr.write(`${warning}\n`);
  if (args.out) {
    // The map files the config names go beside it, where HAProxy looks for them.
    if (maps.length) await writeMapFiles(dirname(resolve(args.out)), maps);
    await writeFileAtomic(args.out, config);
    process.stderr.write(`wrote ${args.out}${maps.length ? ` and ${maps.map((m) => m.path).join(", ")}` : ""} (haproxy -c: valid)\n`);
  } else {
    process.stdout.write(config);
  }
  return 0;
}

runMain(main);
