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

/** A port the stack needs is taken. */
export class PortInUseError extends StackError {
  readonly code = "PORT_IN_USE";
  constructor(readonly port: number, readonly neededBy: string, readonly owner?: string) {
    super(
      `port ${port} (needed by ${neededBy}) is already in use${owner ? ` by ${owner}` : ""}: stop that program, or change the port in the topology`,
    );
  }
}

/** A component exited, or never became healthy, while the stack started. */
export class ComponentFailedError extends StackError {
  readonly code = "COMPONENT_FAILED";
  constructor(readonly component: string, reason: string, readonly lastLogLines: string[], readonly logFile: string) {
    super(
      `${component} ${reason}; nothing was left running.\nlast lines of ${logFile}:\n${lastLogLines.map((l) => `  | ${l}`).join("\n") || "  (empty)"}`,
    );
  }
}

/** npm start found a stack already running from the same run directory. */
export class StackAlreadyRunningError extends StackError {
  readonly code = "STACK_ALREADY_RUNNING";
  constructor(readonly runDir: string, readonly pids: number[]) {
    super(`a stack is already running from ${runDir} (pids ${pids.join(", ")}): run npm stop first`);
  }
}

/** A render target (local processes, docker containers) cannot run this topology as it stands. */
export class TargetPlanError extends StackError {
  readonly code = "TARGET_PLAN_INVALID";
  constructor(message: string) {
    super(message);
  }
}

/** A command was called with arguments it does not take; the message carries the usage. */
export class UsageError extends StackError {
  readonly code = "USAGE";
  constructor(message: string) {
    super(message);
  }
}
