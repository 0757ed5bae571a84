// npm run certs -- status | renew [FILE] | run [--every DURATION] [--prepare-certificates [--given DIR]]
//                  | prepare [--given DIR] [--issued DIR] | follow --issued DIR [--every DURATION] [--once]
//                  | install FILE --from PEM
//                  [--run-dir DIR] [--config FILE] [--json]
// The running local stack's certificates: what each bind serves (from HAProxy), renewal now, or
// the issuer's loop (run by the stack's supervisor when the topology manages certificates, and in a
// container of its own in the Docker stack); in a Kubernetes pod, where cert-manager issues,
// prepare (an init container) and follow (installs each newly issued certificate at runtime).
import { join, resolve } from "node:path";
import { parseCliArgs, runMain } from "../../lib/cli.ts";
import { UsageError } from "../../lib/errors.ts";
import { formatTable } from "../../lib/text-table.ts";
import { durationProblem, parseDuration } from "../../haproxy/duration.ts";
import { readApplied } from "../runtime/applied.ts";
import { StackNotRunningError } from "../errors.ts";
import { REPO_ROOT } from "../repo.ts";
import { haproxySockets, localTarget } from "../render/targets.ts";
import { ISSUER_CONFIG_FILE, issuerConfig, readIssuerConfig, type IssuerConfig } from "./config.ts";
import { localCertificateIo, withIssuerLock } from "./local-io.ts";
import { prepareCertificateDirectory } from "./certificate-dir.ts";
import { followIssued, installGiven, readIssuedBundle } from "./follow.ts";
import { bundleFromPem } from "./policy.ts";
import { readFile } from "node:fs/promises";
import { renewDue, type RenewalOutcome } from "./renewer.ts";
import { certificateStatuses, type CertificateStatus } from "./status.ts";

const USAGE = `usage: npm run certs -- COMMAND [--run-dir DIR] [--config FILE] [--json]

  status            every certificate the binds serve, as HAProxy serves it: names, issuer,
                    serial, expiry, source (acme, given, development) and the next renewal
  renew [FILE]      obtain and install a managed certificate now (every one without FILE)
  install FILE --from PEM
                    replace a certificate you give (not a managed one) at runtime: judged first
                    (its key, dates, chain, and every name the served one has), then installed
                    and written to the certificate directory
  run               the issuer: renews what is due, every --every (default 1m), until stopped
  --every DURATION  how often run looks (e.g. 30s, 5m)
  --prepare-certificates
                    run first fills HAProxy's certificate directory: the --given files copied
                    in, a placeholder for each managed certificate not issued yet (the Docker stack)
  --given DIR       where the files the user gives are (read-only)
  prepare           fill HAProxy's certificate directory once and exit: --given files, the
                    --issued certificate or else a placeholder for each managed one
  follow            install each certificate issued elsewhere (cert-manager: --issued DIR/FILE/
                    tls.crt and tls.key) that HAProxy does not serve yet, judged first, every --every
  --issued DIR      where certificates issued elsewhere are
  --from PEM        the new certificate file: the chain, then the key
  --once            follow looks once and exits (1 if it refused one)
  --run-dir DIR     the running local stack (default .run)
  --config FILE     the issuer's configuration (default: issuer.json in --run-dir)
  --json            print the result as JSON

Certificates are installed through HAProxy's runtime API: no reload, connections keep theirs.`;

export function describeStatuses(statuses: readonly CertificateStatus[]): string {
  if (statuses.length === 0) return "no bind serves a certificate\n";
  const rows = statuses.map((s) => [s.file, s.names.join(" "), s.issuer, s.serial, s.notAfter ?? "", s.source, s.renewal ?? "", s.failures ? `${s.failures} failed: ${s.lastError}` : ""]);
  return `${formatTable([["file", "names", "issuer", "serial", "not after", "source", "next renewal", "trouble"], ...rows])}\n`;
}

export function describeOutcomes(outcomes: readonly RenewalOutcome[]): string {
  return outcomes
    .map((o) => {
      switch (o.action) {
        case "kept": return `${o.file}: kept (not due)`;
        case "waiting": return `${o.file}: waiting until ${o.nextAttemptAt}: ${o.reason}`;
        case "installed": return `${o.file}: installed serial ${o.serial}, valid until ${o.notAfter} (${o.reason})`;
        case "failed": return `${o.file}: failed, the served certificate stays; next attempt after ${o.nextAttemptAt}: ${o.error}`;
      }
    })
    .map((line) => `${line}\n`)
    .join("");
}

