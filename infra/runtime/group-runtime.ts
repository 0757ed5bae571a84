// What npm run scale asks of the local stack, as an interface: HAProxy's admin socket, the group's
// instances started and stopped as a topology declares them, and the name server's records. The
// scale logic (gitops/scale.ts) knows nothing of processes, state files or dnsmasq.
import { join } from "node:path";
import { runtimeCommand } from "../../haproxy/runtime-api.ts";
import { StackNotRunningError } from "../errors.ts";
import { writeFileAtomic } from "../files.ts";
import type { Topology } from "../model/schema.ts";
import { haproxySockets, localTarget } from "../render/targets.ts";
import { DNS_HOSTS_FILE, allGroupInstances, declareLocalStack, dnsHostsFile } from "./declaration.ts";
import { startComponents, stopComponents } from "./stack.ts";
import { readState, stillRecordedProcess } from "./state.ts";

export interface GroupRuntime {
  /** HAProxy's admin runtime API: one command, its answer. */
  admin(command: string): Promise<string>;
  /** Starts these instances of a group as `head` declares them, each serving before it returns. */
  startInstances(head: Topology, names: string[]): Promise<void>;
  /** Stops these instances and forgets them. */
  stopInstances(names: string[]): Promise<void>;
  /** The name server answers every group's records as `head` has them. */
  publishRecords(head: Topology): Promise<void>;
}

/** The local stack running from `runDir`, as npm run scale needs it; STACK_NOT_RUNNING when it, or its name server, is not there. */
export async function localGroupRuntime(runDir: string, running: Topology): Promise<GroupRuntime> {
  const state = await readState(runDir);
  if (!state) throw new StackNotRunningError(runDir, "npm run scale works on the local stack: start it with npm start");
  const dns = state.processes.find((p) => p.name === "dnsmasq");
  if (!dns || !stillRecordedProcess(dns)) throw new StackNotRunningError(runDir, "its name server (dnsmasq) is not running: npm start repairs the stack");
  const sidecar = state.processes.some((p) => p.name === "sidecar");
  const admin = haproxySockets(running.global, localTarget(runDir)).admin;
  return {
    admin: (command) => runtimeCommand({ path: admin }, command, { timeoutMs: 2000 }),
    startInstances: async (head, names) => {
      const stack = declareLocalStack(head, { runDir, sidecar });
      await startComponents(stack, stack.components.filter((c) => names.includes(c.name)));
    },
    stopInstances: (names) => stopComponents(runDir, names),
    publishRecords: async (head) => {
      await writeFileAtomic(join(runDir, DNS_HOSTS_FILE), dnsHostsFile(allGroupInstances(head)), { mode: 0o644 });
      process.kill(dns.pid, "SIGHUP"); // dnsmasq re-reads its hosts file and empties its cache
    },
  };
}
