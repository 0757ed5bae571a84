// Failover and recovery, measured with real traffic and a real kill (npm run verify's assertions):
// the seed's health-check settings (fall 1, rise 5, default inter 2s, no retries) against the
// model's defaults (inter 500ms, fall 2, rise 3, retries + redispatch + retry-on), side by side.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTopology } from "../infra/model/parse.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { startLocalStack } from "../infra/runtime/stack.ts";
import { expectationsFromTopology, localStackAccess } from "../infra/runtime/verify.ts";
import { runAssertions } from "../verification/run.ts";
import { topology as seed } from "../infra/topology.ts";
import type { BenchRow } from "./table.ts";
import { parseDuration } from "../haproxy/duration.ts";

/** The seed design's backend: check fall 1 rise 5 (inter defaults to 2s), no retries, no redispatch. */
function seedSettings(t: any): void {
  t.defaults.retries = 0;
  t.defaults.redispatch = false;
  t.defaults.retryOn = [];
  for (const s of t.backends[0].servers) Object.assign(s, { inter: "2s", fall: 1, rise: 5 });
}

export async function failoverBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const cases: [string, (t: any) => void][] = [
    ["seed settings (inter 2s, fall 1, rise 5, no retries)", seedSettings],
    ["model defaults (inter 500ms, fall 2, rise 3, retries 3 + redispatch + retry-on)", () => {}],
  ];
  for (const [label, edit] of cases) {
    const input = structuredClone(seed) as any;
    edit(input);
    const topology = parseTopology(await withFreePorts(input));
    const runDir = mkdtempSync(join(tmpdir(), "lb-failover-bench-"));
    const stack = await startLocalStack(topology, { runDir });
    try {
      const { results } = await runAssertions(expectationsFromTopology(topology), localStackAccess(stack.plan, () => {}), { only: ["failover", "recovery"], requests: 100 });
      const failover = results.find((r) => r.assertion === "failover")!.data as { failed: number; requests: number; detectionMs?: number };
      const recovery = results.find((r) => r.assertion === "recovery")!.data as { recoveryMs?: number };
      const server = topology.backends[0]!.servers[0]!;
      const inter = parseDuration(server.inter);
      rows.push({ group: "failover", case: `${label}: failed requests`, value: `${failover.failed}`, note: `of ${failover.requests} sent while web-a died, 8 in flight` });
      rows.push({ group: "failover", case: `${label}: time to DOWN`, value: `${failover.detectionMs ?? "never"} ms`, note: `inter × fall = ${inter * server.fall} ms` });
      rows.push({ group: "failover", case: `${label}: time to UP after restart`, value: `${recovery.recoveryMs ?? "never"} ms`, note: `rise × inter = ${server.rise * inter} ms` });
    } finally {
      await stack.stop();
      rmSync(runDir, { recursive: true, force: true });
    }
  }
  return rows;
}
