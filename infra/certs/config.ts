// What the issuer reads at start (issuer.json in the run directory, written by the local stack's
// declaration): the certificates to manage, where HAProxy's admin socket is, and every certificate
// file the binds serve (for status). Part of the issuer's description: a change restarts it, and
// its first pass obtains what the new settings ask for.
import { z } from "zod";
import { ManagedCertificate } from "../model/certificates.ts";
import { bindCertificates, type Topology } from "../model/schema.ts";
import { certificateFiles } from "../render/validate.ts";
import { readStateFile, stateFileText, type StateFileFormat } from "../../lib/state-file.ts";

export const ISSUER_CONFIG_FILE = "issuer.json";
/** The issuer's record of what it issued and installed, beside its config (the sidecar exports it). */
export const CERTIFICATES_STATE_FILE = "certificates.json";

export interface IssuerConfig {
  adminSocket: string;
  certificates: ManagedCertificate[];
  /** Every certificate file the binds serve, managed or given. */
  files: string[];
  /**
   * The TLS files the user gives (certificates, CAs, CRLs), which the issuer copies into HAProxy's
   * certificate directory where it owns that directory (the Docker stack: see prepareCertificateDirectory).
   */
  given: string[];
}

export const ISSUER_CONFIG_FORMAT: StateFileFormat<IssuerConfig> = {
  describes: "the certificate issuer's configuration",
  version: 1,
  validate: (document) => z.strictObject({ adminSocket: z.string().min(1), certificates: z.array(ManagedCertificate), files: z.array(z.string()), given: z.array(z.string()).default([]) }).parse(document),
  fix: "npm start writes it from the topology: run npm start again (it repairs the stack it finds)",
};

export function issuerConfig(topology: Topology, adminSocket: string): IssuerConfig {
  const managed = new Set(topology.certificates.map((c) => c.file));
  return {
    adminSocket,
    certificates: topology.certificates,
    files: [...new Set(topology.frontends.flatMap((f) => f.binds.flatMap(bindCertificates)))],
    given: certificateFiles(topology).map((f) => f.name).filter((name) => !managed.has(name)),
  };
}

export const issuerConfigText = (config: IssuerConfig) => stateFileText(ISSUER_CONFIG_FORMAT, config);

/** The issuer's configuration in `file`; undefined when there is none (no stack, or no managed certificate). */
export const readIssuerConfig = (file: string): Promise<IssuerConfig | undefined> => readStateFile(file, ISSUER_CONFIG_FORMAT);

