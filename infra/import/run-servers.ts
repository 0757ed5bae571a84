// npm run import -- --servers run: the imported servers become servers the stack runs, to try the
// topology without the real ones (npm start runs a server of the stack's for each). Pure: an import's
// result in, the same with its servers changed and their lines restated out.
import type { Location } from "../../haproxy/config-parser.ts";
import { serverProtocol } from "../model/checks.ts";
import { bindPorts, type Topology } from "../model/schema.ts";
import type { ImportResult } from "./import.ts";

/** What --servers chooses: the real servers at their addresses (the default), or servers the stack runs. */
export const SERVER_MODES = ["external", "run"] as const;
export type ServerMode = (typeof SERVER_MODES)[number];

/** A server's container name (its address in the stacks that run it): what the model's hosts allow. */
const hostOf = (name: string) => name.toLowerCase().replace(/[^a-z0-9.-]+/g, "-").replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "") || "server";

/**
 * Each server whose backend's check says what it speaks (HTTP, Redis, PostgreSQL, TLS) becomes one
 * the stack runs: named after itself (its container's name), on its own port, the original's unless a
 * listener or another server the stack runs has it (then the next free one): on the local target every
 * server is a process on 127.0.0.1. The same original address and port stay one server. The others stay
 * external, their lines saying why.
 */
export function runImportedServers(result: ImportResult, validated: Topology): ImportResult {
  const taken = new Set<number>([
    ...bindPorts(validated.frontends.flatMap((f) => f.binds)),
    validated.monitoring.port,
    ...Object.values(validated.services).map((s) => s.port),
    ...(validated.peers ? [validated.peers.port] : []),
  ]);
  const byEndpoint = new Map<string, { name: string; port: number }>();
  const names = new Map<string, string>();
  const restated = new Map<Location, { why: string; runs: boolean }>();
  const lineOf = (backend: string, server: string) => result.fieldLines.get(`backends.${backend}.servers.${server}`);
  const topology = structuredClone(result.topology) as { backends: { name: string; healthCheck?: unknown; servers?: Record<string, unknown>[] }[] };
  for (const backend of topology.backends) {
    const speaks = serverProtocol(validated.backends.find((b) => b.name === backend.name)!);
    for (const server of backend.servers ?? []) {
      const name = server.name as string;
      const at = lineOf(backend.name, name);
      if (server.unixSocket !== undefined) {
        delete server.external;
        if (at) restated.set(at, { why: "run by the stack (--servers run): on its socket, on the local target", runs: true });
        continue;
      }
      const endpoint = `${String(server.address)}:${String(server.port)}`;
      const clash = names.get(name);
      const why = speaks === undefined ? "stays external (--servers run): its backend's check does not say what its servers speak, so the stacks run none" : clash !== undefined && clash !== endpoint ? `stays external (--servers run): another server named ${name} runs already, at ${clash} (each server the stack runs is named after it)` : undefined;
      if (why) {
        if (at) restated.set(at, { why, runs: false });
        continue;
      }
      let run = byEndpoint.get(endpoint);
      if (!run) {
        let port = server.port as number;
        while (taken.has(port) && port < 65535) port++;
        taken.add(port);
        run = { name: hostOf(name), port };
        byEndpoint.set(endpoint, run);
        names.set(name, endpoint);
      }
      delete server.external;
      Object.assign(server, { address: run.name, port: run.port });
      if (at) restated.set(at, { why: `run by the stack (--servers run): ${run.name}:${run.port}, in place of ${endpoint}`, runs: true });
    }
  }
  const accounts = result.accounts.map((a) => {
    const change = restated.get(a.at);
    if (!change || a.outcome === "refused") return a;
    const field = a.field?.replace(" (a server the stack balances but does not run)", change.runs ? " (a server the stack runs)" : " (a server the stack balances but does not run)");
    return { ...a, field, outcome: "normalised" as const, why: a.why ? `${a.why}; ${change.why}` : change.why };
  });
  return { ...result, topology, accounts };
}
