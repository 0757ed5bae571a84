// The seed's web tier over HTTPS with a certificate the stack obtains and renews itself from an
// ACME server: HAProxy answers the HTTP-01 challenges on its plain port from a map, and the issued
// certificate replaces the placeholder through the runtime API, with no reload.
//
//   LB_ACME_DIRECTORY=https://127.0.0.1:14000/dir LB_ACME_CA=/path/to/pebble-ca.pem \
//   LB_ACME_ROOTS=/path/to/pebble-root.pem npm start -- --topology infra/topologies/acme.ts
//
// The README's "Certificates" section says how to run pebble (Let's Encrypt's test server) for it.
import { defineTopology } from "../model/define.ts";
import { topology as seed } from "../topology.ts";

const [web] = seed.frontends;

export const topology = defineTopology({
  ...seed,
  name: "flask-lb-acme",
  frontends: [
    {
      ...web!,
      // The plain port answers the ACME server's challenges (port 80 in production; pebble's httpPort here).
      binds: [{ address: "*", port: 60000 }, { address: "*", port: 60443, tlsCertificate: "shop.pem" }],
    },
  ],
  certificates: [
    {
      file: "shop.pem",
      names: ["shop.lb.test", "www.shop.lb.test"],
      acme: { directoryUrlFromEnv: "LB_ACME_DIRECTORY", caFileFromEnv: "LB_ACME_CA", rootsFileFromEnv: "LB_ACME_ROOTS", contact: ["ops@lb.test"] },
    },
  ],
});
