// The sidecar's pure side: parsing HAProxy 2.6's runtime API answers and rendering them the way
// HAProxy's built-in exporter does. Fixtures were captured from the real HAProxy (test/fixtures/capture.sh).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "vitest";
import fc from "fast-check";
import { field, parseShowInfo, parseShowStat, serverStates, splitCsvLine, withoutMaintenanceServers } from "../haproxy/show-stat.ts";
import { checkState, EVERYTHING, renderHaproxyExpositionText, serverState } from "../sidecar/exposition.ts";
import { ShowPeersGarbledError, ShowServersStateGarbledError, ShowTableGarbledError, StatParseError } from "../haproxy/errors.ts";
import { parseTableEntries, parseTableList } from "../haproxy/show-table.ts";
import { parsePeersSections } from "../haproxy/show-peers.ts";
import { withConfiguredWeights } from "../haproxy/server-state.ts";
import { SlowAnswers, slowAnswerCounts, slowAnswersTable } from "../sidecar/slow-answers.ts";
import { Registry } from "prom-client";
import { BACKEND_METRICS, FRONTEND_METRICS, PROCESS_METRICS, SERVER_METRICS } from "../sidecar/promex-table.ts";
import { parseExposition, seriesKey } from "./support/exposition.ts";

const fixture = (name: string) => readFileSync(new URL(`fixtures/haproxy-2.6/${name}`, import.meta.url), "utf8");
const SHOW_STAT = fixture("show-stat.txt");
const SHOW_INFO = fixture("show-info.txt");
const BUILTIN = fixture("builtin-exporter.prom");

describe("parseShowStat on HAProxy 2.6's answer", () => {
  const parsed = parseShowStat(SHOW_STAT);

  it("reads every frontend, backend and server row, with no problem", () => {
    assert.deepEqual(parsed.problems, []);
    assert.deepEqual(parsed.rows.map((r) => `${r.kind} ${r.proxy}/${r.name}`), [
      "frontend http_front/FRONTEND",
      "frontend monitoring/FRONTEND",
      "server flask_servers/web-a",
      "server flask_servers/web-b",
      "backend flask_servers/BACKEND",
    ]);
  });

  it("reads cells by column name", () => {
    const webB = parsed.rows.find((r) => r.name === "web-b")!;
    assert.equal(field(webB, "status"), "DOWN");
    assert.equal(field(webB, "check_status"), "L4CON");
    assert.equal(field(webB, "addr"), "127.0.0.1:5002");
    assert.equal(field(webB, "no_such_column"), undefined);
  });

  it("gives server states as the rest of the stack needs them", () => {
    assert.deepEqual(
      serverStates(parsed).map((s) => [s.server, s.status, s.checkStatus, s.sessionsTotal]),
      [["web-a", "UP", "L7OK", 20], ["web-b", "DOWN", "L4CON", 0]],
    );
  });
});

