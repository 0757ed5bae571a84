// The certificate issuer's pure parts: HAProxy's "show ssl cert" answers (fixtures captured from
// HAProxy 2.6 by test/fixtures/capture.sh), when a certificate is issued or renewed, the backoff,
// and the judgement that refuses a bad certificate before it is installed.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { topologyProblems } from "./support/topologies.ts";
import { normalizeSerial, parseShowSslCert, parseSslCertList, sslCertCommitted, sslCertTransactionOpened } from "../haproxy/ssl-cert.ts";
import { SslCertAnswerError } from "../haproxy/errors.ts";
import { certificateFacts, certificateProblems, emptyRecord, issueReason, nextAttemptAt, pemCertificates, renewalAt, retryAfterMs, retryDelayMs } from "../infra/certs/policy.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { prepareCertificateDirectory } from "../infra/certs/certificate-dir.ts";
import { CertificateMissingError } from "../infra/errors.ts";
import { topology as acmeExample } from "../infra/topologies/acme.ts";
import { registerCertificateMetrics } from "../sidecar/certificates.ts";
import { Registry } from "prom-client";

const fixture = (name: string) => readFileSync(join(import.meta.dirname, "fixtures/haproxy-2.6", name), "utf8");

describe('"show ssl cert" and the certificate commands, as HAProxy 2.6 answers them', () => {
  it("a served certificate: serial, dates, names, subject and issuer", () => {
    const served = parseShowSslCert(fixture("show-ssl-cert.txt"), "certs/shop.pem")!;
    assert.equal(served.file, "certs/shop.pem");
    assert.match(served.serial, /^[0-9A-F]+$/);
    assert.deepEqual(served.names, ["shop.lb.test", "www.shop.lb.test"]);
    assert.equal(served.subject, "/CN=shop.lb.test");
    assert.equal(served.notAfter.getTime() - served.notBefore.getTime(), 30 * 86_400_000, "the capture's 30-day certificate");
  });
  it("a transaction's certificate (*file) names the file without the star", () => assert.equal(parseShowSslCert(fixture("show-ssl-cert-transaction.txt"), "certs/shop.pem")!.file, "certs/shop.pem"));
  it("a file HAProxy does not serve is undefined", () => assert.equal(parseShowSslCert(fixture("show-ssl-cert-unknown.txt"), "certs/none.pem"), undefined));
  it("the list of served files", () => assert.deepEqual(parseSslCertList(fixture("show-ssl-cert-list.txt")), ["certs/shop.pem"]));
  it("set and commit: success, and HAProxy's refusal of a file the config does not name", () => {
    assert.equal(sslCertTransactionOpened(fixture("set-ssl-cert.txt")), true);
    assert.equal(sslCertTransactionOpened(fixture("set-ssl-cert-unknown.txt")), false);
    assert.equal(sslCertCommitted(fixture("commit-ssl-cert.txt")), true);
    assert.equal(sslCertCommitted(fixture("set-ssl-cert.txt")), false);
  });
  const garbled: [string, (text: string) => string, string][] = [
    ["a date in another format", (t) => t.replace(/notAfter: .*/, "notAfter: 2027-01-02T19:01:33Z"), 'answered with a date "2027-01-02T19:01:33Z"'],
    ["a line missing", (t) => t.replace(/Serial: .*\n/, ""), 'answered with no "Serial:" line'],
  ];
  for (const [name, edit, message] of garbled) {
    it(`garbled: ${name} is SSL_CERT_ANSWER_GARBLED`, () => {
      assert.throws(() => parseShowSslCert(edit(fixture("show-ssl-cert.txt")), "certs/shop.pem"), (e: unknown) => e instanceof SslCertAnswerError && e.code === "SSL_CERT_ANSWER_GARBLED" && e.message.includes(message));
    });
  }
  it("serials in one spelling: upper case, no leading zeros", () => assert.equal(normalizeSerial("00a1b2"), "A1B2"));
});

