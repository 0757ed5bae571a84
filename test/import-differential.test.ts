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
import { writeSelfSignedCertificates } from "../infra/render/haproxy-check.ts";
import { sideBySide, type Ask, type DiffRequest } from "./support/config-differential.ts";
import { REPO_ROOT } from "./support/run-cli.ts";

const fixture = (name: string) => readFileSync(join(REPO_ROOT, "test/fixtures/import", name), "utf8");

/** Every request of the matrix: to each bind (TLS where it is), hosts, paths, methods, with and without a header the rules delete. */
function matrix(binds: { tls: boolean }[], hosts: string[], paths: string[]): DiffRequest[] {
  return hosts.flatMap((host) => paths.flatMap((path) => ["GET", "POST", "HEAD"].flatMap((method) => binds.map(({ tls }, bind) => ({ bind, method, host, path, tls, headers: (bind + path.length) % 2 ? [["X-Debug", "1"]] : [] }) as DiffRequest))));
}

describe("an imported config answers as the original does, on the real HAProxy", () => {
  let dir: string;
  let certificate: { file: string; pem: string };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "lb-import-diff-"));
    await writeSelfSignedCertificates(join(dir, "certs"), [{ name: "site.pem", kind: "certificate" }]);
    certificate = { file: join(dir, "certs", "site.pem"), pem: readFileSync(join(dir, "certs", "site.pem"), "utf8") };
  });
  const side = (file: string, requests: () => DiffRequest[], ask: Ask) => sideBySide(dir, { file, text: fixture(file), requests, ask, certificate });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("rules-edge.cfg: refusals, redirects, a maintenance answer, routes by host, path and method, the headers its rules set and delete", async () => {
    const { before, differences, sent } = await side("rules-edge.cfg", () => matrix([{ tls: false }, { tls: true }], ["www.example.com", "API.example.com", "shop.example.com:8443"], ["/", "/index.php", "/wp-admin/setup", "/old-shop/cart?id=3", "/maintenance/window", "/api/v1/users", "/api/v2/items", "/static/app.css", "/about"]), { responseHeaders: ["server", "x-frame-options", "cache-control"], requestHeaders: ["x-forwarded-proto", "x-api-version", "x-debug"] });
    assert.deepEqual(differences.slice(0, 5), [], `${differences.length} of ${sent.length} requests answered differently`);
    // The matrix reaches every behaviour the config has: each refusal, redirect and answer, each backend.
    assert.deepEqual([...new Set(before.map((a) => a.backend ?? `${a.status}`))].sort(), ["301", "308", "404", "503", "api", "static", "web"]);
  });

  it("several-defaults.cfg: web and TCP defaults, one from another, a frontend naming the first again: each listener reaches its backend with its own mode's handling", async () => {
    const { before, differences, sent } = await side("several-defaults.cfg", () => matrix([{ tls: false }, { tls: false }, { tls: false }, { tls: false }], ["www.example.com"], ["/", "/x"]), { responseHeaders: ["server"], requestHeaders: ["x-forwarded-for", "x-debug"] });
    assert.deepEqual(differences.slice(0, 5), [], `${differences.length} of ${sent.length} requests answered differently`);
    assert.deepEqual([...new Set(before.map((a) => a.backend))].sort(), ["app", "postgres", "redis"]);
    // forwardfor came with the web defaults only: the TCP listeners pass the request untouched.
    assert.deepEqual([...new Set(before.flatMap((a, i) => (a.received ? [`${sent[i]!.bind}:${a.received.headers["x-forwarded-for"] ?? "none"}`] : [])))].sort(), ["0:127.0.0.1", "1:none", "2:none", "3:127.0.0.1"]);
  });
});