describe("parseShowStat on bad input: one bad line is reported and skipped", () => {
  const [header, ...lines] = SHOW_STAT.trimEnd().split("\n");
  const good = lines.join("\n");
  /** The first data line with one cell replaced, found by its column's name. */
  const withCell = (column: string, value: string) => {
    const cells = lines[0]!.split(",");
    cells[header!.slice(2).split(",").indexOf(column)] = value;
    return cells.join(",");
  };
  const cases: { name: string; text: string; rows: number; problem?: RegExp }[] = [
    { name: "a line cut short", text: `${header}\n${lines[0]!.slice(0, 40)}\n${good}\n`, rows: 5, problem: /^line 2: \d+ fields where the header has \d+$/ },
    { name: "a line of garbage", text: `${header}\n%%%garbage%%%\n${good}\n`, rows: 5, problem: /^line 2: 1 fields where the header has/ },
    { name: "an unknown row type", text: `${header}\n${withCell("type", "9")}\n${good}\n`, rows: 5, problem: /^line 2: no proxy, name or known type \(type="9"\)$/ },
    { name: "a row with no proxy name", text: `${header}\n${withCell("pxname", "")}\n${good}\n`, rows: 5, problem: /^line 2: no proxy, name or known type/ },
    { name: "no rows at all", text: `${header}\n`, rows: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const parsed = parseShowStat(c.text);
      assert.equal(parsed.rows.length, c.rows);
      if (c.problem) {
        assert.equal(parsed.problems.length, 1);
        assert.match(`line ${parsed.problems[0]!.line}: ${parsed.problems[0]!.reason}`, c.problem);
      } else assert.deepEqual(parsed.problems, []);
    });
  }

  it("keeps working when a newer HAProxy adds a column", () => {
    const withNewColumn = SHOW_STAT.trimEnd().split("\n").map((line, i) => (i === 0 ? `${line}new_metric,` : `${line}42,`)).join("\n");
    const parsed = parseShowStat(withNewColumn);
    assert.deepEqual(parsed.problems, []);
    assert.equal(field(parsed.rows[2]!, "new_metric"), "42");
    assert.equal(field(parsed.rows[2]!, "status"), "UP");
  });

  const fatal: [string, string, RegExp][] = [
    ["an empty answer", "", /without its "# pxname,svname,\.\.\." header/],
    ["an error message instead of CSV", "Unknown command. Please enter one of the following commands only :\n", /without its "# pxname/],
    ["a header that is not show stat's", "# a,b,c\n1,2,3\n", /does not start with pxname,svname/],
    ["a header without a type column", "# pxname,svname,qcur\nx,y,1\n", /has no "type" column/],
  ];
  for (const [name, text, message] of fatal) {
    it(`refuses ${name} with StatParseError`, () => {
      assert.throws(() => parseShowStat(text), (e: unknown) => e instanceof StatParseError && e.code === "STAT_PARSE_FAILED" && message.test(e.message));
    });
  }
});

describe("splitCsvLine", () => {
  const cases: [string, string[]][] = [
    ["a,b,c", ["a", "b", "c"]],
    ["a,,c,", ["a", "", "c", ""]],
    ['a,"b,c",d', ["a", "b,c", "d"]],
    ['"say ""hi""",x', ['say "hi"', "x"]],
  ];
  for (const [line, fields] of cases) it(JSON.stringify(line), () => assert.deepEqual(splitCsvLine(line), fields));
});

describe("parseShowInfo", () => {
  it("reads HAProxy 2.6's answer", () => {
    const { info, problems } = parseShowInfo(SHOW_INFO);
    assert.deepEqual(problems, []);
    assert.equal(info.get("Version"), "2.6.12-1+deb12u4");
    assert.equal(info.get("Unstoppable Jobs"), "1");
    assert.equal(info.get("Maxconn"), "4096");
  });

  it("skips a line without a colon and says which", () => {
    const { info, problems } = parseShowInfo(`Name: HAProxy\nnonsense\nMaxconn: 10\n`);
    assert.deepEqual(problems, [{ line: 2, reason: 'no "Name: value" pair' }]);
    assert.equal(info.get("Maxconn"), "10");
  });

  it("refuses an answer with no field at all", () => {
    assert.throws(() => parseShowInfo("garbage\n"), StatParseError);
  });
});

