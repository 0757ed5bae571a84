// Error pages are raw HTTP responses: the project's own pass, and each way a page can be wrong is
// named before HAProxy sees it (HAProxy 2.6 itself refuses some, and serves others with
// "connection: close" because they carry no Content-Length).
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "vitest";
import { errorPageProblem } from "../infra/render/error-pages.ts";
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
