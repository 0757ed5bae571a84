// The userlists' password hashes as npm start finds them: in the variable the topology names, or in
// the file VARIABLE_FILE names (Docker's convention for secrets), never in the topology; refused by
// field when missing, unreadable or not a hash.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { LoginHashUnsetError } from "../infra/errors.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { requireLoginHashes } from "../infra/runtime/stack.ts";
import { editedTopology } from "./support/topologies.ts";

const HASH = "$6$salt$0123456789abcdefABCDEF";
const topology = parseTopology(editedTopology((t) => {
  t.userlists = [{ name: "admins", users: [{ name: "alice", passwordHashFromEnv: "LB_ALICE_HASH" }] }];
  t.frontends[0].routes = [{ when: { pathPrefix: "/admin" }, backend: "flask_servers", auth: { userlist: "admins", realm: "Admin" } }];
}));

describe("the userlists' password hashes, from the environment or a file", () => {
  const dir = mkdtempSync(join(tmpdir(), "lb-login-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const refusal = (env: NodeJS.ProcessEnv) => {
    try {
      requireLoginHashes(topology, env);
    } catch (error) {
      assert.ok(error instanceof LoginHashUnsetError && error.code === "LOGIN_HASH_UNSET");
      return error.message;
    }
    return undefined;
  };

  it("in the variable: taken as it is", () => assert.equal(refusal({ LB_ALICE_HASH: HASH }), undefined));

  it("in the file LB_ALICE_HASH_FILE names: read into the variable (a trailing newline dropped), which HAProxy's environment then holds", () => {
    writeFileSync(join(dir, "alice.hash"), `${HASH}\n`);
    const env: NodeJS.ProcessEnv = { LB_ALICE_HASH_FILE: join(dir, "alice.hash") };
    assert.equal(refusal(env), undefined);
    assert.equal(env.LB_ALICE_HASH, HASH);
  });

  it("neither, a file that cannot be read, or a file that holds a password in clear: refused naming the field and what to do", () => {
    assert.match(refusal({})!, /^userlists\.admins\.users\.alice\.passwordHashFromEnv: the environment variable LB_ALICE_HASH is not set: export .* or LB_ALICE_HASH_FILE naming a file/);
    assert.match(refusal({ LB_ALICE_HASH_FILE: join(dir, "missing") })!, /LB_ALICE_HASH is not set, and LB_ALICE_HASH_FILE names .*missing, which cannot be read/);
    writeFileSync(join(dir, "clear"), "s3cret\n");
    assert.match(refusal({ LB_ALICE_HASH_FILE: join(dir, "clear") })!, /LB_ALICE_HASH does not hold a password hash/);
  });
});