describe("the exposition matches HAProxy 2.6's built-in exporter", () => {
  const ours = renderHaproxyExpositionText({ info: parseShowInfo(SHOW_INFO).info, stat: parseShowStat(SHOW_STAT) });
  const oursParsed = parseExposition(ours.text);
  const builtin = parseExposition(BUILTIN);

  it("declares the same 187 metrics, with the same type and help, in the same order", () => {
    assert.equal(builtin.metadata.length, 187);
    assert.deepEqual(oursParsed.metadata, builtin.metadata);
  });

  it("has exactly the series of the built-in exporter: names and labels", () => {
    assert.deepEqual([...oursParsed.samples.keys()].sort(), [...builtin.samples.keys()].sort());
  });

  // The fixtures were captured a moment apart, and the built-in exporter's own scrape counts as a
  // connection and a request: those series may differ, every other one must be equal.
  const movedByTheScrape = /^haproxy_process_(current_connections|connections_total|requests_total|current_connection_rate|max_connection_rate|current_session_rate|max_session_rate|current_tasks|bytes_out_total|bytes_out_rate|pool_allocated_bytes|pool_used_bytes)$|proxy="monitoring"/;
  it("has the same value in every series the scrape itself does not move", () => {
    const differing = [...builtin.samples].filter(([key, value]) => !movedByTheScrape.test(key) && !Object.is(oursParsed.samples.get(key), value));
    assert.deepEqual(differing, []);
  });

  it("converts milliseconds to seconds and empty cells to NaN, as the exporter does", () => {
    const key = seriesKey("haproxy_backend_response_time_average_seconds", { proxy: "flask_servers" });
    assert.equal(oursParsed.samples.get(key), 0.001);
    assert.ok(Number.isNaN(oursParsed.samples.get(seriesKey("haproxy_server_limit_sessions", { proxy: "flask_servers", server: "web-a" }))));
  });

  it("reports no bad cell on a clean answer, and counts one where a number is garbled", () => {
    assert.equal(ours.badCells, 0);
    const garbled = SHOW_STAT.replace(/^(http_front,FRONTEND,,,0,1,4096,)20,/m, "$1twenty,");
    const result = renderHaproxyExpositionText({ info: new Map(), stat: parseShowStat(garbled) });
    assert.equal(result.badCells, 1);
    assert.ok(Number.isNaN(parseExposition(result.text).samples.get(seriesKey("haproxy_frontend_sessions_total", { proxy: "http_front" }))));
  });

  it("the table names one show stat column or show info field per metric", () => {
    const columns = new Set(SHOW_STAT.split("\n")[0]!.slice(2).split(","));
    const infoFields = new Set(parseShowInfo(SHOW_INFO).info.keys());
    const special = new Set(["hrsp_", "Build info", "ZlibMemUsage", "MaxZlibMemUsage"]); // the last two: absent without zlib, NaN as in HAProxy
    for (const def of [...FRONTEND_METRICS, ...BACKEND_METRICS, ...SERVER_METRICS]) assert.ok(columns.has(def.source) || special.has(def.source), def.name);
    for (const def of PROCESS_METRICS) assert.ok(infoFields.has(def.source) || special.has(def.source), def.name);
  });
});

describe("server and check states as the exporter labels them", () => {
  const cases: [string, string][] = [
    ["UP", "UP"], ["UP 1/3", "UP"], ["no check", "UP"], ["DOWN", "DOWN"], ["DOWN 1/2", "DOWN"],
    ["MAINT", "MAINT"], ["MAINT (via b/s)", "MAINT"], ["MAINT (resolution)", "MAINT"], ["DRAIN", "DRAIN"], ["DRAIN (agent)", "DRAIN"], ["NOLB", "NOLB"],
  ];
  for (const [status, state] of cases) it(`"${status}" → ${state}`, () => assert.equal(serverState(status), state));
  it('"* L7OK" (a check in progress) → L7OK', () => assert.equal(checkState("* L7OK"), "L7OK"));
});

