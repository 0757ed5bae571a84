// Every failure the stack reports on purpose is one of these: a stable code for scripts,
// a message that says what is wrong and what to do.

export abstract class StackError extends Error {
  abstract readonly code: string;
  override get name(): string {
    return this.constructor.name;
  }
}

export interface TopologyProblem {
  /** Where in the topology, with names in place of list positions: "frontends.http_front.defaultBackend". */
  path: string;
  message: string;
}

/** The topology does not pass the schema; every problem is listed. */
export class TopologyInvalidError extends StackError {
  readonly code = "TOPOLOGY_INVALID";
  constructor(readonly problems: TopologyProblem[]) {
    super(`the topology is invalid:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`);
  }
}

/** A topology file could not be read or evaluated. */
export class TopologyLoadError extends StackError {
  readonly code = "TOPOLOGY_LOAD_FAILED";
  constructor(readonly file: string, reason: string) {
    super(`cannot load the topology from ${file}: ${reason}`);
  }
}

/** The real HAProxy refused a rendered configuration. */
export class HaproxyConfigRejectedError extends StackError {
  readonly code = "HAPROXY_CONFIG_REJECTED";
  constructor(readonly haproxyOutput: string, readonly offendingLines: string[]) {
    super(
      `haproxy -c rejected the rendered configuration:\n${haproxyOutput.trim()}` +
        (offendingLines.length ? `\noffending lines:\n${offendingLines.join("\n")}` : "") +
        "\nThis is a bug in the renderer or the schema if the topology validated: please report it with the topology.",
    );
  }
}

/** A program the stack needs is not installed. */
export class BinaryMissingError extends StackError {
  readonly code = "BINARY_MISSING";
  constructor(readonly binary: string, readonly debianPackage: string) {
    super(`${binary} is not installed: install the Debian package "${debianPackage}" (apt-get install ${debianPackage}), or run npm start / npm test, which install it`);
  }
}
