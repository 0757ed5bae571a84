// The plan as a function: what the runtime API can do, the actions per target for each kind of change
// (derived from what each target runs), properties of the semantic diff. The CLI: plan-cli.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import fc from "fast-check";
import { parseTopology } from "../infra/model/parse.ts";
import { Topology } from "../infra/model/schema.ts";
import { diffTopologies, runtimeApiCommands } from "../infra/gitops/changes.ts";
import { makePlan } from "../infra/gitops/plan.ts";
import { formatPlan } from "../infra/gitops/format.ts";
import { editedTopology, seedTopology } from "./support/topologies.ts";
import { topologyArb } from "./support/arbitraries.ts";
import { topology as acmeExample } from "../infra/topologies/acme.ts";
import { topology as canaryExample } from "../infra/topologies/canary.ts";
import { rolloutPreviewLine } from "../infra/gitops/rollout-policy.ts";

describe("runtimeApiCommands: what HAProxy's runtime API sets for a server field", () => {
  const table: [string, unknown, "local" | "docker", string[] | undefined][] = [
    ["backends.b.servers.s.weight", 3, "local", ["set server b/s weight 3"]],
    ["backends.b.servers.s.disabled", true, "local", ["set server b/s state maint"]],
    ["backends.b.servers.s.disabled", false, "local", ["set server b/s state ready"]],
    ["backends.b.servers.s.address", "10.0.0.9", "docker", ["set server b/s addr 10.0.0.9"]],
    ["backends.b.servers.s.address", "web-z", "docker", ["set server b/s fqdn web-z"]],
    ["backends.b.servers.s.address", "10.0.0.9", "local", []],
    ["backends.b.servers.s.maxconn", 50, "local", ["set maxconn server b/s 50"]],
    ["backends.b.servers.s.maxconn", undefined, "local", ["set maxconn server b/s 0"]],
    ["backends.b.servers.s.port", 5009, "local", undefined],
    ["backends.b.balance", "leastconn", "local", undefined],
  ];
  for (const [path, value, target, commands] of table) {
    it(`${path} = ${JSON.stringify(value)} on ${target}: ${JSON.stringify(commands)}`, () => assert.deepEqual(runtimeApiCommands(path, value, target), commands));
  }
});

/** "target action component" for each action of the plan, sorted: what a case expects. */
const actionsOf = (plan: ReturnType<typeof makePlan>) => plan.actions.map((a) => `${a.target} ${a.action} ${a.component}`).sort();

