// A long command interrupted (Ctrl-C, a timeout's SIGTERM) stops what it started before it exits:
// processes register how to stop them as they start, and a command that wants this (bench, verify,
// scale, containers) calls handleInterrupts() once. Commands that supervise (npm start) keep their
// own handlers and never call it.

type Cleanup = () => unknown;
const cleanups = new Set<Cleanup>();
let handling = false;
let stopping = false;

/** True once an interrupt is being handled: the command's own ending (an error from a child it killed) must wait for it. */
export function interrupting(): boolean {
  return stopping;
}

/** Registers `cleanup` to run if the command is interrupted; returns how to take it back (done normally). */
export function stopOnInterrupt(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

/** On SIGINT, SIGTERM or SIGHUP: runs every registered cleanup, newest first, then exits 128 + the signal's number. */
export function handleInterrupts(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): void {
  if (handling) return;
  handling = true;
  for (const signal of Object.keys(EXIT_CODES) as (keyof typeof EXIT_CODES)[]) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: stopping what this command started (${cleanups.size})`);
      void (async () => {
        for (const cleanup of [...cleanups].reverse()) {
          try {
            await cleanup();
          } catch {
            /* the next one still runs */
          }
        }
        process.exit(EXIT_CODES[signal]);
      })();
    });
  }
}

/** A child process (not in a group of its own) killed if the command is interrupted, forgotten once it closes. */
export function killOnInterrupt<T extends { kill(signal?: NodeJS.Signals): boolean; once(event: "close", listener: () => void): unknown }>(child: T): T {
  const forget = stopOnInterrupt(() => void child.kill("SIGKILL"));
  child.once("close", () => forget());
  return child;
}
