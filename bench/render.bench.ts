// Render + schema validation, and haproxy -c, for topologies of growing size.
import { parseTopology } from "../infra/model/parse.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { checkHaproxyConfig } from "../infra/render/haproxy-check.ts";
import { localTarget } from "../infra/render/targets.ts";
import type { TopologyInput } from "../infra/model/schema.ts";
import { topology as seed } from "../infra/topology.ts";
import { medianMs, ms, type BenchRow } from "./table.ts";

/** The default topology with its backend grown to `servers` servers (10 per backend beyond 100). */
export function topologyWithServers(servers: number): TopologyInput {
  const copy = structuredClone(seed) as any;
  const perBackend = Math.min(servers, 100);
  const backends = Math.ceil(servers / perBackend);
  copy.backends = Array.from({ length: backends }, (_, b) => ({
    ...structuredClone(seed.backends[0]),
    name: b === 0 ? "flask_servers" : `pool_${b}`,
    servers: Array.from({ length: perBackend }, (_, s) => ({
      name: `srv-${s}`,
      address: `10.${(b >> 8) & 255}.${b & 255}.${s + 1}`,
      port: 8000,
      inter: "2s",
      cookie: `srv-${s}`,
    })),
  }));
  return copy;
}

export async function renderBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const servers of [10, 1_000, 10_000]) {
    const input = topologyWithServers(servers);
    const runs = servers >= 10_000 ? 5 : 20;
    let config = "";
    const renderMs = await medianMs(runs, () => {
      config = renderHaproxyConfig(parseTopology(input), localTarget("/var/run/lb-bench"));
    });
    const checkMs = await medianMs(Math.min(runs, 5), () => checkHaproxyConfig(config));
    rows.push({ group: "render", case: `schema + render, ${servers} servers`, value: ms(renderMs), note: `median of ${runs}` });
    rows.push({ group: "render", case: `haproxy -c, ${servers} servers`, value: ms(checkMs), note: `median of ${Math.min(runs, 5)}` });
  }
  return rows;
}
