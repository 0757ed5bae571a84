// The apply engine's edges on the local stack: its sockets, its run directory, its processes.
import { cp } from "node:fs/promises";
import { join } from "node:path";
import { runtimeCommand } from "../../haproxy/runtime-api.ts";
import { runAssertions } from "../../verification/run.ts";
import { ApplyNeedsRestartError } from "../errors.ts";
import { writeFileAtomic } from "../files.ts";
import type { Topology } from "../model/schema.ts";
import { DEFAULT_ERROR_PAGES_DIR, DEFAULT_LUA_DIR } from "../render/haproxy-check.ts";
import { renderHaproxyConfig } from "../render/render.ts";
import { writeMapFiles } from "../render/map-files.ts";
import { mapFiles } from "../render/routing.ts";
import { ERROR_PAGE_DIR, LUA_DIR, SERVER_STATE_FILE, haproxySockets, localTarget } from "../render/targets.ts";
import { HAPROXY_CONFIG_FILE, LAST_GOOD_CONFIG_FILE } from "../runtime/applied.ts";
import { declareLocalStack, type LocalStackDeclaration } from "../runtime/declaration.ts";
import { provisionCertificates } from "../runtime/certificates.ts";
import { startComponents, stopComponents, writeConfigFiles } from "../runtime/stack.ts";
import { APPLY_CHECKS, expectationsFromTopology, readLocalDiscoveredServers, localCa, localStackAccess } from "../runtime/verify.ts";
import type { ApplyIO } from "./apply.ts";
import { checkpoint } from "./apply-run.ts";
import { makePlan } from "./plan.ts";

export interface LocalApply {
  runDir: string;
  /** The running stack's global section: where its sockets are. */
  running: Topology["global"];
  sidecar: boolean;
  step: (step: string) => Promise<void>;
  log: (line: string) => void;
}

export function localIO({ runDir, running, sidecar, step, log }: LocalApply): ApplyIO {
  const target = localTarget(runDir);
  const sockets = haproxySockets(running, target);
  const planFor = (t: Topology) => declareLocalStack(t, { runDir, sidecar });
  /** Restarts `names` as `plan` says, writing the files they read first. */
  const restart = async (plan: LocalStackDeclaration, names: string[]) => {
    if (names.length === 0) return;
    log(`restarting ${names.join(", ")}`);
    const components = plan.components.filter((c) => names.includes(c.name));
    await writeConfigFiles(runDir, components);
    await stopComponents(runDir, names);
    await startComponents(plan, components);
  };
  return {
    target: "local",
    admin: (command) => runtimeCommand({ path: sockets.admin }, command, { timeoutMs: 5000 }),
    master: (command) => runtimeCommand({ path: sockets.master }, command, { timeoutMs: 5000 }),
    writeConfig: async (side) => {
      await cp(DEFAULT_ERROR_PAGES_DIR, join(runDir, ERROR_PAGE_DIR), { recursive: true });
      await cp(DEFAULT_LUA_DIR, join(runDir, LUA_DIR), { recursive: true });
      // A bind added by this change gets its development certificate (those there are kept).
      await provisionCertificates(runDir, side.topology);
      await writeMapFiles(runDir, mapFiles(side.topology));
      await writeFileAtomic(join(runDir, HAPROXY_CONFIG_FILE), renderHaproxyConfig(side.topology, target, { source: side.source }));
    },
    keepLastGood: (text) => writeFileAtomic(join(runDir, LAST_GOOD_CONFIG_FILE), text),
    saveServerState: (text) => writeFileAtomic(join(runDir, SERVER_STATE_FILE), text),
    render: (side) => renderHaproxyConfig(side.topology, target, { source: side.source }),
    plan: (base, head) => makePlan(base, head),
    startComponents: async (names, head) => {
      if (names.length) log(`starting ${names.join(", ")}`);
      await startComponents(planFor(head), planFor(head).components.filter((c) => names.includes(c.name)));
      return () => stopComponents(runDir, names);
    },
    restartComponents: async (names, base, head) => {
      await restart(planFor(head), names);
      return () => restart(planFor(base), names);
    },
    stopComponents: async (names) => {
      if (names.length) log(`stopping ${names.join(", ")}`);
      await stopComponents(runDir, names);
    },
    verify: async (t) => (await runAssertions(expectationsFromTopology(t, { ca: localCa(runDir, t), discovered: await readLocalDiscoveredServers(planFor(t)) }), localStackAccess(planFor(t), log), APPLY_CHECKS)).results,
    checkpoint: (s) => checkpoint(step, s, log),
    log,
  };
}

/**
 * HAProxy's own command line (the master socket, the config path) cannot change under a running
 * master; its listening ports can (a reload binds them).
 */
export function refuseHaproxyRestart(base: Topology, head: Topology, runDir: string): void {
  const commandLine = (t: Topology) => {
    const haproxy = declareLocalStack(t, { runDir, sidecar: false }).components.find((c) => c.kind === "haproxy")!;
    return JSON.stringify([haproxy.command, haproxy.args]);
  };
  if (commandLine(base) !== commandLine(head)) {
    throw new ApplyNeedsRestartError("HAProxy's command line changes (global.masterSocket): HAProxy itself must restart; run npm stop, then npm start");
  }
}

