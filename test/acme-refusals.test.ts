// An ACME server that refuses, on a real ephemeral HTTPS server that acme-client talks to: a rate
// limit (429) or an outage (503) with Retry-After is waited out as long as the server asked, not
// retried sooner by the backoff and not slept out inside the pass.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { issueCertificate, newAccountKey } from "../infra/certs/acme.ts";
import { renewDue, type CertificateIo } from "../infra/certs/renewer.ts";
import type { IssuanceRecord } from "../infra/certs/policy.ts";
import { AcmeIssueFailedError } from "../infra/errors.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { topology as acmeExample } from "../infra/topologies/acme.ts";

type Refusal = { where: "directory" | "newAccount"; status: number; retryAfter?: string };

describe("an ACME server that refuses with Retry-After", () => {
  const dir = mkdtempSync(join(tmpdir(), "lb-acme-refusals-"));
  let server: Server;
  let refusal: Refusal;
  let base: string;
  let ca: string;
  const certificate = parseTopology(acmeExample).certificates[0]!;
  let accountKey: string;

  beforeAll(async () => {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
    ca = readFileSync(join(dir, "cert.pem"), "utf8");
    server = createServer({ key: readFileSync(join(dir, "key.pem")), cert: ca }, (request, response) => {
      const refuse = () => {
        response.writeHead(refusal.status, { "content-type": "application/problem+json", ...(refusal.retryAfter !== undefined && { "retry-after": refusal.retryAfter }) });
        response.end(JSON.stringify({ type: "urn:ietf:params:acme:error:rateLimited", detail: "too many new registrations from this address", status: refusal.status }));
      };
      const path = request.url ?? "";
      if (path === "/dir") {
        if (refusal.where === "directory") return refuse();
        response.writeHead(200, { "content-type": "application/json" });
        return response.end(JSON.stringify({ newNonce: `${base}/nonce`, newAccount: `${base}/account`, newOrder: `${base}/order`, revokeCert: `${base}/revoke`, keyChange: `${base}/key` }));
      }
      if (path === "/nonce") {
        response.writeHead(200, { "replay-nonce": `nonce-${Math.random().toString(36).slice(2)}`, "cache-control": "no-store" });
        return response.end();
      }
      request.resume();
      request.on("end", () => (path === "/account" ? refuse() : (response.writeHead(404), response.end())));
    });
    await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    accountKey = await newAccountKey();
  });
  afterAll(async () => {
    await new Promise((closed) => server.close(closed));
    rmSync(dir, { recursive: true, force: true });
  });

  const issue = () => issueCertificate(certificate, { directoryUrl: `${base}/dir`, caPem: ca, accountKey, responder: { put: async () => {}, remove: async () => {} }, log: () => {} });
  const failure = async () => {
    const error = await issue().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof AcmeIssueFailedError, String(error));
    return error;
  };

  it("a rate limit (429, Retry-After in seconds) on the account: ACME_ISSUE_FAILED with the server's detail and its wait, at once", async () => {
    refusal = { where: "newAccount", status: 429, retryAfter: "120" };
    const started = Date.now();
    const error = await failure();
    assert.ok(Date.now() - started < 5000, "the wait is not slept out inside the attempt");
    assert.equal(error.code, "ACME_ISSUE_FAILED");
    assert.equal(error.retryAfterMs, 120_000);
    assert.match(error.message, /too many new registrations from this address \(it asked to be asked again in 120 s\)/);
  });

  it("an outage (503 on the directory, Retry-After as an HTTP date): the wait is the date's", async () => {
    refusal = { where: "directory", status: 503, retryAfter: new Date(Date.now() + 600_000).toUTCString() };
    const error = await failure();
    assert.match(error.message, /the directory answered HTTP 503/);
    assert.ok(error.retryAfterMs! > 590_000 && error.retryAfterMs! <= 600_000, String(error.retryAfterMs));
  });

  it("a refusal without Retry-After has no wait of its own: the backoff alone decides", async () => {
    refusal = { where: "newAccount", status: 429 };
    assert.equal((await failure()).retryAfterMs, undefined);
  });

  const renewOnce = async () => {
    const now = new Date("2026-12-03T12:00:00Z");
    let records: Record<string, IssuanceRecord> = {};
    const io: CertificateIo = {
      now: () => now,
      random: () => 0,
      served: async () => undefined,
      issue: () => issue(),
      install: async () => assert.fail("nothing is installed after a refusal"),
      readRecords: async () => records,
      writeRecords: async (r) => void (records = structuredClone(r)),
      log: () => {},
    };
    const [outcome] = await renewDue({ certificates: [certificate] }, io);
    return { outcome: outcome!, record: records[certificate.file]!, now };
  };

  it("the issuer records the next attempt as late as the server asked (an hour), not after its own 30 s backoff", async () => {
    refusal = { where: "newAccount", status: 429, retryAfter: "3600" };
    const { outcome, record, now } = await renewOnce();
    assert.equal(outcome.action, "failed");
    assert.equal(record.failures, 1);
    assert.equal(new Date(record.nextAttemptAt!).getTime() - now.getTime(), 3_600_000);
  });

  it("without Retry-After, the issuer's backoff: 30 s after a first failure", async () => {
    refusal = { where: "newAccount", status: 503 };
    const { record, now } = await renewOnce();
    assert.equal(new Date(record.nextAttemptAt!).getTime() - now.getTime(), 30_000);
  });
});
