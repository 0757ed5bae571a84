// A topology whose web servers are found through DNS instead of listed: what a team that scales its
// web tier (npm run scale locally, a container count in Docker, an autoscaler in Kubernetes) uses.
// HAProxy reserves maxServers slots and fills them from the records of web.lb.internal, which the
// local stack's dnsmasq, the Docker network's aliases or the cluster's DNS answer; scaling changes
// records, never haproxy.cfg.
//
//   npm start -- --topology infra/topologies/discovery.ts
//   npm run scale -- web_pool 5
import { defineTopology } from "../model/define.ts";
import { topology as seed } from "../topology.ts";

export const topology = defineTopology({
  ...seed,
  name: "flask-lb-discovery",
  frontends: seed.frontends.map((f) => ({ ...f, defaultBackend: "web_pool" })),
  backends: [
    {
      name: "web_pool",
      balance: "roundrobin",
      healthCheck: { http: { method: "GET", path: "/status", expectStatus: 200 } },
      // Discovered servers get cookie values HAProxy derives from their address and port.
      cookie: { name: "SERVER", insert: true, indirect: true, nocache: true, secure: false, httponly: true },
      discovery: {
        name: "web",
        dnsName: "web.lb.internal",
        record: "A",
        port: 5100,
        maxServers: 10,
        instances: 2,
        inter: "500ms",
        fall: 2,
        rise: 2,
      },
    },
  ],
});
