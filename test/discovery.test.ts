// A discovered group, pure parts: what a scale does, the bounds it is held to, how a change of the
// group is classified, what the local stack plans for it, and how drift and the distribution check
// treat slots that DNS fills and empties.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { makePlan } from "../infra/gitops/plan.ts";
import { scaleSteps, removalBoundMs, trafficBoundMs } from "../infra/gitops/scale.ts";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology } from "../infra/model/schema.ts";
import { expectedDistribution } from "../infra/runtime/applied.ts";
import { dnsHostsFile, groupInstances, declareLocalStack } from "../infra/runtime/declaration.ts";
import { discoveredServers } from "../infra/runtime/verify.ts";
import { findDrift, judgeDistribution, type ServerSample } from "../sidecar/distribution.ts";
import { parseShowStat } from "../haproxy/show-stat.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { localTarget } from "../infra/render/targets.ts";
import { discoveryTopology } from "./support/goldens.ts";

const topology = (edit: (t: any) => void = () => {}): Topology => {
  const input = discoveryTopology() as any;
  edit(input);
  return parseTopology(input);
};

describe("npm run scale's plan", () => {
  const table: [string, number, string[], string[]][] = [
    ["2 → 5 starts the next numbers", 5, ["web-3", "web-4", "web-5"], []],
    ["2 → 2 does nothing", 2, [], []],
    ["2 → 0 stops the highest first", 0, [], ["web-2", "web-1"]],
  ];
  for (const [name, to, start, stop] of table) {
    it(name, () => {
      const plan = scaleSteps(topology(), "web_pool", to);
      assert.deepEqual([plan.start.map((i) => i.name), plan.stop.map((i) => i.name)], [start, stop]);
    });
  }

  it("each instance of a group has its own loopback address and the group's port; groups do not share addresses", () => {
    const t = topology((t) => t.backends.push({ ...structuredClone(t.backends[0]), name: "api_pool", discovery: { ...t.backends[0].discovery, name: "api", dnsName: "api.lb.internal", port: 5200 } }));
    assert.deepEqual(groupInstances(t, "web_pool", 2).map((i) => `${i.name} ${i.address}:${i.port}`), ["web-1 127.0.1.1:5100", "web-2 127.0.1.2:5100"]);
    assert.deepEqual(groupInstances(t, "api_pool", 1).map((i) => `${i.name} ${i.address}:${i.port}`), ["api-1 127.0.2.1:5200"]);
    assert.equal(dnsHostsFile(groupInstances(t, "web_pool", 2)), "127.0.1.1 web.lb.internal\n127.0.1.2 web.lb.internal\n");
  });

  const refusals: [string, (t: any) => void, string, number, RegExp][] = [
    ["beyond the slots", () => {}, "web_pool", 11, /^11 instances of web_pool: use a whole number from 0 to 10/],
    ["a backend with listed servers only", (t) => t.backends.push({ name: "fixed", servers: [{ name: "a", address: "a", port: 1 }] }), "fixed", 1, /^backend "fixed" has no discovery group to scale; groups: web_pool/],
    ["an unknown backend", () => {}, "nope", 1, /^backend "nope" has no discovery group/],
  ];
  for (const [name, edit, backend, count, message] of refusals) {
    it(`refuses ${name}: SCALE_NOT_POSSIBLE`, () => {
      assert.throws(() => scaleSteps(topology(edit), backend, count), (e: Error & { code?: string }) => e.code === "SCALE_NOT_POSSIBLE" && message.test(e.message));
    });
  }

  it("the local stack refuses SRV records it cannot answer for, naming the field; a group with its own name servers runs no instance", () => {
    const srv = (t: any) => Object.assign(t.backends[0].discovery, { record: "SRV", dnsName: "_http._tcp.web.lb.internal", port: undefined });
    assert.throws(() => declareLocalStack(topology(srv), { runDir: "/run/lb", sidecar: false }), (e: Error & { code?: string }) => e.code === "TARGET_PLAN_INVALID" && /^backends\.web_pool\.discovery\.record: the local stack answers a group's name with its own dnsmasq, as A records/.test(e.message));
    const external = declareLocalStack(topology((t) => (t.backends[0].discovery.resolver = { nameservers: ["10.0.0.2:53"] })), { runDir: "/run/lb", sidecar: false });
    assert.deepEqual(external.components.filter((c) => c.kind === "web" || c.kind === "dns").map((c) => c.name), []);
    assert.throws(() => scaleSteps(topology((t) => (t.backends[0].discovery.resolver = { nameservers: ["10.0.0.2:53"] })), "web_pool", 3), /its records are served by its own name servers/);
  });

  it("plans dnsmasq before HAProxy, answering from the run directory on 127.0.0.1 only, only when a backend discovers", () => {
    const plan = declareLocalStack(topology(), { runDir: "/run/lb", sidecar: false });
    const names = plan.components.map((c) => c.name);
    assert.ok(names.indexOf("dnsmasq") < names.indexOf("haproxy") && names.indexOf("web-2") < names.indexOf("dnsmasq"), names.join(", "));
    const dns = plan.components.find((c) => c.name === "dnsmasq")!;
    assert.ok(dns.args.includes("--listen-address=127.0.0.1") && dns.args.includes("--no-resolv") && dns.args.includes("--addn-hosts=/run/lb/dns.hosts"), dns.args.join(" "));
    assert.equal(declareLocalStack(parseTopology(discoveryTopology() as any), { runDir: "/run/lb", sidecar: false }).components.filter((c) => c.kind === "dns").length, 1);
    const seed = topology((t) => (t.backends[0] = { name: "web_pool", servers: [{ name: "a", address: "a", port: 5001 }] }));
    assert.equal(declareLocalStack(seed, { runDir: "/run/lb", sidecar: false }).components.some((c) => c.kind === "dns"), false);
  });
});

describe("rendering a group's record type", () => {
  const template = (edit: (t: any) => void) => /server-template .*/.exec(renderHaproxyConfig(topology(edit), localTarget("/run/lb")))![0];
  it("A records take IPv4 addresses, AAAA records IPv6 ones, SRV records whatever their targets resolve to, with their ports", () => {
    assert.match(template(() => {}), / web\.lb\.internal:5100 .* resolve-prefer ipv4$/);
    assert.match(template((t) => Object.assign(t.backends[0].discovery, { record: "AAAA", resolver: { nameservers: ["10.0.0.2:53"] } })), / web\.lb\.internal:5100 .* resolve-prefer ipv6$/);
    assert.match(template((t) => Object.assign(t.backends[0].discovery, { record: "SRV", dnsName: "_http._tcp.web.lb.internal", port: undefined, resolver: { nameservers: ["10.0.0.2:53"] } })), / _http\._tcp\.web\.lb\.internal check .* init-addr none$/);
  });
});

describe("the bounds a scale is held to, derived from the group's settings", () => {
  it("a new record is in traffic after one resolution, a lost answer's retry, rise checks and a check timeout (plus a second)", () => {
    const group = topology().backends[0]!.discovery!; // resolve 1s, retry 1s, inter 500ms, rise 2
    assert.equal(trafficBoundMs(group, "2s"), 1000 + 1000 + 2 * 500 + 2000 + 1000);
    assert.equal(trafficBoundMs(group, undefined), 1000 + 1000 + 2 * 500 + 500 + 1000, "without timeout check a check may take inter");
  });
  it("a removed record leaves traffic after one resolution, a retry and hold obsolete", () => {
    assert.equal(removalBoundMs(topology().backends[0]!.discovery!), 3000);
    assert.equal(removalBoundMs(topology((t) => (t.backends[0].discovery.resolver = { holdObsolete: "5s" })).backends[0]!.discovery!), 8000);
  });
});

describe("plan and apply: what a change of a group takes", () => {
  const change = (edit: (t: any) => void) => {
    const base = topology();
    const head = topology(edit);
    const plan = makePlan(base, head);
    return { changes: plan.changes, plan };
  };
  it("a new instance count is no config change: HAProxy's config renders identically, only instances (containers) come and go", () => {
    const { changes, plan } = change((t) => (t.backends[0].discovery.instances = 5));
    assert.deepEqual(changes.map((c) => [c.path, c.class]), [["backends.web_pool.discovery.instances", "restart"]]);
    // The instances start, and the name server's records follow (its hosts file changes); HAProxy is untouched.
    assert.match(changes[0]!.detail, /^dnsmasq restarts, web-3 starts, web-4 starts, web-5 starts \(/);
    assert.ok(!plan.actions.some((a) => a.component === "haproxy"), "no target's HAProxy changes");
    assert.deepEqual(Object.keys(plan.diffs).filter((f) => f.startsWith("haproxy.cfg")), []);
  });
  it("a new size limit is a reload: the slots are in haproxy.cfg", () => {
    const { changes, plan } = change((t) => (t.backends[0].discovery.maxServers = 20));
    assert.deepEqual(changes.map((c) => [c.path, c.class]), [["backends.web_pool.discovery.maxServers", "reload"]]);
    assert.match(plan.diffs["haproxy.cfg (target docker)"]!, /-    server-template web 10 web\.lb\.internal:5100 .*\n\+    server-template web 20 web\.lb\.internal:5100 /);
  });
  it("a change of the resolver's settings is a reload", () => {
    const { changes } = change((t) => (t.backends[0].discovery.resolver = { holdValid: "30s" }));
    assert.deepEqual(changes.map((c) => [c.path, c.class]), [["backends.web_pool.discovery.resolver.holdValid", "reload"]]);
  });
});

describe("slots that DNS fills and empties", () => {
  // show stat as HAProxy 2.6 answers for a group of 3 slots, two of them filled (columns trimmed to those read).
  const stat = parseShowStat(
    [
      "# pxname,svname,scur,status,weight,type,uweight,addr,",
      "web_pool,web1,0,UP,1,2,1,127.0.1.2:5100,",
      "web_pool,web2,1,UP,1,2,1,127.0.1.1:5100,",
      "web_pool,web3,0,MAINT (resolution),1,2,1,,",
      "web_pool,BACKEND,1,UP,2,1,2,,",
      "",
    ].join("\n"),
  );

  it("verify takes the slots that hold an address and are not in maintenance", () => {
    assert.deepEqual(discoveredServers(stat.rows, topology()), [
      { backend: "web_pool", slot: "web1", address: "127.0.1.2:5100" },
      { backend: "web_pool", slot: "web2", address: "127.0.1.1:5100" },
    ]);
  });

  it("the sidecar expects every slot, marked discovered, with the group's weight", () => {
    const expected = expectedDistribution(topology());
    assert.equal(expected.backends[0]!.servers.length, 10);
    assert.deepEqual(expected.backends[0]!.servers[0], { name: "web1", weight: 1, disabled: false, backup: false, discovered: true });
  });

  it("the continuous distribution check expects the filled slots to share the requests, the empty ones none, as the set changes", () => {
    const poll = (filled: number, sessions: number): ServerSample[] =>
      Array.from({ length: 10 }, (_, i) => ({ proxy: "web_pool", server: `web${i + 1}`, sessions: i < filled ? sessions : 0, state: i < filled ? "UP" : "MAINT", weight: 1 }));
    const expected = expectedDistribution(topology());
    const atFive = judgeDistribution(poll(5, 0), poll(5, 20), expected);
    assert.deepEqual(atFive.shares.filter((s) => s.expected! > 0).map((s) => [s.server, s.expected]), ["web1", "web2", "web3", "web4", "web5"].map((n) => [n, 0.2]));
    assert.equal(atFive.backends[0]!.skew, 0);
    const atTwo = judgeDistribution(poll(2, 20), poll(2, 70), expected);
    assert.deepEqual(atTwo.shares.filter((s) => s.expected! > 0).map((s) => s.server), ["web1", "web2"]);
    assert.equal(atTwo.backends[0]!.skew, 0);
  });

  it("an empty slot in maintenance is not drift; a weight changed by hand on a filled one is", () => {
    const samples: ServerSample[] = [
      { proxy: "web_pool", server: "web1", sessions: 0, state: "UP", weight: 3 },
      { proxy: "web_pool", server: "web2", sessions: 0, state: "UP", weight: 1 },
      ...Array.from({ length: 8 }, (_, i): ServerSample => ({ proxy: "web_pool", server: `web${i + 3}`, sessions: 0, state: "MAINT", weight: 1 })),
    ];
    assert.deepEqual(findDrift(samples, expectedDistribution(topology())), [{ proxy: "web_pool", server: "web1", reason: "weight" }]);
  });
});
