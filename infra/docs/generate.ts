// Every generated documentation file, computed from the code: the I/O edge of the reference (it runs
// each command's --help, reads the example topologies and the source files) around the pure page
// functions. npm run docs writes what this returns; the docs test compares the files with it.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { BACKEND_METRICS, FRONTEND_METRICS, PROCESS_METRICS, SERVER_METRICS } from "../../sidecar/promex-table.ts";
import { sidecarOwnMetrics } from "../../sidecar/catalogue.ts";
import { DEFAULT_METRICS_PREFIX } from "../../sidecar/self-metrics.ts";
import { RUNBOOK_PAGE } from "../model/schema.ts";
import { commandScripts, nodeArguments } from "../commands.ts";
import { DEFAULT_TOPOLOGY_FILE, readTopologyInput } from "../model/load.ts";
import { errorCatalogue } from "./error-catalogue.ts";
import { FIELD_EXAMPLES } from "./field-examples.ts";
import { alertsPage, cliPage, errorsPage, metricsPage, type CliUsage } from "./reference-pages.ts";
import { TOPOLOGY_SCHEMA_FILE, topologyJsonSchema, topologyReferenceMarkdown, topologyTypes } from "./topology-reference.ts";

/** The example topologies whose values illustrate the reference: the default one and infra/topologies/. */
export async function exampleTopologyInputs(root: string): Promise<unknown[]> {
  const files = [DEFAULT_TOPOLOGY_FILE, ...readdirSync(join(root, "infra/topologies")).filter((f) => f.endsWith(".ts")).sort().map((f) => `infra/topologies/${f}`)];
  return Promise.all(files.map((f) => readTopologyInput(join(root, f))));
}

/** What `--help` prints for each command, run as npm runs it, a few at a time. */
export async function cliUsages(root: string): Promise<CliUsage[]> {
  const commands = commandScripts(root);
  const usages: CliUsage[] = new Array(commands.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < commands.length; i = next++) {
      const { script, file, args } = commands[i]!;
      usages[i] = { script, usage: await helpOf(root, file, args) };
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return usages;
}

function helpOf(root: string, file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArguments(root, file), ...args, "--help"], { cwd: root, stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 && stdout !== "" ? resolve(stdout) : reject(new Error(`${file} --help exited ${code}: ${stderr.trim()}`))));
  });
}

/** Repository-relative path → content, for every generated file. */
export async function generatedFiles(root: string): Promise<Map<string, string>> {
  const schema = topologyJsonSchema();
  const types = topologyTypes(schema, await exampleTopologyInputs(root), FIELD_EXAMPLES);
  const exporter = [
    { title: "Process (haproxy_process_*)", labels: "none", metrics: PROCESS_METRICS },
    { title: "Frontends (haproxy_frontend_*)", labels: "`proxy`", metrics: FRONTEND_METRICS },
    { title: "Backends (haproxy_backend_*)", labels: "`proxy`", metrics: BACKEND_METRICS },
    { title: "Servers (haproxy_server_*)", labels: "`proxy`, `server`", metrics: SERVER_METRICS },
  ];
  return new Map([
    [TOPOLOGY_SCHEMA_FILE, `${JSON.stringify(schema, null, 2)}\n`],
    ["docs/reference/topology.md", topologyReferenceMarkdown(types)],
    ["docs/reference/cli.md", cliPage(await cliUsages(root))],
    ["docs/reference/errors.md", errorsPage(errorCatalogue(root))],
    ["docs/reference/metrics.md", metricsPage(exporter, sidecarOwnMetrics(), DEFAULT_METRICS_PREFIX)],
    [RUNBOOK_PAGE, alertsPage()],
  ]);
}
