// When HAProxy is ready for a topology, judged from its stats: every checked, enabled server UP,
// except in a backend whose check finds the primary (exactly one UP there), and each discovered
// group with its instances' slots UP. Pure: the local stack and the container deployer both ask it.
import type { ServerState } from "../../haproxy/show-stat.ts";
import { picksPrimary } from "../model/checks.ts";
import { groupsExpectedUp, type Topology } from "../model/schema.ts";

/** What keeps HAProxy from being ready, one phrase per server or backend; empty when it is ready. */
export function notReady(topology: Topology, states: readonly ServerState[]): string[] {
  const stateOf = (backend: string, server: string) => states.find((s) => s.backend === backend && s.server === server);
  const notUp = topology.backends
    .filter((b) => !picksPrimary(b))
    .flatMap((b) => b.servers.filter((s) => s.check && !s.disabled).map((s) => ({ backend: b.name, server: s.name, state: stateOf(b.name, s.name) })))
    .filter((e) => e.state?.status !== "UP")
    .map((e) => `${e.backend}/${e.server} ${e.state ? `${e.state.status} (${e.state.checkStatus})` : "missing"}`);
  const primaries = topology.backends
    .filter(picksPrimary)
    .map((b) => ({ backend: b.name, up: b.servers.filter((s) => stateOf(b.name, s.name)?.status === "UP").map((s) => s.name) }))
    .filter((p) => p.up.length !== 1)
    .map((p) => `${p.up.length === 0 ? "no primary" : `${p.up.length} primaries (${p.up.join(", ")})`} UP in ${p.backend}`);
  const groupsShort = groupsExpectedUp(topology)
    .map((g) => ({ ...g, up: g.slots.filter((slot) => stateOf(g.backend, slot)?.status === "UP").length }))
    .filter((g) => g.up < g.instances)
    .map((g) => `${g.up} of ${g.instances} discovered servers of ${g.backend} UP`);
  return [...primaries, ...notUp, ...groupsShort];
}

/** How many servers a ready HAProxy holds UP: what notReady waits for, counted. */
export function readyServerCount(topology: Topology): number {
  const listed = topology.backends.reduce((n, b) => n + (picksPrimary(b) ? 1 : b.servers.filter((s) => s.check && !s.disabled).length), 0);
  return listed + groupsExpectedUp(topology).reduce((n, g) => n + g.instances, 0);
}
