// TLS beyond a certificate on a bind: what a bind accepts (ciphers, curves, client certificates,
// strict SNI) and how HAProxy speaks TLS to the servers (verified against a CA, with SNI and a
// client certificate). Files are named, never given as paths: they live in the target's
// certificate directory beside the binds' certificates.
import { z } from "zod";
import { FileName, show } from "./names.ts";
import { Cidr, ExactHost, HeaderName } from "./routing.ts";

/** An OpenSSL cipher list ("ECDHE-RSA-AES128-GCM-SHA256:..."): its words are checked against OpenSSL before a render. */
export const CipherList = z.string().regex(/^[A-Za-z0-9_+!@=.-]{1,64}(:[A-Za-z0-9_+!@=.-]{1,64}){0,63}$/, {
  error: (iss) => `${show(iss.input)} is not a cipher list: use OpenSSL names separated by ":", e.g. "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"`,
}).meta({ title: "cipher list" });

/** The key-exchange groups OpenSSL 3 (HAProxy 2.6's) accepts by these names. */
export const CURVES = ["X25519", "X448", "P-256", "P-384", "P-521", "prime256v1", "secp384r1", "secp521r1", "ffdhe2048", "ffdhe3072", "ffdhe4096"] as const;
export const Curve = z.enum(CURVES, { error: (iss) => `${show(iss.input)} is not a curve OpenSSL knows: use one of ${CURVES.join(", ")}` });

/** What a TLS bind (or, as a default, every TLS bind) accepts. */
export const TlsSettings = {
  ciphers: CipherList.optional().describe("TLS 1.2 cipher list (OpenSSL's names)."),
  ciphersuites: CipherList.optional().describe("TLS 1.3 cipher suites (TLS_AES_128_GCM_SHA256:...)."),
  curves: z.array(Curve).min(1).optional().describe("The key-exchange groups, most preferred first."),
};

/** Mutual TLS on a bind: clients present a certificate the CA signed. */
export const ClientCertificates = z.strictObject({
  caFile: FileName.describe("The CA (a PEM file in the certificate directory) client certificates must chain to."),
  verify: z.enum(["required", "optional"], { error: (iss) => `${show(iss.input)} is not a verify mode: use "required" or "optional"` }).default("required").describe("required: no certificate, no connection; optional: a client without one is served, one with a bad one is refused."),
  crlFile: FileName.optional().describe("A certificate revocation list (PEM) from that CA."),
  subjectHeader: HeaderName.optional().describe("Pass the client certificate's subject (its distinguished name) on to the servers in this header (HTTP frontends)."),
}).meta({ id: "ClientCertificates" });

/**
 * TLS from HAProxy to a backend's servers. Exactly one of caFile (the servers' certificates are
 * verified against it) and insecureSkipVerify (encrypted, but any certificate is taken: a server
 * in the middle goes unnoticed).
 */
export const ServerTls = z
  .strictObject({
    caFile: FileName.optional().describe("The CA (a PEM file in the certificate directory) the servers' certificates must chain to."),
    insecureSkipVerify: z.literal(true).optional().describe("Encrypt but do not verify the servers' certificates: anyone in the middle can read the traffic. Say it knowingly."),
    serverName: ExactHost.optional().describe("The name sent as SNI, and that the server's certificate must carry (verifyhost)."),
    clientCertificate: FileName.optional().describe("A client certificate and key (one PEM file) HAProxy presents: servers that require mutual TLS."),
    alpn: z.array(z.enum(["h2", "http/1.1"])).min(1).optional().describe("Offer these protocols through ALPN (h2 lets HAProxy speak HTTP/2 to the servers)."),
  })
  .superRefine((tls, ctx) => {
    if ((tls.caFile === undefined) === (tls.insecureSkipVerify === undefined)) {
      ctx.addIssue({ code: "custom", message: tls.caFile === undefined ? "say how the servers' certificates are verified: give caFile (or, knowingly, insecureSkipVerify: true)" : "caFile verifies the servers and insecureSkipVerify does not: give one of them" });
    }
    if (tls.insecureSkipVerify && tls.serverName !== undefined) ctx.addIssue({ code: "custom", path: ["serverName"], message: "with insecureSkipVerify the server's name is never checked: give caFile to verify it" });
  }).meta({ id: "ServerTls" });
export type ServerTls = z.output<typeof ServerTls>;

/** The PROXY protocol header HAProxy sends each server, which tells it the client's address. */
export const SEND_PROXY_VERSIONS = ["v1", "v2"] as const;

/** Accept the PROXY protocol on a bind, from these networks only (a load balancer in front): anyone else could claim any address. */
export const AcceptProxy = z.strictObject({
  from: z
    .array(Cidr.refine((n) => !/\/0$/.test(n), { error: (iss) => `${show(iss.input)} is every address: name the load balancers that send the PROXY header, or any client could claim any address` }))
    .min(1, { error: "say which networks may send the PROXY header: an open accept-proxy lets any client claim any address" }).describe("The networks of the load balancers that send the PROXY header; connections from elsewhere are refused."),
}).meta({ id: "AcceptProxy" });
