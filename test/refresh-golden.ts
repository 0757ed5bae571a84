// npm run golden: rewrites test/golden/ from the current model and templates.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { GOLDEN_DIR, GOLDENS, renderGolden } from "./support/goldens.ts";

for (const golden of GOLDENS) {
  writeFileSync(join(GOLDEN_DIR, golden.file), renderGolden(golden));
  console.log(`wrote test/golden/${golden.file}`);
}