describe("when a managed certificate is issued", () => {
  const certificate = parseTopology(acmeExample).certificates[0]!;
  const day = 86_400_000;
  const start = new Date("2026-01-01T00:00:00Z");
  const facts = { serial: "AB", notBefore: start, notAfter: new Date(start.getTime() + 90 * day), names: ["shop.lb.test", "www.shop.lb.test"] };
  const mine = { ...emptyRecord(), serial: "AB", jitterDraw: 0 };
  const at = (days: number) => new Date(start.getTime() + days * day);
  const cases: [string, Parameters<typeof issueReason>[1], Parameters<typeof issueReason>[2], Date, RegExp | undefined][] = [
    ["nothing served", undefined, mine, at(1), /serves no certificate/],
    ["a placeholder (a serial the stack did not install)", { ...facts, serial: "CD" }, mine, at(1), /not one the stack obtained/],
    ["a name added to the model", { ...facts, names: ["shop.lb.test"] }, mine, at(1), /lacks www\.shop\.lb\.test/],
    ["its own, 59 days into 90: not yet", facts, mine, at(59), undefined],
    ["its own, 60 days into 90 (a third left): due", facts, mine, at(60), /33 % of its lifetime is left/],
  ];
  for (const [name, served, record, now, expected] of cases) {
    it(name, () => {
      const reason = issueReason(certificate, served, record, now);
      if (expected === undefined) assert.equal(reason, undefined);
      else assert.match(reason ?? "", expected);
    });
  }
  it("the jitter moves the renewal earlier, by at most its share of the lifetime", () => {
    assert.equal(renewalAt(facts, certificate, 0).getTime(), at(60).getTime());
    assert.equal(renewalAt(facts, { ...certificate, jitter: 0.1 }, 1).getTime(), at(51).getTime());
  });
  it("failed attempts back off: 30 s, doubling, at most 6 hours", () => {
    assert.deepEqual([1, 2, 3, 10, 11, 30].map(retryDelayMs), [30_000, 60_000, 120_000, 15_360_000, 6 * 3600_000, 6 * 3600_000]);
  });
  const now = new Date("2026-12-03T12:00:00Z");
  const retryAfters: [string, string | undefined, number | undefined][] = [
    ["seconds", "120", 120_000],
    ["seconds with blanks", " 3600 ", 3_600_000],
    ["an HTTP date ahead", "Thu, 03 Dec 2026 12:10:00 GMT", 600_000],
    ["an HTTP date already past", "Thu, 03 Dec 2026 11:00:00 GMT", undefined],
    ["zero", "0", undefined],
    ["absent", undefined, undefined],
    ["garbled", "soon", undefined],
    ["a bare number with a sign", "-5", undefined],
  ];
  for (const [name, header, ms] of retryAfters) it(`Retry-After, ${name}: ${ms ?? "none"}`, () => assert.equal(retryAfterMs(header, now), ms));
  it("a failed attempt is tried again after the backoff, or later when the ACME server asked for longer, never sooner", () => {
    assert.equal(nextAttemptAt(1, now).getTime() - now.getTime(), 30_000);
    assert.equal(nextAttemptAt(1, now, 3_600_000).getTime() - now.getTime(), 3_600_000);
    assert.equal(nextAttemptAt(3, now, 1000).getTime() - now.getTime(), 120_000);
  });
});

