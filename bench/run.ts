// npm run bench: every benchmark, one table. Speed targets live here, never in tests.
import { renderBench } from "./render.bench.ts";
import { trafficBench } from "./traffic.bench.ts";
import { sidecarBench } from "./sidecar.bench.ts";
import { synthBench } from "./synth.bench.ts";
import { failoverBench } from "./failover.bench.ts";
import { formatTable, type BenchRow } from "./table.ts";

const suites: [string, () => Promise<BenchRow[]>][] = [
  ["render", renderBench],
  ["traffic", trafficBench],
  ["sidecar", sidecarBench],
  ["cdktf", synthBench],
  ["failover", failoverBench],
];

const rows: BenchRow[] = [];
for (const [name, suite] of suites) {
  process.stderr.write(`bench: ${name}...\n`);
  rows.push(...(await suite()));
}
console.log(formatTable(rows));
