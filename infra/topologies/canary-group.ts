// The seed's web tier with its next version as a discovered group: web-a and web-b (listed) are the
// stable servers, the instances behind next.lb.internal the canary. Started, the group's slots are
// checked but take no traffic; npm run rollout -- flask_servers gives the group 10, 50, then 100 %
// of the requests, each step's weights following the slots DNS fills (npm run scale during a
// rollout keeps the group's share), and promotes it or puts every weight back on web-a and web-b.
//
//   npm start -- --topology infra/topologies/canary-group.ts
//   npm run rollout -- flask_servers
import { defineTopology } from "../model/define.ts";
import { topology as seed } from "../topology.ts";

const [web] = seed.backends;

export const topology = defineTopology({
  ...seed,
  name: "flask-lb-canary-group",
  backends: [
    {
      ...web!,
      discovery: { name: "next", dnsName: "next.lb.internal", record: "A", port: 5200, maxServers: 4, instances: 2, inter: "500ms", fall: 2, rise: 2 },
      canary: {
        group: "next",
        steps: [10, 50, 100],
        interval: "20s",
        failureLimit: 1,
        analysis: { successRatio: 0.99, maxResponseMs: 500, minRequests: 20 },
        // Testers reach the group before and during a rollout: curl -H 'X-Canary: always' ...
        pin: { header: { name: "X-Canary", equals: "always" } },
      },
    },
  ],
});
