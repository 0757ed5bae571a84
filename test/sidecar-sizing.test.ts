// The sidecar's heap is sized by the servers it will export, the same way wherever it runs.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { parseTopology } from "../infra/model/parse.ts";
import { declareDockerStack } from "../infra/docker/declaration.ts";
import { declareLocalStack } from "../infra/runtime/declaration.ts";
import { sidecarHeapLimitMb, sidecarNodeFlags } from "../sidecar/node-flags.ts";
import { seedTopology } from "./support/topologies.ts";

/** The seed topology with `servers` servers in its backend. */
function topologyWith(servers: number) {
  const input = seedTopology() as any;
  const template = input.backends[0].servers[0];
  input.backends[0].servers = Array.from({ length: servers }, (_, i) => ({ ...template, name: `web-${i}`, cookie: `web-${i}`, address: `web-${i}`, port: 20_000 + i }));
  return parseTopology(input);
}

describe("the sidecar's Node.js flags", () => {
  it.each([
    { servers: 0, heapMb: 32 },
    { servers: 2, heapMb: 33 },
    { servers: 1000, heapMb: 37 },
    { servers: 10_000, heapMb: 81 },
  ])("$servers servers → a $heapMb MB heap limit", ({ servers, heapMb }) => {
    assert.equal(sidecarHeapLimitMb(servers), heapMb);
    assert.deepEqual(sidecarNodeFlags(servers), ["--max-semi-space-size=2", `--max-old-space-size=${heapMb}`]);
  });

  it("are what the local runtime and the Docker stack run the sidecar with", () => {
    const topology = topologyWith(300);
    const flags = sidecarNodeFlags(300);
    const local = declareLocalStack(topology, { runDir: "/tmp/run", sidecar: true }).components.find((c) => c.kind === "sidecar")!;
    assert.deepEqual(local.args.slice(0, flags.length), flags);
    const docker = declareDockerStack(topology).containers.find((c) => c.name === "sidecar")!;
    assert.equal(docker.env?.NODE_OPTIONS, flags.join(" "));
  });
});
