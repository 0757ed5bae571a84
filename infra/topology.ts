// The load balancer's topology: the one file pull requests edit.
//
// It reproduces the seed design's haproxy.cfg with its bug fixed by construction (the seed's
// frontend named a backend "backend_servers" that did not exist; here defaultBackend is checked
// against the backends), plus what production needs: a stats socket, a Prometheus endpoint,
// retries with redispatch, and health checks tuned so that a failing server loses no request.
import { defineTopology } from "./model/define.ts";

export const topology = defineTopology({
  name: "flask-lb",
  global: {
    maxconn: 4096,
    logs: [{ target: "stdout", format: "raw", facility: "local0" }],
    statsSocket: { path: "/var/lib/haproxy/admin.sock", mode: "660", level: "admin" },
    masterSocket: "/var/lib/haproxy/master.sock",
    hardStopAfter: "30s",
  },
  defaults: {
    mode: "http",
    httplog: true,
    dontlognull: true,
    timeouts: { connect: "5s", client: "10s", server: "10s", check: "2s", httpRequest: "5s" },
    // Not in the seed: without these a request in flight to a dying server fails with 503.
    retries: 3,
    redispatch: true,
    retryOn: ["conn-failure", "empty-response", "response-timeout"],
    // A reload answers an idle keep-alive connection's next request before closing it, not under it.
    idleCloseOnResponse: true,
  },
  frontends: [
    {
      name: "http_front",
      binds: [
        { address: "*", port: 60000, lastPort: 60001 },
        // HTTPS; npm start makes a development certificate unless --certs-dir holds site.pem:
        // { address: "*", port: 60443, tlsCertificate: "site.pem" },
      ],
      defaultBackend: "flask_servers",
      forwardfor: true,
      errorPages: [
        { status: 429, file: "429.http" },
        { status: 503, file: "503.http" },
      ],
      // Production recommendations from the seed, off by default so a laptop benchmark is not throttled
      // (the allowlist keeps loopback, from which npm start and npm run verify check the stack):
      // rateLimit: { requests: 200, window: "10s" },
      // allowlist: ["127.0.0.0/8", "10.0.0.0/8"],
      // With the HTTPS bind above (then set the cookie below to secure: true):
      // httpsRedirect: true,
      // hsts: { maxAgeSeconds: 31536000 },
    },
  ],
  backends: [
    {
      name: "flask_servers",
      balance: "roundrobin",
      healthCheck: { http: { method: "GET", path: "/status", expectStatus: 200 } },
      cookie: { name: "SERVER", insert: true, indirect: true, nocache: true, secure: false, httponly: true },
      // The seed had "fall 1 rise 5" with the default inter 2s: measured to lose requests while a
      // server dies and to take ~10 s to bring it back. These values lost none (see bench/).
      servers: [
        { name: "web-a", address: "web-a", port: 5001, check: true, inter: "500ms", fall: 2, rise: 3, cookie: "web-a" },
        { name: "web-b", address: "web-b", port: 5002, check: true, inter: "500ms", fall: 2, rise: 3, cookie: "web-b" },
      ],
    },
  ],
  // With the rate limit above: a reload hands its counts to the new worker through this port, instead of
  // starting them empty (and remotes share them with another load balancer):
  // peers: { localPeer: "lb1", port: 10000 },
  monitoring: {
    address: "*",
    port: 8404,
    metricsPath: "/metrics",
    statsUri: "/stats",
    // The stats page is served only with a login, which HAProxy reads from the environment
    // (export both before npm start), and only on loopback unless statsOnPublicAddress is set:
    // statsAuth: { userFromEnv: "LB_STATS_USER", passwordFromEnv: "LB_STATS_PASSWORD" },
  },
  services: {
    sidecar: { port: 9101, pollInterval: "2s" },
    prometheus: { port: 9090, scrapeInterval: "5s", evaluationInterval: "5s" },
    // Alerts go to every webhook listed; each URL is read from the environment, never from this file:
    // alertmanager: { port: 9093, webhooks: [{ name: "oncall", urlFromEnv: "LB_ONCALL_WEBHOOK_URL" }] },
    // Short enough that a dead server reaches a webhook in seconds on a laptop (the model's defaults,
    // 10s and 1m, suit a busier production); grouping still batches a burst of alerts.
    alertmanager: { port: 9093, groupWait: "5s", groupInterval: "30s" },
    grafana: { port: 3000 },
  },
});
