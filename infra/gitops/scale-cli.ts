// npm run scale -- BACKEND N [--run-dir DIR] [--json FILE]
// A discovered group of the running local stack to N instances: new ones started and serving
// before DNS names them, leaving ones drained by HAProxy before they stop; haproxy.cfg unchanged.
import { join, resolve } from "node:path";
import { parseCliArgs, runMain } from "../../lib/cli.ts";
import { localGroupRuntime } from "../runtime/group-runtime.ts";
import { UsageError } from "../../lib/errors.ts";
import { formatTable } from "../../lib/text-table.ts";
import { writeFileAtomic } from "../files.ts";
import { REPO_ROOT } from "../repo.ts";
import { scaleGroup, type ScaleResult } from "./scale.ts";

const USAGE = `usage: npm run scale -- BACKEND N [--run-dir DIR] [--json FILE]

  BACKEND          a backend of the running topology whose servers are a discovery group
  N                how many instances it should run (0 to the group's maxServers)
  --run-dir DIR    the running local stack (default .run)
  --json FILE      write the result as JSON

Scaling changes DNS records only: HAProxy's config and process stay as they are.`;

export function describeScale(result: ScaleResult): string {
  const rows = result.instances.map((i) => [
    i.instance,
    i.address,
    i.slot,
    i.action,
    `${i.dnsToHaproxyMs} ms`,
    i.drainMs === undefined ? "" : `${i.drainMs} ms`,
  ]);
  const table = rows.length ? `${formatTable([["instance", "address", "slot", "action", "record → HAProxy", "drained in"], ...rows])}\n` : "";
  return `${table}${result.backend}: ${result.from} → ${result.to} instances, no reload\n`;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs(argv, { "run-dir": { type: "string", default: join(REPO_ROOT, ".run") }, json: { type: "string" } }, USAGE, true);
  const [backend, count, ...extra] = positionals;
  if (backend === undefined || count === undefined || extra.length > 0) throw new UsageError(`give a backend and a count\n${USAGE}`);
  if (!/^\d+$/.test(count)) throw new UsageError(`${JSON.stringify(count)} is not an instance count: use a whole number\n${USAGE}`);
  const runDir = resolve(values["run-dir"]);
  const result = await scaleGroup(backend, Number(count), { runDir, runtime: (running) => localGroupRuntime(runDir, running), log: (line) => process.stderr.write(`scale: ${line}\n`) });
  if (values.json) await writeFileAtomic(resolve(values.json), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(describeScale(result));
  return 0;
}

runMain(main);
