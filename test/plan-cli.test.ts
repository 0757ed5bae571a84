// npm run plan on a real throwaway git repository, with each kind of change a pull request makes: the
// summary, the targets' and stacks' lines, the formats (text, markdown, the saved plan as JSON).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { marked, type Token } from "marked";
import { PLAN_COMMENT_MARKER } from "../infra/gitops/format.ts";
import { editedTopology, seedTopology } from "./support/topologies.ts";
import { runCli } from "./support/run-cli.ts";

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
    // Every server of the local stack is on 127.0.0.1: an address changes the containers and the cluster only.
    ["an address", (t) => (t.backends[0].servers[0].address = "10.0.0.7"), "Plan: nothing changes on the local stack; 8 actions on the other targets.", /^~ backends\.flask_servers\.servers\.web-a\.address: web-a → 10\.0\.0\.7   \(none: nothing the local stack runs reads it \(docker: destroy web-a, replace apply-agent, runtime haproxy, create 10\.0\.0\.7; /m],
    ["a new server", (t) => t.backends[0].servers.push({ name: "web-c", address: "web-c", port: 5003, cookie: "web-c" }), "Plan: 0 runtime changes, 1 reload (1 change), 0 restarts, 1 started.", /^\+ backends\.flask_servers\.servers\.web-c   \(reload: a hitless reload: haproxy\.cfg changes \(local: reload haproxy, create web-c; /m],
    ["a removed server", (t) => t.backends[0].servers.pop(), "Plan: 0 runtime changes, 1 reload (1 change), 0 restarts, 1 stopped.", /^- backends\.flask_servers\.servers\.web-b   \(reload: a hitless reload: haproxy\.cfg changes \(local: destroy web-b, reload haproxy; /m],
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
    ["the sidecar's poll interval", (t) => (t.services.sidecar.pollInterval = "1s"), "Plan: 0 runtime changes, 0 reloads, 1 restart.", /^~ services\.sidecar\.pollInterval: 2s → 1s   \(restart: sidecar restarts \(local: restart sidecar; docker: replace apply-agent, replace sidecar; kubernetes: replace haproxy\)\)$/m],
  ];
  for (const [name, edit, summary, line] of cases) {
    it(`${name}: ${summary}`, async () => {
      write(edit);
      const result = await plan("--detailed-exitcode");
      write(() => {});
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stdout.split("\n")[0], summary);
      assert.match(result.stdout, line);
      assert.match(result.stdout, /^  flask-lb:   Plan: \d+ to add, \d+ to change, \d+ to replace, \d+ to destroy\. \(cdktf deploy\)$/m);
    });
  }

  it("reordered lists and a field spelled out at its default: no field changes, but the config's order does (server ids, hashing): a reload, said so", async () => {
    write((t) => {
      t.backends[0].servers.reverse();
      t.frontends[0].errorPages.reverse();
      t.backends[0].servers[0].weight = 1;
    });
    const result = await plan("--detailed-exitcode");
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stdout, /^Plan: 0 runtime changes, 1 reload \(0 changes\), 0 restarts\.$/m);
    assert.doesNotMatch(result.stdout, /^[~+-] (backends|frontends)/m);
  });

  it("a field spelled out at its default: the same resolved topology, No changes", async () => {
    write((t) => (t.backends[0].servers[0].weight = 1));
    const result = await plan("--detailed-exitcode");
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "No changes. The load balancer matches the topology.\n");
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
    assert.deepEqual(Object.keys(data).sort(), ["base", "createdAt", "head", "plan", "schemaVersion"]);
    assert.deepEqual(Object.keys(data.plan).sort(), ["actions", "changes", "diffs", "stacks", "summary", "targetSummaries"]);
    assert.deepEqual(data.plan.changes, [{ path: "backends.flask_servers.servers.web-a.weight", kind: "change", from: 1, to: 2, class: "runtime", detail: "set server flask_servers/web-a weight 2" }]);
    assert.match(data.base.from, /^git [0-9a-f]{40}$/);
    assert.equal(data.head.topology.backends[0].servers[0].weight, 2);
    assert.deepEqual(data.plan.stacks.map((s: { stack: string; summary: string }) => [s.stack, s.summary]), [
      ["flask-lb", "Plan: 0 to add, 0 to change, 1 to replace, 0 to destroy."],
      ["flask-lb-kubernetes", "Plan: 0 to add, 2 to change, 0 to replace, 0 to destroy."],
    ]);
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
    assert.deepEqual(code.map((c) => c.lang), ["diff", "diff"]);
    assert.ok(code.every((c) => c.text.startsWith("--- a/")));
    // Each fenced diff sits between a <details><summary> and a </details>.
    const order = tokens.map((t) => (t.type === "html" ? (t as Token & { text: string }).text.trim().split("\n")[0] : t.type)).filter((t) => t !== "space");
    const detailsAt = order.flatMap((t, i) => (t === "<details>" && order[i + 1] === "code" ? [i] : []));
    assert.equal(detailsAt.length, 2);
    // The actions and each stack's Terraform resources are folded too; the target table comes first.
    assert.ok(order.filter((t) => t === "<details>").length >= 3);
    assert.ok(tokens.some((t) => t.type === "table"));
    for (const i of detailsAt) assert.deepEqual(order.slice(i, i + 3), ["<details>", "code", "</details>"].map((x, j) => (j === 0 ? order[i] : x)));
  });
});
