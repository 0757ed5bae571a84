// Databases and TLS services behind the load balancer, beside the seed's web tier: a Redis primary
// and its replica behind one TCP port whose check finds the primary, PostgreSQL behind
// pgsql-check, and one TLS port routed by SNI to two services that keep their own certificates
// (HAProxy passes their TLS through untouched).
//
//   npm start -- --topology infra/topologies/data.ts
import { defineTopology } from "../model/define.ts";
import { topology as seed } from "../topology.ts";

/** A check every half second, DOWN after two failures: a new primary takes writes within about 1.5 s. */
const fastChecks = { inter: "500ms", fall: 2, rise: 1 } as const;

export const topology = defineTopology({
  ...seed,
  name: "flask-lb-data",
  frontends: [
    ...seed.frontends,
    { name: "redis", mode: "tcp", binds: [{ port: 6380 }], defaultBackend: "redis", timeouts: { client: "1h" }, tcpKeepAlive: true },
    { name: "postgres", mode: "tcp", binds: [{ port: 6432 }], defaultBackend: "postgres", timeouts: { client: "30m" }, tcpKeepAlive: true },
    {
      name: "tls_services",
      mode: "tcp",
      binds: [{ port: 8444 }],
      routes: [
        { name: "billing", when: { sni: "billing.data.test" }, backend: "billing" },
        { name: "ledger", when: { sni: ["ledger.data.test", "*.ledger.data.test"] }, backend: "ledger" },
        // A client that names no service it may reach is refused, not sent somewhere.
        { name: "unknown-name", deny: {} },
      ],
    },
  ],
  backends: [
    ...seed.backends,
    {
      name: "redis",
      mode: "tcp",
      balance: "first",
      // Only the primary answers role:master: one server UP, the replica DOWN, by design.
      healthCheck: { redis: {}, primaryOnly: true },
      // Clients of a demoted primary are cut at once and reconnect to the new one.
      shutdownSessionsOnDown: true,
      timeouts: { server: "1h", tunnel: "1h" },
      tcpKeepAlive: true,
      servers: [
        { name: "redis-a", address: "redis-a", port: 7001, ...fastChecks },
        { name: "redis-b", address: "redis-b", port: 7002, ...fastChecks },
      ],
    },
    {
      name: "postgres",
      mode: "tcp",
      healthCheck: { postgresql: { user: "haproxy_check" } },
      timeouts: { server: "30m" },
      servers: [{ name: "pg-a", address: "pg-a", port: 7101, ...fastChecks }],
    },
    // Two servers: npm run verify kills one and connections must keep reaching the other (tcpFailover).
    { name: "billing", mode: "tcp", healthCheck: { tlsHello: true }, servers: [{ name: "billing-1", address: "billing-1", port: 7201, ...fastChecks }, { name: "billing-2", address: "billing-2", port: 7203, ...fastChecks }] },
    { name: "ledger", mode: "tcp", healthCheck: { tlsHello: true }, servers: [{ name: "ledger-1", address: "ledger-1", port: 7202, ...fastChecks }] },
  ],
});
