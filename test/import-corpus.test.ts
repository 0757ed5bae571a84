// The import corpus (test/fixtures/import/corpus/): configs written here in the shapes real
// deployments use (Patroni, Galera, Redis, RabbitMQ, a Kubernetes API, mail with the PROXY protocol,
// SNI passthrough, WebSockets, a Docker socket proxy...). Each must import whole, render to a config
// the real HAProxy accepts on every target, and answer as the original does side by side (binds and
// servers on loopback, health checks off: stand-ins speak HTTP, or TLS where the servers do).
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { filesNamedBy } from "../infra/import/named-files.ts";
import type { Condition } from "../infra/model/routing.ts";
import { proxyMode, type Topology } from "../infra/model/schema.ts";
import { writeSelfSignedCertificates } from "../infra/render/haproxy-check.ts";
import { checkEveryTarget } from "../infra/render/validate.ts";
import { sideBySide, type Answer, type DiffRequest } from "./support/config-differential.ts";
import { REPO_ROOT } from "./support/run-cli.ts";

const CORPUS = join(REPO_ROOT, "test/fixtures/import/corpus");
const files = readdirSync(CORPUS).filter((f) => f.endsWith(".cfg")).sort();

/** Every value of one kind that the routes' conditions name (hosts, SNI names, path prefixes...). */
function named(topology: Topology, kind: "host" | "sni" | "pathBegins" | "pathPrefix" | "path" | "method"): string[] {
  const found = new Set<string>();
  const walk = (c: Condition | undefined) => {
    if (!c) return;
    const v = c[kind];
    for (const x of v === undefined ? [] : Array.isArray(v) ? v : [v]) found.add(String(x).replace(/^\*\./, "any."));
    [...(c.all ?? []), ...(c.any ?? [])].forEach(walk);
    walk(c.not);
  };
  for (const f of topology.frontends) {
    f.routes.forEach((r) => walk(r.when));
    Object.values(f.conditions).forEach(walk);
  }
  return [...found];
}

/** Backends whose servers speak TLS themselves: the stand-ins answer over TLS there. */
const tlsBackends = (topology: Topology) => new Set(topology.backends.filter((b) => b.tls || b.healthCheck?.tlsHello || b.healthCheck?.tlsVerify).map((b) => b.name));

/** Requests for every bind: TLS where the bind terminates it or passes TLS servers through (with SNI), hosts and paths the routes name. */
function requestsFor(topology: Topology): DiffRequest[] {
  const tlsServers = tlsBackends(topology);
  const tableHosts = topology.frontends.flatMap((f) => f.routeTables.flatMap((t) => t.entries.map((e) => e.host)));
  // Each table host as sent, in capitals and with a port too: the lookup must treat them alike on both sides.
  const hosts = [...named(topology, "host"), ...named(topology, "sni"), ...tableHosts, ...tableHosts.slice(0, 1).flatMap((h) => [h.toUpperCase(), `${h}:8084`]), "www.example.com"];
  const paths = ["/", "/x", ...named(topology, "path"), ...[...named(topology, "pathBegins"), ...named(topology, "pathPrefix")].map((p) => `${p.replace(/\/$/, "")}/item`)];
  let bind = 0;
  return topology.frontends.flatMap((f) =>
    f.binds.flatMap((b) => {
      const index = bind++;
      const passesTls = proxyMode(f, topology.defaults) === "tcp" && [f.defaultBackend, ...f.routes.map((r) => r.backend)].some((n) => n !== undefined && tlsServers.has(n));
      const tls = b.tlsCertificate !== undefined || passesTls;
      // Keys a hashing balance reads: a tenant header, an account parameter.
      const keys: [string, string][][] = [[], [["X-Tenant", "acme"]], [["X-Tenant", "globex"]]];
      const methods = [...new Set(["GET", "POST", ...named(topology, "method")])];
      const matrix = hosts.flatMap((host) => paths.flatMap((path) => keys.flatMap((headers, k) => methods.map((method) => ({ bind: index, method, host, path: k === 2 ? `${path}?account=${path.length}` : path, tls, headers }) as DiffRequest))));
      // Then a burst from one client: a rate limit must refuse the same requests on both sides.
      const burst = Array.from({ length: 25 }, () => ({ bind: index, method: "GET", host: hosts[0]!, path: "/", tls, headers: [] }) as DiffRequest);
      return [...matrix, ...burst];
    }),
  );
}