/** The running stack's issuer configuration: from issuer.json where it manages certificates, else from what it applied. */
async function runningConfig(runDir: string, configFile: string, command: string): Promise<IssuerConfig> {
  const written = await readIssuerConfig(configFile);
  if (written) return written;
  const applied = await readApplied(runDir);
  if (!applied) throw new StackNotRunningError(runDir, `npm run certs -- ${command} works on the local stack`);
  return issuerConfig(applied.topology, haproxySockets(applied.topology.global, localTarget(runDir)).admin);
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs(argv, {
    "run-dir": { type: "string", default: join(REPO_ROOT, ".run") },
    config: { type: "string" },
    every: { type: "string", default: "1m" },
    "prepare-certificates": { type: "boolean", default: false },
    given: { type: "string" },
    issued: { type: "string" },
    from: { type: "string" },
    once: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  }, USAGE, true);
  const [command, ...rest] = positionals;
  const runDir = resolve(values["run-dir"]);
  const configFile = resolve(values.config ?? join(runDir, ISSUER_CONFIG_FILE));
  if (values["prepare-certificates"] && command !== "run") throw new UsageError(`--prepare-certificates goes with run\n${USAGE}`);
  if (values.given !== undefined && !values["prepare-certificates"] && command !== "prepare") throw new UsageError(`--given goes with prepare, or run --prepare-certificates\n${USAGE}`);
  if (values.issued !== undefined && command !== "prepare" && command !== "follow") throw new UsageError(`--issued goes with prepare or follow\n${USAGE}`);
  if (values.once && command !== "follow") throw new UsageError(`--once goes with follow\n${USAGE}`);
  if (values.from !== undefined && command !== "install") throw new UsageError(`--from goes with install\n${USAGE}`);
  const dirOption = (value: string | undefined) => (value === undefined ? undefined : resolve(value));
  const everyMs = () => {
    const problem = durationProblem(values.every);
    if (problem !== undefined) throw new UsageError(`--every ${JSON.stringify(values.every)}: ${problem}\n${USAGE}`);
    return parseDuration(values.every);
  };
  const print = (value: unknown, text: string) => process.stdout.write(values.json ? `${JSON.stringify(value, null, 2)}\n` : text);
  switch (command) {
    case "status": {
      if (rest.length) throw new UsageError(`status takes no argument\n${USAGE}`);
      const config = await runningConfig(runDir, configFile, "status");
      const io = localCertificateIo(runDir, config);
      const served = new Map(await Promise.all(config.files.map(async (file) => [file, await io.served(file)] as const)));
      const statuses = certificateStatuses(config, served, await io.readRecords(), io.now());
      print(statuses, describeStatuses(statuses));
      return 0;
    }
    case "renew": {
      if (rest.length > 1) throw new UsageError(`renew takes at most one file\n${USAGE}`);
      const config = await runningConfig(runDir, configFile, "renew");
      const managed = config.certificates.map((c) => c.file);
      if (managed.length === 0) throw new UsageError(`the running topology manages no certificate (its certificates list is empty): nothing to renew`);
      if (rest[0] !== undefined && !managed.includes(rest[0])) throw new UsageError(`${JSON.stringify(rest[0])} is not a managed certificate: use one of ${managed.join(", ")}`);
      const io = localCertificateIo(runDir, config, { log: (line) => process.stderr.write(`certs: ${line}\n`) });
      const outcomes = await withIssuerLock(runDir, () => renewDue(config, io, { force: rest[0] !== undefined ? [rest[0]] : managed }));
      print(outcomes, describeOutcomes(outcomes));
      return outcomes.some((o) => o.action === "failed") ? 1 : 0;
    }
    case "run": {
      if (rest.length) throw new UsageError(`run takes no argument\n${USAGE}`);
      return runIssuer(runDir, configFile, everyMs(), values["prepare-certificates"] ? { given: dirOption(values.given) } : undefined);
    }
    case "install": {
      if (rest.length !== 1 || values.from === undefined) throw new UsageError(`install takes one certificate file and --from PEM\n${USAGE}`);
      const file = rest[0]!;
      const config = await runningConfig(runDir, configFile, "install");
      if (config.certificates.some((c) => c.file === file)) throw new UsageError(`${file} is managed (the stack obtains it from its ACME server): npm run certs -- renew ${file} replaces it`);
      if (!config.files.includes(file)) throw new UsageError(`${JSON.stringify(file)} is not a certificate the binds serve: use one of ${config.files.join(", ") || "(none)"}`);
      const pem = await readFile(resolve(values.from), "utf8").catch((error: Error) => {
        throw new UsageError(`--from ${values.from}: ${error.message}`);
      });
      const io = localCertificateIo(runDir, config, { log: (line) => process.stderr.write(`certs: ${line}\n`) });
      const outcome = await installGiven(file, bundleFromPem(pem), { now: io.now, served: io.served, install: io.install });
      print(outcome, `${file}: installed serial ${outcome.serial}, valid until ${outcome.notAfter} (was ${outcome.previousSerial ?? "none"}); no reload\n`);
      return 0;
    }
    case "prepare": {
      if (rest.length) throw new UsageError(`prepare takes no argument\n${USAGE}`);
      const prepared = await prepareCertificateDirectory(runDir, await runningConfig(runDir, configFile, "prepare"), dirOption(values.given), dirOption(values.issued));
      print(prepared, `certificate directory ready: ${prepared.copied.length} given files copied, ${prepared.issued.length} issued, ${prepared.placeholders.length} placeholders\n`);
      return 0;
    }
    case "follow": {
      if (rest.length) throw new UsageError(`follow takes no argument\n${USAGE}`);
      if (values.issued === undefined) throw new UsageError(`follow needs --issued DIR: where the issued certificates are\n${USAGE}`);
      return runFollower(runDir, configFile, resolve(values.issued), everyMs(), values.once, (value, text) => print(value, text));
    }
    default:
      throw new UsageError(`${command === undefined ? "give a command" : `${JSON.stringify(command)} is not a command`}\n${USAGE}`);
  }
}

