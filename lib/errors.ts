// The one base of every error the project reports on purpose: a stable code for scripts, and a
// message that says what is wrong and what to do. Anything else reaching a CLI's edge is a bug.

export abstract class CodedError extends Error {
  abstract readonly code: string;
  override get name(): string {
    return this.constructor.name;
  }
}

/** A command was called with arguments it does not take; the message carries the usage (--help prints it). Exit code 2. */
export class UsageError extends CodedError {
  readonly code = "USAGE";
  constructor(message: string) {
    super(message);
  }
}

/** A port a process needs is taken. */
export class PortInUseError extends CodedError {
  readonly code = "PORT_IN_USE";
  constructor(readonly port: number, readonly neededBy: string, readonly owner?: string, fix = "stop that program, or change the port in the topology") {
    super(`port ${port} (needed by ${neededBy}) is already in use${owner ? ` by ${owner}` : ""}: ${fix}`);
  }
}
