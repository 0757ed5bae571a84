// npm run verify's wiring: the model says what to expect, the local runtime provides the access
// (stats socket, killing and restarting a gunicorn); the sidecar's assertions do the rest.
import { join } from "node:path";
import type { Topology } from "../model/schema.ts";
import { parseDuration } from "../../haproxy/duration.ts";
import { LOCAL_ADDRESS } from "../render/targets.ts";
import { StackNotRunningError, VerifyNotPossibleError } from "../errors.ts";
import { runtimeCommand } from "../../haproxy/runtime-api.ts";
import type { Expectations } from "../../sidecar/assertions/judge.ts";
import type { RunOptions, StackAccess, VerifyRun } from "../../sidecar/assertions/run.ts";
import { writeFileAtomic } from "../files.ts";
import { ASSERTIONS_FILE, type LocalStackPlan } from "./plan.ts";
import { killProcessGroup } from "./processes.ts";
import { holdComponent, launchComponent, recordedProcesses, recordRestart } from "./stack.ts";
import { stillRecordedProcess } from "./state.ts";

/** What traffic through the first frontend must show, derived from the model. */
export function expectationsFromTopology(topology: Topology): Expectations {
  const frontend = topology.frontends[0]!;
  const backend = topology.backends.find((b) => b.name === frontend.defaultBackend)!;
  const bind = frontend.binds.find((b) => b.tlsCertificate === undefined);
  if (!bind) throw new VerifyNotPossibleError(`frontends.${frontend.name}.binds: only TLS binds, and npm run verify sends plain HTTP: add a plain bind`);
  const { defaults } = topology;
  const retries = backend.retries ?? defaults.retries;
  const redispatch = backend.redispatch ?? defaults.redispatch;
  const retryOn = backend.retryOn ?? defaults.retryOn;
  const inters = backend.servers.map((s) => parseDuration(s.inter));
  // The assertions' traffic comes from loopback: from 127.0.0.1, or spread over 127.0.0.0/8 when the
  // frontend limits each client address (so that a production topology passes its own checks).
  const allowlist = frontend.allowlist;
  if (allowlist && !allowlist.some((network) => networkContains(network, LOCAL_ADDRESS))) {
    throw new VerifyNotPossibleError(`frontends.${frontend.name}.allowlist: ${LOCAL_ADDRESS} is not in it, so every request from this machine gets 403: add "127.0.0.0/8" to check the stack from here`);
  }
  if (frontend.rateLimit && allowlist && !allowlist.some((network) => networkContains(network, "127.255.255.254") && networkContains(network, LOCAL_ADDRESS))) {
    throw new VerifyNotPossibleError(`frontends.${frontend.name}.allowlist: the rate limit makes the checks spread their traffic over loopback addresses, and the allowlist admits only some: allow "127.0.0.0/8"`);
  }
  return {
    // One source sends fewer requests than the limit lets through in a window.
    ...(frontend.rateLimit && { perSource: Math.max(1, Math.floor(frontend.rateLimit.requests * 0.9)) }),
    frontendUrl: `http://${LOCAL_ADDRESS}:${bind.port}/`,
    backend: backend.name,
    balance: backend.balance,
    cookie: backend.cookie?.name,
    lossless: retries > 0 && redispatch && (retryOn.includes("all-retryable-errors") || (retryOn.includes("conn-failure") && retryOn.includes("empty-response"))),
    // Without "timeout check", HAProxy gives a check as long as inter.
    checkTimeoutMs: defaults.timeouts.check ? parseDuration(defaults.timeouts.check) : Math.max(...inters),
    servers: backend.servers.map((s) => ({ name: s.name, weight: s.weight, active: !s.backup && !s.disabled, interMs: parseDuration(s.inter), fall: s.fall, rise: s.rise })),
  };
}

/** Pure: whether an IPv4 network ("10.0.0.0/8", or one address) contains `address`. */
export function networkContains(network: string, address: string): boolean {
  const [base, bits = "32"] = network.split("/");
  const toNumber = (ip: string) => ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toNumber(base!) / size) === Math.floor(toNumber(address) / size);
}

/** What npm start checks before it says "up" (it has just gated on health itself). */
export const START_CHECKS: RunOptions = { only: ["distribution", "persistence"], requests: 200 };
/** What an apply verifies once its change is live: quick, and with no fault injected. */
export const APPLY_CHECKS: RunOptions = { only: ["health", "distribution", "persistence"], requests: 200 };

/**
 * How long health checks take to settle after a change: the slowest server's checks, enough of them
 * to go DOWN or UP (inter × max(fall, rise)), plus one check timeout. Verifying sooner would judge
 * servers HAProxy has not looked at yet.
 */
export function checkSettleMs(topology: Topology): number {
  const checkTimeoutMs = (s: Topology["backends"][number]["servers"][number]) => (topology.defaults.timeouts.check ? parseDuration(topology.defaults.timeouts.check) : parseDuration(s.inter));
  const servers = topology.backends.flatMap((b) => b.servers).filter((s) => s.check);
  return Math.max(0, ...servers.map((s) => parseDuration(s.inter) * Math.max(s.fall, s.rise) + checkTimeoutMs(s)));
}

/** What a verification leaves in the run directory: the sidecar exports it (haproxy_sidecar_assertion_passed). */
export interface VerifyReport {
  topology: string;
  generatedAt: string;
  passed: boolean;
  results: VerifyRun["results"];
  timeline?: VerifyRun["timeline"];
}

export async function recordVerifyReport(runDir: string, report: VerifyReport): Promise<string> {
  const json = `${JSON.stringify(report, null, 2)}\n`;
  await writeFileAtomic(join(runDir, ASSERTIONS_FILE), json);
  return json;
}

/** Access to the local stack running from `plan.runDir`. */
export function localStackAccess(plan: LocalStackPlan, log: (line: string) => void): StackAccess {
  const web = (name: string) => {
    const component = plan.components.find((c) => c.kind === "web" && c.name === name);
    if (!component) throw new VerifyNotPossibleError(`no web server named ${name} in the local stack's plan`);
    return component;
  };
  return {
    api: (command) => runtimeCommand({ path: plan.sockets.admin }, command, { timeoutMs: 2000 }),
    async killServer(name) {
      const recorded = (await recordedProcesses(plan.runDir))?.find((p) => p.name === web(name).name);
      if (recorded === undefined) throw new StackNotRunningError(plan.runDir, `${name} is not recorded in its stack.json`);
      // A pid that names another process now is never signalled.
      if (!stillRecordedProcess(recorded)) throw new StackNotRunningError(plan.runDir, `${name} (pid ${recorded.pid}) is no longer running`);
      await holdComponent(plan.runDir, name); // or the supervisor would restart it before HAProxy notices
      await killProcessGroup(recorded.pid);
    },
    async startServer(name) {
      const started = await launchComponent(web(name));
      started.child.unref();
      await recordRestart(plan.runDir, name, started.pid);
    },
    serverHealthUrl: (name) => web(name).readyUrl!,
    prometheus: { targetsUrl: plan.prometheus.targetsApiUrl, jobs: plan.prometheus.jobs },
    log,
  };
}
