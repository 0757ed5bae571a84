// The Prometheus rules every stack ships: recording rules for what a dashboard and an alert would
// otherwise both compute, and the alerts, each with what to look at first. Typed objects written
// with the yaml library (yaml.ts), so quoting cannot go wrong; promtool checks and unit-tests
// them (test/alert-rules.test.ts has a firing and a quiet case for every alert: the compiler checks it).
//
// Every HAProxy series comes from one job (HAPROXY_JOB, see prometheus.ts), so no expression
// needs to select a job to avoid counting twice; sums keep job and instance so that two HAProxy
// instances are never added together.

import { generatedYaml, type GeneratedHeader } from "./yaml.ts";

/** The file name Prometheus reads the rules from, beside its configuration. */
export const RULES_FILE = "haproxy-rules.yml";

const BY = "job, instance, proxy";

/** Recorded series, by name: a dashboard and the alerts read these instead of repeating the expression. */
export const RECORDING_RULES = {
  "haproxy:frontend_http_responses:rate1m": `sum by (${BY}, code) (rate(haproxy_frontend_http_responses_total[1m]))`,
  "haproxy:backend_http_responses:rate1m": `sum by (${BY}, code) (rate(haproxy_backend_http_responses_total[1m]))`,
  "haproxy:server_http_responses:rate1m": `sum by (${BY}, server) (rate(haproxy_server_http_responses_total[1m]))`,
  "haproxy:frontend_5xx_ratio:rate1m": `sum by (${BY}) (haproxy:frontend_http_responses:rate1m{code="5xx"}) / sum by (${BY}) (haproxy:frontend_http_responses:rate1m)`,
  "haproxy:backend_5xx_ratio:rate1m": `sum by (${BY}) (haproxy:backend_http_responses:rate1m{code="5xx"}) / sum by (${BY}) (haproxy:backend_http_responses:rate1m)`,
} as const;
export type RecordedSeries = keyof typeof RECORDING_RULES;

export type Severity = "critical" | "warning";

export interface AlertDefinition {
  expr: string;
  /** How long the expression must hold before the alert fires (Prometheus's `for`). */
  for: string;
  severity: Severity;
  summary: string;
  description: string;
  /** How to see for yourself that the alert is right: the series, page or command that shows it. */
  confirm: string;
  /** What to do: where to look first, and the fix. */
  runbook: string;
}

/** A 5xx ratio alert judges only proxies that carry traffic: 1 failed request of 2 is not an incident. */
const MIN_RATE = 0.5;

