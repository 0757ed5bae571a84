// Images change only when their contents do: a built image's trigger hashes what goes into it (for
// the bundled sidecar and agent, esbuild's own list of inputs), so a topology edit in
// infra/topology.ts re-creates the apply agent and nothing else.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { imageInputFiles } from "../infra/docker/image-sources.ts";
import { SIDECAR_IMAGE_SOURCES } from "../infra/docker/declaration.ts";
import { REPO_ROOT } from "../infra/repo.ts";
import { copyRepository, type RepoCopy } from "./support/repo-copy.ts";

const TSX_LOADER = import.meta.resolve("tsx");

/** npm run synth in `root`: the Docker stack's resources, "type.name" → its JSON. */
function synthDocker(root: string): Record<string, string> {
  const outdir = join(root, "cdktf.out");
  const run = spawnSync(process.execPath, ["--import", TSX_LOADER, join(root, "infra/synth.ts"), "--outdir", outdir], { cwd: root, encoding: "utf8", timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  const stack = JSON.parse(readFileSync(join(outdir, "stacks/flask-lb/cdk.tf.json"), "utf8"));
  const out: Record<string, string> = {};
  for (const [type, resources] of Object.entries(stack.resource as Record<string, Record<string, unknown>>)) {
    for (const [name, body] of Object.entries(resources)) out[`${type}.${name}`] = JSON.stringify(body);
  }
  return out;
}

const differing = (a: Record<string, string>, b: Record<string, string>) => [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).sort();

describe("the sidecar image's inputs", () => {
  const inputs = imageInputFiles(REPO_ROOT, SIDECAR_IMAGE_SOURCES);

  it("are both bundles' sources, the templates the agent renders, the Dockerfile and the lockfile", () => {
    for (const file of ["sidecar/cli.ts", "sidecar/poller.ts", "infra/gitops/agent-cli.ts", "infra/render/render.ts", "templates/haproxy.cfg.hbs", "sidecar/Dockerfile", "package-lock.json"]) {
      assert.ok(inputs.includes(file), `${file} is not an input`);
    }
  });

  it("leave out the topologies and the code neither bundle imports", () => {
    for (const file of ["infra/topology.ts", "infra/topologies/discovery.ts", "infra/containers/deploy.ts", "infra/synth.ts", "README.md"]) {
      assert.ok(!inputs.includes(file), `${file} is an input`);
    }
    assert.ok(!inputs.some((f) => f.split("/").includes("node_modules")), "node_modules is the lockfile's");
  });
});

describe("a topology edit in infra/topology.ts, synthesized before and after", () => {
  let copy: RepoCopy;
  let before: Record<string, string>;
  beforeAll(() => {
    copy = copyRepository();
    before = synthDocker(copy.root);
  });
  afterAll(() => copy?.remove());

  it("changes the apply agent's upload and no other Docker resource", () => {
    const file = join(copy.root, "infra/topology.ts");
    const text = readFileSync(file, "utf8");
    assert.match(text, /server: "10s"/);
    writeFileSync(file, text.replace(/server: "10s"/, 'server: "12s"'));
    const after = synthDocker(copy.root);
    assert.deepEqual(differing(before, after), ["docker_container.container-apply-agent"]);
    before = after;
  });

  it("rebuilds the sidecar image when a bundled source changes (its image_id is then new: Terraform replaces the containers that run it)", () => {
    appendFileSync(join(copy.root, "sidecar/poller.ts"), "\n// an edit\n");
    const after = synthDocker(copy.root);
    assert.deepEqual(differing(before, after), ["docker_image.image-flask-lb-sidecar-local"]);
  });
});
