// npm run import on a large config: 2,000 backends behind one frontend, each chosen by a host ACL
// or a path ACL, with its server: about 10,000 lines. Parse, import and validate,
// timed apart, HAProxy's own check of the original and the side-by-side comparison npm run import
// makes before it writes, and the heap the whole import leaves in use.
import { parseConfig } from "../haproxy/config-parser.ts";
import { importConfig, refusals } from "../infra/import/import.ts";
import { validateImported } from "../infra/import/validate.ts";
import { compareRendered } from "../infra/import/equivalence.ts";
import { checkOriginal } from "../infra/import/original-check.ts";
import { medianMs, ms, type BenchRow } from "./table.ts";

/** A config of `backends` backends, each routed by host or path, as a large shared edge writes it. */
export function generatedConfig(backends: number): string {
  const lines = ["global", "    maxconn 50000", "", "defaults", "    mode http", "    option httplog", "    timeout connect 5s", "    timeout client 30s", "    timeout server 30s", "", "frontend edge", "    bind :80"];
  for (let b = 0; b < backends; b++) lines.push(`    acl host_${b} hdr(host) -i app${b}.example.com`, `    acl path_${b} path_beg /app${b}/`);
  for (let b = 0; b < backends; b++) lines.push(`    use_backend app_${b} if host_${b} || path_${b}`);
  lines.push("    default_backend app_0", "");
  for (let b = 0; b < backends; b++) {
    lines.push(`backend app_${b}`, `    server app-${b} 10.${(b >> 8) & 255}.${b & 255}.1:8080 check`, "");
  }
  return `${lines.join("\n")}\n`;
}

export async function importBench(): Promise<BenchRow[]> {
  const text = generatedConfig(2_000);
  const lineCount = text.split("\n").filter((l) => l.trim() !== "").length;
  const files = [{ file: "large.cfg", text }];
  let parsed = parseConfig(files);
  let result = importConfig(parsed, "large");
  if (refusals(result.accounts).length) throw new Error(`the generated config did not import whole: ${refusals(result.accounts).slice(0, 3).join("; ")}`);
  const parseMs = await medianMs(5, () => (parsed = parseConfig(files)));
  const importMs = await medianMs(5, () => (result = importConfig(parsed, "large")));
  const validateMs = await medianMs(5, () => validateImported(result));
  // The round trip's second proof on the same config: rendered, read back, compared directive by directive.
  const topology = validateImported(result);
  let differences = 0;
  const compareMs = await medianMs(3, () => void (differences = compareRendered(parsed, result, topology, { read: () => undefined }).differences.length));
  // HAProxy's own check of the original, which npm run import makes first.
  let objections = 0;
  const checkMs = await medianMs(3, async () => void (objections = (await checkOriginal(files)).size));
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  const kept = validateImported(importConfig(parseConfig(files), "large"));
  const heapMb = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
  const total = parseMs + importMs + validateMs;
  return [
    { group: "import", case: `${lineCount} lines (2,000 backends): parse`, value: ms(parseMs), note: "median of 5" },
    { group: "import", case: "import (every line accounted for)", value: ms(importMs), note: "median of 5" },
    { group: "import", case: "validate (the model's schema, cross-references)", value: ms(validateMs), note: "median of 5" },
    { group: "import", case: "parse + import + validate", value: ms(total), note: `goal < 1000 ms${total < 1000 ? ": met" : ": NOT met"}` },
    { group: "import", case: "side by side: render, read back, compare", value: ms(compareMs), note: `median of 3; ${differences} differences` },
    { group: "import", case: "haproxy -c of the original, first", value: ms(checkMs), note: `median of 3; ${objections} lines HAProxy rejects` },
    { group: "import", case: "heap the imported topology holds", value: `${heapMb.toFixed(1)} MB`, note: `${kept.backends.length} backends${global.gc ? "" : " (without --expose-gc: an upper bound)"}` },
  ];
}
