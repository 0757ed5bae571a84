// npm run plan: the classification table, properties of the semantic diff, and the CLI on a real
// throwaway git repository with each kind of change a pull request makes.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import fc from "fast-check";
import { marked, type Token } from "marked";
import { parseTopology } from "../infra/model/parse.ts";
import { classifyChange, diffTopologies, type ChangeClass, type ChangeKind } from "../infra/gitops/changes.ts";
import { makePlan } from "../infra/gitops/plan.ts";
import { PLAN_COMMENT_MARKER } from "../infra/gitops/format.ts";
import { editedTopology, seedTopology } from "./support/topologies.ts";
import { topologyArb } from "./support/arbitraries.ts";
import { runCli } from "./support/run-cli.ts";

describe("classifyChange: what applying a change takes", () => {
  const table: [string, ChangeKind, unknown, ChangeClass, RegExp][] = [
    ["backends.b.servers.s.weight", "change", 3, "runtime", /^set server b\/s weight 3$/],
    ["backends.b.servers.s.disabled", "change", true, "runtime", /^set server b\/s state maint$/],
    ["backends.b.servers.s.disabled", "change", false, "runtime", /^set server b\/s state ready$/],
    ["backends.b.servers.s.address", "change", "10.0.0.9", "runtime", /^set server b\/s addr 10\.0\.0\.9$/],
    ["backends.b.servers.s.address", "change", "web-z", "runtime", /^set server b\/s fqdn web-z/],
    ["backends.b.servers.s.maxconn", "change", 50, "runtime", /^set maxconn server b\/s 50$/],
    ["backends.b.servers.s.maxconn", "remove", undefined, "runtime", /^set maxconn server b\/s 0 \(0: no limit\)$/],
    ["backends.b.servers.s.port", "change", 5009, "restart", /the web app s listens on 5009/],
    ["backends.b.servers.s", "add", { name: "s", cookie: "s" }, "reload", /refuses the "cookie" keyword/],
    ["backends.b.servers.s", "add", { name: "s" }, "reload", /only the file survives the next reload/],
    ["backends.b.servers.s", "remove", undefined, "reload", /drains it/],
    ["backends.b.servers.s.inter", "change", "1s", "reload", /hitless reload/],
    ["backends.b.balance", "change", "leastconn", "reload", /hitless reload/],
    ["backends.b", "add", {}, "reload", /hitless reload/],
    ["defaults.timeouts.client", "change", "20s", "reload", /hitless reload/],
    ["global.maxconn", "change", 9000, "reload", /hitless reload/],
    ["global.masterSocket", "change", "/var/lib/haproxy/m.sock", "restart", /command-line option/],
    ["services.sidecar.pollInterval", "change", "1s", "restart", /sidecar restarts/],
    ["services.prometheus.port", "change", 9091, "restart", /Prometheus restarts/],
    ["services.grafana.port", "change", 3001, "restart", /Grafana restarts/],
    ["name", "change", "other", "restart", /named after the topology/],
  ];
  for (const [path, kind, to, expected, detail] of table) {
    it(`${kind} ${path} → ${expected}`, () => {
      const result = classifyChange(path, kind, undefined, to);
      assert.equal(result.class, expected);
      assert.match(result.detail, detail);
    });
  }
});

/** A topology with its lists in a canonical order and its object keys sorted: equal means the same. */
function normalized(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(normalized);
    return items.every((i) => typeof i === "string") ? [...items].sort() : [...items].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
  }
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.keys(value).sort().map((k) => [k, normalized((value as Record<string, unknown>)[k])]));
  return value;
}

describe("diffTopologies: properties", () => {
  const parsed = fc.sample(topologyArb, { numRuns: 60, seed: 11 }).map((t) => parseTopology(t));

  it("a topology has no change against itself, nor against its lists reordered", () => {
    fc.assert(
      fc.property(fc.constantFrom(...parsed), fc.integer(), (topology, seed) => {
        assert.deepEqual(diffTopologies(topology, topology), []);
        const shuffled = structuredClone(topology);
        const rotate = <T>(list: T[]) => (list.length > 1 ? [...list.slice(seed % list.length), ...list.slice(0, seed % list.length)] : list);
        shuffled.frontends = rotate(shuffled.frontends);
        shuffled.backends = rotate(shuffled.backends).map((b) => ({ ...b, servers: rotate(b.servers) }));
        assert.deepEqual(diffTopologies(topology, shuffled), []);
      }),
      { numRuns: 60 },
    );
  });

  it("any two different topologies have a change, each with a class and a path into the topology", () => {
    fc.assert(
      fc.property(fc.constantFrom(...parsed), fc.constantFrom(...parsed), (a, b) => {
        const changes = diffTopologies(a, b);
        assert.equal(changes.length === 0, JSON.stringify(normalized(a)) === JSON.stringify(normalized(b)));
        for (const c of changes) {
          assert.ok(["runtime", "reload", "restart"].includes(c.class), c.path);
          assert.ok(c.detail.length > 0);
          assert.match(c.path, /^(name|global|defaults|frontends|backends|monitoring|services)\b/);
        }
        // Reversed, the same paths with the opposite kinds.
        assert.deepEqual(diffTopologies(b, a).map((c) => c.path).sort(), changes.map((c) => c.path).sort());
      }),
      { numRuns: 100 },
    );
  });
});

