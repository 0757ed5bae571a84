// Every failure the stack reports on purpose is one of these: a stable code for scripts,
// a message that says what is wrong and what to do.
import { CodedError } from "../lib/errors.ts";


export interface TopologyProblem {
  /** Where in the topology, with names in place of list positions: "frontends.http_front.defaultBackend". */
  path: string;
  message: string;
}

/** The topology does not pass the schema; every problem is listed with its path (frontends.NAME.field). The topology reference describes each field. */
export class TopologyInvalidError extends CodedError {
  readonly code = "TOPOLOGY_INVALID";
  constructor(readonly problems: TopologyProblem[]) {
    super(`the topology is invalid:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`);
  }
}

/** A topology file could not be read or evaluated. */
export class TopologyLoadError extends CodedError {
  readonly code = "TOPOLOGY_LOAD_FAILED";
  constructor(readonly file: string, reason: string) {
    super(`cannot load the topology from ${file}: ${reason}`);
  }
}

/** The real HAProxy refused a rendered configuration. */
export class HaproxyConfigRejectedError extends CodedError {
  readonly code = "HAPROXY_CONFIG_REJECTED";
  constructor(readonly haproxyOutput: string, readonly offendingLines: string[]) {
    super(
      `haproxy -c rejected the rendered configuration:\n${haproxyOutput.trim()}` +
        (offendingLines.length ? `\noffending lines:\n${offendingLines.join("\n")}` : "") +
        "\nThis is a bug in the renderer or the schema if the topology validated: please report it with the topology.",
    );
  }
}

/** HAProxy's OpenSSL refused a TLS setting of the topology (a cipher list, cipher suites), named by its field. */
export class TlsSettingRejectedError extends CodedError {
  readonly code = "TLS_SETTING_REJECTED";
  constructor(readonly field: string, readonly value: string) {
    super(`${field}: OpenSSL knows no cipher in ${JSON.stringify(value)}: use OpenSSL's names ("openssl ciphers -v" lists them; TLS 1.3 suites look like TLS_AES_128_GCM_SHA256)`);
  }
}

/** An imported config has lines the model cannot hold (or that it holds but refuses): each as FILE:LINE: directive: why. */
export class ImportRefusedError extends CodedError {
  readonly code = "IMPORT_REFUSED";
  constructor(readonly lines: string[]) {
    super(`the config cannot be imported as it stands (${lines.length} line${lines.length === 1 ? "" : "s"}):\n${lines.map((l) => `  ${l}`).join("\n")}\nNothing was written: change these lines (or the model) and import again; --report FILE writes the whole accounting.`);
  }
}

/**
 * The topology an import made renders to a config that does not say what the original said: a line
 * with nothing rendered for it, one written otherwise, a rendered line nobody asked for, or rules and
 * servers out of order. A fault of the import (or the renderer), never of the config: report it.
 */
export class ImportNotEquivalentError extends CodedError {
  readonly code = "IMPORT_NOT_EQUIVALENT";
  constructor(readonly differences: string[]) {
    super(`the imported topology renders a config that differs from the original (${differences.length} difference${differences.length === 1 ? "" : "s"}):\n${differences.map((d) => `  ${d}`).join("\n")}\nNothing was written. This is the import's fault, not the config's: report it with the config; --report FILE writes both configs side by side.`);
  }
}

/** A program the stack needs is not installed. */
export class BinaryMissingError extends CodedError {
  readonly code = "BINARY_MISSING";
  constructor(readonly binary: string, readonly debianPackage: string) {
    super(`${binary} is not installed: install the Debian package "${debianPackage}" (apt-get install ${debianPackage}), or run npm start / npm test, which install it`);
  }
}

/** A component exited, or never became healthy, while the stack started. */
export class ComponentFailedError extends CodedError {
  readonly code = "COMPONENT_FAILED";
  constructor(readonly component: string, reason: string, readonly lastLogLines: string[], readonly logFile: string) {
    super(
      `${component} ${reason}; nothing was left running.\nlast lines of ${logFile}:\n${lastLogLines.map((l) => `  | ${l}`).join("\n") || "  (empty)"}`,
    );
  }
}

/** npm start found a stack already running from the same run directory. */
export class StackAlreadyRunningError extends CodedError {
  readonly code = "STACK_ALREADY_RUNNING";
  constructor(readonly runDir: string, readonly alive: string[], readonly gone: string[] = []) {
    super(`a stack is already running from ${runDir}: ${alive.join(", ")} alive${gone.length ? `; ${gone.join(", ")} gone` : ""}. npm run status shows it; npm stop stops it`);
  }
}

