// A multi-service edge, the shape a team's real load balancer has: a site, an API with two versions
// (chosen by path, or by a header), static files behind a cache, an admin area behind an allowlist
// and a login, redirects, security headers, a retired service answered without servers, and a table
// of customer hosts that changes without a reload. npm start runs it and verify proves every route by traffic.
//
//   export LB_EDGE_ADMIN_HASH="$(openssl passwd -6)"   # the admin login's password hash
//   npm start -- --topology infra/topologies/edge.ts
//   curl -H 'Host: www.example.com' http://127.0.0.1:60000/api/users
import { defineTopology } from "../model/define.ts";
import { topology as seed } from "../topology.ts";

const check = { http: { method: "GET", path: "/status", expectStatus: 200 } } as const;
const server = (name: string, port: number) => ({ name, address: name, port, inter: "500ms", fall: 2, rise: 2 });

export const topology = defineTopology({
  ...seed,
  name: "edge",
  userlists: [{ name: "admins", users: [{ name: "admin", passwordHashFromEnv: "LB_EDGE_ADMIN_HASH" }] }],
  frontends: [
    {
      name: "edge",
      binds: [
        { address: "*", port: 60000 },
        // npm start makes a development certificate for it unless --certs-dir holds site.pem.
        { address: "*", port: 60443, tlsCertificate: "site.pem" },
      ],
      errorPages: [
        { status: 429, file: "429.http" },
        { status: 503, file: "503.http" },
      ],
      conditions: {
        // The office and the machine itself (npm start and verify check from loopback).
        internal: { source: ["127.0.0.0/8", "10.0.0.0/8"] },
        apiV2: { any: [{ pathPrefix: "/api/v2" }, { all: [{ pathPrefix: "/api" }, { header: { name: "X-Api-Version", equals: "2" } }] }] },
      },
      routes: [
        { name: "old-site", when: { host: ["old.example.com", "*.old.example.com"] }, redirect: { prefix: "https://www.example.com", code: 301 } },
        { name: "healthz", when: { all: [{ path: "/healthz" }, { method: ["GET", "HEAD"] }] }, respond: { status: 200, contentType: "text/plain", body: "ok" } },
        { name: "admin-outside", when: { all: [{ pathPrefix: "/admin" }, { not: { condition: "internal" } }] }, deny: { status: 403 } },
        { name: "admin", when: { pathPrefix: "/admin" }, backend: "admin", auth: { userlist: "admins", realm: "Edge admin" } },
        { name: "api-v2", when: { condition: "apiV2" }, backend: "api_v2" },
        { name: "api-v1", when: { pathPrefix: "/api" }, backend: "api_v1" },
        { name: "static", when: { any: [{ pathPrefix: "/static" }, { pathSuffix: [".css", ".js", ".png"] }] }, backend: "static" },
        { name: "scanners", when: { pathRegex: "\\.(php|asp|env)$" }, tarpit: { status: 404 } },
        { name: "shop", when: { pathPrefix: "/shop" }, backend: "retired_shop" },
        { name: "customers", table: "customers" },
      ],
      // Customers' own host names, each to the backend that serves them: entries change at runtime.
      routeTables: [
        {
          name: "customers",
          key: "host",
          entries: [
            { host: "shop.customer-a.com", backend: "site" },
            { host: "api.customer-b.com", backend: "api_v2" },
          ],
        },
      ],
      defaultBackend: "site",
      requestRules: [{ deleteHeader: "X-Debug" }],
      forwardedHeaders: { proto: true, host: true, port: true },
      securityHeaders: { noSniff: true, frameOptions: "SAMEORIGIN", referrerPolicy: "strict-origin-when-cross-origin" },
      hsts: { maxAgeSeconds: 31_536_000 },
    },
  ],
  backends: [
    { ...seed.backends[0]!, name: "site" },
    { name: "api_v1", healthCheck: check, servers: [server("web-c", 5003)], requestRules: [{ stripPrefix: "/api" }, { addPrefix: "/v1" }] },
    { name: "api_v2", healthCheck: check, servers: [server("web-d", 5004)], requestRules: [{ replacePath: { regex: "^/api(/v2)?(/.*)?$", with: "/v2\\2" } }] },
    { name: "static", healthCheck: check, servers: [server("web-e", 5005)], cache: { maxAgeSeconds: 300, totalMegabytes: 32 }, responseRules: [{ setHeader: { name: "Cache-Control", value: "public, max-age=300" } }] },
    { name: "admin", healthCheck: check, servers: [server("web-f", 5006)] },
    // The old shop's servers are gone: the backend answers its old links itself.
    { name: "retired_shop", answer: { respond: { status: 410, contentType: "text/plain", body: "The shop has closed: see https://www.example.com/" } } },
  ],
  defaults: { ...seed.defaults!, timeouts: { ...seed.defaults!.timeouts, tarpit: "2s" } },
});