export const ALERTS = {
  HAProxyBackendNoServerUp: {
    expr: `haproxy_backend_status{state="UP"} == 0`,
    for: "0s",
    severity: "critical",
    summary: "Backend {{ $labels.proxy }} has no server UP",
    description: "HAProxy on {{ $labels.instance }} has no usable server in backend {{ $labels.proxy }}: every request to it gets a 503.",
    confirm: "The stats page lists every server of the backend as DOWN or MAINT; a request routed to it gets 503 from HAProxy.",
    runbook: "Open the stats page: why is each server DOWN (its check status and last check)? Start with the servers' own logs and /status; a change just applied can be rolled back with npm run apply of the previous topology.",
  },
  HAProxyServerDown: {
    // Not in a backend whose check finds the primary: its replicas are DOWN by design (HAProxyPrimaryNotOne watches it).
    expr: `haproxy_server_status{state="DOWN"} == 1 unless on (proxy) haproxy_sidecar_backend_primaries`,
    for: "10s",
    severity: "warning",
    summary: "Server {{ $labels.proxy }}/{{ $labels.server }} is DOWN",
    description: "HAProxy's health checks mark {{ $labels.server }} of backend {{ $labels.proxy }} DOWN; its traffic goes to the other servers.",
    confirm: "haproxy_server_status{state=\"DOWN\"} for the server is 1; the stats page shows its last check (status and duration); curl the server's check path directly.",
    runbook: "Look at the server's check status on the stats page (L4CON: nothing listens; L7STS: it answers with an error), then at the server's own log and its /status endpoint.",
  },
  HAProxyPrimaryNotOne: {
    expr: `haproxy_sidecar_backend_primaries != 1`,
    for: "10s",
    severity: "critical",
    summary: "Backend {{ $labels.proxy }} has {{ $value }} primaries UP, not one",
    description: "The check of backend {{ $labels.proxy }} passes on the primary only. None UP: every connection is refused. Two or more: clients write to several primaries (a split brain).",
    confirm: "haproxy_sidecar_backend_primaries for the backend is 0 or above 1; the stats page shows which servers pass the primary check.",
    runbook: "Ask each server its role (redis-cli -p PORT INFO replication; for Patroni, its REST API /primary): with none, promote a replica; with several, demote all but one, then watch HAProxyServerDown stay quiet and one server UP on the stats page.",
  },
  HAProxyServerFlapping: {
    expr: `increase(haproxy_server_check_up_down_total[10m]) > 3`,
    for: "0s",
    severity: "warning",
    summary: "Server {{ $labels.proxy }}/{{ $labels.server }} is flapping",
    description: "{{ $labels.server }} went DOWN more than 3 times in 10 minutes: requests on it fail each time before the checks notice.",
    confirm: "haproxy_server_check_up_down_total for the server rises in steps; HAProxy's log has a \"Server ... is DOWN\" / \"is UP\" pair for each.",
    runbook: "Compare the server's check duration with the check timeout (a slow /status near the timeout flaps), and look for restarts in its log (npm run status shows restarts locally).",
  },
  HAProxyFrontendHigh5xxRatio: {
    expr: `haproxy:frontend_5xx_ratio:rate1m > 0.05 and on (${BY}) sum by (${BY}) (haproxy:frontend_http_responses:rate1m) > ${MIN_RATE}`,
    for: "1m",
    severity: "critical",
    summary: "Frontend {{ $labels.proxy }} answers {{ $value | humanizePercentage }} of requests with 5xx",
    description: "More than 5% of the responses of frontend {{ $labels.proxy }} on {{ $labels.instance }} are 5xx.",
    confirm: "The dashboard's responses-by-code panel for the frontend; haproxy:frontend_5xx_ratio:rate1m in Prometheus; HAProxy's log lines with status 5xx and their termination state (sC, SH, sQ...).",
    runbook: "Which backend answers the 5xx (HAProxyBackendHigh5xxRatio, the dashboard's 5xx panel)? 503 from HAProxy itself means no server was available; 502/504 mean servers failed or were too slow.",
  },
  HAProxyBackendHigh5xxRatio: {
    expr: `haproxy:backend_5xx_ratio:rate1m > 0.05 and on (${BY}) sum by (${BY}) (haproxy:backend_http_responses:rate1m) > ${MIN_RATE}`,
    for: "1m",
    severity: "critical",
    summary: "Backend {{ $labels.proxy }} answers {{ $value | humanizePercentage }} of requests with 5xx",
    description: "More than 5% of the responses of backend {{ $labels.proxy }} on {{ $labels.instance }} are 5xx.",
    confirm: "haproxy:backend_5xx_ratio:rate1m for the backend; haproxy_server_http_responses_total{code=\"5xx\"} by server says whether one server or all answer them.",
    runbook: "Look at the servers' error logs and at which servers the 5xx come from (haproxy_server_http_responses_total by server); if only one server fails, put it in maintenance.",
  },
  HAProxyRequestsQueueing: {
    expr: `haproxy_backend_current_queue > 0`,
    for: "1m",
    severity: "warning",
    summary: "Requests queue in backend {{ $labels.proxy }}",
    description: "{{ $value }} requests wait for a server slot in backend {{ $labels.proxy }}: its servers are at their maxconn.",
    confirm: "haproxy_backend_current_queue and haproxy_server_current_sessions against the servers' maxconn; the dashboard's queue panel.",
    runbook: "Compare the servers' current sessions with their maxconn and the queue time on the dashboard; add servers or raise maxconn if the servers have headroom; a request queued past timeout queue gets a 503.",
  },
  HAProxyRetriesRising: {
    expr:
      `(sum by (${BY}) (rate(haproxy_backend_retry_warnings_total[5m])) + sum by (${BY}) (rate(haproxy_backend_redispatch_warnings_total[5m])))` +
      ` / sum by (${BY}) (rate(haproxy_backend_http_requests_total[5m])) > 0.01`,
    for: "5m",
    severity: "warning",
    summary: "Backend {{ $labels.proxy }} retries or redispatches {{ $value | humanizePercentage }} of requests",
    description: "Requests to backend {{ $labels.proxy }} are retried or sent to another server: a server refuses connections or times out while its checks still pass.",
    confirm: "rate(haproxy_server_retry_warnings_total[5m]) and rate(haproxy_server_connection_errors_total[5m]) by server point at the server.",
    runbook: "Find the server with rising haproxy_server_retry_warnings_total; its connect time and its log tell why it refuses. The clients are still served: fix before the retries run out.",
  },
  HAProxyDroppingLogs: {
    expr: `increase(haproxy_process_dropped_logs_total[5m]) > 0`,
    for: "0s",
    severity: "warning",
    summary: "HAProxy on {{ $labels.instance }} drops log lines",
    description: "HAProxy could not send {{ $value | printf \"%.0f\" }} log lines in 5 minutes: the access log has gaps, so an incident cannot be reconstructed from it.",
    confirm: "haproxy_process_dropped_logs_total rises; the log receiver's own state (a syslog server's queue, a full disk, a stopped reader of stdout).",
    runbook: "The log target is too slow or unreachable: check the syslog receiver (or stdout's reader) and the global log settings; a ring buffer in front of a slow target absorbs bursts.",
  },
  HAProxySidecarPollFailing: {
    expr: `haproxy_sidecar_poll_success == 0`,
    for: "30s",
    severity: "critical",
    summary: "The sidecar cannot read HAProxy's stats socket on {{ $labels.instance }}",
    description: "The metrics of HAProxy are stale: the sidecar serves its last snapshot (haproxy_sidecar_snapshot_age_seconds grows).",
    confirm: "curl the sidecar's /metrics: haproxy_sidecar_poll_success is 0 and haproxy_sidecar_poll_failures_total says the error code; the sidecar's log has the message.",
    runbook: "The sidecar's log names the failure (STATS_SOCKET_REFUSED: HAProxy is down or restarting; STATS_SOCKET_TIMEOUT: it hangs; permission denied: the socket's mode or group).",
  },
  HAProxyExporterDown: {
    expr: `up{job=~"haproxy|haproxy-exporter"} == 0`,
    for: "30s",
    severity: "critical",
    summary: "Prometheus cannot scrape {{ $labels.job }} on {{ $labels.instance }}",
    description: "The {{ $labels.job }} target does not answer: HAProxy's metrics are missing, so no other HAProxy alert can fire.",
    confirm: "Prometheus's Status → Targets page lists the target as down with the scrape error; curl the target's /metrics from the Prometheus host.",
    runbook: "Is the process running (npm run status locally, the container's state otherwise)? Prometheus's targets page shows the scrape error.",
  },
  HAProxyAssertionFailing: {
    expr: `haproxy_sidecar_assertion_passed == 0`,
    for: "0s",
    severity: "warning",
    summary: "End-to-end assertion {{ $labels.assertion }} failed",
    description: "The last npm run verify found that {{ $labels.assertion }} does not hold on the running stack.",
    confirm: "haproxy_sidecar_assertion_passed{assertion=...} is 0; npm run verify -- --only ASSERTION runs it again and prints what it measured.",
    runbook: "Open the verify report (reports/verify.html, or the JSON it wrote): it says what was expected and what was measured.",
  },
  HAProxyDistributionSkew: {
    expr: `haproxy_sidecar_backend_distribution_skew > 0.15`,
    for: "30s",
    severity: "warning",
    summary: "Backend {{ $labels.proxy }} does not share traffic by its weights",
    description: "A server's share of backend {{ $labels.proxy }}'s requests differs from what its weight implies by {{ $value | humanizePercentage }}.",
    confirm: "haproxy_sidecar_server_share_observed against haproxy_sidecar_server_share_expected by server, over the sidecar's distribution window.",
    runbook: "Compare haproxy_sidecar_server_share_observed with _expected by server; a weight set over the runtime API shows as drift too (npm run drift). Persistence cookies held by few heavy clients also skew shares.",
  },
  HAProxyTopologyDrift: {
    expr: `count by (${BY}) (haproxy_sidecar_topology_drift) > 0`,
    for: "1m",
    severity: "warning",
    summary: "HAProxy differs from the topology in backend {{ $labels.proxy }}",
    description: "{{ $value }} servers of backend {{ $labels.proxy }} run with a weight, state or presence the topology does not say.",
    confirm: "npm run drift lists each server that differs (weight, state, presence) and the reason label of haproxy_sidecar_topology_drift.",
    runbook: "npm run drift says what differs and how; a change made by hand over the socket is undone by npm run apply, or made permanent by a pull request.",
  },
  HAProxyApplyFailed: {
    expr: `haproxy_sidecar_last_apply_success == 0`,
    for: "0s",
    severity: "warning",
    summary: "The last apply on {{ $labels.instance }} failed and was rolled back",
    description: "The running load balancer is on the previous topology; the merged change is not live.",
    confirm: "haproxy_sidecar_last_apply_success is 0; the last line of the run directory's apply-history.jsonl has the failed step and the rollback.",
    runbook: "The apply history (apply-history.jsonl) and the apply's output say which step failed; npm run plan shows the change.",
  },
  StackComponentRestarting: {
    expr: `increase(haproxy_sidecar_component_restarts_total[10m]) > 2`,
    for: "0s",
    severity: "warning",
    summary: "Component {{ $labels.component }} restarted {{ $value | printf \"%.0f\" }} times in 10 minutes",
    description: "The local stack's supervisor keeps restarting {{ $labels.component }}: it crashes after starting.",
    confirm: "npm run status shows the component's restarts and last exit; haproxy_sidecar_component_restarts_total rises.",
    runbook: "npm run status shows its last exit (code or signal); its log in .run/logs/ says why.",
  },
  StackComponentDown: {
    expr: `haproxy_sidecar_component_up == 0`,
    for: "30s",
    severity: "critical",
    summary: "Component {{ $labels.component }} is not running",
    description: "The supervisor records {{ $labels.component }} as restarting, failed or stopped.",
    confirm: "npm run status shows the component as restarting, failed or stopped; haproxy_sidecar_component_up is 0.",
    runbook: "npm run status; a failed component is retried by npm start (it repairs the stack it finds).",
  },
  HAProxyCertificateRenewalFailing: {
    expr: `haproxy_sidecar_certificate_renewal_failures > 0`,
    for: "0s",
    severity: "warning",
    summary: "Renewing certificate {{ $labels.file }} failed {{ $value | printf \"%.0f\" }} times in a row",
    description: "The stack's issuer could not obtain {{ $labels.file }} from its ACME server; the served certificate stays, and the issuer retries with backoff.",
    confirm: "npm run certs -- status shows the failures in a row, the last error and the next attempt; haproxy_sidecar_certificate_renewals_total{result=\"failure\"} rises.",
    runbook: "npm run certs -- status shows the last error and the next attempt: an ACME server down or refusing (its status page), a challenge it could not fetch (is the plain HTTP port reachable from it, on port 80?), a rate limit (wait). npm run certs -- renew tries again now.",
  },
  HAProxyCertificateExpiringSoon: {
    // Less than a sixth of its lifetime left: renewal at a third has failed for a long time, or nothing renews it.
    expr: `(haproxy_sidecar_certificate_not_after_seconds - time()) < (haproxy_sidecar_certificate_not_after_seconds - haproxy_sidecar_certificate_not_before_seconds) / 6`,
    for: "0s",
    severity: "critical",
    summary: "Certificate {{ $labels.file }} expires in {{ $value | humanizeDuration }}",
    description: "HAProxy serves {{ $labels.file }} with less than a sixth of its lifetime left: clients will refuse it once it expires.",
    confirm: "openssl s_client -connect HOST:443 -servername NAME shows the served certificate's notAfter; haproxy_sidecar_certificate_not_after_seconds says the same for every file.",
    runbook: "A managed certificate: HAProxyCertificateRenewalFailing says why renewal fails (npm run certs -- status). A given one: npm run certs -- install FILE --from NEW.pem replaces it at runtime, judged first (it must cover every name the served one has).",
  },
  HAProxyCertificateNotInstalled: {
    expr: `haproxy_sidecar_certificate_installed_served == 0`,
    for: "5m",
    severity: "warning",
    summary: "HAProxy does not serve the certificate the issuer installed for {{ $labels.file }}",
    description: "The certificate served from {{ $labels.file }} is not the one the stack last obtained: the placeholder still (no certificate obtained yet), or one replaced behind the issuer's back.",
    confirm: "npm run certs -- status compares the served certificate (serial, issuer) with the one last obtained; haproxy_sidecar_certificate_info shows the served one.",
    runbook: "npm run certs -- status compares the two (serial, issuer). A placeholder: see HAProxyCertificateRenewalFailing. Another certificate: find who installed it (the runtime API's set ssl cert, a hand-copied file and a reload), then npm run certs -- renew.",
  },
  HAProxyRolloutAborted: {
    // An abort within the last hour: the release needs a look, not a page that lasts until the next rollout.
    expr: `haproxy_sidecar_rollout_phase{phase="aborted"} == 1 and on (job, instance, backend) (time() - haproxy_sidecar_rollout_transition_timestamp_seconds) < 3600`,
    for: "0s",
    severity: "warning",
    summary: "The canary rollout of {{ $labels.backend }} was aborted",
    description: "Its analysis failed (or someone aborted it): every weight is back on the stable servers; the canary takes no traffic.",
    confirm: "npm run rollout -- BACKEND --status shows the phase aborted and each analysis's verdict; haproxy_sidecar_rollout_phase{phase=\"aborted\"} is 1.",
    runbook: "npm run rollout -- BACKEND --status shows each analysis and why it failed (success ratio, response time, a query). Look at the canary servers' logs and the dashboard's per-server panels before the next attempt.",
  },
  HAProxyRolloutPaused: {
    expr: `haproxy_sidecar_rollout_phase{phase="paused"} == 1`,
    for: "5m",
    severity: "warning",
    summary: "The canary rollout of {{ $labels.backend }} has been paused for 5 minutes",
    description: "Its analysis is inconclusive: no data, too few requests to judge, or Prometheus not answering. It holds its step and never promotes blind.",
    confirm: "npm run rollout -- BACKEND --status shows the phase paused and why the last analyses were inconclusive; haproxy_sidecar_rollout_analyses{verdict=\"inconclusive\"} rises.",
    runbook: "npm run rollout -- BACKEND --status says why. Too few requests: the canary's share is too small for the traffic (raise the step or lower minRequests). No data or Prometheus down: see the Prometheus and sidecar alerts. --abort ends it.",
  },
} as const satisfies Record<string, AlertDefinition>;