/**
 * The follower's loop (or one look with `once`): each certificate issued elsewhere that HAProxy
 * does not serve yet is judged and installed. A look that cannot run is said and tried again soon.
 */
async function runFollower(runDir: string, configFile: string, issuedDir: string, everyMs: number, once: boolean, print: (value: unknown, text: string) => void): Promise<number> {
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const look = async () => {
    const config = await runningConfig(runDir, configFile, "follow");
    const io = localCertificateIo(runDir, config, { log });
    return followIssued(config.certificates, { now: io.now, served: io.served, install: io.install, issued: (file) => readIssuedBundle(issuedDir, file), log });
  };
  if (once) {
    const outcomes = await look();
    print(outcomes, outcomes.map((o) => `${o.file}: ${o.action}${o.action === "installed" ? ` serial ${o.serial}` : o.action === "refused" ? `: ${o.problems.join("; ")}` : ""}\n`).join(""));
    return outcomes.some((o) => o.action === "refused") ? 1 : 0;
  }
  return repeatUntilStopped(look, everyMs, (error) => log(`look failed: ${error.message}`));
}

/** A pass that could not run (HAProxy not answering yet) is tried again this soon, or at --every if that is sooner. */
const RETRY_PASS_MS = 3000;

/**
 * Runs `pass` at once and every `everyMs` until SIGTERM or SIGINT (after the pass in flight). A pass
 * that throws is said through `failed` and tried again within RETRY_PASS_MS.
 */
async function repeatUntilStopped(pass: () => Promise<unknown>, everyMs: number, failed: (error: Error) => void): Promise<number> {
  let stopping = false;
  let wake: () => void = () => {};
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => ((stopping = true), wake()));
  while (!stopping) {
    let passed = false;
    try {
      await pass();
      passed = true;
    } catch (error) {
      failed(error as Error);
    }
    await new Promise<void>((done) => {
      const timer = setTimeout(done, passed ? everyMs : Math.min(everyMs, RETRY_PASS_MS));
      wake = () => (clearTimeout(timer), done());
    });
  }
  return 0;
}

/**
 * The issuer's loop: a pass at start and every `everyMs`, until SIGTERM or SIGINT (after the pass
 * in flight). With `prepare`, it first fills HAProxy's certificate directory (the Docker stack,
 * where HAProxy starts after it): a file it cannot find ends it, named, before HAProxy starts.
 */
async function runIssuer(runDir: string, configFile: string, everyMs: number, prepare?: { given: string | undefined }): Promise<number> {
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  if (prepare) {
    const { copied, placeholders } = await prepareCertificateDirectory(runDir, await runningConfig(runDir, configFile, "run"), prepare.given);
    log(`certificate directory ready: ${copied.length} given files copied${placeholders.length ? `, placeholders for ${placeholders.join(", ")} until issued` : ""}`);
  }
  const pass = async () => {
    // Read each pass: a restart after an apply has a new one anyway, and a pass that failed to read it retries.
    const config = await runningConfig(runDir, configFile, "run");
    // The renewer logs what it issues and why an attempt failed; a wait for the backoff is in npm run certs -- status.
    await withIssuerLock(runDir, () => renewDue(config, localCertificateIo(runDir, config, { log })));
  };
  // A pass that cannot run (HAProxy starting or restarting, the state file unreadable) is said, and tried again soon.
  return repeatUntilStopped(pass, everyMs, (error) => log(`pass failed: ${error.message}`));
}

runMain(main);