describe("properties (fast-check, bounded)", () => {
  const lineArb = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.array(fc.oneof(fc.constantFrom("", "0", "1", "2", "UP", "DOWN", "http", '"', '""', "a,b"), fc.string({ maxLength: 6 })), { maxLength: 110 }).map((cells) => cells.join(",")),
  );
  const answerArb = fc.tuple(fc.constantFrom(SHOW_STAT.split("\n")[0]!, "# pxname,svname,type,status,", ""), fc.array(lineArb, { maxLength: 20 })).map(([h, ls]) => [h, ...ls].join("\n"));

  /** True when `parse` returns, or throws the parsers' own typed error; false for anything else. */
  const throwsOnlyStatParseError = (parse: (text: string) => unknown) => (text: string) => {
    try {
      parse(text);
    } catch (error) {
      return error instanceof StatParseError;
    }
    return true;
  };

  it("parseShowStat throws nothing but StatParseError, whatever it reads", () => {
    fc.assert(fc.property(answerArb, throwsOnlyStatParseError(parseShowStat)), { numRuns: 500 });
  });

  it("parseShowInfo throws nothing but StatParseError", () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), throwsOnlyStatParseError(parseShowInfo)), { numRuns: 500 });
  });

  it("whatever parses renders to a valid exposition: every sample line is name{labels} number", () => {
    const sample = /^haproxy_[a-z_]+(\{([a-z]+="([^"\\\n]|\\["\\n])*",?)*\})? (NaN|-?[0-9]+(\.[0-9]+)?)$/;
    fc.assert(
      fc.property(answerArb, fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), { maxKeys: 5 }), (text, info) => {
        let stat;
        try {
          stat = parseShowStat(text);
        } catch {
          return true;
        }
        const { text: exposition } = renderHaproxyExpositionText({ info: new Map(Object.entries(info)), stat });
        return exposition.split("\n").every((line) => line === "" || line.startsWith("# ") || sample.test(line));
      }),
      { numRuns: 300 },
    );
  });

  it("withoutMaintenanceServers drops exactly the MAINT servers the full parser sees, counts them, and the no-maint exposition is the same either way", () => {
    const [header, ...lines] = SHOW_STAT.trimEnd().split("\n");
    const columns = splitCsvLine(header!.slice(2));
    const at = (name: string) => columns.indexOf(name);
    const server = lines.find((l) => splitCsvLine(l)[at("type")] === "2")!;
    const rowArb = fc.record({
      proxy: fc.constantFrom("be_a", "be_b"),
      name: fc.stringMatching(/^[a-z0-9_-]{1,8}$/),
      status: fc.constantFrom("UP", "DOWN", "MAINT", "MAINT (via be_a/x)", "MAINT (resolution)", "DRAIN", "no check", "UP 1/3"),
      checkStatus: fc.constantFrom("L7OK", "L4CON", ""),
      quotedDesc: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 30 }), (rows) => {
        const text = [header, ...rows.map((r) => {
          const cells = splitCsvLine(server);
          Object.assign(cells, { [at("pxname")]: r.proxy, [at("svname")]: r.name, [at("status")]: r.status, [at("check_status")]: r.checkStatus, [at("check_desc")]: r.quotedDesc ? '"a, b"' : "" });
          return cells.join(",");
        })].join("\n");
        const full = parseShowStat(text);
        const scanned = withoutMaintenanceServers(text);
        const kept = parseShowStat(scanned.text);
        const notMaint = full.rows.filter((r) => serverState(field(r, "status")!) !== "MAINT");
        assert.deepEqual(kept.rows.map((r) => `${r.proxy}/${r.name}`), notMaint.map((r) => `${r.proxy}/${r.name}`));
        for (const proxy of ["be_a", "be_b"]) {
          assert.equal(scanned.maintenanceServers.get(proxy) ?? 0, full.rows.filter((r) => r.proxy === proxy && serverState(field(r, "status")!) === "MAINT").length);
        }
        const noMaint = { ...EVERYTHING, noMaint: true };
        const info = new Map([["Version", "2.6.12"]]);
        const fromFull = renderHaproxyExpositionText({ info, stat: full }, noMaint).text;
        const fromScan = renderHaproxyExpositionText({ info, stat: kept, maintenanceServers: scanned.maintenanceServers }, noMaint).text;
        // Checks paused in maintenance: only the check-state totals may differ, where a MAINT server kept a check status.
        const withoutCheckTotals = (t: string) => t.split("\n").filter((l) => !l.startsWith("haproxy_backend_agg_check_status")).join("\n");
        assert.equal(withoutCheckTotals(fromScan), withoutCheckTotals(fromFull));
      }),
      { numRuns: 200 },
    );
  });
});

