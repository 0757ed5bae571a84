// The local deployer's reading of the synthesized CDKTF stack (issue: deploy it on podman): every
// resource and attribute the stack declares becomes an Engine API request; anything it does not
// know is refused by name. Offline: the engine itself is not needed to read the stack.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { Testing } from "cdktf";
import { parseTopology } from "../infra/model/parse.ts";
import { declareDockerStack } from "../infra/docker/declaration.ts";
import { DockerTopologyStack } from "../infra/docker/stack.ts";
import { DeployUnsupportedError } from "../infra/errors.ts";
import { goDurationNs, deploySequence } from "../infra/containers/deploy-sequence.ts";
import { RULES_FILE } from "../infra/render/alert-rules.ts";
import { everyFeatureTopology } from "./support/goldens.ts";
import { seedTopology } from "./support/topologies.ts";

const synth = (input = seedTopology()) => JSON.parse(Testing.synth(new DockerTopologyStack(Testing.app(), declareDockerStack(parseTopology(input)))));
const STACK_DIR = "/repo/cdktf.out/stacks/flask-lb"; // ${path.module}: the stack's context is three levels up, the repository
const inputs = { stackDir: STACK_DIR, variables: {} };

describe("deploySequence on the synthesized stack", () => {
  it("the default topology: every image, the network, the volumes and every container, in depends_on order", () => {
    const plan = deploySequence(synth(), inputs);
    assert.deepEqual(plan.networks, [{ name: "flask-lb", driver: "bridge" }]);
    assert.deepEqual(plan.volumes.sort(), ["flask-lb-alertmanager-data", "flask-lb-grafana-data", "flask-lb-haproxy-socket", "flask-lb-prometheus-data"]);
    const names = plan.containers.map((c) => c.name);
    assert.deepEqual([...names].sort(), ["alertmanager", "apply-agent", "grafana", "haproxy", "prometheus", "sidecar", "web-a", "web-b"]);
    assert.ok(names.indexOf("apply-agent") < names.indexOf("haproxy"), "HAProxy after the agent that writes its config");
    assert.deepEqual(plan.containers.find((c) => c.name === "haproxy")!.after, ["apply-agent", "web-a", "web-b"]);
    assert.ok(names.indexOf("web-b") < names.indexOf("haproxy"), "HAProxy after its servers");
    const built = plan.images.filter((i) => i.kind === "build").map((i) => [i.name, i.kind === "build" && i.context, i.kind === "build" && i.dockerfile]);
    assert.deepEqual(built.sort(), [["flask-lb-sidecar:local", "/repo", "sidecar/Dockerfile"], ["flask-lb-web:local", "/repo/apps/web", "Dockerfile"]].sort());
  });

  it("a container's request carries what the stack declares: image, command, user, env, ports, mounts, health check, hardening", () => {
    const plan = deploySequence(synth(), inputs);
    const haproxy = plan.containers.find((c) => c.name === "haproxy")!.create;
    assert.equal(haproxy.Image, "haproxy:2.6.12");
    assert.equal(haproxy.User, "99:99");
    assert.deepEqual(haproxy.HostConfig.PortBindings?.["60000/tcp"], [{ HostIp: "0.0.0.0", HostPort: "60000" }]);
    assert.deepEqual(haproxy.HostConfig.PortBindings?.["8404/tcp"], [{ HostIp: "127.0.0.1", HostPort: "8404" }]);
    assert.deepEqual(haproxy.HostConfig.Mounts, [{ Type: "volume", Source: "flask-lb-haproxy-socket", Target: "/var/lib/haproxy", ReadOnly: false }]);
    assert.equal(haproxy.HostConfig.ReadonlyRootfs, true);
    assert.equal(haproxy.HostConfig.Privileged, false);
    assert.deepEqual(haproxy.HostConfig.SecurityOpt, ["no-new-privileges:true"]);
    assert.deepEqual(haproxy.HostConfig.RestartPolicy, { Name: "unless-stopped" });
    assert.equal(haproxy.HostConfig.NetworkMode, "flask-lb");
    assert.deepEqual(haproxy.NetworkingConfig.EndpointsConfig, { "flask-lb": { Aliases: ["haproxy"] } });
    assert.deepEqual(haproxy.Healthcheck && [haproxy.Healthcheck.Interval, haproxy.Healthcheck.Timeout, haproxy.Healthcheck.Retries, haproxy.Healthcheck.StartPeriod], [5e9, 2e9, 3, 5e9]);
    const web = plan.containers.find((c) => c.name === "web-a")!;
    assert.deepEqual(web.create.Env, ["INSTANCE_NAME=web-a", "BIND=0.0.0.0:5001", "PYTHONDONTWRITEBYTECODE=1"]);
    assert.equal(web.create.Image, "flask-lb-web:local", "the image reference resolves to the image's name");
    assert.equal(web.create.Healthcheck!.Interval, 500e6);
    const prometheus = plan.containers.find((c) => c.name === "prometheus")!;
    assert.deepEqual(prometheus.uploads.map((u) => u.path), ["/etc/prometheus/prometheus.yml", `/etc/prometheus/${RULES_FILE}`]);
    assert.equal(plan.containers.find((c) => c.name === "apply-agent")!.waitHealthy, true);
  });

  it("every feature of the model: variables are substituted where the stack uses them, and a missing one is named", () => {
    const stack = synth(everyFeatureTopology());
    assert.throws(() => deploySequence(stack, inputs), (e: Error) => e instanceof DeployUnsupportedError && /^variable\.\w+: has no value: set TF_VAR_\w+$/.test(e.message));
    const variables = Object.fromEntries(Object.keys(stack.variable).map((name) => [name, `value-of-${name}`]));
    const plan = deploySequence(stack, { ...inputs, variables });
    const haproxy = plan.containers.find((c) => c.name === "haproxy")!;
    assert.deepEqual(haproxy.create.Env, ["LB_STATS_USER=value-of-lb_stats_user", "LB_STATS_PASSWORD=value-of-lb_stats_password"]);
    assert.deepEqual(haproxy.create.HostConfig.Mounts?.find((m) => m.Type === "bind"), { Type: "bind", Source: "value-of-certificates_dir", Target: "/var/lib/haproxy/certs", ReadOnly: true });
  });

  const refusals: [string, (stack: any) => void, RegExp][] = [
    ["an attribute it does not know", (s) => (s.resource.docker_container["container-haproxy"].shm_size = 64), /^resource\.docker_container\.container-haproxy\.shm_size: the local deployer knows no such attribute: cdktf deploy handles it/],
    ["a nested attribute it does not know", (s) => (s.resource.docker_container["container-haproxy"].ports[0].mode = "host"), /^resource\.docker_container\.container-haproxy\.ports\.?\[0\]\.mode: the local deployer knows no such attribute/],
    ["a resource type it does not know", (s) => (s.resource.docker_secret = { x: { name: "x" } }), /^resource\.docker_secret: the local deployer knows no such resource type/],
    ["an expression it does not evaluate", (s) => (s.resource.docker_container["container-haproxy"].hostname = "${upper(var.x)}"), /^\$\{upper\(var\.x\)\}: an expression the local deployer does not evaluate/],
    ["a dependency on a container the stack lacks", (s) => (s.resource.docker_container["container-haproxy"].depends_on = ["docker_container.container-nope"]), /depends on docker_container\.container-nope, which the stack does not declare/],
  ];
  for (const [name, edit, message] of refusals) {
    it(`refuses ${name}, naming it`, () => {
      const stack = synth();
      edit(stack);
      assert.throws(() => deploySequence(stack, inputs), (e: Error) => e instanceof DeployUnsupportedError && message.test(e.message));
    });
  }
});

describe("goDurationNs", () => {
  for (const [text, ns] of [["5s", 5e9], ["500ms", 5e8], ["1m30s", 90e9], ["2h", 7200e9], ["0s", 0]] as const) it(`${text} → ${ns} ns`, () => assert.equal(goDurationNs(text), ns));
  for (const text of ["5", "5 s", "1d", "", "s5"]) it(`refuses ${JSON.stringify(text)}`, () => assert.throws(() => goDurationNs(text), DeployUnsupportedError));
});
