// cdktf synth of the Docker stack (plan + constructs + cdk.tf.json on disk), for the default
// topology and for 100 backends × 10 servers (1,000 web containers).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "cdktf";
import { parseTopology } from "../infra/model/parse.ts";
import type { TopologyInput } from "../infra/model/schema.ts";
import { declareDockerStack } from "../infra/docker/declaration.ts";
import { DockerTopologyStack } from "../infra/docker/stack.ts";
import { topology as seed } from "../infra/topology.ts";
import { medianMs, ms, type BenchRow } from "./table.ts";

export function manyBackends(backends: number, servers: number): TopologyInput {
  const copy = structuredClone(seed) as any;
  copy.backends = Array.from({ length: backends }, (_, b) => ({
    ...structuredClone(seed.backends[0]),
    name: b === 0 ? "flask_servers" : `pool_${b}`,
    servers: Array.from({ length: servers }, (_, s) => ({ name: `web-${s}`, address: `b${b}-web-${s}`, port: 5000 + s, cookie: `web-${s}` })),
  }));
  return copy;
}

export async function synthBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const cases: [string, TopologyInput, number][] = [
    ["default topology", structuredClone(seed), 5],
    ["100 backends × 10 servers", manyBackends(100, 10), 3],
  ];
  for (const [label, input, runs] of cases) {
    const topology = parseTopology(input);
    const outdir = mkdtempSync(join(tmpdir(), "lb-synth-bench-"));
    try {
      const time = await medianMs(runs, () => {
        const app = new App({ outdir });
        new DockerTopologyStack(app, declareDockerStack(topology));
        app.synth();
      });
      rows.push({ group: "cdktf", case: `synth, ${label}`, value: ms(time), note: `median of ${runs}; plan + constructs + cdk.tf.json written` });
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }
  return rows;
}