describe("a certificate is judged before it is installed", () => {
  const dir = mkdtempSync(join(tmpdir(), "lb-certs-judge-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string) => join(dir, name);
  const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const ca = (name: string) => openssl(["req", "-x509", ...ec, "-days", "10", "-subj", `/CN=${name}`, "-keyout", file(`${name}.key`), "-out", file(`${name}.pem`), "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
  const leaf = (name: string, issuer: string, names: string) => {
    openssl(["req", "-new", ...ec, "-subj", `/CN=${name}`, "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`)]);
    writeFileSync(file(`${name}.ext`), `subjectAltName=${names}\n`);
    openssl(["x509", "-req", "-in", file(`${name}.csr`), "-CA", file(`${issuer}.pem`), "-CAkey", file(`${issuer}.key`), "-CAcreateserial", "-days", "5", "-extfile", file(`${name}.ext`), "-out", file(`${name}.pem`)]);
  };
  ca("issuer");
  ca("stranger");
  leaf("good", "issuer", "DNS:shop.lb.test,DNS:www.shop.lb.test");
  leaf("other", "issuer", "DNS:shop.lb.test");
  const read = (name: string) => readFileSync(file(name), "utf8");
  const good = { chain: [read("good.pem"), read("issuer.pem")], key: read("good.key") };
  const names = ["shop.lb.test", "www.shop.lb.test"];
  const now = new Date();

  it("a good bundle has no problem, and its facts are the certificate's", () => {
    assert.deepEqual(certificateProblems(good, names, now), []);
    assert.deepEqual(certificateFacts(good.chain[0]!).names, names);
  });
  const bad: [string, () => Parameters<typeof certificateProblems>, RegExp][] = [
    ["a key that does not match", () => [{ ...good, key: read("other.key") }, names, now], /^the key does not match the certificate$/],
    ["a name it lacks", () => [{ chain: [read("other.pem"), read("issuer.pem")], key: read("other.key") }, names, now], /^the certificate lacks www\.shop\.lb\.test$/],
    ["expired", () => [good, names, new Date(now.getTime() + 30 * 86_400_000)], /^the certificate expired on /],
    ["a chain another CA's certificate breaks", () => [{ ...good, chain: [read("good.pem"), read("stranger.pem")] }, names, now], /^the chain is broken: certificate 1 \(CN=good\) is not signed by the next one \(CN=stranger\)$/],
    ["no certificate at all", () => [{ chain: [], key: read("good.key") }, names, now], /^no certificate in the bundle$/],
    ["a key that is not a key", () => [{ ...good, key: "not a key" }, names, now], /^the key does not parse/],
  ];
  for (const [name, args, expected] of bad) {
    it(`refused: ${name}`, () => {
      const problems = certificateProblems(...args());
      assert.equal(problems.length, 1, problems.join("; "));
      assert.match(problems[0]!, expected);
    });
  }
  it("PEM text splits into its certificates, in order", () => assert.equal(pemCertificates(good.chain.join("\n") + good.key).length, 2));
});

describe("the issuer fills HAProxy's certificate directory where it owns it (the Docker stack)", () => {
  const root = mkdtempSync(join(tmpdir(), "lb-certs-dir-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const managed = parseTopology(acmeExample).certificates;
  const config = { certificates: managed, given: ["site.pem", "clients-ca.pem"] };
  const givenDir = join(root, "given");
  execFileSync("mkdir", ["-p", givenDir]);
  writeFileSync(join(givenDir, "site.pem"), "SITE\n");
  writeFileSync(join(givenDir, "clients-ca.pem"), "CA\n");

  it("copies the given files, and writes a placeholder for a managed certificate: self-signed for its names, its key with it, a week long", async () => {
    const runDir = join(root, "first");
    assert.deepEqual(await prepareCertificateDirectory(runDir, config, givenDir), { copied: ["site.pem", "clients-ca.pem"], placeholders: ["shop.pem"], issued: [] });
    assert.equal(readFileSync(join(runDir, "certs/site.pem"), "utf8"), "SITE\n");
    const pem = readFileSync(join(runDir, "certs/shop.pem"), "utf8");
    const bundle = { chain: pemCertificates(pem), key: pem.slice(pem.indexOf("-----BEGIN PRIVATE KEY")) };
    const now = new Date();
    assert.deepEqual(certificateProblems(bundle, managed[0]!.names, now), []);
    const facts = certificateFacts(bundle.chain[0]!);
    assert.equal(Math.round((facts.notAfter.getTime() - now.getTime()) / 86_400_000), 7);
    assert.equal(statSync(join(runDir, "certs/shop.pem")).mode & 0o777, 0o600);
  });

  it("keeps a managed certificate already issued (a restart serves it, not a placeholder); given files are copied again", async () => {
    const runDir = join(root, "again");
    await prepareCertificateDirectory(runDir, config, givenDir);
    writeFileSync(join(runDir, "certs/shop.pem"), "ISSUED\n");
    writeFileSync(join(givenDir, "site.pem"), "SITE, RENEWED BY HAND\n");
    assert.deepEqual((await prepareCertificateDirectory(runDir, config, givenDir)).placeholders, []);
    assert.equal(readFileSync(join(runDir, "certs/shop.pem"), "utf8"), "ISSUED\n");
    assert.equal(readFileSync(join(runDir, "certs/site.pem"), "utf8"), "SITE, RENEWED BY HAND\n");
  });

  it("a given file missing: CERTIFICATE_MISSING naming it and the variable to set, and nothing written", async () => {
    const runDir = join(root, "missing");
    const error = await prepareCertificateDirectory(runDir, { ...config, given: ["site.pem", "absent.pem"] }, givenDir).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof CertificateMissingError && error.code === "CERTIFICATE_MISSING", String(error));
    assert.match(error.message, /^absent\.pem is not in .*given: .*TF_VAR_certificates_dir/);
    assert.equal(existsSync(runDir), false);
  });
});

describe("the model of managed certificates: refused at load with the field's path", () => {
  const problemsOf = (edit: (t: any) => void) => {
    const t: any = structuredClone(acmeExample);
    edit(t);
    return topologyProblems(t);
  };
  const cases: [string, (t: any) => void, string[]][] = [
    ["a file no bind serves", (t) => (t.certificates[0].file = "other.pem"), ['certificates[0].file: no bind serves "other.pem": name it in a bind\'s tlsCertificate, or remove it']],
    ["the same file twice", (t) => t.certificates.push(structuredClone(t.certificates[0])), ['certificates[1].file: "shop.pem" is managed twice: one entry per file, with every name it needs']],
    ["no directory, or two", (t) => (t.certificates[0].acme.directoryUrl = "https://acme.example/dir"), ["certificates[0].acme.directoryUrl: name the ACME directory: either directoryUrl or directoryUrlFromEnv"]],
    ["a directory that is not https", (t) => Object.assign(t.certificates[0].acme, { directoryUrlFromEnv: undefined, directoryUrl: "http://acme.example/dir" }), ['certificates[0].acme.directoryUrl: "http://acme.example/dir" is not an ACME directory URL: use "https://host[:port]/path"']],
    ["no plain HTTP bind to answer HTTP-01", (t) => (t.frontends[0].binds = t.frontends[0].binds.filter((b: any) => b.tlsCertificate)), ["certificates: HTTP-01 needs a plain HTTP bind where the ACME server fetches its challenges: add a bind without tlsCertificate to an HTTP frontend (port 80 in production)"]],
    ["a renewal share that is not one", (t) => (t.certificates[0].renewWhenLeft = 1.5), ["certificates[0].renewWhenLeft: 1.5 is not a share of the lifetime: use a number between 0 and 1, e.g. 0.33"]],
  ];
  for (const [name, edit, expected] of cases) it(name, () => assert.deepEqual(problemsOf(edit), expected));
});

describe("the sidecar's certificate metrics: what HAProxy serves, and the issuer's record", () => {
  const dir = mkdtempSync(join(tmpdir(), "lb-certs-metrics-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const served = parseShowSslCert(fixture("show-ssl-cert.txt"), "certs/shop.pem")!;
  const scrape = async (records: string | undefined) => {
    const file = join(dir, "certificates.json");
    if (records !== undefined) writeFileSync(file, records);
    else rmSync(file, { force: true });
    const logged: string[] = [];
    const registry = new Registry();
    registerCertificateMetrics(registry, { served: async () => [served], recordsFile: file, log: (l) => logged.push(l) });
    return { text: await registry.metrics(), logged };
  };
  const line = (text: string, name: string) => text.split("\n").find((l) => l.startsWith(name));

  it("served: expiry, start and info labelled by the topology's file name", async () => {
    const { text } = await scrape(undefined);
    assert.equal(line(text, "haproxy_sidecar_certificate_not_after_seconds"), `haproxy_sidecar_certificate_not_after_seconds{file="shop.pem"} ${served.notAfter.getTime() / 1000}`);
    assert.equal(line(text, "haproxy_sidecar_certificate_info"), `haproxy_sidecar_certificate_info{file="shop.pem",serial="${served.serial}",issuer="/CN=shop.lb.test",names="shop.lb.test,www.shop.lb.test"} 1`);
    assert.equal(line(text, "haproxy_sidecar_certificate_installed_served"), undefined, "no record: not a managed certificate");
  });
  it("recorded: the installed one served or not, failures in a row, renewals by result", async () => {
    const records = (serial: string) => JSON.stringify({ schemaVersion: 1, certificates: { "shop.pem": { serial, failures: 2, renewals: { succeeded: 3, failed: 4 } } } });
    const mine = (await scrape(records(served.serial))).text;
    assert.equal(line(mine, "haproxy_sidecar_certificate_installed_served"), 'haproxy_sidecar_certificate_installed_served{file="shop.pem"} 1');
    assert.equal(line(mine, "haproxy_sidecar_certificate_renewal_failures"), 'haproxy_sidecar_certificate_renewal_failures{file="shop.pem"} 2');
    assert.match(mine, /^haproxy_sidecar_certificate_renewals_total\{file="shop.pem",result="failed"\} 4$/m);
    assert.equal(line((await scrape(records("0A"))).text, "haproxy_sidecar_certificate_installed_served"), 'haproxy_sidecar_certificate_installed_served{file="shop.pem"} 0');
  });
  it("a corrupt record file is said (STATE_FILE_CORRUPT's message) and exported as no record; what HAProxy serves still is", async () => {
    const { text, logged } = await scrape('{"schemaVersion": 1, "certificates": {"shop.pem": {"failures": -1}}}');
    assert.match(logged.join("\n"), /certificates\.json \(the certificate issuer's record\) does not hold what it should: the record of shop\.pem needs failures and renewals counts/);
    assert.equal(line(text, "haproxy_sidecar_certificate_renewal_failures"), undefined);
    assert.ok(line(text, "haproxy_sidecar_certificate_not_after_seconds"));
  });
});
