// The apply engine's edges on the local stack: its sockets, its run directory, its processes.
import { cp } from "node:fs/promises";
import { join } from "node:path";
import { runtimeCommand } from "../../haproxy/runtime-api.ts";
import { runAssertions } from "../../sidecar/assertions/run.ts";
import { ApplyNeedsRestartError } from "../errors.ts";
import { writeFileAtomic } from "../files.ts";
import type { Topology } from "../model/schema.ts";
import { DEFAULT_ERROR_PAGES_DIR } from "../render/haproxy-check.ts";
import { renderHaproxyConfig } from "../render/render.ts";
import { ERROR_PAGE_DIR, haproxySockets, localTarget } from "../render/targets.ts";
import { HAPROXY_CONFIG_FILE, LAST_GOOD_CONFIG_FILE } from "../runtime/applied.ts";
import { planLocalStack, type ComponentPlan, type LocalStackPlan } from "../runtime/plan.ts";
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
  const planFor = (t: Topology) => planLocalStack(t, { runDir, sidecar });
  const webs = (t: Topology) => planFor(t).components.filter((c) => c.kind === "web");
  /** Components other than HAProxy that would start differently: command, arguments, environment, or the files they read. */
  const changedComponents = (base: Topology, head: Topology) => {
    const [from, to] = [planFor(base), planFor(head)];
    const before = new Map(from.components.map((c) => [c.name, c]));
    const differs = (c: ComponentPlan) => specOf(before.get(c.name)!) !== specOf(c) || JSON.stringify(before.get(c.name)!.configFiles) !== JSON.stringify(c.configFiles);
    return to.components.filter((c) => c.kind !== "haproxy" && before.has(c.name) && differs(c));
  };
  /** Restarts `components` as `plan` says, writing the files they read first. */
  const restart = async (plan: LocalStackPlan, components: ComponentPlan[]) => {
    if (components.length === 0) return;
    log(`restarting ${components.map((c) => c.name).join(", ")}`);
    await writeConfigFiles(runDir, components);
    await stopComponents(runDir, components.map((c) => c.name));
    await startComponents(plan, components);
  };
  return {
    admin: (command) => runtimeCommand({ path: sockets.admin }, command, { timeoutMs: 5000 }),
    master: (command) => runtimeCommand({ path: sockets.master }, command, { timeoutMs: 5000 }),
    writeConfig: async (side) => {
      await cp(DEFAULT_ERROR_PAGES_DIR, join(runDir, ERROR_PAGE_DIR), { recursive: true });
      // A bind added by this change gets its development certificate (those there are kept).
      await provisionCertificates(runDir, side.topology);
      await writeFileAtomic(join(runDir, HAPROXY_CONFIG_FILE), renderHaproxyConfig(side.topology, target, { source: side.source }));
    },
    keepLastGood: (text) => writeFileAtomic(join(runDir, LAST_GOOD_CONFIG_FILE), text),
    render: (side) => renderHaproxyConfig(side.topology, target, { source: side.source }),
    plan: (base, head) => makePlan(base, head),
    startAddedComponents: async (base, head) => {
      const before = new Set(webs(base).map((w) => w.name));
      const added = webs(head).filter((w) => !before.has(w.name));
      if (added.length) log(`starting ${added.map((w) => w.name).join(", ")}`);
      await startComponents(planFor(head), added);
      return () => stopComponents(runDir, added.map((w) => w.name));
    },
    restartChangedComponents: async (base, head) => {
      const changed = changedComponents(base, head);
      await restart(planFor(head), changed);
      return () => restart(planFor(base), planFor(base).components.filter((c) => changed.some((x) => x.name === c.name)));
    },
    stopRemovedComponents: async (base, head) => {
      const after = new Set(webs(head).map((w) => w.name));
      const removed = webs(base).filter((w) => !after.has(w.name)).map((w) => w.name);
      if (removed.length) log(`stopping ${removed.join(", ")}`);
      await stopComponents(runDir, removed);
    },
    verify: async (t) => (await runAssertions(expectationsFromTopology(t, { ca: localCa(runDir), discovered: await readLocalDiscoveredServers(planFor(t)) }), localStackAccess(planFor(t), log), APPLY_CHECKS)).results,
    checkpoint: (s) => checkpoint(step, s, log),
    log,
  };
}

const specOf = (c: ComponentPlan) => JSON.stringify([c.command, c.args, c.env ?? {}, c.ports]);

/**
 * HAProxy's own command line (the master socket, the config path) cannot change under a running
 * master; its listening ports can (a reload binds them).
 */
export function refuseHaproxyRestart(base: Topology, head: Topology, runDir: string): void {
  const commandLine = (t: Topology) => {
    const haproxy = planLocalStack(t, { runDir, sidecar: false }).components.find((c) => c.kind === "haproxy")!;
    return JSON.stringify([haproxy.command, haproxy.args]);
  };
  if (commandLine(base) !== commandLine(head)) {
    throw new ApplyNeedsRestartError("HAProxy's command line changes (global.masterSocket): HAProxy itself must restart; run npm stop, then npm start");
  }
}

