// Certificates from a real ACME server (pebble), side by side in one run on the local stack:
// the time to obtain and install one (HTTP-01 answered by HAProxy), and TLS handshakes per second
// (wrk, a new connection per request) before, during and after rotations through the runtime API.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTopology } from "../infra/model/parse.ts";
import { withFreePorts } from "../infra/runtime/ports.ts";
import { startLocalStack } from "../infra/runtime/stack.ts";
import { stopProcessGroup } from "../infra/runtime/processes.ts";
import { ISSUER_COMPONENT } from "../infra/runtime/declaration.ts";
import { topology as acmeExample } from "../infra/topologies/acme.ts";
import { issuerConfig } from "../infra/certs/config.ts";
import { localCertificateIo } from "../infra/certs/local-io.ts";
import { renewDue } from "../infra/certs/renewer.ts";
import { startPebble } from "../infra/certs/test-acme-server.ts";
import { median, ms, type BenchRow } from "./table.ts";
import { runWrk } from "./wrk.ts";

const ISSUES = 7;
const SECONDS = 3;
const CONNECTIONS = 8;

export async function certificatesBench(): Promise<BenchRow[]> {
  const scratch = mkdtempSync(join(tmpdir(), "lb-certs-bench-"));
  const input = structuredClone(acmeExample) as any;
  input.global = { ...input.global, logs: [] };
  const topology = parseTopology(await withFreePorts(input));
  const plain = topology.frontends[0]!.binds.find((b) => b.tlsCertificate === undefined)!.port;
  const tls = topology.frontends[0]!.binds.find((b) => b.tlsCertificate !== undefined)!.port;
  const pebble = await startPebble(plain);
  const roots = join(scratch, "roots.pem");
  writeFileSync(roots, await pebble.issuingRoot());
  const env = { ...process.env, LB_ACME_DIRECTORY: pebble.directoryUrl, LB_ACME_CA: pebble.caFile, LB_ACME_ROOTS: roots };
  const saved = { ...process.env };
  Object.assign(process.env, { LB_ACME_DIRECTORY: env.LB_ACME_DIRECTORY, LB_ACME_CA: env.LB_ACME_CA, LB_ACME_ROOTS: roots });
  const stack = await startLocalStack(topology, { runDir: join(scratch, "run") }).finally(() => {
    for (const key of ["LB_ACME_DIRECTORY", "LB_ACME_CA", "LB_ACME_ROOTS"]) if (saved[key] === undefined) delete process.env[key];
  });
  try {
    // The bench drives the passes itself: the stack's issuer stops once it has made its first.
    await stopProcessGroup(stack.processes.find((p) => p.spec.name === ISSUER_COMPONENT)!.pid);
    const config = issuerConfig(topology, stack.plan.sockets.admin);
    const io = localCertificateIo(stack.plan.runDir, config, { env, log: () => {} });
    const issue = async () => {
      const started = performance.now();
      const [outcome] = await renewDue(config, io, { force: ["shop.pem"] });
      if (outcome!.action !== "installed") throw new Error(`issuance failed: ${JSON.stringify(outcome)}`);
      return performance.now() - started;
    };
    await issue(); // the account is created once
    const times: number[] = [];
    for (let i = 0; i < ISSUES; i++) times.push(await issue());

    const url = `https://127.0.0.1:${tls}/`;
    const handshakes = () => runWrk(url, { seconds: SECONDS, connections: CONNECTIONS, headers: ["Connection: close"] });
    const before = await handshakes();
    let rotations = 0;
    let rotating = true;
    const rotate = (async () => {
      while (rotating) {
        await issue();
        rotations++;
      }
    })();
    const during = await handshakes();
    rotating = false;
    await rotate;
    const after = await handshakes();
    const errors = before.errors + during.errors + after.errors;
    return [
      { group: "certs", case: "obtain and install a certificate from pebble (HTTP-01 via HAProxy's map, set/commit ssl cert)", value: ms(median(times)), note: `2 names, median of ${ISSUES}; account already registered` },
      { group: "certs", case: "TLS handshakes/s before rotations", value: String(Math.round(before.requestsPerSecond)), note: `wrk -c${CONNECTIONS}, a new connection per request, ${SECONDS} s` },
      { group: "certs", case: "TLS handshakes/s during rotations ÷ before", value: (during.requestsPerSecond / before.requestsPerSecond).toFixed(2), note: `${rotations} certificates installed in ${SECONDS} s; ${Math.round(during.requestsPerSecond)} req/s` },
      { group: "certs", case: "TLS handshakes/s after rotations ÷ before", value: (after.requestsPerSecond / before.requestsPerSecond).toFixed(2), note: `${errors} errors in all three runs` },
    ];
  } finally {
    await stack.stop();
    await pebble.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}