describe("show table: a canary's slow-answer counts, as HAProxy 2.6 prints them", () => {
  it("the list of tables, and one table's entries with their counters", () => {
    assert.deepEqual(parseTableList(fixture("show-table-list.txt")), [{ name: "lb_slow_web", type: "string", size: 100, used: 1 }]);
    assert.deepEqual(parseTableEntries(fixture("show-table-slow.txt"), "lb_slow_web"), [{ key: "web-c", data: { gpc0: 2 } }]);
  });
  it("a stick on src table: the client's server by id (a counter) and by name", () => {
    assert.deepEqual(parseTableEntries(fixture("show-table-stick-on-src.txt"), "sticky"), [{ key: "127.0.0.7", data: { server_id: 1 }, text: { server_key: "web-a" } }]);
  });
  it("an unknown table's answer, an entry cut short, or nothing at all: SHOW_TABLE_GARBLED, naming the command and the line", () => {
    const cases: [string, string, RegExp][] = [
      [fixture("show-table-unknown.txt"), "lb_slow_none", /^"show table lb_slow_none" answered "No such table"/],
      [`${fixture("show-table-slow.txt").trim()}\n0x7f: key=web-d use=0 exp=`, "lb_slow_web", /answered "0x7f: key=web-d use=0 exp="/],
      ["", "lb_slow_web", /^"show table lb_slow_web" answered ""/],
    ];
    for (const [text, table, message] of cases) assert.throws(() => parseTableEntries(text, table), (e: unknown) => e instanceof ShowTableGarbledError && e.code === "SHOW_TABLE_GARBLED" && message.test(e.message));
  });
  it("every server of a proxy with a table is counted, 0 where HAProxy holds no entry; proxies without one are not", () => {
    const rows = parseShowStat(SHOW_STAT).rows;
    const counts = slowAnswerCounts([{ table: slowAnswersTable("flask_servers"), text: fixture("show-table-slow.txt").replace("key=web-c", "key=web-b") }], rows);
    assert.deepEqual([...counts.entries()].map(([proxy, servers]) => [proxy, Object.fromEntries(servers)]), [["flask_servers", { "web-a": 0, "web-b": 2 }]]);
  });
  it("a socket that stops answering: the last counts are kept and exported, the failure said once until it changes", async () => {
    const rows = parseShowStat(SHOW_STAT).rows;
    let answering = true;
    const api = async (command: string) => {
      if (!answering) throw new Error("connect ECONNREFUSED admin.sock");
      return command === "show table" ? "# table: lb_slow_flask_servers, type: string, size:100, used:1\n" : fixture("show-table-slow.txt").replace("lb_slow_web", "lb_slow_flask_servers").replace("key=web-c", "key=web-a");
    };
    const registry = new Registry();
    const logged: string[] = [];
    const slow = new SlowAnswers(api, registry, (l) => logged.push(l));
    await slow.observe(rows);
    answering = false;
    await slow.observe(rows);
    await slow.observe(rows);
    assert.match(await registry.metrics(), /^haproxy_sidecar_server_slow_responses_total\{proxy="flask_servers",server="web-a"\} 2$/m);
    assert.match(await registry.metrics(), /^haproxy_sidecar_server_slow_responses_total\{proxy="flask_servers",server="web-b"\} 0$/m);
    assert.deepEqual(logged, ["slow-answer counts not read (kept from the last poll; said once until it changes): connect ECONNREFUSED admin.sock"]);
  });
  it("property: any entries HAProxy could print are read back, key and counters", () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/);
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(name, fc.nat(), fc.nat()), { selector: ([k]) => k, maxLength: 20 }), (entries) => {
        const text = [`# table: t, type: string, size:100, used:${entries.length}`, ...entries.map(([key, gpc0, rate], i) => `0x${(0x7f00 + i).toString(16)}: key=${key} use=0 exp=86399985 gpc0=${gpc0} http_req_rate(10000)=${rate}`), ""].join("\n");
        assert.deepEqual(parseTableEntries(text, "t"), entries.map(([key, gpc0, rate]) => ({ key, data: { gpc0, "http_req_rate(10000)": rate } })));
      }),
      { numRuns: 200 },
    );
  });
});

