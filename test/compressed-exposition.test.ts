// The compressed snapshot: one gzip member that any client reads, and the same text without gzip.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { describe, it } from "vitest";
import fc from "fast-check";
import { CompressedExposition } from "../sidecar/compressed-exposition.ts";

const build = (pieces: string[]) => {
  const exposition = new CompressedExposition();
  for (const piece of pieces) exposition.append(piece);
  return exposition;
};
const plainText = async (exposition: CompressedExposition) => {
  let text = "";
  for await (const piece of exposition.plain()) text += piece.toString();
  return text;
};

describe("CompressedExposition", () => {
  it("gzipWith(suffix) is the pieces and the suffix, as one gzip stream", () => {
    const body = Buffer.concat(build(["a 1\n", "b 2\n", "c 3\n"]).gzipWith("own 4\n"));
    assert.equal(gunzipSync(body).toString(), "a 1\nb 2\nc 3\nown 4\n");
  });

  it("plain() gives the pieces back without the suffix", async () => {
    assert.equal(await plainText(build(["x 1\n", "y 2\n"])), "x 1\ny 2\n");
  });

  it("an empty exposition still makes a valid body", async () => {
    assert.equal(gunzipSync(Buffer.concat(new CompressedExposition().gzipWith("only 1\n"))).toString(), "only 1\n");
    assert.equal(await plainText(new CompressedExposition()), "");
  });

  it("holds far fewer bytes than the text it stands for", () => {
    const line = 'haproxy_server_current_sessions{proxy="pool_1",server="srv1"} 0\n';
    const exposition = build(Array.from({ length: 100 }, () => line.repeat(500)));
    assert.equal(exposition.uncompressedBytes, line.length * 500 * 100);
    assert.ok(exposition.compressedBytes * 20 < exposition.uncompressedBytes, `${exposition.compressedBytes} of ${exposition.uncompressedBytes}`);
  });

  it("round-trips any text, split anywhere (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ maxLength: 200, unit: "binary" }), { maxLength: 8 }), fc.string({ maxLength: 50 }), async (pieces, suffix) => {
        const exposition = build(pieces);
        assert.equal(gunzipSync(Buffer.concat(exposition.gzipWith(suffix))).toString(), pieces.join("") + suffix);
        assert.equal(await plainText(exposition), pieces.join(""));
      }),
      { numRuns: 200 },
    );
  });

  it("is one gzip member: curl --compressed (which refuses concatenated members) reads it whole", async () => {
    const exposition = build(["first 1\n".repeat(5000), "second 2\n".repeat(5000)]);
    const server = createServer((_, response) => {
      response.writeHead(200, { "content-encoding": "gzip" });
      for (const piece of exposition.gzipWith("suffix 3\n")) response.write(piece);
      response.end();
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const { stdout } = await promisify(execFile)("curl", ["-sS", "--fail", "--compressed", `http://127.0.0.1:${(server.address() as AddressInfo).port}/`], { maxBuffer: 1 << 24 });
      assert.equal(stdout, "first 1\n".repeat(5000) + "second 2\n".repeat(5000) + "suffix 3\n");
    } finally {
      server.close();
    }
  });
});
