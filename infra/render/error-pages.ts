// Error pages are raw HTTP responses HAProxy sends as they are. A malformed one is refused here,
// before haproxy -c, with the field and the file that name it.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ErrorPageInvalidError, ResponseBodyFileError } from "../errors.ts";
import type { Topology } from "../model/schema.ts";

/**
 * Pure: why `bytes` is not a usable error page for `status`, or undefined. HAProxy wants a status
 * line, headers and a body that fits its buffer; Content-Length is required here, because without
 * it HAProxy must close the connection after the page (measured: it adds "connection: close").
 */
export function errorPageProblem(bytes: Buffer, status: number, bufferSize: number): string | undefined {
  const text = bytes.toString("latin1");
  const end = /\r?\n\r?\n/.exec(text);
  if (!end) return "has no empty line after its headers";
  const [statusLine, ...headers] = text.slice(0, end.index).split(/\r?\n/);
  const line = /^HTTP\/1\.[01] ([0-9]{3}) \S/.exec(statusLine ?? "");
  if (!line) return `does not start with a status line (found ${JSON.stringify((statusLine ?? "").slice(0, 40))})`;
  if (Number(line[1]) !== status) return `answers ${line[1]}, but it is the page for ${status}`;
  const malformed = headers.find((h) => !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t]*[^\r\n]*$/.test(h));
  if (malformed !== undefined) return `has a malformed header line ${JSON.stringify(malformed.slice(0, 40))}`;
  const lengths = headers.filter((h) => /^content-length:/i.test(h)).map((h) => h.slice(h.indexOf(":") + 1).trim());
  const body = bytes.length - (end.index + end[0].length);
  if (lengths.length !== 1) return lengths.length ? "has more than one Content-Length" : `has no Content-Length (its body is ${body} bytes)`;
  if (lengths[0] !== String(body)) return `says Content-Length: ${lengths[0]}, but its body is ${body} bytes`;
  // HAProxy keeps tune.maxrewrite (1024 by default) of each buffer free for header rewrites.
  if (bytes.length > bufferSize - 1024) return `is ${bytes.length} bytes, more than HAProxy's buffer holds (${bufferSize - 1024})`;
  return undefined;
}

/** The response bodies the topology takes from files (a route's or a backend's answer), each with its field. */
export function responseBodyFiles(topology: Topology): { field: string; file: string }[] {
  return [
    ...topology.frontends.flatMap((f) => f.routes.flatMap((r, i) => (r.respond?.bodyFile !== undefined ? [{ field: `frontends.${f.name}.routes.${r.name ?? i}.respond.bodyFile`, file: r.respond.bodyFile }] : []))),
    ...topology.backends.flatMap((b) => (b.answer?.respond?.bodyFile !== undefined ? [{ field: `backends.${b.name}.answer.respond.bodyFile`, file: b.answer.respond.bodyFile }] : [])),
  ];
}

/** Every file of the error-page directory the config names: error pages and response bodies (each target ships these). */
export const errorDirectoryFiles = (topology: Topology): string[] => [...new Set([...topology.frontends.flatMap((f) => f.errorPages.map((p) => p.file)), ...responseBodyFiles(topology).map((b) => b.file)])];

/** Reads every error page and response body the topology names from `dir` and refuses the first bad one. */
export async function checkErrorPages(topology: Topology, dir: string): Promise<void> {
  for (const { field, file } of responseBodyFiles(topology)) {
    const path = join(dir, file);
    const bytes = await readFile(path).catch(() => undefined);
    if (bytes === undefined) throw new ResponseBodyFileError(field, path, "cannot be read");
    // The answer is built in one buffer, its headers beside the body.
    if (bytes.length > topology.global.bufferSize - 1024) throw new ResponseBodyFileError(field, path, `is ${bytes.length} bytes, more than HAProxy's buffer holds beside the headers (${topology.global.bufferSize - 1024})`);
  }
  for (const frontend of topology.frontends) {
    for (const [j, page] of frontend.errorPages.entries()) {
      const field = `frontends.${frontend.name}.errorPages.${j}.file`;
      const path = join(dir, page.file);
      let bytes: Buffer;
      try {
        bytes = await readFile(path);
      } catch {
        throw new ErrorPageInvalidError(field, path, "cannot be read");
      }
      const problem = errorPageProblem(bytes, page.status, topology.global.bufferSize);
      if (problem) throw new ErrorPageInvalidError(field, path, problem);
    }
  }
}
