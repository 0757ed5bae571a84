// The CDKTF stack on the local podman (npm run containers): time from up to every server UP, cold
// (base image bootstrap and every build) and warm (cached images), and the failover figures in
// containers beside the local processes' (bench failover).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parseTopology } from "../infra/model/parse.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { REPO_ROOT } from "../infra/repo.ts";
import { expectationsFromTopology } from "../infra/runtime/verify.ts";
import { containerStackAccess } from "../infra/containers/access.ts";
import { deploySequence } from "../infra/containers/deploy-sequence.ts";
import { deployDown, deployUp, waitServersUp } from "../infra/containers/deploy.ts";
import { engineUnavailableReason, startEngineService, type EngineService } from "../infra/containers/engine-service.ts";
import { ensureImages, STAND_INS } from "../infra/containers/images.ts";
import { LEFT_OUT, synthesizeStack, withoutLeftOut } from "../infra/containers/stack-source.ts";
import { runAssertions } from "../verification/run.ts";
import { topology as seed } from "../infra/topology.ts";
import type { BenchRow } from "./table.ts";

const quiet = () => {};

export async function containersBench(): Promise<BenchRow[]> {
  const reason = engineUnavailableReason();
  if (reason) return [{ group: "containers", case: "npm run containers", value: "skipped", note: reason }];
  const scratch = mkdtempSync(join(tmpdir(), "lb-bench-containers-"));
  const input = structuredClone(seed) as any;
  input.name = "lb-bench-containers";
  const topology = parseTopology(await withFreePorts(input));
  writeFileSync(join(scratch, "topology.json"), JSON.stringify(topology));
  const engine = await startEngineService(join(scratch, "engine"));
  const rows: BenchRow[] = [];
  try {
    const { json, stackDir } = synthesizeStack(topology, relative(REPO_ROOT, join(scratch, "topology.json")));
    const plan = withoutLeftOut(deploySequence(json, { stackDir, variables: {} }), quiet);
    const up = async () => {
      const started = performance.now();
      await ensureImages(engine, plan.images, { leaveOut: [...LEFT_OUT], log: quiet });
      const images = performance.now() - started;
      await deployUp(engine.client, topology.name, plan, quiet);
      await waitServersUp(engine.client, topology, quiet);
      return { images, total: performance.now() - started };
    };
    // Cold: no image of ours left, not even the Debian base.
    await removeImages(engine, [...plan.images.map((i) => i.name), ...Object.keys(STAND_INS)]);
    const cold = await up();
    rows.push({ group: "containers", case: "up to every server UP, cold", value: `${(cold.total / 1000).toFixed(1)} s`, note: `base bootstrap and ${plan.images.length + 1} builds: ${(cold.images / 1000).toFixed(1)} s of it` });
    await deployDown(engine.client, topology.name, quiet);
    const warm = await up();
    rows.push({ group: "containers", case: "up to every server UP, warm", value: `${(warm.total / 1000).toFixed(1)} s`, note: `cached images (${(warm.images / 1000).toFixed(1)} s checking them)` });
    const run = await runAssertions(expectationsFromTopology(topology), await containerStackAccess(engine.client, topology, quiet), { only: ["failover", "recovery"], requests: 100 });
    const [failover, recovery] = run.results;
    rows.push({ group: "containers", case: "failover: web-a's container stopped under traffic", value: `${failover?.data?.detectionMs ?? "?"} ms`, note: `to DOWN; ${failover?.measured.split("; ")[1] ?? ""} (compare bench failover, local processes)` });
    rows.push({ group: "containers", case: "recovery: started again, to UP", value: `${recovery?.data?.recoveryMs ?? "?"} ms`, note: `${recovery?.verdict}; HAProxy re-resolves the container's name` });
  } finally {
    await deployDown(engine.client, topology.name, quiet).catch(() => {});
    await engine.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
  return rows;
}

async function removeImages(engine: EngineService, names: string[]): Promise<void> {
  const images = await engine.client.call<{ RepoTags?: string[] }[]>("GET", "/v1.41/images/json");
  const ours = images.flatMap((i) => i.RepoTags ?? []).filter((tag) => tag.startsWith("localhost/lb-debian-base:") || names.some((n) => tag === n || tag === `localhost/${n}` || tag === `docker.io/${n}`));
  for (const tag of ours) await engine.client.call("DELETE", `/v1.41/images/${encodeURIComponent(tag)}?force=true`).catch(() => {});
}
