// How every CLI of the project reads its arguments and ends: its exit code, or its error on stderr
// (a CodedError as "error CODE: message"; anything else with its stack, as the bug it is).
import { parseArgs, type ParseArgsConfig } from "node:util";
import { CodedError, UsageError } from "./errors.ts";
import { interrupting } from "./interrupt.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** --help was asked for: the usage goes to stdout and the exit code is 0. */
class HelpRequested extends Error {
  constructor(readonly usage: string) {
    super(usage);
  }
}

/**
 * node:util's parseArgs, strict, with every mistake (unknown flag, missing value, stray argument)
 * turned into a UsageError that carries the usage; `--help` prints the usage.
 */
export function parseCliArgs<O extends Options>(argv: string[], options: O, usage: string, positionals = false) {
  if (argv.includes("--help") || argv.includes("-h")) throw new HelpRequested(usage);
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: positionals });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${usage}`);
  }
}

/** Exit code for a UsageError, as most Unix tools do. */
export const USAGE_EXIT_CODE = 2;

/** How a CLI reports an error that ends it: the text for stderr and the exit code. */
export function describeFailure(error: unknown, errorExitCode = 1): { text: string; exitCode: number } {
  if (error instanceof CodedError) return { text: `error ${error.code}: ${error.message}`, exitCode: error instanceof UsageError ? USAGE_EXIT_CODE : errorExitCode };
  return { text: `unexpected error: ${error instanceof Error ? error.stack : String(error)}`, exitCode: errorExitCode };
}

export function runMain(main: (argv: string[]) => Promise<number | void>, errorExitCode = 1): void {
  main(process.argv.slice(2)).then(
    (code) => {
      // An interrupt being handled ends the command itself, with its own exit code, once its cleanups ran.
      if (!interrupting()) process.exit(code ?? 0);
    },
    (error: unknown) => {
      if (interrupting()) return;
      if (error instanceof HelpRequested) {
        process.stdout.write(`${error.usage}\n`);
        process.exit(0);
      }
      const { text, exitCode } = describeFailure(error, errorExitCode);
      process.stderr.write(`${text}\n`);
      process.exit(exitCode);
    },
  );
}
