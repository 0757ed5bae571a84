// The CDKTF Docker stack, tested at synth level (no Docker engine, no provider download here):
// it declares what the model says, nothing typed twice, and nothing of the machine that synthesized it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, it } from "vitest";
import { Testing } from "cdktf";
import { parseTopology } from "../infra/model/parse.ts";
import type { Topology } from "../infra/model/schema.ts";
import { renderHaproxyConfig } from "../infra/render/render.ts";
import { renderPrometheusConfig } from "../infra/render/prometheus.ts";
import { checkHaproxyConfig } from "../infra/render/haproxy-check.ts";
import { DOCKER_PATHS, dockerTarget } from "../infra/render/targets.ts";
import { declareDockerStack } from "../infra/docker/declaration.ts";
import { PINNED_IMAGES } from "../infra/images.ts";
import { bindPorts, onNetwork } from "../infra/model/schema.ts";
import { DockerTopologyStack } from "../infra/docker/stack.ts";
import { TargetPlanError } from "../infra/errors.ts";
import { REPO_ROOT } from "../infra/repo.ts";
import { DEFAULT_TOPOLOGY_FILE } from "../infra/model/load.ts";
import { parse as parseYaml } from "yaml";
import { RULES_FILE } from "../infra/render/alert-rules.ts";
import { EXPECTED_DISTRIBUTION_FILE } from "../infra/runtime/applied.ts";
import { editedTopology, seedTopology } from "./support/topologies.ts";
import { topology as acmeExample } from "../infra/topologies/acme.ts";
import { discoveryTopology, everyFeatureTopology } from "./support/goldens.ts";
import { stackSchemaProblems } from "./support/provider-schema.ts";
import { runCli } from "./support/run-cli.ts";

const SOURCE = DEFAULT_TOPOLOGY_FILE;

function synth(topology: Topology): { json: string; stack: any } {
  const app = Testing.app();
  const json = Testing.synth(new DockerTopologyStack(app, declareDockerStack(topology, { source: SOURCE })));
  return { json, stack: JSON.parse(json) };
}

const containers = (stack: any): Record<string, any> => Object.fromEntries(Object.values(stack.resource.docker_container).map((c: any) => [c.name, c]));

// Testing.toBeValidTerraform runs `terraform validate`, which needs Terraform and the provider: not
// here. What validate would check of our resources, the provider's own types say.
describe("every resource and attribute of the stack, against the docker provider's schema", () => {
  for (const [name, input] of [["the default topology", seedTopology], ["every feature of the model", everyFeatureTopology]] as const) {
    it(`${name}: every attribute is one the provider has, with its type, nested blocks included`, () => {
      const { stack } = synth(parseTopology(input()));
      assert.deepEqual(stackSchemaProblems(stack), []);
    });
  }

  it("catches what validate would: an unknown attribute, a wrong type, a bad nested attribute, an unknown resource", () => {
    const { stack } = synth(parseTopology(seedTopology()));
    const haproxy = stack.resource.docker_container["container-haproxy"];
    Object.assign(haproxy, { restart_policy: "always", must_run: "yes" });
    haproxy.healthcheck.intervall = "5s";
    haproxy.ports[0].internal = "80";
    stack.resource.docker_swarm = { x: {} };
    assert.deepEqual(stackSchemaProblems(stack).sort(), [
      'resource.docker_container.container-haproxy.healthcheck.intervall: not an attribute of ContainerHealthcheck',
      'resource.docker_container.container-haproxy.must_run: "yes" is not a boolean',
      'resource.docker_container.container-haproxy.ports[0].internal: "80" is not a number',
      "resource.docker_container.container-haproxy.restart_policy: not an attribute of ContainerConfig",
      "resource.docker_swarm: the docker provider has no such resource",
    ]);
  });
});

