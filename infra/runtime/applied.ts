// What the running stack was started (or last applied) with, kept in the run directory: the resolved
// topology and the hash of the haproxy.cfg HAProxy loaded. The base of npm run apply's plan, and
// what npm run drift compares the running HAProxy and the file on disk with.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { readStateFile, stateFileText, type StateFileFormat } from "../../lib/state-file.ts";
import { configuredGroupWeight, configuredWeight, groupSlotNames, type Topology } from "../model/schema.ts";
import { picksPrimary } from "../model/checks.ts";
import { writeFileAtomic } from "../files.ts";
import { EXPECTED_DISTRIBUTION_FORMAT, type ExpectedDistribution } from "../../sidecar/distribution.ts";

export const APPLIED_FILE = "applied.json";
/** One JSON line per npm run apply, in the run directory; the sidecar exports the last and the counts. */
export const APPLY_HISTORY_FILE = "apply-history.jsonl";
/** The config HAProxy reads, in the run directory. */
export const HAPROXY_CONFIG_FILE = "haproxy.cfg";
/** The config that worked before the last reload apply, beside it. */
export const LAST_GOOD_CONFIG_FILE = "haproxy.cfg.last-good";
/** The topology's weights, beside applied.json: the sidecar's distribution check and drift read it. */
export const EXPECTED_DISTRIBUTION_FILE = "expected-distribution.json";

export interface AppliedState {
  appliedAt: string;
  /** What the topology came from, for people. */
  source: string;
  topology: Topology;
  /** sha256 of the haproxy.cfg HAProxy loaded. */
  haproxyConfigSha256: string;
}

export const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** The canonical hash of a resolved topology: what a saved plan's base and head, and a record of what runs, are compared by. */
export const topologyHash = (topology: Topology) => sha256(JSON.stringify(topology));

/** What the sidecar needs of a topology to judge the distribution and see drift. */
export function expectedDistribution(topology: Topology): ExpectedDistribution {
  return {
    backends: topology.backends.map((b) => ({
      name: b.name,
      algorithm: b.balance,
      ...(picksPrimary(b) && { primaryOnly: true }),
      servers: [
        ...b.servers.map((s) => ({ name: s.name, weight: configuredWeight(b, s), disabled: s.disabled, backup: s.backup })),
        // Every slot: in traffic while DNS gives it an address (HAProxy keeps the others in maintenance).
        ...(b.discovery ? groupSlotNames(b.discovery).map((name) => ({ name, weight: configuredGroupWeight(b, b.discovery!), disabled: false, backup: false, discovered: true })) : []),
      ],
    })),
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Checked on read for its own fields; the topology in it was validated when it was applied and is
 * checked again by whatever plans from it.
 */
export const APPLIED_FORMAT: StateFileFormat<AppliedState> = {
  describes: "the record of what the running stack applied, the base of every plan",
  version: 1,
  validate: (document) => {
    const wrong = (["appliedAt", "source", "haproxyConfigSha256"] as const).filter((k) => typeof document[k] !== "string");
    if (!isObject(document.topology)) wrong.push("topology" as never);
    if (wrong.length) throw new Error(`${wrong.join(", ")} missing or of the wrong type`);
    return document as unknown as AppliedState;
  },
  fix: "apply cannot know what runs; put back a good copy, or restart the stack (npm stop, then npm start) to record it again; npm run drift shows what HAProxy runs meanwhile",
};

/** The expected-distribution file's text for `topology`, as every target writes it. */
export const expectedDistributionText = (topology: Topology) => stateFileText(EXPECTED_DISTRIBUTION_FORMAT, expectedDistribution(topology), { indent: 0 });

/** Records what HAProxy now runs: applied.json for plan/apply/drift, and the sidecar's expected distribution. */
export async function recordApplied(runDir: string, state: AppliedState): Promise<void> {
  await writeFileAtomic(join(runDir, APPLIED_FILE), stateFileText(APPLIED_FORMAT, state));
  await writeFileAtomic(join(runDir, EXPECTED_DISTRIBUTION_FILE), expectedDistributionText(state.topology));
}

/** The recorded state, or undefined when none was recorded; a file that cannot be read is a STATE_FILE_* error. */
export function readApplied(runDir: string): Promise<AppliedState | undefined> {
  return readStateFile(join(runDir, APPLIED_FILE), APPLIED_FORMAT);
}
