// npm run golden: rewrites test/golden/ from the current model and templates; review the diff like code.
import { join } from "node:path";
import { parseCliArgs, runMain } from "../lib/cli.ts";
import { writeFileAtomic } from "../infra/files.ts";
import { GOLDEN_DIR, GOLDENS, renderGolden } from "./support/goldens.ts";

const USAGE = "usage: npm run golden   (rewrites test/golden/ from the current templates)";

runMain(async (argv) => {
  parseCliArgs(argv, {}, USAGE);
  for (const golden of GOLDENS) {
    await writeFileAtomic(join(GOLDEN_DIR, golden.file), renderGolden(golden));
    console.log(`wrote test/golden/${golden.file}`);
  }
});
