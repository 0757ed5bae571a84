// npm run verify -- [--only health,distribution,persistence,failover,recovery] [--json FILE]
//                   [--report DIR] [--topology FILE] [--run-dir DIR] [--requests N]
// Against the stack running from the run directory, or one it starts (and stops) itself.
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { UsageError } from "../../lib/errors.ts";
import { parseCliArgs, runMain } from "../../lib/cli.ts";
import { handleInterrupts } from "../../lib/interrupt.ts";
import { writeFileAtomic } from "../files.ts";
import { DEFAULT_TOPOLOGY_FILE, loadTopologyFile } from "../model/load.ts";
import { REPO_ROOT } from "../repo.ts";
import { ASSERTIONS, allPassed, type AssertionName, type AssertionResult } from "../../verification/judge.ts";
import { runAssertions } from "../../verification/run.ts";
import { renderHtmlReport, renderTable } from "../../verification/report.ts";
import { declareLocalStack } from "./declaration.ts";
import { recordedProcesses, startLocalStack, type LocalStack } from "./stack.ts";
import { stillRecordedProcess } from "./state.ts";
import { expectationsFromTopology, readLocalDiscoveredServers, localCa, localStackAccess, recordVerifyReport } from "./verify.ts";

const USAGE = `usage: npm run verify -- [--only ${ASSERTIONS.join(",")}] [--json FILE] [--report DIR]
                         [--topology FILE] [--run-dir DIR] [--requests N] [--ca FILE]

  --ca FILE  the CA certificate HTTPS answers must chain to (default: the run directory's development CA)`;

function parseOnly(text: string | undefined): AssertionName[] {
  if (text === undefined) return [...ASSERTIONS];
  const names = text.split(",").map((n) => n.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(ASSERTIONS as readonly string[]).includes(n));
  if (unknown.length || names.length === 0) throw new UsageError(`--only ${JSON.stringify(text)}: ${unknown.length ? `unknown ${unknown.join(", ")}` : "empty"}; choose from ${ASSERTIONS.join(", ")}\n${USAGE}`);
  return names as AssertionName[];
}

/** "4 passed, 0 failed, 1 skipped": the run's verdict in one line. */
function summarize(results: AssertionResult[]): string {
  const count = (verdict: string) => results.filter((r) => r.verdict === verdict).length;
  return `${count("pass")} passed, ${count("fail")} failed${count("skip") ? `, ${count("skip")} skipped` : ""}`;
}

function readCa(file: string): string {
  try {
    return readFileSync(resolve(file), "utf8");
  } catch (error) {
    throw new UsageError(`--ca ${file}: cannot read it (${(error as NodeJS.ErrnoException).code})\n${USAGE}`);
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(
    argv,
    {
      only: { type: "string" },
      json: { type: "string" },
      report: { type: "string", default: join(REPO_ROOT, "reports") },
      topology: { type: "string", default: DEFAULT_TOPOLOGY_FILE },
      "run-dir": { type: "string", default: join(REPO_ROOT, ".run") },
      requests: { type: "string", default: "1000" },
      ca: { type: "string" },
    },
    USAGE,
  );
  const only = parseOnly(values.only);
  const requests = Number(values.requests);
  if (!Number.isInteger(requests) || requests < 10 || requests > 100_000) throw new UsageError(`--requests ${values.requests}: use a whole number from 10 to 100000\n${USAGE}`);
  const runDir = resolve(values["run-dir"]);
  const topology = await loadTopologyFile(values.topology);
  const log = (line: string) => process.stderr.write(`verify: ${line}\n`);

  const running = (await recordedProcesses(runDir))?.some(stillRecordedProcess) ?? false;
  let ownStack: LocalStack | undefined;
  if (!running) {
    // Its own stack is stopped if it is interrupted; a running stack's servers are its supervisor's.
    handleInterrupts(log);
    log(`no stack runs from ${runDir}: starting one for this run`);
    ownStack = await startLocalStack(topology, { runDir, sidecar: true, source: relative(REPO_ROOT, resolve(values.topology)), log });
  }
  try {
    const plan = ownStack?.plan ?? declareLocalStack(topology, { runDir, sidecar: true });
    const expectations = expectationsFromTopology(topology, { ca: values.ca ? readCa(values.ca) : localCa(runDir, topology), discovered: await readLocalDiscoveredServers(plan) });
    log(`checking ${only.join(", ")} through ${expectations.frontendUrl} (backend ${expectations.backend}, balance ${expectations.balance})`);
    const run = await runAssertions(expectations, localStackAccess(plan, log), { only, requests });
    const generatedAt = new Date().toISOString();
    const report = { topology: topology.name, generatedAt, passed: allPassed(run.results), results: run.results, timeline: run.timeline };
    const json = await recordVerifyReport(runDir, report);
    if (values.json) await writeFileAtomic(resolve(values.json), json);
    await mkdir(resolve(values.report), { recursive: true });
    const html = join(resolve(values.report), "verify.html");
    await writeFileAtomic(html, renderHtmlReport({ topology: topology.name, generatedAt, results: run.results, samples: run.timeline.samples, events: run.timeline.events }));

    console.log(renderTable(run.results));
    console.log(`\n${summarize(run.results)}`);
    console.log(`report: ${html}${values.json ? `\njson:   ${resolve(values.json)}` : ""}`);
    return report.passed ? 0 : 1;
  } finally {
    if (ownStack) {
      log("stopping the stack it started");
      await ownStack.stop();
    }
  }
}

runMain(main, 2);
