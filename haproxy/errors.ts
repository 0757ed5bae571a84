// Failures talking to HAProxy (its runtime API) or reading what it reads (its config files), each with a stable code and what to do about it.
import { CodedError } from "../lib/errors.ts";

/** The stats socket could not be reached, or did not answer completely. */
export abstract class StatsSocketError extends CodedError {}

/** Nothing listens at the stats socket's path (HAProxy not started, or another path configured). */
export class StatsSocketMissingError extends StatsSocketError {
  readonly code = "STATS_SOCKET_MISSING";
  constructor(readonly endpoint: string) {
    super(`no stats socket at ${endpoint}: is HAProxy running with "stats socket ${endpoint}" in its global section?`);
  }
}

/** The socket exists but nobody accepts on it: HAProxy stopped or is restarting. */
export class StatsSocketRefusedError extends StatsSocketError {
  readonly code = "STATS_SOCKET_REFUSED";
  constructor(readonly endpoint: string) {
    super(`the stats socket ${endpoint} refused the connection: HAProxy is down or restarting`);
  }
}

/** The socket's file mode or group keeps this user out. */
export class StatsSocketPermissionError extends StatsSocketError {
  readonly code = "STATS_SOCKET_PERMISSION";
  constructor(readonly endpoint: string) {
    super(`permission denied on the stats socket ${endpoint}: run as a user in the socket's group, or widen its "mode"`);
  }
}

/** HAProxy accepted but did not answer in time: overloaded or hung. */
export class StatsSocketTimeoutError extends StatsSocketError {
  readonly code = "STATS_SOCKET_TIMEOUT";
  constructor(readonly endpoint: string, readonly timeoutMs: number) {
    super(`the stats socket ${endpoint} did not answer within ${timeoutMs} ms: HAProxy may be overloaded or hung`);
  }
}

/** The answer stopped before its end: HAProxy went away mid-answer (a restart). */
export class StatsSocketTruncatedError extends StatsSocketError {
  readonly code = "STATS_SOCKET_TRUNCATED";
  constructor(readonly endpoint: string, readonly receivedBytes: number) {
    super(`the stats socket ${endpoint} closed after ${receivedBytes} bytes, before the answer's end: HAProxy may have restarted; retrying`);
  }
}

/** Any other socket failure, with the system's reason. */
export class StatsSocketFailedError extends StatsSocketError {
  readonly code = "STATS_SOCKET_FAILED";
  constructor(readonly endpoint: string, reason: string) {
    super(`the stats socket ${endpoint} failed: ${reason}`);
  }
}

/** HAProxy's stats answer is broken beyond one line (no header, for instance): not HAProxy 2.6's format, or not HAProxy on that socket. The sidecar keeps its last snapshot and retries. */
export class StatParseError extends CodedError {
  readonly code = "STAT_PARSE_FAILED";
  constructor(message: string) {
    super(message);
  }
}

/** "show map" answered something that is not its list of entries (an unknown map: "Unknown map identifier"). */
export class ShowMapGarbledError extends CodedError {
  readonly code = "SHOW_MAP_GARBLED";
  constructor(readonly map: string, readonly line: string) {
    super(`"show map ${map}" answered ${JSON.stringify(line.slice(0, 80))}, not "<reference> <key> <value>" lines: is ${map} a map HAProxy loaded (show map lists them)?`);
  }
}

/** "show table" answered something that is not a table's header and entries (an unknown table: "No such table"). */
export class ShowTableGarbledError extends CodedError {
  readonly code = "SHOW_TABLE_GARBLED";
  constructor(readonly command: string, readonly line: string) {
    super(`"${command}" answered ${JSON.stringify(line.slice(0, 80))}, not "# table: ..." and "<reference>: key=... <counter>=<value>" lines: is it a table HAProxy loaded (show table lists them)?`);
  }
}

/** "show peers" answered a line where a peers section's header belongs, not what HAProxy 2.6 prints there. */
export class ShowPeersGarbledError extends CodedError {
  readonly code = "SHOW_PEERS_GARBLED";
  constructor(readonly line: string) {
    super(`"show peers" answered ${JSON.stringify(line.slice(0, 80))}, not "<reference>: [<date>] id=<section> disabled=<0|1> flags=0x<hex> ..." at the start of a section: is this HAProxy 2.6?`);
  }
}

/** "show servers state" answered what HAProxy 2.6's state file format (version 1) is not. */
export class ShowServersStateGarbledError extends CodedError {
  readonly code = "SHOW_SERVERS_STATE_GARBLED";
  constructor(readonly what: string) {
    super(`"show servers state" answered ${what}, not HAProxy 2.6's format ("1", then "# be_id be_name srv_id srv_name ...", then one line per server): is this HAProxy 2.6?`);
  }
}

/** A certificate command's answer that is not what HAProxy 2.6 prints: another version, or not a certificate answer. */
export class SslCertAnswerError extends CodedError {
  readonly code = "SSL_CERT_ANSWER_GARBLED";
  constructor(readonly command: string, readonly what: string) {
    super(`"${command}" answered with ${what}, not what HAProxy 2.6 prints: is this HAProxy 2.6 with the file in a TLS bind?`);
  }
}

/** A config file HAProxy could not read either: an unclosed quote, a broken escape, a directive outside a section. The message gives FILE:LINE; fix that line. */
export class ConfigSyntaxError extends CodedError {
  readonly code = "CONFIG_SYNTAX";
  constructor(readonly file: string, readonly line: number, readonly why: string) {
    super(`${file}:${line}: ${why}`);
  }
}

/** A runtime-API command HAProxy answered with an error (it answers errors as text): the command and the answer. */
export class RuntimeCommandRefusedError extends CodedError {
  readonly code = "RUNTIME_COMMAND_REFUSED";
  constructor(readonly problem: string) {
    super(`${problem}: HAProxy kept what it had; check the command against what runs (npm run drift)`);
  }
}