describe("show peers: whether a worker is ready to hand its stick tables to the next, as HAProxy 2.6 prints it", () => {
  it("no peers section; one resyncing as it starts (flags 0x11); the same once its resync timeout passed (0x33)", () => {
    assert.deepEqual(parsePeersSections(fixture("show-peers-none.txt")), []);
    assert.deepEqual(parsePeersSections(fixture("show-peers-resyncing.txt")), [{ name: "mesh", disabled: false, resynced: false }]);
    assert.deepEqual(parsePeersSections(fixture("show-peers-resynced.txt")), [{ name: "mesh", disabled: false, resynced: true }]);
  });
  it("table by flags: resynced only with both the local and the remote resync finished", () => {
    const cases: [string, boolean][] = [["0x0", false], ["0x1", false], ["0x2", false], ["0x3", true], ["0x11", false], ["0x33", true], ["0x1103", true], ["0x10001", false]];
    for (const [flags, resynced] of cases) {
      const text = fixture("show-peers-resynced.txt").replace("flags=0x33", `flags=${flags}`);
      assert.equal(parsePeersSections(text)[0]!.resynced, resynced, flags);
    }
  });
  it("a section header that is not 2.6's: SHOW_PEERS_GARBLED, naming the line", () => {
    const garbled = fixture("show-peers-resynced.txt").replace("flags=0x33", "flags=?");
    assert.throws(() => parsePeersSections(garbled), (e: unknown) => e instanceof ShowPeersGarbledError && e.code === "SHOW_PEERS_GARBLED" && /answered "0x[0-9a-f]+: \[/.test(e.message));
    assert.throws(() => parsePeersSections("Unknown command\n"), ShowPeersGarbledError);
  });
});

describe("show servers state, saved for a reload with the weights the running topology configures", () => {
  const STATE = fixture("show-servers-state.txt");
  const columns = (text: string) => text.split("\n").slice(2).filter(Boolean).map((line) => line.split(" "));
  // srv_uweight and srv_iweight are the 8th and 9th columns of HAProxy 2.6's format.
  const [UWEIGHT, IWEIGHT] = [7, 8];

  it("sets srv_iweight of each server the topology weighs, and nothing else: srv_uweight, the runtime's, stays", () => {
    const saved = withConfiguredWeights(STATE, (backend, server) => (backend === "flask_servers" && server === "web-a" ? 3 : undefined));
    const [before, after] = [columns(STATE), columns(saved)];
    assert.deepEqual(after.map((f) => f[IWEIGHT]), ["3", "1"]);
    assert.deepEqual(after.map((f) => f[UWEIGHT]), before.map((f) => f[UWEIGHT]));
    assert.deepEqual(after.map((f) => f.filter((_, i) => i !== IWEIGHT)), before.map((f) => f.filter((_, i) => i !== IWEIGHT)));
    assert.deepEqual(saved.split("\n").slice(0, 2), STATE.split("\n").slice(0, 2), "the version and header lines as HAProxy wrote them");
    assert.equal(saved.endsWith("\n"), STATE.endsWith("\n"));
  });

  it("what is not 2.6's format: SHOW_SERVERS_STATE_GARBLED, saying what came instead", () => {
    const cases: [string, RegExp][] = [
      ["Unknown command\n", /"Unknown command" where the version line belongs/],
      [STATE.replace(/^1\n/, "2\n"), /"2" where the version line belongs/],
      [STATE.replace("# be_id", "be_id"), /where the column header belongs/],
      [STATE.replace(" srv_iweight", " srv_weight"), /without the column srv_iweight/],
      [STATE.replace(" web-a 127.0.0.1 ", " web-a "), /a line of 24 fields under 25 columns: "4 flask_servers 1 web-a 2 /],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => withConfiguredWeights(text, () => 1), (e: unknown) => e instanceof ShowServersStateGarbledError && e.code === "SHOW_SERVERS_STATE_GARBLED" && message.test(e.message), message.source);
    }
  });

  it("property: only srv_iweight moves, to the configured weight where there is one; saving twice is saving once", () => {
    const weights = fc.dictionary(fc.constantFrom("web-a", "web-b"), fc.integer({ min: 0, max: 256 }));
    fc.assert(
      fc.property(weights, (chosen) => {
        const configured = (_: string, server: string) => chosen[server];
        const saved = withConfiguredWeights(STATE, configured);
        for (const [i, fields] of columns(saved).entries()) {
          const server = fields[3]!;
          assert.equal(fields[IWEIGHT], chosen[server] === undefined ? columns(STATE)[i]![IWEIGHT] : String(chosen[server]));
        }
        assert.equal(withConfiguredWeights(saved, configured), saved);
      }),
      { numRuns: 200 },
    );
  });
});
