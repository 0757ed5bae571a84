// The check npm start runs before it says "up": requests through every frontend reach every
// active server of its backend. (The full assertions, with tolerances, are npm run verify.)
import type { Topology } from "../model/schema.ts";
import { LOCAL_ADDRESS } from "../render/targets.ts";
import { VerificationFailedError } from "../errors.ts";

export async function smokeCheck(topology: Topology): Promise<string[]> {
  const results: string[] = [];
  for (const frontend of topology.frontends) {
    const backend = topology.backends.find((b) => b.name === frontend.defaultBackend)!;
    const active = backend.servers.filter((s) => !s.backup && !s.disabled && s.weight > 0).map((s) => s.name);
    const ports = frontend.binds
      .filter((b) => b.tlsCertificate === undefined)
      .flatMap((b) => Array.from({ length: (b.lastPort ?? b.port) - b.port + 1 }, (_, i) => b.port + i));
    for (const port of ports) {
      const url = `http://${LOCAL_ADDRESS}:${port}/`;
      const seen = new Map<string, number>();
      const requests = Math.max(10, active.length * 4);
      for (let i = 0; i < requests; i++) {
        const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
        await response.arrayBuffer();
        if (response.status !== 200) throw new VerificationFailedError(`${url} answered ${response.status} to request ${i + 1}; expected 200`);
        const server = response.headers.get("x-served-by") ?? "(no X-Served-By header)";
        seen.set(server, (seen.get(server) ?? 0) + 1);
      }
      const missing = backend.balance === "roundrobin" ? active.filter((s) => !seen.has(s)) : [];
      if (missing.length > 0) {
        throw new VerificationFailedError(`${requests} requests to ${url} never reached ${missing.join(", ")}; reached ${[...seen.keys()].join(", ")}`);
      }
      results.push(`${requests} requests to ${url} → ${[...seen].map(([s, n]) => `${s} ×${n}`).join(", ")}`);
    }
  }
  return results;
}
