// npm run acme-server -- [--http-port PORT] [--roots-file FILE]
// Runs a test ACME server (pebble, with a name server for *.lb.test) until Ctrl-C, and prints the
// environment npm start needs for infra/topologies/acme.ts: the directory, pebble's CA and the
// roots its certificates chain to.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseCliArgs, runMain } from "../../lib/cli.ts";
import { UsageError } from "../../lib/errors.ts";
import { startPebble } from "./test-acme-server.ts";

const USAGE = `usage: npm run acme-server -- [--http-port PORT] [--roots-file FILE]

  --http-port PORT   where pebble fetches HTTP-01 challenges: the stack's plain HTTP bind (default 60000,
                     infra/topologies/acme.ts's)
  --roots-file FILE  where the roots pebble issues under are written (default .run-acme-roots.pem)

Not for production: pebble forgets everything when it stops, and makes a new root at each start.`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(argv, { "http-port": { type: "string", default: "60000" }, "roots-file": { type: "string", default: ".run-acme-roots.pem" } }, USAGE);
  const port = Number(values["http-port"]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--http-port ${JSON.stringify(values["http-port"])} is not a port\n${USAGE}`);
  const pebble = await startPebble(port);
  const roots = resolve(values["roots-file"]);
  writeFileSync(roots, await pebble.issuingRoot());
  process.stdout.write(`pebble answers at ${pebble.directoryUrl}, validating HTTP-01 on 127.0.0.1:${port}; for the stack:\n\n  export LB_ACME_DIRECTORY=${pebble.directoryUrl} LB_ACME_CA=${pebble.caFile} LB_ACME_ROOTS=${roots}\n\nCtrl-C stops it.\n`);
  await new Promise<void>((done) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => done());
  });
  await pebble.close();
  return 0;
}

runMain(main);