describe("the plan's actions per target, derived from what each target runs", () => {
  const base = parseTopology(seedTopology());
  const tls = (t: any) => t.frontends[0].binds.push({ address: "*", port: 60443, tlsCertificate: "site.pem" });
  // Every case: the local stack's summary line, and every action on every target (Kubernetes' HAProxy
  // is replaced pod by pod whenever its config changes: the pod template carries the config's hash).
  const table: [string, (t: any) => void, string, string[]][] = [
    ["a server weight", (t) => (t.backends[0].servers[0].weight = 3), "Plan: 1 runtime change, 0 reloads, 0 restarts.", ["docker replace apply-agent", "docker runtime haproxy", "kubernetes replace haproxy", "kubernetes update haproxy-config", "local runtime haproxy"]],
    ["a server's address and port", (t) => Object.assign(t.backends[0].servers[0], { address: "web-z", port: 5009 }), "Plan: 0 runtime changes, 1 reload (2 changes), 1 restart.", ["docker create web-z", "docker destroy web-a", "docker reload haproxy", "docker replace apply-agent", "kubernetes create web-z-deployment", "kubernetes create web-z-service", "kubernetes destroy web-a-deployment", "kubernetes destroy web-a-service", "kubernetes replace haproxy", "kubernetes update haproxy-config", "local reload haproxy", "local restart web-a"]],
    ["the balance algorithm", (t) => (t.backends[0].balance = "leastconn"), "Plan: 0 runtime changes, 1 reload (1 change), 0 restarts.", ["docker reload haproxy", "docker replace apply-agent", "kubernetes replace haproxy", "kubernetes update haproxy-config", "local reload haproxy"]],
    ["a timeout", (t) => (t.defaults.timeouts.connect = "4s"), "Plan: 0 runtime changes, 1 reload (1 change), 0 restarts.", ["docker reload haproxy", "docker replace apply-agent", "kubernetes replace haproxy", "kubernetes update haproxy-config", "local reload haproxy"]],
    ["an error page", (t) => t.frontends[0].errorPages.pop(), "Plan: 0 runtime changes, 1 reload (1 change), 0 restarts.", ["docker reload haproxy", "docker replace apply-agent", "kubernetes replace haproxy", "kubernetes update haproxy-config", "local reload haproxy"]],
    ["a TLS bind (a published port: HAProxy's container is replaced)", tls, "Plan: 0 runtime changes, 1 reload (1 change), 0 restarts.", ["docker replace apply-agent", "docker replace haproxy", "kubernetes replace haproxy", "kubernetes update frontend-service", "kubernetes update haproxy-config", "local reload haproxy"]],
    ["the rate limit", (t) => (t.frontends[0].rateLimit = { requests: 100, window: "10s" }), "Plan: 0 runtime changes, 1 reload (1 change), 0 restarts.", ["docker reload haproxy", "docker replace apply-agent", "kubernetes replace haproxy", "kubernetes update haproxy-config", "local reload haproxy"]],
    ["Prometheus's scrape interval", (t) => (t.services.prometheus.scrapeInterval = "15s"), "Plan: 0 runtime changes, 0 reloads, 1 restart.", ["docker replace apply-agent", "docker replace grafana", "docker replace prometheus", "local restart prometheus"]],
    ["an Alertmanager setting (HAProxy's config does not change: no reload)", (t) => (t.services.alertmanager.groupWait = "10s"), "Plan: 0 runtime changes, 0 reloads, 1 restart.", ["docker replace alertmanager", "docker replace apply-agent", "local restart alertmanager"]],
    ["a web server added", (t) => t.backends[0].servers.push({ name: "web-c", address: "web-c", port: 5003, cookie: "web-c" }), "Plan: 0 runtime changes, 1 reload (1 change), 0 restarts, 1 started.", ["docker create web-c", "docker reload haproxy", "docker replace apply-agent", "kubernetes create web-c-deployment", "kubernetes create web-c-service", "kubernetes replace haproxy", "kubernetes update haproxy-config", "local create web-c", "local reload haproxy"]],
    ["a web server removed", (t) => t.backends[0].servers.pop(), "Plan: 0 runtime changes, 1 reload (1 change), 0 restarts, 1 stopped.", ["docker destroy web-b", "docker reload haproxy", "docker replace apply-agent", "kubernetes destroy web-b-deployment", "kubernetes destroy web-b-service", "kubernetes replace haproxy", "kubernetes update haproxy-config", "local destroy web-b", "local reload haproxy"]],
  ];
  for (const [name, edit, summary, actions] of table) {
    it(name, () => {
      const plan = makePlan(base, parseTopology(editedTopology(edit)));
      assert.equal(plan.summary, summary);
      assert.deepEqual(actionsOf(plan), actions);
      for (const a of plan.actions) assert.ok(a.paths.length > 0 && a.reason.length > 0, `${a.target}/${a.component} says no path or reason`);
    });
  }

  it("a route-table entry: at runtime on every target; in Kubernetes the ConfigMap changes in place and the pods' follower puts it in, no pod rolls", () => {
    const routed = (entries: { host: string; backend: string }[]) => parseTopology(editedTopology((t) => {
      t.frontends[0].routes = [{ table: "sites" }];
      t.frontends[0].routeTables = [{ name: "sites", entries }];
    }));
    const plan = makePlan(routed([{ host: "a.example.com", backend: "flask_servers" }]), routed([{ host: "a.example.com", backend: "flask_servers" }, { host: "b.example.com", backend: "flask_servers" }]));
    assert.deepEqual(actionsOf(plan), ["docker replace apply-agent", "docker runtime haproxy", "kubernetes update haproxy-config", "local runtime haproxy"]);
    assert.match(plan.actions.find((a) => a.target === "kubernetes")!.reason, /the route-tables container in each HAProxy pod puts them into HAProxy at runtime, no pod rolls/);
  });

  it("attributes each action to the edit behind it, when one change makes several", () => {
    const plan = makePlan(base, parseTopology(editedTopology((t) => {
      t.backends[0].servers[0].weight = 3;
      t.services.alertmanager.groupWait = "10s";
    })));
    const paths = (target: string, component: string) => plan.actions.find((a) => a.target === target && a.component === component)?.paths;
    assert.deepEqual(paths("local", "haproxy"), ["backends.flask_servers.servers.web-a.weight"]);
    assert.deepEqual(paths("local", "alertmanager"), ["services.alertmanager.groupWait"]);
    assert.deepEqual(paths("docker", "apply-agent"), ["backends.flask_servers.servers.web-a.weight", "services.alertmanager.groupWait"]);
    assert.deepEqual(plan.changes.map((c) => c.class), ["runtime", "restart"]);
  });
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

/** A change's path starts with one of the topology's own fields. */
const TOP_LEVEL_PATH = new RegExp(`^(${Object.keys(Topology.shape).join("|")})\\b`);

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

  it("any two different topologies have a change, each classified by the actions behind it, each action with a path", () => {
    fc.assert(
      fc.property(fc.constantFrom(...parsed), fc.constantFrom(...parsed), (a, b) => {
        const plan = makePlan(a, b);
        const changes = plan.changes;
        assert.equal(changes.length === 0, JSON.stringify(normalized(a)) === JSON.stringify(normalized(b)));
        const haproxy = plan.actions.find((x) => x.target === "local" && x.component === "haproxy")?.action;
        for (const c of changes) {
          assert.ok(["runtime", "reload", "restart", "none"].includes(c.class), c.path);
          if (c.class === "runtime") assert.equal(haproxy, "runtime", c.path);
          if (c.class === "reload") assert.ok(haproxy === "reload", c.path);
          assert.ok(c.detail.length > 0);
          assert.match(c.path, TOP_LEVEL_PATH);
        }
        for (const x of plan.actions) assert.ok(x.paths.length > 0 && x.paths.every((p) => changes.some((c) => c.path === p)), `${x.target}/${x.component}`);
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
    assert.deepEqual(Object.keys(plan.diffs), ["haproxy.cfg (target docker)"]);
    assert.match(plan.diffs["haproxy.cfg (target docker)"]!, /^-    server web-a web-a:5001 .*weight 1 cookie web-a$\n^\+    server web-a web-a:5001 .*weight 3 cookie web-a$/m);
    // In a cluster the new config rolls HAProxy's pods: their template's config hash changes.
    assert.match(plan.actions.find((a) => a.target === "kubernetes" && a.component === "haproxy")!.reason, /rolling update/);
  });

  it("a reload says which stick tables it starts empty (both sides keep them, no peers); with peers, or at runtime, nothing to say", () => {
    const tables = (t: any) => {
      t.frontends[0].rateLimit = { requests: 100, window: "10s" };
      t.frontends[0].rateLimits = [{ name: "per-key", key: { header: "X-Api-Key" }, limit: 10, window: "1m" }];
      t.backends[0].stickOnSource = {};
    };
    const withTables = parseTopology(editedTopology(tables));
    const reload = makePlan(withTables, parseTopology(editedTopology((t) => { tables(t); t.defaults.timeouts.server = "12s"; })));
    assert.deepEqual(reload.reloadForgets, [
      "frontends.http_front.rateLimit: every client's request rate",
      "frontends.http_front.rateLimits.per-key: every key's count",
      "backends.flask_servers.stickOnSource: the server each client sticks to",
    ]);
    assert.match(formatPlan(reload, "text"), /\nthe reload starts these stick tables empty \(no peers hand them to the new worker: set topology.peers to keep them\):\n {2}frontends\.http_front\.rateLimit: /);
    assert.match(formatPlan(reload, "markdown"), /> \[!CAUTION\]\n> the reload starts these stick tables empty/);
    const peered = (t: any) => { tables(t); t.peers = { localPeer: "lb1", port: 10000 }; };
    assert.equal(makePlan(parseTopology(editedTopology(peered)), parseTopology(editedTopology((t) => { peered(t); t.defaults.timeouts.server = "12s"; }))).reloadForgets, undefined);
    assert.equal(makePlan(withTables, parseTopology(editedTopology((t) => { tables(t); t.backends[0].servers[0].weight = 3; }))).reloadForgets, undefined, "a runtime change keeps them");
    assert.equal(makePlan(base, withTables).reloadForgets, undefined, "tables the change adds start empty anyway");
  });

  it("a managed certificate's names: runtime, by the issuer restarting with them (HAProxy's config unchanged); a new managed certificate: a reload, for the challenge rule", () => {
    const withCertificate = parseTopology(acmeExample);
    const names = structuredClone(acmeExample) as any;
    names.certificates[0].names.push("api.shop.lb.test");
    const plan = makePlan(withCertificate, parseTopology(names));
    assert.equal(plan.summary, "Plan: 1 runtime change, 0 reloads, 1 restart.");
    assert.deepEqual(plan.changes.map((c) => [c.path, c.class]), [["certificates.shop.pem.names", "runtime"]]);
    assert.match(plan.changes[0]!.detail, /^the certificate issuer restarts and obtains the certificate these settings ask for, installed with set ssl cert and commit ssl cert \(no reload\)/);
    assert.deepEqual(plan.actions.filter((a) => a.target === "local").map((a) => `${a.action} ${a.component}`), ["restart issuer"]);
    const none = structuredClone(acmeExample) as any;
    none.certificates = [];
    const added = makePlan(parseTopology(none), withCertificate);
    assert.deepEqual(added.changes.map((c) => [c.path, c.class]), [["certificates.shop.pem", "reload"]]);
    assert.match(added.diffs["haproxy.cfg (target docker)"]!, /^\+    http-request return status 200 content-type text\/plain lf-string .*acme-challenges\.map/m);
  });

  it("a canary added: its servers join at weight 0 (a reload), and the plan shows the rollout to come, its steps, checks and least duration", () => {
    const plan = makePlan(base, parseTopology(canaryExample));
    assert.match(plan.diffs["haproxy.cfg (target docker)"]!, /^\+    server web-c web-c:5003 .*weight 0 cookie web-c$/m);
    assert.deepEqual(plan.rollouts?.map((r) => [r.backend, r.canary, r.steps, r.atLeastMs]), [["flask_servers", ["web-c"], [10, 50, 100], 60_000]]);
    assert.equal(rolloutPreviewLine(plan.rollouts![0]!), "flask_servers: web-c at 10 → 50 → 100 % every 20s (at least 60 s): success ratio ≥ 99.0 %, p99 response time ≤ 500 ms, at least 20 requests per interval, abort after 1 failed analyses; then npm run rollout -- flask_servers");
    assert.equal(makePlan(parseTopology(canaryExample), parseTopology(canaryExample)).rollouts, undefined, "an unchanged canary shows no rollout");
  });
  it("a waiting canary's pin, checks or onAbort changed: no rollout starts; its servers or steps changed: one does", () => {
    const edited = (edit: (c: any) => void) => {
      const t: any = structuredClone(canaryExample);
      edit(t.backends[0].canary);
      return parseTopology(t);
    };
    const base = parseTopology(canaryExample);
    for (const edit of [(c: any) => (c.pin = { header: { name: "X-Tester", present: true } }), (c: any) => (c.onAbort = "keep-sessions"), (c: any) => (c.analysis.maxResponseMs = 900)]) assert.equal(makePlan(base, edited(edit)).rollouts, undefined, edit.toString());
    assert.deepEqual(makePlan(base, edited((c) => (c.steps = [50, 100]))).rollouts?.map((r) => r.steps), [[50, 100]]);
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