/** The run directory's state file stayed locked by a live process (a hung npm run apply or verify?). */
export class StackStateLockedError extends CodedError {
  readonly code = "STACK_STATE_LOCKED";
  constructor(readonly lockFile: string, readonly holder: number) {
    super(`${lockFile} is held by pid ${holder || "unknown"} for more than 5 s: if that process hangs, stop it; the lock is then taken over`);
  }
}

/** A command needs the local stack, and none runs from the run directory. */
export class StackNotRunningError extends CodedError {
  readonly code = "STACK_NOT_RUNNING";
  constructor(readonly runDir: string, detail = "") {
    super(`no stack is running from ${runDir}${detail ? ` (${detail})` : ""}: start one with npm start -- --detach${runDir.endsWith("/.run") ? "" : ` --run-dir ${runDir}`}`);
  }
}

/** A change npm run apply cannot make under a running HAProxy (HAProxy's own command line, such as global.masterSocket); nothing was touched: npm stop, then npm start with the new topology. */
export class ApplyNeedsRestartError extends CodedError {
  readonly code = "APPLY_NEEDS_RESTART";
  constructor(message: string) {
    super(message);
  }
}

/** The end-to-end assertions cannot be run against this topology as it stands; the message says why. npm run verify -- --only picks the assertions that can. */
export class VerifyNotPossibleError extends CodedError {
  readonly code = "VERIFY_NOT_POSSIBLE";
  constructor(message: string) {
    super(message);
  }
}

/** A render target (local processes, docker containers) cannot run this topology as it stands; the message names the field and the target. Change the field, or use a target that can. */
export class TargetPlanError extends CodedError {
  readonly code = "TARGET_PLAN_INVALID";
  constructor(message: string) {
    super(message);
  }
}

/** A webhook receiver's URL is not in the environment (secrets are never in the repository). */
export class AlertReceiverUnsetError extends CodedError {
  readonly code = "ALERT_RECEIVER_UNSET";
  constructor(readonly field: string, readonly variable: string, problem = "is not set") {
    super(`${field}: the environment variable ${variable} ${problem}: export ${variable}=https://... (the webhook's URL) before npm start, or remove the webhook from the topology`);
  }
}

/** A certificate directory was given that lacks a file a TLS bind names. */
export class CertificateMissingError extends CodedError {
  readonly code = "CERTIFICATE_MISSING";
  constructor(readonly dir: string, readonly files: string[], readonly fields: string[], fix = "put the PEM file (certificate, then key) there, or leave --certs-dir out for a development certificate") {
    super(`${fields.length ? `${fields.join(", ")}: ` : ""}${files.join(", ")} ${files.length > 1 ? "are" : "is"} not in ${dir}: ${fix}`);
  }
}

/** An error page file is not a raw HTTP response HAProxy can serve. */
export class ErrorPageInvalidError extends CodedError {
  readonly code = "ERROR_PAGE_INVALID";
  constructor(readonly field: string, readonly file: string, problem: string) {
    super(`${field}: ${file} ${problem}: an error page is a whole HTTP response ("HTTP/1.1 <status> <reason>", headers, an empty line, the body)`);
  }
}

/** A response's body file is missing or too large for HAProxy's buffer. */
export class ResponseBodyFileError extends CodedError {
  readonly code = "RESPONSE_BODY_FILE_INVALID";
  constructor(readonly field: string, readonly file: string, problem: string) {
    super(`${field}: ${file} ${problem}: a response body file holds the body alone, in templates/errors/ beside the error pages`);
  }
}

/** The stats page's login is to come from the environment, and a variable is not set. */
export class StatsCredentialsUnsetError extends CodedError {
  readonly code = "STATS_CREDENTIALS_UNSET";
  constructor(readonly variable: string, readonly field = "monitoring.statsAuth") {
    super(`${field}: the environment variable ${variable} is not set: export it before npm start (HAProxy reads the stats page's login from it), or remove ${field.split(".").at(-1)} to run without that stats page`);
  }
}

/** The local container deployer met something in the synthesized stack it does not implement; the message names the resource and attribute. Deploy that stack with cdktf deploy, or teach the deployer the attribute. */
export class DeployUnsupportedError extends CodedError {
  readonly code = "DEPLOY_UNSUPPORTED";
  constructor(readonly where: string, problem: string, todo = "cdktf deploy handles it; teach infra/containers/deploy-sequence.ts its meaning (from the docker provider's documentation) to deploy it locally") {
    super(`${where}: ${problem}: ${todo}`);
  }
}

/** The container engine answered a call with an error. */
export class EngineRequestError extends CodedError {
  readonly code = "ENGINE_REQUEST_FAILED";
  constructor(readonly call: string, readonly status: number, message: string) {
    super(`the container engine refused ${call} (${status}): ${message}`);
  }
}

