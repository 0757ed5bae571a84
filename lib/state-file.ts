// The run directory's state files (stack.json, applied.json, the apply lock and history, the expected
// distribution): JSON documents with a schema version, validated on read. A file that is empty,
// truncated, corrupt or from another version is one clear error naming it and what to do, never a
// stack trace and never read as "there is nothing".
import { readFile } from "node:fs/promises";
import { CodedError } from "./errors.ts";

/** How one state file is read: its version, what it is for people, how to check it, what to do when it cannot be read. */
export interface StateFileFormat<T> {
  /** What the file is, for messages: "the stack's process record". */
  describes: string;
  version: number;
  /** The document without its schemaVersion: T, or throws with what is wrong. */
  validate(document: Record<string, unknown>): T;
  /** What a person does when the file cannot be read. */
  fix: string;
}

/** The field every state document carries. */
export const SCHEMA_VERSION_FIELD = "schemaVersion";

/** A state file that cannot be read: corrupt, or of another version. */
export abstract class StateFileError extends CodedError {
  abstract readonly file: string;
}

/** A state file that cannot be read as its format says (empty, truncated, not JSON, wrong shape); the message names the file and what to do (usually: move it aside and run the command again). */
export class StateFileCorruptError extends StateFileError {
  readonly code = "STATE_FILE_CORRUPT";
  constructor(readonly file: string, readonly problem: string, fix: string) {
    super(`${file} ${problem}: ${fix}`);
  }
}

/** A state file written by another version of the stack. */
export class StateFileVersionError extends StateFileError {
  readonly code = "STATE_FILE_VERSION";
  constructor(readonly file: string, readonly found: unknown, readonly expected: number, fix: string) {
    super(`${file} was written by ${typeof found === "number" && found > expected ? "a newer" : "an older"} version of the stack (schema ${found ?? "without a version"}, this one reads ${expected}): ${fix}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** The document in `text`, checked; `file` names it in errors. */
export function parseStateFile<T>(file: string, text: string, format: StateFileFormat<T>): T {
  const corrupt = (problem: string) => new StateFileCorruptError(file, problem, format.fix);
  if (text.trim() === "") throw corrupt(`(${format.describes}) is empty`);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw corrupt(`(${format.describes}) is not whole JSON, perhaps cut short (${(error as Error).message})`);
  }
  if (!isObject(document)) throw corrupt(`(${format.describes}) holds no JSON object`);
  const { [SCHEMA_VERSION_FIELD]: version, ...rest } = document;
  if (version !== format.version) throw new StateFileVersionError(file, version, format.version, format.fix);
  try {
    return format.validate(rest);
  } catch (error) {
    throw corrupt(`(${format.describes}) does not hold what it should: ${(error as Error).message}`);
  }
}

/** The file's text for `value`, its schema version first. */
export function stateFileText<T extends object>(format: StateFileFormat<T>, value: T, options: { indent?: number } = {}): string {
  return `${JSON.stringify({ [SCHEMA_VERSION_FIELD]: format.version, ...value }, null, options.indent ?? 2)}\n`;
}

/** The checked document, or undefined when there is no file. */
export async function readStateFile<T>(file: string, format: StateFileFormat<T>): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return parseStateFile(file, text, format);
}
