// What cdktf deploy would do to each resource, from two cdk.tf.json files: tables over the attribute
// rules, the references that a replacement makes unknown, and the two synthesized stacks of real
// topology edits checked against the plan's own component actions.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { diffStacks, type SynthesizedStack } from "../infra/gitops/terraform-diff.ts";
import { makePlan } from "../infra/gitops/plan.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { synthesizeStacks } from "../infra/stacks.ts";
import { editedTopology, seedTopology } from "./support/topologies.ts";

const stack = (resource: Record<string, Record<string, Record<string, unknown>>>): SynthesizedStack => ({ resource });
const container = (extra: Record<string, unknown> = {}) => ({ name: "web", image: "${docker_image.web.image_id}", env: ["A=1"], restart: "unless-stopped", ...extra });
const image = (triggers = "a") => ({ name: "web:local", build: [{ context: "." }], triggers: { source: triggers }, keep_locally: true });

describe("diffStacks: Terraform's action per resource", () => {
  const base = stack({ docker_image: { web: image() }, docker_container: { web: container() } });
  const table: [string, SynthesizedStack, string[]][] = [
    ["nothing changed", base, []],
    ["an env variable (ForceNew): replace", stack({ docker_image: { web: image() }, docker_container: { web: container({ env: ["A=2"] }) } }), ["docker_container.web replace env"]],
    ["the restart policy: update in place", stack({ docker_image: { web: image() }, docker_container: { web: container({ restart: "always" }) } }), ["docker_container.web update restart"]],
    ["a health check: update in place", stack({ docker_image: { web: image() }, docker_container: { web: container({ healthcheck: [{ test: ["CMD", "true"] }] }) } }), ["docker_container.web update healthcheck"]],
    ["an image's trigger: the image and the container that runs it replaced", stack({ docker_image: { web: image("b") }, docker_container: { web: container() } }), ["docker_container.web replace image", "docker_image.web replace triggers.source"]],
    ["a new container", stack({ docker_image: { web: image() }, docker_container: { web: container(), other: container({ name: "other" }) } }), ["docker_container.other create "]],
    ["a container gone", stack({ docker_image: { web: image() }, docker_container: {} }), ["docker_container.web destroy "]],
  ];
  for (const [name, head, expected] of table) {
    it(name, () => {
      const diff = diffStacks("s", base, head);
      assert.deepEqual(diff.resources.map((r) => `${r.address} ${r.action} ${r.attributes.join(",")}`), expected);
    });
  }

  const secret = (extra: Record<string, unknown>) => stack({ kubernetes_secret_v1: { tls: { metadata: { name: "tls", namespace: "lb" }, data: { a: "1" }, ...extra } } });
  const service = (spec: Record<string, unknown>) => stack({ kubernetes_service_v1: { lb: { metadata: { name: "lb", namespace: "lb" }, spec: { type: "ClusterIP", port: [{ port: 80 }], ...spec } } } });
  const kubernetes: [string, SynthesizedStack, SynthesizedStack, string[]][] = [
    ["a Secret's data: update in place", secret({}), secret({ data: { a: "2" } }), ["kubernetes_secret_v1.tls update data.a"]],
    ["a Secret's type (ForceNew in the provider): replace", secret({}), secret({ type: "kubernetes.io/tls" }), ["kubernetes_secret_v1.tls replace type"]],
    ["a Service's ports: update in place", service({}), service({ port: [{ port: 8080 }] }), ["kubernetes_service_v1.lb update spec.port.port"]],
    ["a Service's load balancer class (ForceNew): replace", service({}), service({ load_balancer_class: "internal" }), ["kubernetes_service_v1.lb replace spec.load_balancer_class"]],
  ];
  for (const [name, from, to, expected] of kubernetes) {
    it(name, () => assert.deepEqual(diffStacks("k", from, to).resources.map((r) => `${r.address} ${r.action} ${r.attributes.join(",")}`), expected));
  }

  it("says its summary as Terraform does", () => {
    assert.equal(diffStacks("s", base, stack({ docker_image: { web: image("b") }, docker_container: {} })).summary, "Plan: 0 to add, 0 to change, 1 to replace, 1 to destroy.");
  });

  it("refuses a resource type whose rules it does not know, by name", () => {
    assert.throws(() => diffStacks("s", undefined, stack({ docker_service: { x: {} } })), /PLAN_RESOURCE_TYPE_UNKNOWN|docker_service, which the plan does not know/);
  });
});

describe("the synthesized stacks of real edits agree with the plan's component actions", () => {
  const dir = mkdtempSync(join(tmpdir(), "tf-diff-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const base = parseTopology(seedTopology());
  const synth = (t: ReturnType<typeof parseTopology>, name: string) => synthesizeStacks(t, join(dir, name), { source: "the topology" }).stacks;
  const baseStacks = synth(base, "base");
  const cases: [string, (t: any) => void][] = [
    ["a weight", (t) => (t.backends[0].servers[0].weight = 3)],
    ["an Alertmanager setting", (t) => (t.services.alertmanager.groupWait = "10s")],
    ["a web server added", (t) => t.backends[0].servers.push({ name: "web-c", address: "web-c", port: 5003, cookie: "web-c" })],
    ["a web server removed", (t) => t.backends[0].servers.pop()],
    ["a TLS bind", (t) => t.frontends[0].binds.push({ address: "*", port: 60443, tlsCertificate: "site.pem" })],
  ];
  cases.forEach(([name, edit], i) => {
    it(`${name}: the containers Terraform creates, replaces and destroys are the plan's Docker actions`, () => {
      const head = parseTopology(editedTopology(edit));
      const headStacks = synth(head, `head-${i}`);
      const docker = diffStacks("flask-lb", baseStacks.get("flask-lb"), headStacks.get("flask-lb")!);
      const containers = docker.resources.filter((r) => r.address.startsWith("docker_container.")).map((r) => `${r.action} ${r.address.replace("docker_container.container-", "")}`).sort();
      const planned = makePlan(base, head).actions.filter((a) => a.target === "docker" && a.action !== "runtime" && a.action !== "reload").map((a) => `${a.action} ${a.component}`).sort();
      assert.deepEqual(containers, planned);
    });
  });
});