/** leastconn, random and first choose by the connections open at that instant: which server answered is not compared there. */
function unorderedServersLeftOut(answers: Answer[], topology: Topology): Answer[] {
  const unordered = new Set(topology.backends.filter((b) => ["leastconn", "random", "first"].includes(b.balance)).map((b) => b.name));
  return answers.map((a) => (a.backend !== undefined && unordered.has(a.backend) ? { ...a, responseHeaders: { ...a.responseHeaders, "x-server": "(by connection count)" } } : a));
}

describe("the import corpus: configs in the shapes real deployments use", () => {
  let dir: string;
  let certificate: { file: string; pem: string };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "lb-import-corpus-"));
    await writeSelfSignedCertificates(join(dir, "certs"), [{ name: "site.pem", kind: "certificate" }]);
    certificate = { file: join(dir, "certs", "site.pem"), pem: readFileSync(join(dir, "certs", "site.pem"), "utf8") };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("holds at least ten configs, and the README says how many import whole", () => {
    assert.ok(files.length >= 10, files.join(", "));
    assert.match(readFileSync(join(REPO_ROOT, "README.md"), "utf8"), new RegExp(`Of the ${files.length}\\s+configs in the import corpus [^]*?all ${files.length} import whole`));
  });

  for (const file of files) {
    it(`${file}: imports whole, haproxy -c accepts it on every target, and it answers as the original does`, async () => {
      const { topology, before, differences, sent } = await sideBySide(dir, {
        file,
        text: readFileSync(join(CORPUS, file), "utf8"),
        files: filesNamedBy(join(CORPUS, file)),
        requests: requestsFor,
        // Which server answered too: the same balance over the same servers, sent the same requests in the same order, chooses alike.
        ask: { responseHeaders: ["server", "x-server"], requestHeaders: ["x-forwarded-for", "x-forwarded-proto", "x-gateway"], errorsAreAnswers: true },
        withoutChecks: true,
        certificate,
        tlsBackends,
        // The original's maps, error pages and Lua scripts are read where the corpus keeps them; the imported config's are written beside it.
        adaptOriginal: (original) =>
          original
            .replace(/map(_\w+)?\(([^,)]+)/g, (_, kind: string | undefined, path: string) => `map${kind ?? ""}(${join(CORPUS, basename(path))}`)
            .replace(/^(\s*errorfile \d+ |\s*lua-load )(\S+)/gm, (_, head: string, path: string) => `${head}${join(CORPUS, basename(path))}`),
        comparable: unorderedServersLeftOut,
      });
      // The error pages and Lua scripts the config names, where the side-by-side run wrote them.
      await checkEveryTarget(topology, { errorPagesDir: join(dir, "errors"), luaDir: join(dir, "lua") });
      assert.deepEqual(differences.slice(0, 3), [], `${differences.length} of ${sent.length} requests answered differently`);
      // Not vacuous: a rate limit refused some of the burst.
      if (topology.frontends.some((f) => f.rateLimit)) assert.ok(before.some((a) => a.status === 429), "the burst never met the rate limit");
      if (topology.frontends.some((f) => f.rateLimits.some((l) => l.count === "connections"))) assert.ok(before.some((a) => a.status === 0), "no connection met the connection-rate limit");
      // Not vacuous: the Lua service answered, and the Lua action's header reached the servers.
      if (file === "edge-lua.cfg") {
        assert.ok(before.some((a, i) => sent[i]!.path === "/lb-health" && a.status === 200 && a.backend === undefined), "the Lua service never answered");
        assert.ok(before.some((a) => a.received?.headers["x-gateway"] === "edge-lua"), "no server got the Lua action's header");
      }
      // Every bind answered something other than a failed connection (a backend, or HAProxy's own redirect or refusal), and some reached a backend.
      const bindCount = topology.frontends.reduce((n, f) => n + f.binds.length, 0);
      const answered = new Set(before.flatMap((a, i) => (a.status !== 0 ? [sent[i]!.bind] : [])));
      assert.deepEqual([...answered].sort(), Array.from({ length: bindCount }, (_, i) => i), `binds that never answered: ${JSON.stringify(before.filter((a) => a.status === 0).slice(0, 3))}`);
      assert.ok(before.some((a) => a.backend !== undefined), "no request reached a backend");
    });
  }
});
