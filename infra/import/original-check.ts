// The original config through the real HAProxy's own check (haproxy -c), before anything is
// imported from it: what HAProxy itself rejects is said in its words at the line. What fails only
// because this machine is not the original's (its users, its files, its DNS) is not the config's fault.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configAlerts } from "../../haproxy/check-alerts.ts";
import { runProgram } from "../programs.ts";
import type { LineAccount } from "./context.ts";

/** What fails for want of the original machine: its users and groups, its files, its name servers. */
const ELSEWHERE = /cannot find (user|group) id|No such file or directory|error opening file|unable to stat|unable to load|failed to open|cannot open|Permission denied|could not resolve/i;

/** HAProxy's objections to the original's lines ("FILE:LINE" → what haproxy -c says there), this machine's aside. */
export function haproxyObjections(output: string, fileOf: (checked: string) => string): Map<string, string> {
  const objections = new Map<string, string>();
  for (const alert of configAlerts(output)) {
    if (ELSEWHERE.test(alert.message)) continue;
    const at = `${fileOf(alert.file)}:${alert.line}`;
    objections.set(at, objections.has(at) ? `${objections.get(at)}; ${alert.message}` : alert.message);
  }
  return objections;
}

/** Each line HAProxy itself rejects is refused in its words, whatever the import made of it. */
export function withHaproxyObjections(accounts: readonly LineAccount[], objections: ReadonlyMap<string, string>): LineAccount[] {
  return accounts.map((a) => {
    const said = objections.get(`${a.at.file}:${a.at.line}`);
    return said === undefined ? a : { ...a, outcome: "refused" as const, field: undefined, why: `HAProxy itself rejects it (haproxy -c: ${said})` };
  });
}

/**
 * Runs haproxy -c on copies of the files, in HAProxy's -f order, each server line told not to
 * resolve its name here (init-addr none: this machine's DNS is not the original's, and waiting on it
 * for each name is slow). Lines keep their numbers.
 */
export async function checkOriginal(files: readonly { file: string; text: string }[], haproxyBinary = "haproxy"): Promise<Map<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), "import-original-"));
  try {
    const copies = files.map((f, i) => ({ original: f.file, copy: join(dir, `${i}.cfg`) }));
    await Promise.all(files.map((f, i) => writeFile(copies[i]!.copy, withoutResolution(f.text))));
    const { output } = await runProgram(haproxyBinary, ["-c", ...copies.flatMap((c) => ["-f", c.copy])], { debianPackage: "haproxy", maxBuffer: 16 * 1024 * 1024 });
    return haproxyObjections(output, (checked) => copies.find((c) => c.copy === checked)?.original ?? checked);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Each server line of a proxy (a ring's and a peers section's take no init-addr), without a comment or an init-addr of its own: init-addr none at its end. */
function withoutResolution(text: string): string {
  let section = "";
  return text
    .split("\n")
    .map((line) => {
      if (/^\S/.test(line)) section = line.split(/\s+/)[0]!;
      const proxy = ["backend", "listen", "defaults"].includes(section);
      return proxy && /^\s+(server|server-template|default-server)\s[^#]*$/.test(line) && !/\binit-addr\b/.test(line) ? `${line.trimEnd()} init-addr none` : line;
    })
    .join("\n");
}