export type AlertName = keyof typeof ALERTS;

export interface RuleGroup {
  name: string;
  rules: ({ record: string; expr: string } | { alert: string; expr: string; for: string; labels: { severity: Severity }; annotations: { summary: string; description: string; runbook: string; runbook_url: string } })[];
}

/** An alert's section on the runbook page: its name in lower case, as Markdown renderers make heading anchors. */
export const runbookAnchor = (alert: string): string => alert.toLowerCase();

/** The rules file's document; each alert links its runbook section under runbookUrl. */
export function alertRuleGroups(runbookUrl: string): { groups: RuleGroup[] } {
  return {
    groups: [
      { name: "haproxy.recording", rules: Object.entries(RECORDING_RULES).map(([record, expr]) => ({ record, expr })) },
      {
        name: "haproxy.alerts",
        rules: Object.entries(ALERTS).map(([alert, a]: [string, AlertDefinition]) => ({
          alert,
          expr: a.expr,
          for: a.for,
          labels: { severity: a.severity },
          annotations: { summary: a.summary, description: a.description, runbook: a.runbook, runbook_url: `${runbookUrl}#${runbookAnchor(alert)}` },
        })),
      },
    ],
  };
}

/** The rules file, as every target writes it. */
export const renderAlertRules = (header: GeneratedHeader, runbookUrl: string): string => generatedYaml(alertRuleGroups(runbookUrl), header);
