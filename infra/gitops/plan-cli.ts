// npm run plan -- [--base GIT_REF] [--topology FILE] [--format text|markdown|json] [--out FILE] [--detailed-exitcode]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { parseCliArgs, runMain } from "../../lib/cli.ts";
import { UsageError } from "../../lib/errors.ts";
import { TopologyInvalidError } from "../errors.ts";
import { writeFileAtomic } from "../files.ts";
import { DEFAULT_TOPOLOGY_FILE, loadTopologyFile } from "../model/load.ts";
import { parseTopology } from "../model/parse.ts";
import type { Topology } from "../model/schema.ts";
import { checkEveryTarget } from "../render/validate.ts";
import { formatPlan, PLAN_FORMATS, type PlanFormat } from "./format.ts";
import { defaultBase, hasUncommittedChanges, repositoryRoot, resolveCommit, topologyInputAt } from "./git.ts";
import { hasChanges, makePlan } from "./plan.ts";
import { savePlanText } from "./saved-plan.ts";
import { topologyHash } from "../runtime/applied.ts";
import { diffStacks, type StackDiff } from "./terraform-diff.ts";
import { synthesizeStacks } from "../stacks.ts";

const USAGE = `usage: npm run plan -- [--base GIT_REF] [--topology FILE] [--format ${PLAN_FORMATS.join("|")}] [--out FILE] [--detailed-exitcode]

  --base GIT_REF       what the working tree is compared with (default: the merge base with the default branch, else HEAD)
  --topology FILE      the topology, at the same path on both sides (default ${DEFAULT_TOPOLOGY_FILE})
  --format             text (default), markdown (a pull-request comment) or json (the plan as data: a
                       saved plan, with its base's and head's hashes, that npm run apply -- --plan applies)
  --out FILE           write the plan there instead of stdout (a .json file: the saved plan)
  --detailed-exitcode  exit 2 when there are changes, 0 when there are none (1 on errors)`;

/** Exit code of --detailed-exitcode when the plan has changes, as terraform plan's. */
const CHANGES_EXIT_CODE = 2;

interface BaseSide {
  topology?: Topology;
  problems?: string[];
  note?: string;
}

async function loadBase(root: string, commit: string, file: string): Promise<BaseSide> {
  const input = await topologyInputAt(root, commit, file);
  if (input === undefined) return { note: `${relative(root, resolve(file))} does not exist at the base: every item is new` };
  try {
    return { topology: parseTopology(input) };
  } catch (error) {
    if (!(error instanceof TopologyInvalidError)) throw error;
    return { problems: error.problems.map((p) => `${p.path}: ${p.message}`) };
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(
    argv,
    {
      base: { type: "string" },
      topology: { type: "string", default: DEFAULT_TOPOLOGY_FILE },
      format: { type: "string" },
      out: { type: "string" },
      "detailed-exitcode": { type: "boolean", default: false },
    },
    USAGE,
  );
  const format = values.format ?? (values.out?.endsWith(".json") ? "json" : "text");
  if (!(PLAN_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format ${JSON.stringify(format)}: use ${PLAN_FORMATS.join(", ")}\n${USAGE}`);
  const note = (line: string) => process.stderr.write(`plan: ${line}\n`);

  // The new side first: an invalid topology fails the check however the base looks.
  const head = await loadTopologyFile(values.topology);
  await checkEveryTarget(head);

  const root = await repositoryRoot(process.cwd());
  const commit = values.base === undefined ? await defaultBase(root) : await resolveCommit(root, values.base);
  const base = await loadBase(root, commit, values.topology);
  note(`comparing ${relative(process.cwd(), resolve(values.topology)) || values.topology} in the working tree with ${values.base ?? "the merge base"} (${commit.slice(0, 12)})`);
  if (base.note) note(base.note);
  if (await hasUncommittedChanges(root, values.topology)) note("the topology has uncommitted changes: the plan includes them");

  const source = relative(root, resolve(values.topology));
  const plan = makePlan(base.topology, head, { baseProblems: base.problems, stacks: stackDiffs(base.topology, head, source) });
  const text =
    format === "json"
      ? savePlanText(plan, { topologySha256: base.topology ? topologyHash(base.topology) : null, from: `git ${commit}`, ...(base.topology ? { topology: base.topology } : {}) }, { topology: head, source })
      : formatPlan(plan, format as PlanFormat);
  if (values.out) await writeFileAtomic(resolve(values.out), text);
  else process.stdout.write(text);
  return values["detailed-exitcode"] && hasChanges(plan) ? CHANGES_EXIT_CODE : 0;
}

/** What cdktf deploy would do to each synthesized stack: both sides synthesized, compared resource by resource. */
function stackDiffs(base: Topology | undefined, head: Topology, source: string): StackDiff[] {
  const dir = mkdtempSync(join(tmpdir(), "plan-stacks-"));
  try {
    const synthesized = (t: Topology | undefined, side: string) => {
      if (!t) return [];
      try {
        return [...synthesizeStacks(t, join(dir, side), { source }).stacks];
      } catch {
        return []; // an old base the current stacks cannot take: every resource shows as new
      }
    };
    const before = synthesized(base, "base");
    return synthesized(head, "head").map(([name, stack], i) => diffStacks(name, before[i]?.[1], stack));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
