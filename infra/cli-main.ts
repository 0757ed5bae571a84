// How every CLI of the project ends: its exit code, or its error on stderr (a StackError as
// "error CODE: message", anything else with its stack, as a bug).
import { StackError } from "./errors.ts";

export function runMain(main: (argv: string[]) => Promise<number | void>, errorExitCode = 1): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code ?? 0),
    (error: unknown) => {
      if (error instanceof StackError) process.stderr.write(`error ${error.code}: ${error.message}\n`);
      else process.stderr.write(`unexpected error: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(errorExitCode);
    },
  );
}
