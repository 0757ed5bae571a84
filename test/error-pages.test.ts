// Error pages are raw HTTP responses: the project's own pass, and each way a page can be wrong is
// named before HAProxy sees it (HAProxy 2.6 itself refuses some, and serves others with
// "connection: close" because they carry no Content-Length).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { checkErrorPages, errorDirectoryFiles, errorPageProblem } from "../infra/render/error-pages.ts";
import { ResponseBodyFileError } from "../infra/errors.ts";
import { parseTopology } from "../infra/model/parse.ts";
import { editedTopology, topologyProblems } from "./support/topologies.ts";
import { DEFAULT_ERROR_PAGES_DIR } from "../infra/render/haproxy-check.ts";

const page = (text: string) => Buffer.from(text.replaceAll("\n", "\r\n"));
const BODY = '{"error":"x"}';
const ok = `HTTP/1.1 503 Service Unavailable\nContent-Type: application/json\nContent-Length: ${BODY.length}\n\n${BODY}`;

describe("errorPageProblem", () => {
  it("every page the project ships is valid for its status", () => {
    const files = readdirSync(DEFAULT_ERROR_PAGES_DIR).filter((f) => f.endsWith(".http"));
    assert.ok(files.length >= 3);
    for (const file of files) assert.equal(errorPageProblem(readFileSync(join(DEFAULT_ERROR_PAGES_DIR, file)), Number(file.slice(0, 3)), 16384), undefined, file);
  });

  const cases: [string, Buffer, number, RegExp | undefined][] = [
    ["a valid page (CRLF)", page(ok), 503, undefined],
    ["a valid page (LF only)", Buffer.from(ok), 503, undefined],
    ["no empty line after the headers", page("HTTP/1.1 503 Service Unavailable\nContent-Length: 0"), 503, /has no empty line after its headers/],
    ["no status line", page(`<html>oops</html>\n\n${BODY}`), 503, /does not start with a status line \(found "<html>oops<\/html>"\)/],
    ["another status", page(ok), 429, /answers 503, but it is the page for 429/],
    ["a malformed header", page(`HTTP/1.1 503 X\nbroken header\nContent-Length: 0\n\n`), 503, /has a malformed header line "broken header"/],
    ["no Content-Length", page(`HTTP/1.1 503 X\nContent-Type: text/plain\n\n${BODY}`), 503, /has no Content-Length \(its body is 13 bytes\)/],
    ["a Content-Length that lies", page(`HTTP/1.1 503 X\nContent-Length: 3\n\n${BODY}`), 503, /says Content-Length: 3, but its body is 13 bytes/],
    ["two Content-Lengths", page(`HTTP/1.1 503 X\nContent-Length: 13\ncontent-length: 13\n\n${BODY}`), 503, /has more than one Content-Length/],
    ["larger than a buffer", page(`HTTP/1.1 503 X\nContent-Length: 9000\n\n${"x".repeat(9000)}`), 503, /more than HAProxy's buffer holds \(7168\)/],
  ];
  for (const [name, bytes, status, problem] of cases) {
    it(name, () => {
      const found = errorPageProblem(bytes, status, 8192);
      if (problem === undefined) assert.equal(found, undefined);
      else assert.match(found ?? "(none)", problem);
    });
  }
});

describe("response bodies from files (respond.bodyFile), read beside the error pages", () => {
  const withBody = (bodyFile: string, bufferSize?: number) =>
    parseTopology(editedTopology((t) => {
      t.backends.push({ name: "maintenance", answer: { respond: { status: 503, contentType: "text/html", bodyFile } } });
      if (bufferSize) t.global.bufferSize = bufferSize;
    }));
  it("the shipped maintenance page is taken", async () => {
    await checkErrorPages(withBody("maintenance.html"), DEFAULT_ERROR_PAGES_DIR);
    assert.ok(errorDirectoryFiles(withBody("maintenance.html")).includes("maintenance.html"), "the Kubernetes ConfigMap carries it with the error pages");
  });
  it("a file that is not there, and one larger than HAProxy's buffer: RESPONSE_BODY_FILE_INVALID naming the field", async () => {
    await assert.rejects(checkErrorPages(withBody("nope.html"), DEFAULT_ERROR_PAGES_DIR), (e: unknown) => e instanceof ResponseBodyFileError && e.code === "RESPONSE_BODY_FILE_INVALID" && /^backends\.maintenance\.answer\.respond\.bodyFile: .*nope\.html cannot be read/.test(e.message));
    const dir = mkdtempSync(join(tmpdir(), "lb-bodies-"));
    writeFileSync(join(dir, "big.html"), "x".repeat(9000));
    await assert.rejects(checkErrorPages(withBody("big.html", 8192), dir), (e: unknown) => e instanceof ResponseBodyFileError && /big\.html is 9000 bytes, more than HAProxy's buffer holds beside the headers \(7168\)/.test(e.message));
    rmSync(dir, { recursive: true, force: true });
  });
  it("a response with a body and a body file is refused by field", () => {
    assert.deepEqual(topologyProblems(editedTopology((t) => t.backends.push({ name: "m", answer: { respond: { status: 503, body: "x", bodyFile: "maintenance.html" } } }))), ["backends.m.answer.respond.bodyFile: a response has one body: give body or bodyFile, not both"]);
  });
});
