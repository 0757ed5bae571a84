// The seed's web tier with a new version beside it: web-a and web-b are the stable servers, web-c
// the canary. Started, web-c is checked but takes no traffic; npm run rollout -- flask_servers
// gives it 10, 50, then 100 % of the requests, each step judged in Prometheus after 20 s, and
// promotes it or puts every weight back on web-a and web-b. A request with "X-Canary: always"
// reaches web-c whatever the step (testers try the release before any user does).
//
//   npm start -- --topology infra/topologies/canary.ts
//   npm run rollout -- flask_servers
import { defineTopology } from "../model/define.ts";
import { topology as seed } from "../topology.ts";

const [web] = seed.backends;

export const topology = defineTopology({
  ...seed,
  name: "flask-lb-canary",
  backends: [
    {
      ...web!,
      servers: [...(web!.servers ?? []), { name: "web-c", address: "web-c", port: 5003, check: true, inter: "500ms", fall: 2, rise: 3, cookie: "web-c" }],
      canary: {
        servers: ["web-c"],
        steps: [10, 50, 100],
        interval: "20s",
        failureLimit: 1,
        analysis: { successRatio: 0.99, maxResponseMs: 500, minRequests: 20 },
        // Testers reach web-c before and during a rollout: curl -H 'X-Canary: always' ...
        pin: { header: { name: "X-Canary", equals: "always" } },
      },
    },
  ],
});
