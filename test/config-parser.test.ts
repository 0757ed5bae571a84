// haproxy.cfg read as HAProxy 2.6 reads it (the importer's first step): words with HAProxy's quoting
// and escapes, sections, comments kept with the line below them, every line with its file and number.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { describe, it } from "vitest";
import { parseConfig, splitWords, type Word } from "../haproxy/config-parser.ts";
import { ConfigSyntaxError } from "../haproxy/errors.ts";
import { quote, quoteCheckText } from "../infra/render/acls.ts";
import { killProcessGroup, startProcess } from "../infra/runtime/processes.ts";
import { findFreePortRange } from "../infra/runtime/ports.ts";
import { pollUntil } from "../lib/poll.ts";

const AT = { file: "haproxy.cfg", line: 7 };
const values = (line: string) => splitWords(line, AT).words.map((w: Word) => w.value);

describe("words as HAProxy splits them", () => {
  const cases: [string, string, string[]][] = [
    ["spaces and tabs separate", "server  web-a\t10.0.0.1:80   check", ["server", "web-a", "10.0.0.1:80", "check"]],
    ["a backslash escapes a space, a #, a quote, itself", "log-format %t\\ %s\\#x\\\"\\'\\\\", ["log-format", "%t %s#x\"'\\"]],
    ["double quotes keep spaces and #, and still read escapes", 'set-header X "a b # c \\"d\\" \\$e"', ["set-header", "X", 'a b # c "d" $e']],
    ["single quotes read nothing: a regex stays as written", "acl x path_reg '^/a\\.b \\d+$'", ["acl", "x", "path_reg", "^/a\\.b \\d+$"]],
    ["quoted parts join the word they touch", `log-format "%{+Q}o %t"' %s'\\ %{-Q}r`, ["log-format", "%{+Q}o %t %s %{-Q}r"]],
    ["an unknown escape keeps its backslash (a regex's group)", "reqrep ^(.*)\\ /x \\1\\ /y", ["reqrep", "^(.*) /x", "\\1 /y"]],
    ["\\r, \\n, \\t and \\xNN", 'tcp-check send "PING\\r\\n\\t\\x41"', ["tcp-check", "send", "PING\r\n\tA"]],
    ["an empty quoted word is a word", 'http-request set-header X ""', ["http-request", "set-header", "X", ""]],
  ];
  for (const [name, line, expected] of cases) it(name, () => assert.deepEqual(values(line), expected));

  it("a # outside quotes ends the line: the rest is its comment", () => {
    assert.deepEqual(splitWords("server a 10.0.0.1:80 check # the old rack", AT), {
      words: ["server", "a", "10.0.0.1:80", "check"].map((v) => ({ value: v, raw: v, env: [] })),
      comment: "the old rack",
    });
  });

  it("environment variables inside double quotes are references, kept as written; outside them, plain text", () => {
    const words = splitWords('bind "${FRONT_ADDR}:${FRONT_PORT}" user "$LB_USER" x ${NOT_EXPANDED} "${WITH-default}"', AT).words;
    assert.deepEqual(words.map((w) => [w.value, w.env]), [
      ["bind", []],
      ["${FRONT_ADDR}:${FRONT_PORT}", ["FRONT_ADDR", "FRONT_PORT"]],
      ["user", []],
      ["$LB_USER", ["LB_USER"]],
      ["x", []],
      ["${NOT_EXPANDED}", []],
      ["${WITH-default}", ["WITH"]],
    ]);
  });

  const broken: [string, string, string][] = [
    ["an unclosed double quote", 'http-request set-header X "abc', 'haproxy.cfg:7: the double quote opened in "\\"abc" is never closed'],
    ["an unclosed single quote", "acl a path_reg '^/x", `haproxy.cfg:7: the single quote opened in "'^/x" is never closed`],
    ["a backslash at the end of the line", "log-format abc\\", "haproxy.cfg:7: a backslash ends the line: HAProxy does not join lines"],
    ["\\x without two hex digits", 'tcp-check send "\\xZ1"', 'haproxy.cfg:7: "\\x" needs two hexadecimal digits, found "Z1"'],
  ];
  for (const [name, line, message] of broken) {
    it(`refuses ${name}, naming the file and line`, () =>
      assert.throws(() => splitWords(line, AT), (e: unknown) => e instanceof ConfigSyntaxError && e.code === "CONFIG_SYNTAX" && e.message === message));
  }

  it("reads back every value the renderer quotes (printable ASCII, any of \\ \" $ ' #)", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 40 }), (value) => {
        assert.deepEqual(values(`http-request set-header X-Probe ${quote(value)}`), ["http-request", "set-header", "X-Probe", value]);
      }),
    );
  });

  it("reads back every check text the renderer quotes, line breaks and tabs included", () => {
    const unit = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), fc.constantFrom("\r", "\n", "\t"));
    fc.assert(fc.property(fc.string({ unit, minLength: 1, maxLength: 40 }), (text) => assert.deepEqual(values(`tcp-check send ${quoteCheckText(text)}`), ["tcp-check", "send", text])));
  });
});