describe("makePlan", () => {
  const base = parseTopology(seedTopology());

  it("no change: the 'No changes' summary and no diffs", () => {
    const plan = makePlan(base, base);
    assert.equal(plan.summary, "No changes. The load balancer matches the topology.");
    assert.deepEqual(plan.diffs, {});
  });

  it("a weight: one runtime change, the docker config's diff, and the local one left out (it differs only in addresses)", () => {
    const plan = makePlan(base, parseTopology(editedTopology((t) => (t.backends[0].servers[0].weight = 3))));
    assert.equal(plan.summary, "Plan: 1 runtime change, 0 reloads, 0 restarts.");
    assert.deepEqual(Object.keys(plan.diffs), ["haproxy.cfg (target docker)", "docker stack containers (CDKTF)", "kubernetes stack objects (CDKTF)"]);
    assert.match(plan.diffs["haproxy.cfg (target docker)"]!, /^-    server web-a web-a:5001 .*weight 1 cookie web-a$\n^\+    server web-a web-a:5001 .*weight 3 cookie web-a$/m);
    // In a cluster the new config rolls HAProxy's pods: their template's config hash changes.
    assert.match(plan.diffs["kubernetes stack objects (CDKTF)"]!, /^-\s+"checksum\/haproxy-config": "[0-9a-f]{64}"/m);
  });

  it("a Prometheus scrape interval: a restart, and prometheus.yml's diff", () => {
    const plan = makePlan(base, parseTopology(editedTopology((t) => (t.services.prometheus.scrapeInterval = "15s"))));
    assert.equal(plan.summary, "Plan: 0 runtime changes, 0 reloads, 1 restart.");
    assert.match(plan.diffs["prometheus.yml"]!, /^\+.*15s/m);
  });

  it("a field set to its default value: the same resolved topology, no change", () => {
    assert.deepEqual(makePlan(base, parseTopology(editedTopology((t) => (t.backends[0].servers[0].weight = 1)))).changes, []);
  });
});

// --- the CLI, on a scratch git repository -----------------------------------------------------------

