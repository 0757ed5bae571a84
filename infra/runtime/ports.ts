// Ports on 127.0.0.1: is one free, who holds it, and free ones for tests.
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import type { TopologyInput } from "../model/schema.ts";
import { parseTopology } from "../model/parse.ts";
import { LOCAL_ADDRESS } from "../render/targets.ts";

/** True when nothing listens on 127.0.0.1:port (nor on every address at that port). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: LOCAL_ADDRESS, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Who listens on a TCP port, from ss ("gunicorn (pid 1234)"); undefined when unknown. */
export function portOwner(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile("ss", ["-Hltnp", `sport = :${port}`], { timeout: 2000 }, (error, stdout) => {
      const match = /users:\(\("([^"]+)",pid=(\d+)/.exec(error ? "" : stdout);
      resolve(match ? `${match[1]} (pid ${match[2]})` : undefined);
    });
  });
}

/** Ports below Linux's ephemeral range, so that outgoing connections never hold them. */
const TEST_PORT_MIN = 20_000;
const TEST_PORT_MAX = 32_000;

/** `count` consecutive free ports; the first is returned. */
export async function findFreePortRange(count: number, taken: Set<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = TEST_PORT_MIN + Math.floor(Math.random() * (TEST_PORT_MAX - TEST_PORT_MIN - count));
    const range = Array.from({ length: count }, (_, i) => base + i);
    if (range.some((p) => taken.has(p))) continue;
    if ((await Promise.all(range.map(isPortFree))).every(Boolean)) {
      range.forEach((p) => taken.add(p));
      return base;
    }
  }
  throw new Error(`no ${count} consecutive free ports between ${TEST_PORT_MIN} and ${TEST_PORT_MAX}`);
}

/**
 * The same topology with every port moved to a free one (ranges keep their width), so that a
 * test's stack never collides with a stack a user has running.
 */
export async function withFreePorts(input: TopologyInput): Promise<TopologyInput> {
  const copy = structuredClone(parseTopology(input)) as any;
  const taken = new Set<number>();
  for (const frontend of copy.frontends) {
    for (const bind of frontend.binds) {
      const width = (bind.lastPort ?? bind.port) - bind.port + 1;
      bind.port = await findFreePortRange(width, taken);
      if (bind.lastPort !== undefined) bind.lastPort = bind.port + width - 1;
    }
  }
  // One port, one web server: servers of several backends on the same port keep sharing one.
  const serverPorts = new Map<number, number>();
  for (const backend of copy.backends) {
    for (const server of backend.servers) {
      if (server.port === undefined) continue; // on a unix socket
      if (!serverPorts.has(server.port)) serverPorts.set(server.port, await findFreePortRange(1, taken));
      server.port = serverPorts.get(server.port)!;
    }
    // A discovered group's instances share one port on addresses of their own.
    if (backend.discovery?.port !== undefined) backend.discovery.port = await findFreePortRange(1, taken);
  }
  copy.monitoring.port = await findFreePortRange(1, taken);
  if (copy.peers) copy.peers.port = await findFreePortRange(1, taken);
  for (const service of Object.values(copy.services) as { port: number }[]) service.port = await findFreePortRange(1, taken);
  return copy;
}