describe("sections, directives and comments", () => {
  const text = [
    "# the load balancer of the shop",
    "global",
    "    maxconn 4096",
    "",
    "defaults base",
    "    mode http",
    "defaults tcp_base from base",
    "    mode tcp",
    "",
    "# public traffic",
    "# (moved from the old box)",
    "frontend www",
    "    bind :80",
    "    # the pool",
    "    default_backend pool # all of it",
    "backend pool",
    "    server a 10.0.0.1:80 check",
  ].join("\n");

  it("each section with its name, arguments and directives, each line with its file and number", () => {
    const { sections } = parseConfig([{ file: "shop.cfg", text }]);
    assert.deepEqual(sections.map((s) => [s.kind, s.name ?? null, s.args.map((a) => a.value), s.at.line, s.directives.map((d) => `${d.at.line}:${d.words.map((w) => w.value).join(" ")}`)]), [
      ["global", null, [], 2, ["3:maxconn 4096"]],
      ["defaults", "base", [], 5, ["6:mode http"]],
      ["defaults", "tcp_base", ["from", "base"], 7, ["8:mode tcp"]],
      ["frontend", "www", [], 12, ["13:bind :80", "15:default_backend pool"]],
      ["backend", "pool", [], 16, ["17:server a 10.0.0.1:80 check"]],
    ]);
  });

  it("comments stay with the line below them (a blank line ends a run), and a comment at a line's end with that line", () => {
    const { sections } = parseConfig([{ file: "shop.cfg", text }]);
    assert.deepEqual(sections[0]!.comments, ["the load balancer of the shop"]);
    assert.deepEqual(sections[3]!.comments, ["public traffic", "(moved from the old box)"]);
    assert.deepEqual(sections[3]!.directives[1]!.comments, ["the pool", "all of it"]);
    assert.deepEqual(sections[1]!.comments, []);
  });

  it("files in the order HAProxy loads them (-f a -f b), each line naming its own file", () => {
    const { sections } = parseConfig([{ file: "a.cfg", text: "global\n    maxconn 10" }, { file: "b.cfg", text: "backend x\n    server s 10.0.0.1:80" }]);
    assert.deepEqual(sections.map((s) => `${s.at.file}:${s.at.line} ${s.kind}`), ["a.cfg:1 global", "b.cfg:1 backend"]);
    assert.equal(sections[1]!.directives[0]!.at.file, "b.cfg");
  });

  it("refuses a directive before any section, with its file and line (each file starts outside a section)", () => {
    assert.throws(() => parseConfig([{ file: "a.cfg", text: "global\n    maxconn 10" }, { file: "b.cfg", text: "\n    server s 10.0.0.1:80" }]), (e: unknown) => e instanceof ConfigSyntaxError && e.message.startsWith('b.cfg:2: "server" stands before any section'));
  });

  it("reads every golden config the renderer writes: each section header and line, word for word as HAProxy would", () => {
    const dir = join(import.meta.dirname, "golden");
    for (const name of readdirSync(dir).filter((f) => f.endsWith(".cfg"))) {
      const text = readFileSync(join(dir, name), "utf8");
      const { sections } = parseConfig([{ file: name, text }]);
      const headers = text.split("\n").filter((l) => /^[a-z]/.test(l)).length;
      const lines = text.split("\n").filter((l) => /^\s+[^\s#]/.test(l)).length;
      assert.equal(sections.length, headers, `${name}: sections`);
      assert.equal(sections.reduce((n, s) => n + s.directives.length, 0), lines, `${name}: directives`);
      for (const d of sections.flatMap((s) => s.directives)) {
        const line = text.split("\n")[d.at.line - 1]!.trim().replace(/\s+#.*$/, "");
        assert.equal(d.words.map((w) => w.raw).join(" "), line.replace(/\s+/g, " "), `${name}:${d.at.line}`);
      }
    }
  });
});

/** Raw words as configs write them: plain text, escapes, double- and single-quoted parts, joined. */
const printable = (exclude: string) => fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)).filter((c) => !exclude.includes(c));
const rawWordArb = fc
  .array(
    fc.oneof(
      fc.string({ unit: printable(" #\"'\\$"), minLength: 1, maxLength: 6 }),
      fc.constantFrom("\\ ", "\\#", "\\\\", '\\"', "\\'", "\\x41", "\\t"),
      fc.string({ unit: fc.oneof(printable('"\\$'), fc.constantFrom('\\"', "\\$", "\\\\", "\\n")), maxLength: 8 }).map((inner) => `"${inner}"`),
      fc.string({ unit: printable("'"), maxLength: 8 }).map((inner) => `'${inner}'`),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((parts) => parts.join(""));

describe("differential: the splitter and the real HAProxy read the same words", () => {
  it("each random word, answered by HAProxy as a body (http-request return ... string WORD), is the value the splitter reads", async () => {
    const words = fc.sample(rawWordArb, { numRuns: 200, seed: 24 }).filter((raw) => {
      const read = splitWords(`x ${raw}`, AT).words;
      // One word with a value: HAProxy reads an empty argument as none at all.
      return read.length === 2 && read[1]!.value !== "";
    });
    assert.ok(words.length > 150, `only ${words.length} usable words were drawn`);
    const dir = mkdtempSync(join(tmpdir(), "config-parser-diff-"));
    const port = await findFreePortRange(1);
    const config = [
      "defaults",
      "    mode http",
      "    timeout connect 1s",
      "    timeout client 5s",
      "    timeout server 5s",
      "frontend words",
      `    bind 127.0.0.1:${port}`,
      ...words.map((raw, i) => `    http-request return status 200 content-type text/plain string ${raw} if { path /w${i} }`),
      "    http-request return status 404",
    ].join("\n");
    writeFileSync(join(dir, "haproxy.cfg"), `${config}\n`);
    const haproxy = await startProcess({ name: "haproxy", command: "haproxy", args: ["-f", join(dir, "haproxy.cfg")], logFile: join(dir, "haproxy.log") });
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        http.get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c)).on("end", () => resolve(Buffer.concat(chunks).toString("latin1")));
        }).on("error", reject);
      });
    try {
      assert.ok(await pollUntil(() => get("/none").then(() => true, () => undefined), { timeoutMs: 5000, intervalMs: 20 }), readFileSync(join(dir, "haproxy.log"), "utf8"));
      const differ: string[] = [];
      for (const [i, raw] of words.entries()) {
        const ours = splitWords(`x ${raw}`, AT).words[1]!.value;
        const theirs = await get(`/w${i}`);
        if (ours !== theirs) differ.push(`${raw}: we read ${JSON.stringify(ours)}, HAProxy ${JSON.stringify(theirs)}`);
      }
      assert.deepEqual(differ, []);
    } finally {
      await killProcessGroup(haproxy.pid);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