describe("npm run plan on a git repository", () => {
  let repo: string;
  const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const write = (edit: (t: any) => void) => writeFileSync(join(repo, "topology.json"), JSON.stringify(editedTopology(edit), null, 2));
  const plan = (...args: string[]) => runCli("infra/gitops/plan-cli.ts", ["--topology", "topology.json", "--base", "HEAD", ...args], { cwd: repo });

  beforeAll(() => {
    repo = mkdtempSync(join(tmpdir(), "plan-repo-"));
    git("init", "--quiet", "--initial-branch=main");
    git("config", "user.email", "test@example.com");
    git("config", "user.name", "test");
    write(() => {});
    git("add", ".");
    git("commit", "--quiet", "-m", "base");
  });
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it("an unchanged tree: No changes, exit 0 even with --detailed-exitcode", async () => {
    write(() => {});
    const result = await plan("--detailed-exitcode");
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "No changes. The load balancer matches the topology.\n");
  });

  const cases: [string, (t: any) => void, string, RegExp][] = [
    ["a weight", (t) => (t.backends[0].servers[0].weight = 3), "Plan: 1 runtime change, 0 reloads, 0 restarts.", /^~ backends\.flask_servers\.servers\.web-a\.weight: 1 → 3   \(runtime: set server flask_servers\/web-a weight 3\)$/m],
    ["a server state", (t) => (t.backends[0].servers[1].disabled = true), "Plan: 1 runtime change, 0 reloads, 0 restarts.", /^~ backends\.flask_servers\.servers\.web-b\.disabled: false → true   \(runtime: set server flask_servers\/web-b state maint\)$/m],
    ["an address", (t) => (t.backends[0].servers[0].address = "10.0.0.7"), "Plan: 1 runtime change, 0 reloads, 0 restarts.", /^~ backends\.flask_servers\.servers\.web-a\.address: web-a → 10\.0\.0\.7   \(runtime: set server flask_servers\/web-a addr 10\.0\.0\.7\)$/m],
    ["a new server", (t) => t.backends[0].servers.push({ name: "web-c", address: "web-c", port: 5003, cookie: "web-c" }), "Plan: 0 runtime changes, 1 reload (1 change), 0 restarts.", /^\+ backends\.flask_servers\.servers\.web-c   \(reload: new server flask_servers\/web-c: reloaded/m],
    ["a removed server", (t) => t.backends[0].servers.pop(), "Plan: 0 runtime changes, 1 reload (1 change), 0 restarts.", /^- backends\.flask_servers\.servers\.web-b   \(reload: server flask_servers\/web-b leaves haproxy\.cfg/m],
    ["the balance algorithm", (t) => (t.backends[0].balance = "leastconn"), "Plan: 0 runtime changes, 1 reload (1 change), 0 restarts.", /^~ backends\.flask_servers\.balance: roundrobin → leastconn   \(reload: /m],
    ["a timeout", (t) => (t.defaults.timeouts.server = "30s"), "Plan: 0 runtime changes, 1 reload (1 change), 0 restarts.", /^~ defaults\.timeouts\.server: 10s → 30s   \(reload: /m],
    ["a new frontend", (t) => t.frontends.push({ name: "admin_front", binds: [{ port: 61000 }], defaultBackend: "flask_servers" }), "Plan: 0 runtime changes, 1 reload (1 change), 0 restarts.", /^\+ frontends\.admin_front   \(reload: /m],
    [
      "a renamed backend",
      (t) => {
        t.backends[0].name = "app_servers";
        t.frontends[0].defaultBackend = "app_servers";
      },
      "Plan: 0 runtime changes, 1 reload (3 changes), 0 restarts.",
      /^~ frontends\.http_front\.defaultBackend: flask_servers → app_servers   \(reload: .*\n- backends\.flask_servers   \(reload: .*\n\+ backends\.app_servers   \(reload: /m,
    ],
    ["the sidecar's poll interval", (t) => (t.services.sidecar.pollInterval = "1s"), "Plan: 0 runtime changes, 0 reloads, 1 restart.", /^~ services\.sidecar\.pollInterval: 2s → 1s   \(restart: the sidecar restarts/m],
  ];
  for (const [name, edit, summary, line] of cases) {
    it(`${name}: ${summary}`, async () => {
      write(edit);
      const result = await plan("--detailed-exitcode");
      write(() => {});
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stdout.split("\n")[0], summary);
      assert.match(result.stdout, line);
      assert.match(result.stdout, /^--- (haproxy\.cfg \(target docker\)|prometheus\.yml|docker stack containers \(CDKTF\)|kubernetes stack objects \(CDKTF\)) ---$/m);
    });
  }

  it("reordered lists and a field spelled out at its default: No changes", async () => {
    write((t) => {
      t.backends[0].servers.reverse();
      t.frontends[0].errorPages.reverse();
      t.backends[0].servers[0].weight = 1;
    });
    const result = await plan("--detailed-exitcode");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^No changes/);
  });

  it("a .ts topology that imports another file: the base's import is read from the base commit, and a comment-only edit is no change", async () => {
    writeFileSync(join(repo, "servers.ts"), `export const weight = 1;\n`);
    writeFileSync(join(repo, "topology.ts"), `import { weight } from "./servers.ts";\nconst t = ${JSON.stringify(seedTopology())};\nt.backends[0].servers[0].weight = weight;\nexport const topology = t;\n`);
    git("add", ".");
    git("commit", "--quiet", "-m", "ts topology");
    writeFileSync(join(repo, "servers.ts"), `// a comment only\nexport const weight = 1;\n`);
    const unchanged = await runCli("infra/gitops/plan-cli.ts", ["--topology", "topology.ts", "--base", "HEAD"], { cwd: repo });
    assert.equal(unchanged.code, 0, unchanged.stderr);
    assert.match(unchanged.stdout, /^No changes/);
    writeFileSync(join(repo, "servers.ts"), `export const weight = 5;\n`);
    const changed = await runCli("infra/gitops/plan-cli.ts", ["--topology", "topology.ts", "--base", "HEAD"], { cwd: repo });
    assert.match(changed.stdout, /^~ backends\.flask_servers\.servers\.web-a\.weight: 1 → 5 /m);
    assert.equal(git("status", "--porcelain"), " M servers.ts\n", "the working tree is untouched (no checkout, no stash, no scratch left)");
    git("checkout", "--quiet", "servers.ts");
  });

  it("a topology added in this branch: every item is an addition", async () => {
    writeFileSync(join(repo, "new.json"), JSON.stringify(seedTopology()));
    const result = await runCli("infra/gitops/plan-cli.ts", ["--topology", "new.json", "--base", "HEAD"], { cwd: repo });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /new\.json does not exist at the base: every item is new/);
    assert.match(result.stdout, /^\+ frontends\.http_front /m);
    assert.match(result.stdout, /^\+ backends\.flask_servers /m);
    rmSync(join(repo, "new.json"));
  });

  it("an invalid base: said so, and the new side is still planned", async () => {
    writeFileSync(join(repo, "topology.json"), JSON.stringify(editedTopology((t) => (t.frontends[0].defaultBackend = "backend_servers"))));
    git("commit", "--quiet", "-am", "a broken commit");
    write(() => {});
    const result = await plan();
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /The base topology is invalid, so every item shows as new:\n  frontends\.http_front\.defaultBackend: "backend_servers" is not a backend/);
    assert.match(result.stdout, /^\+ backends\.flask_servers /m);
    git("commit", "--quiet", "-am", "fixed");
  });

  it("an invalid new topology: every problem with its path, exit 1, nothing on stdout", async () => {
    write((t) => {
      t.backends[0].servers[0].port = 70000;
      t.frontends[0].defaultBackend = "nope";
    });
    const result = await plan();
    write(() => {});
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^error TOPOLOGY_INVALID: the topology is invalid:\n  backends\.flask_servers\.servers\.web-a\.port: 70000 is not a port.*\n  frontends\.http_front\.defaultBackend: "nope" is not a backend/m);
  });

  it("a ref that names no commit, and a folder that is no repository: clear errors, no stack trace", async () => {
    const badRef = await plan("--base", "no-such-branch");
    assert.equal(badRef.code, 1);
    assert.match(badRef.stderr, /^error GIT_FAILED: --base "no-such-branch" names no commit in this repository/);
    const outside = mkdtempSync(join(tmpdir(), "plan-norepo-"));
    writeFileSync(join(outside, "topology.json"), JSON.stringify(seedTopology()));
    const noRepo = await runCli("infra/gitops/plan-cli.ts", ["--topology", "topology.json"], { cwd: outside });
    rmSync(outside, { recursive: true, force: true });
    assert.equal(noRepo.code, 1);
    assert.match(noRepo.stderr, /^error GIT_FAILED: .* is not in a git repository/);
    for (const r of [badRef, noRepo]) assert.doesNotMatch(r.stderr, /^\s+at /m);
  });

  it("--format json: the plan as data, the contract apply and the workflows read", async () => {
    write((t) => (t.backends[0].servers[0].weight = 2));
    const result = await plan("--format", "json");
    write(() => {});
    const data = JSON.parse(result.stdout);
    assert.deepEqual(Object.keys(data).sort(), ["changes", "diffs", "summary"]);
    assert.deepEqual(data.changes, [{ path: "backends.flask_servers.servers.web-a.weight", kind: "change", from: 1, to: 2, class: "runtime", detail: "set server flask_servers/web-a weight 2" }]);
  });

  it("--format markdown: GitHub-flavoured markdown with the marker, the summary, the list, and each diff folded in <details>", async () => {
    write((t) => {
      t.backends[0].servers[0].weight = 2;
      t.services.prometheus.scrapeInterval = "15s";
    });
    const result = await plan("--format", "markdown");
    write(() => {});
    const tokens = marked.lexer(result.stdout, { gfm: true });
    const kinds = tokens.filter((t) => t.type !== "space").map((t) => t.type);
    assert.equal(tokens[0]!.type, "html");
    assert.equal((tokens[0] as Token & { text: string }).text.trim(), PLAN_COMMENT_MARKER);
    assert.equal(kinds[1], "heading");
    assert.match((tokens.find((t) => t.type === "heading") as Token & { text: string }).text, /^Plan: 1 runtime change, 0 reloads, 1 restart\.$/);
    const list = tokens.find((t) => t.type === "list") as Token & { items: { text: string }[] };
    assert.deepEqual(list.items.map((i) => i.text.split(" **")[1]?.split("**")[0]), ["runtime", "restart"]);
    const code = tokens.filter((t) => t.type === "code") as (Token & { lang: string; text: string })[];
    assert.deepEqual(code.map((c) => c.lang), ["diff", "diff", "diff", "diff"]);
    assert.ok(code.every((c) => c.text.startsWith("--- a/")));
    // Each fenced diff sits between a <details><summary> and a </details>.
    const order = tokens.map((t) => (t.type === "html" ? (t as Token & { text: string }).text.trim().split("\n")[0] : t.type)).filter((t) => t !== "space");
    const detailsAt = order.flatMap((t, i) => (t === "<details>" ? [i] : []));
    assert.equal(detailsAt.length, 4);
    for (const i of detailsAt) assert.deepEqual(order.slice(i, i + 3), ["<details>", "code", "</details>"].map((x, j) => (j === 0 ? order[i] : x)));
  });
});
