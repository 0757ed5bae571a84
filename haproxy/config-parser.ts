// haproxy.cfg as HAProxy 2.6 reads it, before any keyword is understood: files in the order HAProxy
// loads them (-f a -f b), sections, and each line's words with HAProxy's quoting (backslash escapes,
// "weak" double quotes that expand environment variables, 'strong' single quotes, # comments),
// every line keeping its file and number. Pure: the importer maps these words to the model.
import { ConfigSyntaxError } from "./errors.ts";

/** Where a line is: what an import message names ("haproxy.cfg:12"). */
export interface Location {
  file: string;
  line: number;
}

/** One argument as HAProxy reads it. */
export interface Word {
  /** The value after quotes and escapes are removed (environment variables left as written: "${NAME}"). */
  value: string;
  /** As written in the file. */
  raw: string;
  /** Environment variables the word names inside double quotes ("$NAME", "${NAME}"): references, never values. */
  env: string[];
}

/** A line of a section: its keyword's words and the comments that stood on the lines just above it. */
export interface Directive {
  words: Word[];
  at: Location;
  /** The text of "#" lines right above it (blank lines break the run), and a comment at its end. */
  comments: string[];
}

/** The keywords that open a section in HAProxy 2.6. */
// The last three are newer than 2.6: read as sections only so that an importer can refuse them by name.
export const SECTION_KEYWORDS = ["global", "defaults", "frontend", "backend", "listen", "resolvers", "peers", "userlist", "cache", "http-errors", "ring", "mailers", "program", "crt-store", "traces", "acme"] as const;
export type SectionKind = (typeof SECTION_KEYWORDS)[number];

export interface Section {
  kind: SectionKind;
  /** Its name ("http_front"); absent for global and an unnamed defaults. */
  name?: string;
  /** The words after the name (a defaults section's "from NAME", an old-style frontend's address). */
  args: Word[];
  at: Location;
  comments: string[];
  directives: Directive[];
}

export interface ParsedConfig {
  sections: Section[];
}

const isSection = (keyword: string): keyword is SectionKind => (SECTION_KEYWORDS as readonly string[]).includes(keyword);

/** The escapes HAProxy reads after a backslash, outside single quotes. */
const ESCAPES: Record<string, string> = { " ": " ", "#": "#", "\\": "\\", "'": "'", '"': '"', $: "$", r: "\r", n: "\n", t: "\t" };

/**
 * A line's words and its trailing comment, as HAProxy 2.6 splits them. Throws ConfigSyntaxError
 * naming the file and line for an unclosed quote or a broken escape.
 */
export function splitWords(text: string, at: Location): { words: Word[]; comment?: string } {
  const words: Word[] = [];
  let i = 0;
  const fail = (why: string) => {
    throw new ConfigSyntaxError(at.file, at.line, why);
  };
  while (i < text.length) {
    while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
    if (i >= text.length) break;
    if (text[i] === "#") return { words, comment: text.slice(i + 1).trim() };
    const start = i;
    let value = "";
    const env: string[] = [];
    let quote: '"' | "'" | undefined;
    while (i < text.length) {
      const c = text[i]!;
      if (quote === "'") {
        if (c === "'") quote = undefined;
        else value += c;
        i++;
        continue;
      }
      if (quote === undefined && (c === " " || c === "\t")) break;
      if (quote === undefined && c === "#") break;
      if (c === "\\") {
        const next = text[i + 1];
        if (next === undefined) fail("a backslash ends the line: HAProxy does not join lines");
        if (next === "x") {
          const hex = text.slice(i + 2, i + 4);
          if (!/^[0-9a-fA-F]{2}$/.test(hex)) fail(`"\\x" needs two hexadecimal digits, found ${JSON.stringify(hex)}`);
          value += String.fromCharCode(parseInt(hex, 16));
          i += 4;
          continue;
        }
        // An unknown escape keeps its backslash, as HAProxy does (regular expressions rely on it).
        value += next! in ESCAPES ? ESCAPES[next!] : `\\${next}`;
        i += 2;
        continue;
      }
      if (quote === undefined && (c === '"' || c === "'")) {
        quote = c;
        i++;
        continue;
      }
      if (quote === '"' && c === '"') {
        quote = undefined;
        i++;
        continue;
      }
      if (quote === '"' && c === "$") {
        const braced = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?:\[\*\]|-[^}]*)?\}/.exec(text.slice(i));
        const bare = braced ? undefined : /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(i));
        const match = braced ?? bare;
        if (match) {
          env.push(match[1]!);
          value += match[0];
          i += match[0].length;
          continue;
        }
      }
      value += c;
      i++;
    }
    if (quote !== undefined) fail(`the ${quote === '"' ? "double" : "single"} quote opened in ${JSON.stringify(text.slice(start, start + 40))} is never closed`);
    words.push({ value, raw: text.slice(start, i), env });
  }
  return { words };
}

/**
 * Files in the order HAProxy loads them: sections and their directives. A directive before any
 * section is refused (HAProxy would too), with its file and line.
 */
export function parseConfig(files: readonly { file: string; text: string }[]): ParsedConfig {
  const sections: Section[] = [];
  for (const { file, text } of files) {
    let pending: string[] = [];
    let current: Section | undefined;
    text.split(/\r?\n/).forEach((line, index) => {
      const at = { file, line: index + 1 };
      const { words, comment } = splitWords(line, at);
      if (words.length === 0) {
        // A comment line joins the run above the next directive; a blank line ends the run.
        pending = comment !== undefined ? [...pending, comment] : [];
        return;
      }
      const comments = [...pending, ...(comment !== undefined ? [comment] : [])];
      pending = [];
      const keyword = words[0]!.value;
      if (isSection(keyword)) {
        const named = keyword !== "global" && words[1] !== undefined && !(keyword === "defaults" && words[1].value === "from");
        current = { kind: keyword, ...(named && { name: words[1]!.value }), args: words.slice(named ? 2 : 1), at, comments, directives: [] };
        sections.push(current);
        return;
      }
      if (!current) throw new ConfigSyntaxError(file, at.line, `"${keyword}" stands before any section: a directive belongs in global, defaults, frontend, backend, listen...`);
      current.directives.push({ words, at, comments });
    });
  }
  return { sections };
}

/** "file:line", as every import message names a line. */
export const where = (at: Location) => `${at.file}:${at.line}`;
