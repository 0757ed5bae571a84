// npm run bench [-- --only render,traffic,...]: every benchmark, one table. Speed targets live here, never in tests.
import { parseCliArgs, runMain } from "../lib/cli.ts";
import { UsageError } from "../lib/errors.ts";
import { handleInterrupts } from "../lib/interrupt.ts";
import { renderBench } from "./render.bench.ts";
import { trafficBench } from "./traffic.bench.ts";
import { httpsBench } from "./https.bench.ts";
import { concurrentScrapersBench, sidecarBench } from "./sidecar.bench.ts";
import { synthBench } from "./synth.bench.ts";
import { failoverBench } from "./failover.bench.ts";
import { planBench } from "./plan.bench.ts";
import { applyBench } from "./apply.bench.ts";
import { supervisionBench } from "./supervision.bench.ts";
import { alertDeliveryBench, prometheusScrapeBench } from "./observability.bench.ts";
import { containersBench } from "./containers.bench.ts";
import { discoveryBench, dnsOutageBench } from "./discovery.bench.ts";
import { routingBench } from "./routing.bench.ts";
import { tcpBench } from "./tcp.bench.ts";
import { certificatesBench } from "./certificates.bench.ts";
import { rolloutBench } from "./rollout.bench.ts";
import { importBench } from "./import.bench.ts";
import { formatBenchTable, type BenchRow } from "./table.ts";

/** Every suite, in the order they run and print. */
const SUITES = {
  render: renderBench,
  traffic: trafficBench,
  https: httpsBench,
  sidecar: sidecarBench,
  scrapers: concurrentScrapersBench,
  cdktf: synthBench,
  plan: planBench,
  routing: routingBench,
  tcp: tcpBench,
  certs: certificatesBench,
  rollout: rolloutBench,
  import: importBench,
  apply: applyBench,
  failover: failoverBench,
  discovery: discoveryBench,
  "dns-outage": dnsOutageBench,
  supervision: supervisionBench,
  prometheus: prometheusScrapeBench,
  alerts: alertDeliveryBench,
  containers: containersBench,
} satisfies Record<string, () => Promise<BenchRow[]>>;
type SuiteName = keyof typeof SUITES;
const NAMES = Object.keys(SUITES) as SuiteName[];

const USAGE = `usage: npm run bench [-- --only ${NAMES.join(",")}]`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(argv, { only: { type: "string" } }, USAGE);
  // Stopped half-way (Ctrl-C, a timeout), it stops the stacks, servers and load generators it started.
  handleInterrupts((line) => process.stderr.write(`bench: ${line}\n`));
  const only = values.only === undefined ? NAMES : values.only.split(",").map((n) => n.trim());
  const unknown = only.filter((n) => !(n in SUITES));
  if (unknown.length > 0 || only.length === 0) throw new UsageError(`--only: unknown ${unknown.join(", ") || "(empty)"}; choose from ${NAMES.join(", ")}\n${USAGE}`);
  const rows: BenchRow[] = [];
  for (const name of NAMES.filter((n) => only.includes(n))) {
    process.stderr.write(`bench: ${name}...\n`);
    rows.push(...(await SUITES[name]()));
  }
  console.log(formatBenchTable(rows));
  return 0;
}

runMain(main);