/** No container engine can run here (podman missing, or its service never answered). */
export class EngineUnavailableError extends CodedError {
  readonly code = "CONTAINER_ENGINE_UNAVAILABLE";
  constructor(reason: string) {
    super(`no container engine: ${reason}`);
  }
}

/** npm run scale cannot do what it was asked: no such group, beyond its slots (raise maxServers, a reload), or not a local stack. */
export class ScaleNotPossibleError extends CodedError {
  readonly code = "SCALE_NOT_POSSIBLE";
  constructor(message: string) {
    super(message);
  }
}

/** Scaling started or stopped instances but HAProxy did not follow within the bound its settings imply. Look at the group's DNS answers (the local dnsmasq) and HAProxy's resolvers (show resolvers on the admin socket). */
export class ScaleNotFollowedError extends CodedError {
  readonly code = "SCALE_NOT_FOLLOWED";
  constructor(message: string) {
    super(message);
  }
}

/** A userlist's password hash is not in the environment HAProxy starts with (or is not a crypt hash). */
export class LoginHashUnsetError extends CodedError {
  readonly code = "LOGIN_HASH_UNSET";
  constructor(readonly field: string, readonly variable: string, readonly problem: string) {
    super(`${field}: the environment variable ${variable} ${problem}: export the user's password hash (e.g. export ${variable}="$(openssl passwd -6)"), or ${variable}_FILE naming a file that holds it, before npm start; HAProxy reads it as it starts`);
  }
}

/** A Lua script the topology loads is not in templates/lua/. */
export class LuaScriptMissingError extends CodedError {
  readonly code = "LUA_SCRIPT_MISSING";
  constructor(readonly field: string, readonly path: string) {
    super(`${field}: ${path} cannot be read: put the script in templates/lua/ (scripts are code the repository keeps, like the error pages)`);
  }
}

/** The ACME server did not issue a certificate (down, refusing, a challenge it could not validate). */
export class AcmeIssueFailedError extends CodedError {
  readonly code = "ACME_ISSUE_FAILED";
  /** `retryAfterMs`: how long the ACME server asked the issuer to wait (its Retry-After), when it said. */
  constructor(readonly file: string, readonly directoryUrl: string, readonly reason: string, readonly retryAfterMs?: number) {
    super(`${file}: ${directoryUrl} issued no certificate: ${reason}${retryAfterMs !== undefined ? ` (it asked to be asked again in ${Math.ceil(retryAfterMs / 1000)} s)` : ""}. The served certificate stays; the issuer retries with backoff (npm run certs -- status shows when)`);
  }
}

/** A managed certificate's ACME settings cannot be used as they stand (an unset variable, an unreadable CA file): the message names the setting; export the variable or fix the file, then start again. */
export class AcmeSettingsError extends CodedError {
  readonly code = "ACME_SETTINGS_INVALID";
  constructor(readonly field: string, problem: string) {
    super(`${field}: ${problem}`);
  }
}

/** A certificate that must not be served: its key, names, dates or chain are wrong. Nothing was installed. */
export class CertificateRefusedError extends CodedError {
  readonly code = "CERTIFICATE_REFUSED";
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: not installed, the served certificate stays: ${problems.join("; ")}`);
  }
}

/** HAProxy did not take a certificate through its runtime API ("set ssl cert" or "commit ssl cert"). */
export class CertificateInstallFailedError extends CodedError {
  readonly code = "CERTIFICATE_INSTALL_FAILED";
  constructor(readonly file: string, readonly socket: string, readonly answer: string) {
    super(`${file}: HAProxy at ${socket} did not take the certificate (${answer.trim().split("\n").join(" ")}); its transaction was aborted and the served certificate stays`);
  }
}

/** Another issuer pass (the supervised issuer, or npm run certs -- renew) holds the run directory's certificates. */
export class IssuerBusyError extends CodedError {
  readonly code = "ISSUER_BUSY";
  constructor(readonly holder: number) {
    super(`another certificate pass (pid ${holder}) is running: wait for it (seconds), then run the command again`);
  }
}

/** Another command is carrying out this backend's rollout. */
export class RolloutBusyError extends CodedError {
  readonly code = "ROLLOUT_BUSY";
  constructor(readonly backend: string, readonly holder: number, step: number, steps: number[]) {
    super(`the rollout of ${backend} is being carried out by pid ${holder} (step ${step + 1} of ${steps.length}, ${steps[step]} %): watch it with npm run rollout -- ${backend} --status, or stop it with --abort`);
  }
}

/** npm run rollout was asked for a backend that has no canary, or cannot be rolled out here; the message says which. Give the backend a canary in the topology and apply it first. */
export class RolloutNotPossibleError extends CodedError {
  readonly code = "ROLLOUT_NOT_POSSIBLE";
  constructor(message: string) {
    super(message);
  }
}
