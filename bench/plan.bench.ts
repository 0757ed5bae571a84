// npm run plan's cost, split into what dominates it: the two haproxy -c runs (one per target) on the
// new side, and the plan itself (semantic diff, and every generated file rendered twice and diffed).
import { parseTopology } from "../infra/model/parse.ts";
import type { TopologyInput } from "../infra/model/schema.ts";
import { checkEveryTarget } from "../infra/render/validate.ts";
import { makePlan } from "../infra/gitops/plan.ts";
import { topology as seed } from "../infra/topology.ts";
import { manyBackends } from "./synth.bench.ts";
import { medianMs, ms, type BenchRow } from "./table.ts";

export async function planBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const cases: [string, TopologyInput][] = [
    ["default topology", structuredClone(seed)],
    ["100 backends × 10 servers", manyBackends(100, 10)],
  ];
  for (const [label, input] of cases) {
    const base = parseTopology(input);
    const edited = structuredClone(input) as any;
    edited.backends[0].servers[0].weight = 3;
    const head = parseTopology(edited);
    const runs = 5;
    const checkMs = await medianMs(runs, () => checkEveryTarget(head));
    let summary = "";
    const planMs = await medianMs(runs, () => {
      summary = makePlan(base, head).summary;
    });
    rows.push({ group: "plan", case: `${label}, one weight changed: total`, value: ms(checkMs + planMs), note: summary });
    rows.push({ group: "plan", case: `${label}: haproxy -c, both targets`, value: ms(checkMs), note: `${Math.round((100 * checkMs) / (checkMs + planMs))} % of the total; median of ${runs}` });
    rows.push({ group: "plan", case: `${label}: diff, render ×2 and file diffs`, value: ms(planMs), note: `median of ${runs}` });
  }
  return rows;
}
