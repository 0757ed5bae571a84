// What npm run verify expects of the default topology: the judges' tests start from it, and the
// model-derivation test checks that the default topology derives exactly this.
import type { Expectations } from "../../verification/judge.ts";

export const DEFAULT_EXPECTATIONS: Expectations = {
  frontendUrl: "http://127.0.0.1:60000/",
  requestTimeoutMs: 10_000,
  backend: "flask_servers",
  balance: "roundrobin",
  cookie: "SERVER",
  lossless: true,
  checkTimeoutMs: 2000,
  servers: [
    { name: "web-a", weight: 1, active: true, interMs: 500, fall: 2, rise: 3 },
    { name: "web-b", weight: 1, active: true, interMs: 500, fall: 2, rise: 3 },
  ],
  entrypoints: [
    { frontend: "http_front", url: "http://127.0.0.1:60000/", servers: ["web-a", "web-b"] },
    { frontend: "http_front", url: "http://127.0.0.1:60001/", servers: ["web-a", "web-b"] },
  ],
  routing: [],
  security: { cookie: { name: "SERVER", secure: false, httponly: true, sameSite: "Lax" } },
};

/** The default expectations with some fields replaced. */
export const expectations = (edit: Partial<Expectations> = {}): Expectations => ({ ...structuredClone(DEFAULT_EXPECTATIONS), ...edit });