describe("a topology change re-creates the apply agent, never HAProxy", () => {
  const base = containers(synth(parseTopology(seedTopology())).stack);
  for (const [what, edit] of [
    ["a weight", (t: any) => (t.backends[0].servers[0].weight = 3)],
    ["a balance algorithm", (t: any) => (t.backends[0].balance = "leastconn")],
    ["a timeout", (t: any) => (t.defaults.timeouts.server = "30s")],
  ] as const) {
    it(`${what}: the HAProxy container is the same, only what the agent receives differs`, () => {
      const changed = containers(synth(parseTopology(editedTopology(edit))).stack);
      assert.deepEqual(changed.haproxy, base.haproxy);
      assert.notDeepEqual(changed["apply-agent"].upload, base["apply-agent"].upload);
      const differing = Object.keys(base).filter((name) => JSON.stringify(base[name]) !== JSON.stringify(changed[name]));
      assert.deepEqual(differing, ["apply-agent"]);
    });
  }
});

describe("the CDKTF stack for the default topology", () => {
  const topology = parseTopology(seedTopology());
  const { json, stack } = synth(topology);
  const byName = containers(stack);

  it("has the docker provider, a network and the volumes", () => {
    assert.ok(Testing.toHaveProvider(json, "docker"));
    assert.ok(Testing.toHaveResourceWithProperties(json, "docker_network", { name: "flask-lb", driver: "bridge" }));
    for (const volume of ["flask-lb-haproxy-socket", "flask-lb-prometheus-data", "flask-lb-grafana-data"]) {
      assert.ok(Testing.toHaveResourceWithProperties(json, "docker_volume", { name: volume }), volume);
    }
  });

  it("declares every container: each server of the model, HAProxy, the sidecar, Prometheus, Alertmanager, Grafana", () => {
    const servers = topology.backends.flatMap((b) => b.servers.map((s) => s.address));
    assert.deepEqual(Object.keys(byName).sort(), [...new Set([...servers, "haproxy", "apply-agent", "sidecar", "prometheus", "alertmanager", "grafana"])].sort());
    for (const container of Object.values(byName)) {
      assert.deepEqual(container.networks_advanced.map((n: any) => n.aliases), [[container.name]], `${container.name} is reachable by its name`);
    }
  });

  it("uploads the resolved topology to the apply agent, which renders a config HAProxy accepts", async () => {
    const uploaded = byName["apply-agent"].upload.find((u: any) => u.file === DOCKER_PATHS.desiredTopology).content;
    assert.deepEqual(JSON.parse(uploaded), JSON.parse(JSON.stringify(topology)));
    await checkHaproxyConfig(renderHaproxyConfig(parseTopology(JSON.parse(uploaded)), dockerTarget(), { source: SOURCE }));
  });

  it("HAProxy reads the config the agent writes into their shared volume, created after the agent is healthy", () => {
    assert.deepEqual(byName.haproxy.upload ?? [], [], "HAProxy gets no upload: a config change must not replace it");
    assert.equal(byName.haproxy.command[byName.haproxy.command.indexOf("-f") + 1], DOCKER_PATHS.config);
    assert.ok(DOCKER_PATHS.config.startsWith(`${DOCKER_PATHS.socketDir}/`));
    const volumeOf = (c: any) => c.volumes.find((v: any) => v.container_path === DOCKER_PATHS.socketDir)?.volume_name;
    assert.equal(volumeOf(byName["apply-agent"]), volumeOf(byName.haproxy));
    assert.deepEqual(byName.haproxy.depends_on, ["docker_container.container-apply-agent", "docker_container.container-web-a", "docker_container.container-web-b"]);
    assert.equal(byName["apply-agent"].wait, true);
    assert.deepEqual(byName["apply-agent"].entrypoint, ["node", "/app/agent.mjs"]);
    assert.equal(byName["apply-agent"].user, "99:99", "HAProxy's user: it owns the volume");
    assert.equal(byName["apply-agent"].image, byName.sidecar.image, "the agent runs from the sidecar's image");
  });

  it("publishes exactly the frontend binds on every address, and the operator ports on loopback only", () => {
    const frontendPorts = bindPorts(topology.frontends.flatMap((f) => f.binds));
    const published = byName.haproxy.ports.map((p: any) => `${p.ip}:${p.external}->${p.internal}`);
    assert.deepEqual(published, [...frontendPorts.map((p) => `0.0.0.0:${p}->${p}`), `127.0.0.1:${topology.monitoring.port}->${topology.monitoring.port}`]);
    assert.deepEqual(frontendPorts, [60000, 60001]);
    for (const [name, port] of [["sidecar", topology.services.sidecar.port], ["prometheus", topology.services.prometheus.port], ["alertmanager", topology.services.alertmanager.port], ["grafana", topology.services.grafana.port]] as const) {
      assert.deepEqual(byName[name].ports.map((p: any) => `${p.ip}:${p.external}`), [`127.0.0.1:${port}`], name);
    }
    for (const server of ["web-a", "web-b"]) assert.deepEqual(byName[server].ports ?? [], [], `${server} must not be published`);
  });

  it("with peers to share tables with, the local peer's port is published on every address (the other load balancers connect to it); without remotes, not", () => {
    const haproxyPorts = (peers: object) => declareDockerStack(parseTopology(editedTopology((t) => (t.peers = peers)))).containers.find((c) => c.name === "haproxy")!.ports.map((p) => `${p.ip}:${p.external}->${p.internal}`);
    assert.ok(haproxyPorts({ localPeer: "lb1", port: 10000, remotes: [{ name: "lb2", address: "10.0.0.2", port: 10000 }] }).includes("0.0.0.0:10000->10000"));
    assert.ok(!haproxyPorts({ localPeer: "lb1", port: 10000 }).some((p) => p.includes("10000")), "only the reload's hand-over uses it: inside the container");
  });

  it("shares HAProxy's stats socket with the sidecar through one volume, and the sidecar reads that socket", () => {
    const mount = (c: any) => c.volumes.find((v: any) => v.container_path === DOCKER_PATHS.socketDir)?.volume_name;
    assert.equal(mount(byName.haproxy), "${docker_volume.volume-flask-lb-haproxy-socket.name}");
    assert.equal(mount(byName.sidecar), mount(byName.haproxy));
    const args: string[] = byName.sidecar.command;
    assert.equal(args[args.indexOf("--stats-socket") + 1], topology.global.statsSocket.path);
    assert.ok(topology.global.statsSocket.path.startsWith(`${DOCKER_PATHS.socketDir}/`));
    assert.deepEqual(byName.sidecar.group_add, ["99"], "the sidecar joins the socket's group, not root");
    assert.equal(args[args.indexOf("--listen") + 1], `0.0.0.0:${topology.services.sidecar.port}`);
  });

  it("runs the web servers with the model's ports, names and health checks", () => {
    for (const server of topology.backends[0]!.servers.filter(onNetwork)) {
      const c = byName[server.address];
      assert.deepEqual(c.env, [`INSTANCE_NAME=${server.name}`, `BIND=0.0.0.0:${server.port}`, "PYTHONDONTWRITEBYTECODE=1"]);
      assert.deepEqual(c.healthcheck.test, ["CMD", "curl", "-fsS", "-o", "/dev/null", `http://127.0.0.1:${server.port}${topology.backends[0]!.healthCheck!.http!.path}`]);
      assert.equal(c.healthcheck.interval, server.inter);
      assert.equal(c.healthcheck.retries, server.fall);
    }
  });

  it("gives every container a health check", () => {
    for (const c of Object.values(byName)) assert.ok(c.healthcheck?.test?.length > 1, `${c.name} has no health check`);
  });

  it("pins the pulled images and builds web and sidecar from this repository", () => {
    const images = Object.values(stack.resource.docker_image) as any[];
    const pulled = images.filter((i) => !i.build).map((i) => i.name).sort();
    assert.deepEqual(pulled, Object.values(PINNED_IMAGES).sort());
    for (const name of pulled) assert.match(name, /:v?\d+\.\d+\.\d+$/, `${name} is not pinned to a version`);
    const built = Object.fromEntries(images.filter((i) => i.build).map((i) => [i.name, i]));
    assert.deepEqual(built["flask-lb-web:local"].build, { context: "${path.module}/../../../apps/web", dockerfile: "Dockerfile" });
    assert.deepEqual(built["flask-lb-sidecar:local"].build, { context: "${path.module}/../../..", dockerfile: "sidecar/Dockerfile" });
    assert.match(built["flask-lb-web:local"].triggers.source, /^[0-9a-f]{64}$/);
  });

  it("uploads Prometheus the generated config and rules, which promtool accepts: HAProxy's series from the sidecar only, alerts to Alertmanager", async () => {
    const files = Object.fromEntries(byName.prometheus.upload.map((u: any) => [u.file, u.content]));
    const uploaded = files["/etc/prometheus/prometheus.yml"];
    assert.equal(uploaded, renderPrometheusConfig(topology, dockerTarget(), { sidecar: true, source: SOURCE }));
    const config = parseYaml(uploaded);
    const jobs = Object.fromEntries(config.scrape_configs.map((j: any) => [j.job_name, j]));
    assert.deepEqual(jobs.haproxy.static_configs, [{ targets: ["sidecar:9101"] }]);
    assert.deepEqual(jobs["haproxy-exporter"].static_configs, [{ targets: ["haproxy:8404"] }]);
    assert.deepEqual(jobs["haproxy-exporter"].metric_relabel_configs, [{ source_labels: ["__name__"], regex: "haproxy_.*", action: "drop" }]);
    assert.deepEqual(jobs.alertmanager.static_configs, [{ targets: ["alertmanager:9093"] }]);
    assert.deepEqual(jobs.prometheus.static_configs, [{ targets: ["prometheus:9090"] }]);
    assert.deepEqual(config.alerting.alertmanagers, [{ static_configs: [{ targets: ["alertmanager:9093"] }] }]);
    assert.deepEqual(config.rule_files, [RULES_FILE]);
    const dir = mkdtempSync(join(tmpdir(), "promtool-"));
    try {
      writeFileSync(join(dir, "prometheus.yml"), uploaded);
      writeFileSync(join(dir, RULES_FILE), files[`/etc/prometheus/${RULES_FILE}`]);
      // check config also checks the rule files it names
      const { stdout } = await promisify(execFile)("promtool", ["check", "config", join(dir, "prometheus.yml")]);
      assert.match(stdout, /SUCCESS: \d+ rules found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs Alertmanager with the generated config (amtool accepts it), its webhook URLs from sensitive Terraform variables, never in the JSON", async () => {
    const withWebhook = parseTopology({ ...seedTopology(), services: { alertmanager: { webhooks: [{ name: "oncall", urlFromEnv: "LB_ONCALL_WEBHOOK_URL" }] } } });
    const synthesized = synth(withWebhook).stack;
    assert.deepEqual(synthesized.variable.lb_oncall_webhook_url.sensitive, true);
    const alertmanager = containers(synthesized).alertmanager;
    const config = alertmanager.upload.find((u: any) => u.file === "/etc/alertmanager/alertmanager.yml").content;
    assert.deepEqual(parseYaml(config).receivers[1], { name: "oncall", webhook_configs: [{ url: "${var.lb_oncall_webhook_url}", send_resolved: true }] });
    assert.ok(alertmanager.command.includes("--cluster.listen-address="), "one Alertmanager: no gossip port");
    assert.deepEqual(alertmanager.ports.map((p: any) => `${p.ip}:${p.external}`), ["127.0.0.1:9093"], "an operator port: loopback only");
    const dir = mkdtempSync(join(tmpdir(), "amtool-"));
    try {
      // What Terraform would interpolate: any URL.
      writeFileSync(join(dir, "alertmanager.yml"), config.replace("${var.lb_oncall_webhook_url}", "https://hooks.example.invalid/T0"));
      await promisify(execFile)("amtool", ["check-config", join(dir, "alertmanager.yml")]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("provisions Grafana with the Prometheus datasource and the project's dashboard", () => {
    const files = Object.fromEntries(byName.grafana.upload.map((u: any) => [u.file, u.content]));
    assert.match(files["/etc/grafana/provisioning/datasources/prometheus.yml"], /url: http:\/\/prometheus:9090\n/);
    assert.match(files["/etc/grafana/provisioning/dashboards/haproxy.yml"], /path: \/etc\/grafana\/dashboards/);
    const dashboard = JSON.parse(files["/etc/grafana/dashboards/haproxy.json"]);
    const [datasource] = parseYaml(files["/etc/grafana/provisioning/datasources/prometheus.yml"]).datasources;
    assert.deepEqual(new Set(dashboard.panels.map((p: any) => p.datasource.uid)), new Set([datasource.uid]), "every panel names the provisioned data source");
    const queries: string[] = dashboard.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr));
    assert.ok(queries.some((q) => q.includes("haproxy_server_status")));
    // No npm run verify and no supervisor beside the containers: their panels would stay empty.
    assert.ok(!queries.some((q) => q.includes("haproxy_sidecar_assertion_passed") || q.includes("haproxy_sidecar_component_up")));
    assert.ok(queries.some((q) => q.includes("haproxy_sidecar_backend_distribution_skew")), "the continuous distribution check stands in");
  });

  it("gives the sidecar the expected-distribution file the agent writes into the shared volume", () => {
    const command: string[] = byName.sidecar.command;
    assert.equal(command[command.indexOf("--expected-file") + 1], `${DOCKER_PATHS.socketDir}/${EXPECTED_DISTRIBUTION_FILE}`);
    assert.ok(byName.sidecar.volumes.some((v: any) => v.container_path === DOCKER_PATHS.socketDir));
  });

  it("keeps Terraform's state at the repository root through a relative path", () => {
    assert.deepEqual(stack.terraform.backend, { local: { path: "../../../terraform.flask-lb.tfstate" } });
  });

  it("has no TLS variable when no bind terminates TLS", () => {
    assert.equal(stack.variable, undefined);
  });
});

describe("the stack follows the model", () => {
  it("a TLS bind mounts certificates from a Terraform variable, not a path of this machine, beside the config the agent writes (certs/ is relative to it)", () => {
    const topology = parseTopology(editedTopology((t) => (t.frontends[0].binds = [{ port: 443, tlsCertificate: "site.pem" }])));
    const { stack } = synth(topology);
    assert.equal(stack.variable.certificates_dir.type, "string");
    const haproxy = containers(stack).haproxy;
    assert.ok(haproxy.volumes.some((v: any) => v.host_path === "${var.certificates_dir}" && v.container_path === "/var/lib/haproxy/certs" && v.read_only === true));
    assert.deepEqual(haproxy.ports.map((p: any) => p.external), [443, 8404]);
  });

  it("a third server in the model is a third web container, reachable by its address", () => {
    const topology = parseTopology(editedTopology((t) => t.backends[0].servers.push({ name: "web-c", address: "web-c", port: 5003, cookie: "web-c" })));
    const web = containers(synth(topology).stack)["web-c"];
    assert.deepEqual(web.env, ["INSTANCE_NAME=web-c", "BIND=0.0.0.0:5003", "PYTHONDONTWRITEBYTECODE=1"]);
  });

  it("two servers on one address with different ports are refused, saying why", () => {
    const topology = parseTopology(editedTopology((t) => t.backends[0].servers.push({ name: "web-c", address: "web-a", port: 5009, cookie: "web-c" })));
    assert.throws(() => declareDockerStack(topology), (e: unknown) => e instanceof TargetPlanError && /server address "web-a" is used with ports 5001 and 5009/.test(e.message));
  });
});

describe("managed certificates in the Docker stack: one issuer container fills and renews HAProxy's certificate directory", () => {
  const withGiven = () => {
    const input = structuredClone(acmeExample) as any;
    input.frontends[0].binds.push({ address: "*", port: 61443, tlsCertificate: "given.pem" });
    return parseTopology(input);
  };
  const acme = parseTopology(acmeExample);
  const { stack } = synth(acme);
  const all = containers(stack);
  const issuer = all["certificate-issuer"];
  const uploaded = (container: any, path: string) => container.upload.find((u: any) => u.file === path)?.content;

  it("every attribute is one the provider has", () => assert.deepEqual(stackSchemaProblems(stack), []));

  it("runs the issuer's bundle from the sidecar's image, as HAProxy's user, on the shared volume, with its configuration uploaded", () => {
    assert.equal(issuer.image, all.sidecar.image);
    assert.deepEqual(issuer.entrypoint, ["node", "/app/certs.mjs"]);
    assert.deepEqual(issuer.command, ["run", "--run-dir", DOCKER_PATHS.socketDir, "--config", DOCKER_PATHS.issuerConfig, "--prepare-certificates"]);
    assert.equal(issuer.user, all["apply-agent"].user, "the volume's owner, as the agent");
    assert.deepEqual(issuer.volumes.map((v: any) => v.container_path), [DOCKER_PATHS.socketDir]);
    const config = JSON.parse(uploaded(issuer, DOCKER_PATHS.issuerConfig));
    assert.deepEqual(config.certificates.map((c: any) => c.names), [["shop.lb.test", "www.shop.lb.test"]]);
    assert.equal(config.adminSocket, all.sidecar.command[all.sidecar.command.indexOf("--stats-socket") + 1], "the socket HAProxy's admin socket is, as the sidecar reads it");
  });

  it("HAProxy starts after the issuer is healthy (every certificate file in place), and reads them from the volume, not a host directory", () => {
    assert.ok(all.haproxy.depends_on.includes("docker_container.container-certificate-issuer"), JSON.stringify(all.haproxy.depends_on));
    assert.equal(issuer.wait, true);
    assert.match(issuer.healthcheck.test.join(" "), /\["shop\.pem"\]\.every/);
    assert.equal(all.haproxy.volumes.some((v: any) => v.host_path !== undefined), false);
    assert.equal(stack.variable.certificates_dir, undefined, "nothing given: no directory to mount");
  });

  it("the ACME settings the model takes from the environment come from Terraform variables: the URL as it is, the CA's PEM text uploaded", () => {
    assert.deepEqual(Object.keys(stack.variable).sort(), ["lb_acme_ca", "lb_acme_directory"]);
    assert.ok(issuer.env.includes("LB_ACME_DIRECTORY=${var.lb_acme_directory}"), issuer.env.join(" "));
    assert.ok(issuer.env.includes(`LB_ACME_CA=${DOCKER_PATHS.acmeCaDir}/LB_ACME_CA.pem`), issuer.env.join(" "));
    assert.equal(uploaded(issuer, `${DOCKER_PATHS.acmeCaDir}/LB_ACME_CA.pem`), "${var.lb_acme_ca}");
  });

  it("the sidecar reads the issuer's record in the volume (renewal failures, what it installed)", () => {
    assert.equal(all.sidecar.command[all.sidecar.command.indexOf("--certificates-file") + 1], `${DOCKER_PATHS.socketDir}/certificates.json`);
  });

  it("given certificates beside managed ones: mounted read-only into the issuer, which copies them in; HAProxy mounts none", () => {
    const given = containers(synth(withGiven()).stack);
    assert.ok(given["certificate-issuer"].volumes.some((v: any) => v.host_path === "${var.certificates_dir}" && v.container_path === DOCKER_PATHS.givenCertificates && v.read_only === true));
    assert.deepEqual(given["certificate-issuer"].command.slice(-2), ["--given", DOCKER_PATHS.givenCertificates]);
    assert.equal(given.haproxy.volumes.some((v: any) => v.host_path !== undefined), false);
  });

  it("new names re-create the issuer and the agent, never HAProxy", () => {
    const input = structuredClone(acmeExample) as any;
    input.certificates[0].names.push("api.shop.lb.test");
    const changed = containers(synth(parseTopology(input)).stack);
    const differing = Object.keys(changed).filter((name) => JSON.stringify(all[name]) !== JSON.stringify(changed[name]));
    assert.deepEqual(differing.sort(), ["apply-agent", "certificate-issuer"]);
  });

  it("a topology without managed certificates has no issuer", () => assert.equal(containers(synth(parseTopology(seedTopology())).stack)["certificate-issuer"], undefined));
});

describe("a discovered group in the Docker stack: containers behind one network alias, scaled by their count", () => {
  const withInstances = (n: number) => {
    const input = discoveryTopology() as any;
    input.backends[0].discovery.instances = n;
    return containers(synth(parseTopology(input)).stack);
  };

  it("every attribute is one the provider has", () => {
    assert.deepEqual(stackSchemaProblems(synth(parseTopology(discoveryTopology())).stack), []);
  });

  it("runs `instances` web containers, each answering to the group's DNS name (the alias HAProxy resolves) on the group's port", () => {
    const five = withInstances(5);
    const webs = Object.keys(five).filter((n) => /^web-\d+$/.test(n)).sort();
    assert.deepEqual(webs, ["web-1", "web-2", "web-3", "web-4", "web-5"]);
    for (const name of webs) {
      assert.deepEqual(five[name].networks_advanced, [{ name: "${docker_network.network.name}", aliases: ["web.lb.internal"] }]);
      assert.ok(five[name].env.includes("BIND=0.0.0.0:5100"), five[name].env.join(" "));
    }
  });

  it("a larger count adds containers and touches neither HAProxy's container nor its config (the agent's topology differs, its plan is no reload)", () => {
    const [two, five] = [withInstances(2), withInstances(5)];
    assert.deepEqual(five.haproxy, two.haproxy);
    const differing = Object.keys(five).filter((name) => JSON.stringify(two[name]) !== JSON.stringify(five[name]));
    assert.deepEqual(differing.sort(), ["apply-agent", "web-3", "web-4", "web-5"]);
    const rendered = (n: number) => {
      const input = discoveryTopology() as any;
      input.backends[0].discovery.instances = n;
      return renderHaproxyConfig(parseTopology(input), dockerTarget(), { source: SOURCE });
    };
    assert.equal(rendered(5), rendered(2));
  });

  it("SRV records Docker's name server cannot give are refused, naming the field; a group with its own name servers gets no container", () => {
    const srv = discoveryTopology() as any;
    Object.assign(srv.backends[0].discovery, { record: "SRV", dnsName: "_http._tcp.web.lb.internal", port: undefined });
    assert.throws(() => declareDockerStack(parseTopology(srv)), (e: unknown) => e instanceof TargetPlanError && /^backends\.web_pool\.discovery\.record: on the docker target the group's name is a network alias/.test(e.message));
    const external = discoveryTopology() as any;
    external.backends[0].discovery.resolver = { nameservers: ["10.0.0.2:53"] };
    assert.deepEqual(Object.keys(containers(synth(parseTopology(external)).stack)).filter((n) => n.startsWith("web")), []);
  });
});

describe("npm run synth", () => {
  it("writes both stacks (Docker, Kubernetes) into cdktf.out with no path of the machine that synthesized it, offline", async () => {
    const outdir = mkdtempSync(join(tmpdir(), "cdktf-out-"));
    try {
      const result = await runCli("infra/synth.ts", ["--outdir", outdir]);
      assert.equal(result.code, 0, result.stderr);
      const json = readFileSync(join(outdir, "stacks/flask-lb/cdk.tf.json"), "utf8");
      const kubernetes = readFileSync(join(outdir, "stacks/flask-lb-kubernetes/cdk.tf.json"), "utf8");
      const manifest = readFileSync(join(outdir, "manifest.json"), "utf8");
      assert.match(result.stderr, /synthesized stack "flask-lb" .*\nsynthesized stack "flask-lb-kubernetes" .*\nhaproxy -c: both configs valid/);
      assert.ok(JSON.parse(kubernetes).resource.kubernetes_deployment_v1.haproxy);
      for (const text of [json, kubernetes, manifest]) {
        // tmpdir() + "/": a path under the machine's temporary directory (the containers' own /tmp tmpfs is theirs).
        for (const machinePath of [REPO_ROOT.replace(/\/$/, ""), outdir, `${tmpdir()}/`, process.env.HOME ?? "/root"]) {
          assert.ok(!text.includes(machinePath), `the output names ${machinePath}`);
        }
      }
      const stack = JSON.parse(json);
      assert.ok(stack.resource.docker_container);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it("an invalid topology stops the synth with the model's message", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cdktf-bad-"));
    try {
      const file = join(dir, "broken.json");
      writeFileSync(file, JSON.stringify(editedTopology((t) => (t.backends[0].servers[0].port = 70000))));
      const result = await runCli("infra/synth.ts", ["--topology", file, "--outdir", join(dir, "out")]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /error TOPOLOGY_INVALID: the topology is invalid:\n  backends\.flask_servers\.servers\.web-a\.port: 70000 is not a port/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the containers' security settings (checked on the synthesized JSON)", () => {
  const { stack } = synth(parseTopology(everyFeatureTopology()));
  const all = Object.values(containers(stack));
  // Terraform uploads a file into these: Docker refuses to copy into a read-only root file system.
  const WRITABLE_FOR_UPLOADS = ["apply-agent", "prometheus", "alertmanager", "grafana"];

  it("every container runs as a named unprivileged user, never root", () => {
    assert.ok(all.length >= 8);
    for (const c of all) {
      assert.ok(typeof c.user === "string" && c.user.length > 0, `${c.name}: no user`);
      assert.doesNotMatch(c.user, /^(root|0)(:|$)/, `${c.name} runs as root`);
    }
  });

  it("none is privileged, none on the host network, none may gain privileges (no-new-privileges)", () => {
    for (const c of all) {
      assert.equal(c.privileged, false, c.name);
      assert.equal(c.network_mode, undefined, `${c.name}: network_mode ${c.network_mode}`);
      assert.ok(c.networks_advanced.length > 0, `${c.name}: on the stack's network`);
      assert.deepEqual(c.security_opts, ["no-new-privileges:true"], c.name);
    }
  });

  it("the stats page's login comes from sensitive Terraform variables into HAProxy's environment, never from the repository", () => {
    const haproxy = containers(stack).haproxy;
    assert.deepEqual(haproxy.env, ["LB_STATS_USER=${var.lb_stats_user}", "LB_STATS_PASSWORD=${var.lb_stats_password}"]);
    for (const name of ["lb_stats_user", "lb_stats_password"]) assert.equal(stack.variable[name].sensitive, true, name);
    // The default topology serves no stats page: no login to ask for.
    const plain = synth(parseTopology(seedTopology())).stack;
    assert.equal(containers(plain).haproxy.env, undefined);
    assert.equal(plain.variable?.lb_stats_user, undefined);
  });

  it("the userlists' password hashes come from sensitive Terraform variables into HAProxy's environment, never from the repository", () => {
    const withLogin = synth(parseTopology(editedTopology((t) => {
      t.userlists = [{ name: "admins", users: [{ name: "alice", passwordHashFromEnv: "LB_ALICE_HASH" }] }];
      t.frontends[0].routes = [{ when: { pathPrefix: "/admin" }, backend: "flask_servers", auth: { userlist: "admins", realm: "Admin" } }];
    }))).stack;
    assert.deepEqual(containers(withLogin).haproxy.env, ["LB_ALICE_HASH=${var.lb_alice_hash}"]);
    assert.equal(withLogin.variable.lb_alice_hash.sensitive, true);
  });

  it("read-only root file systems wherever nothing is uploaded into them, with a noexec tmpfs where they write", () => {
    for (const c of all) {
      const uploads = (c.upload ?? []).length;
      if (WRITABLE_FOR_UPLOADS.includes(c.name)) {
        assert.ok(uploads > 0, `${c.name} is writable for uploads it does not have`);
        assert.notEqual(c.read_only, true, c.name);
      } else {
        assert.equal(c.read_only, true, `${c.name}: root file system not read-only`);
        assert.equal(uploads, 0, c.name);
        if (c.tmpfs) assert.match(c.tmpfs["/tmp"], /noexec/);
      }
    }
  });
});
