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
import { userInfo } from "node:os";
import type { TopologyInput } from "../infra/model/schema.ts";
import { findFreePortRange } from "../infra/runtime/ports.ts";
import { killProcessGroup, startProcess } from "../infra/runtime/processes.ts";
import { pollUntil } from "../lib/poll.ts";
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

  it("consul-services.cfg: services found through Consul's DNS (SRV records carrying ports, A records with the template's), a name server answering for stand-ins: each path reaches its service on both sides", async () => {
    const [dnsPort, catalogPort, billingPort] = [await findFreePortRange(1), await findFreePortRange(2), await findFreePortRange(1)];
    // Consul's answers: the catalog's instances by SRV (each its own port; priority and weight 1 as Consul gives them, since
    // HAProxy takes a server's weight from its record's), billing's by A (the template's port, on two addresses).
    const discovered = [
      { backend: "catalog", server: "catalog-a", port: catalogPort },
      { backend: "catalog", server: "catalog-b", port: catalogPort + 1 },
      { backend: "billing", server: "billing-a", address: "127.0.0.2", port: billingPort },
      { backend: "billing", server: "billing-b", address: "127.0.0.3", port: billingPort },
    ];
    const dns = await startProcess({
      name: "dnsmasq-consul",
      command: "dnsmasq",
      args: ["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll", "--listen-address=127.0.0.1", "--bind-interfaces", `--port=${dnsPort}`, "--local-ttl=1", "--log-facility=-", `--user=${userInfo().username}`, `--pid-file=${join(dir, "dnsmasq.pid")}`,
        ...discovered.filter((d) => d.backend === "catalog").flatMap((d) => [`--srv-host=_catalog._tcp.service.consul,${d.server}.node.consul,${d.port},1,1`, `--host-record=${d.server}.node.consul,127.0.0.1`]),
        ...discovered.filter((d) => d.backend === "billing").map((d) => `--host-record=billing.service.consul,${d.address}`)],
      logFile: join(dir, "dnsmasq.log"),
    });
    try {
      const askConsul = (t: TopologyInput) => ({ ...t, backends: t.backends.map((b) => (b.discovery ? { ...b, discovery: { ...b.discovery, ...(b.discovery.port !== undefined && { port: billingPort }), resolver: { ...b.discovery.resolver, nameservers: [`127.0.0.1:${dnsPort}`] } } } : b)) });
      // Both services answer once HAProxy has asked the name server and filled its slots.
      const ready = async (ports: readonly number[]) => {
        const answers = (path: string) => fetch(`http://127.0.0.1:${ports[0]}${path}`, { signal: AbortSignal.timeout(2000) }).then((r) => r.headers.get("x-backend"), () => null);
        const found = await pollUntil(async () => ((await answers("/")) === "catalog" && (await answers("/billing/ready")) === "billing" ? true : undefined), { timeoutMs: 20_000, intervalMs: 200 });
        assert.ok(found, "HAProxy never reached both services through the name server");
      };
      const requests = () => ["/", "/products/42", "/billing/invoices", "/billing", "/billing/"].flatMap((path) => ["GET", "POST"].map((method) => ({ bind: 0, method, host: "services.example.com", path, tls: false, headers: [] }) as DiffRequest));
      const { before, differences, sent } = await sideBySide(dir, {
        file: "consul-services.cfg",
        text: fixture("consul-services.cfg"),
        requests,
        ask: { responseHeaders: ["server"], requestHeaders: ["x-forwarded-for"] },
        certificate,
        adaptOriginal: (text) => text.replace(/^(\s*nameserver \S+ )\S+/gm, `$1127.0.0.1:${dnsPort}`).replace("billing.service.consul:9000", `billing.service.consul:${billingPort}`),
        adaptImported: askConsul,
        discovered,
        ready,
      });
      assert.deepEqual(differences.slice(0, 5), [], `${differences.length} of ${sent.length} requests answered differently`);
      assert.deepEqual([...new Set(before.map((a) => a.backend))].sort(), ["billing", "catalog"]);
    } finally {
      await killProcessGroup(dns.pid);
    }
  });

  it("several-defaults.cfg: web and TCP defaults, one from another, a frontend naming the first again: each listener reaches its backend with its own mode's handling", async () => {
    const { before, differences, sent } = await side("several-defaults.cfg", () => matrix([{ tls: false }, { tls: false }, { tls: false }, { tls: false }], ["www.example.com"], ["/", "/x"]), { responseHeaders: ["server"], requestHeaders: ["x-forwarded-for", "x-debug"] });
    assert.deepEqual(differences.slice(0, 5), [], `${differences.length} of ${sent.length} requests answered differently`);
    assert.deepEqual([...new Set(before.map((a) => a.backend))].sort(), ["app", "postgres", "redis"]);
    // forwardfor came with the web defaults only: the TCP listeners pass the request untouched.
    assert.deepEqual([...new Set(before.flatMap((a, i) => (a.received ? [`${sent[i]!.bind}:${a.received.headers["x-forwarded-for"] ?? "none"}`] : [])))].sort(), ["0:127.0.0.1", "1:none", "2:none", "3:127.0.0.1"]);
  });
});
