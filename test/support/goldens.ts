// The golden files: each is a topology, a target, and the file its rendering must equal.
// `npm run golden` rewrites them from the current templates; review the diff like code.
import { fileURLToPath } from "node:url";
import { parseTopology } from "../../infra/model/parse.ts";
import { DEFAULT_TOPOLOGY_FILE } from "../../infra/model/load.ts";
import { renderHaproxyConfig } from "../../infra/render/render.ts";
import { dockerTarget, kubernetesTarget, localTarget, type RenderTarget } from "../../infra/render/targets.ts";
import { topology as discoveryExample } from "../../infra/topologies/discovery.ts";
import type { TopologyInput } from "../../infra/model/schema.ts";
import { editedTopology, seedTopology } from "./topologies.ts";

export const GOLDEN_DIR = fileURLToPath(new URL("../golden/", import.meta.url));
/** A fixed run directory, so that local goldens do not depend on the machine. */
export const GOLDEN_RUN_DIR = "/var/run/flask-lb";

/** Every optional feature of the model at once, so that the templates' every branch is checked. */
export function everyFeatureTopology(): TopologyInput {
  return editedTopology((t) => {
    t.name = "every-feature";
    t.global.nbthread = 2;
    t.global.logs = [
      { target: "stdout", format: "raw", facility: "local0", minLevel: "info" },
      { target: "127.0.0.1:514", format: "rfc5424", facility: "local1", transport: "tcp" },
    ];
    t.defaults.timeouts = { connect: "3s", client: "30s", server: "30s", check: "1s", httpRequest: "5s", queue: "10s" };
    t.frontends[0].allowlist = ["127.0.0.0/8", "10.0.0.0/8"];
    t.frontends[0].rateLimit = { requests: 500, window: "10s", tableSize: 200000 };
    t.frontends[0].errorPages.push({ status: 403, file: "403.http" });
    t.frontends.push({
      name: "https_front",
      binds: [{ address: "*", port: 60080 }, { address: "*", port: 60443, tlsCertificate: "site.pem" }],
      defaultBackend: "api_servers",
      forwardfor: true,
      httpsRedirect: true,
      hsts: { maxAgeSeconds: 63072000, includeSubdomains: true, preload: true },
    });
    t.global.tls = { minVersion: "TLSv1.3" };
    t.monitoring.statsAuth = { userFromEnv: "LB_STATS_USER", passwordFromEnv: "LB_STATS_PASSWORD" };
    t.monitoring.statsOnPublicAddress = true;
    t.backends[0].cookie.secure = true;
    t.backends[0].cookie.sameSite = "Strict";
    t.backends.push({
      name: "api_servers",
      balance: "leastconn",
      healthCheck: { http: { method: "HEAD", path: "/status?deep=1", expectStatus: 204 } },
      retries: 0,
      redispatch: false,
      retryOn: [],
      servers: [
        { name: "api-1", address: "10.1.0.11", port: 8080, inter: "1s", fall: 3, rise: 2, weight: 3, maxconn: 200 },
        { name: "api-2", address: "api-2.internal", port: 8080, weight: 1 },
        { name: "api-spare", address: "10.1.0.13", port: 8080, backup: true },
        { name: "api-old", address: "10.1.0.14", port: 8080, disabled: true, check: false },
      ],
    });
    t.backends.push({
      name: "consul_servers",
      balance: "roundrobin",
      healthCheck: { http: { method: "GET", path: "/status", expectStatus: 200 } },
      servers: [],
      discovery: {
        name: "svc",
        dnsName: "_http._tcp.web.service.consul",
        record: "SRV",
        maxServers: 20,
        instances: 3,
        weight: 5,
        maxconn: 100,
        resolver: { nameservers: ["10.0.0.2:8600", "10.0.0.3:8600"], resolveEvery: "2s", retryTimeout: "500ms", retries: 5, holdValid: "30s", holdObsolete: "10s", holdNx: "1m", holdDuringOutage: "10m", acceptedPayloadSize: 4096 },
      },
    });
  });
}

/** The discovery example (infra/topologies/discovery.ts): a server-template group with dynamic cookies. */
export const discoveryTopology = (): TopologyInput => structuredClone(discoveryExample) as TopologyInput;

export interface Golden {
  file: string;
  topology: () => TopologyInput;
  target: RenderTarget;
}

export const GOLDENS: Golden[] = [
  { file: "default.local.cfg", topology: seedTopology, target: localTarget(GOLDEN_RUN_DIR) },
  { file: "default.docker.cfg", topology: seedTopology, target: dockerTarget() },
  { file: "every-feature.local.cfg", topology: everyFeatureTopology, target: localTarget(GOLDEN_RUN_DIR) },
  { file: "every-feature.docker.cfg", topology: everyFeatureTopology, target: dockerTarget() },
  { file: "every-feature.kubernetes.cfg", topology: everyFeatureTopology, target: kubernetesTarget("flask-lb") },
  { file: "discovery.local.cfg", topology: discoveryTopology, target: localTarget(GOLDEN_RUN_DIR) },
  { file: "discovery.docker.cfg", topology: discoveryTopology, target: dockerTarget() },
  { file: "discovery.kubernetes.cfg", topology: discoveryTopology, target: kubernetesTarget("flask-lb") },
];

export function renderGolden(golden: Golden): string {
  return renderHaproxyConfig(parseTopology(golden.topology()), golden.target, { source: DEFAULT_TOPOLOGY_FILE });
}
