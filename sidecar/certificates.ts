// The certificates HAProxy serves, as metrics: read with "show ssl cert" at each scrape (so what
// clients get, not what is on disk), and the issuer's record of its renewals, whose format the
// sidecar owns because it is what it exports (the issuer, infra/certs, writes it).
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { Counter, Gauge, type Registry } from "prom-client";
import { parseStateFile, type StateFileFormat } from "../lib/state-file.ts";
import type { ServedCertificate } from "../haproxy/ssl-cert.ts";

/** What the issuer recorded for one certificate file. */
export interface IssuanceRecord {
  /** The serial the stack last installed; another one served means someone else's (a placeholder, a hand edit). */
  serial?: string;
  installedAt?: string;
  /** A draw in [0, 1) made once per installed certificate: its renewal's jitter, stable across restarts. */
  jitterDraw?: number;
  /** Attempts failed in a row since the last success. */
  failures: number;
  lastError?: string;
  /** No attempt before this (ISO time): the backoff after a failure. */
  nextAttemptAt?: string;
  /** Outcomes since the record began. */
  renewals: { succeeded: number; failed: number };
}

export interface IssuanceRecords {
  certificates: Record<string, IssuanceRecord>;
}

const count = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
const optional = (v: unknown, type: "string" | "number") => v === undefined || typeof v === type;

/** certificates.json in the run directory. */
export const ISSUANCE_RECORDS_FORMAT: StateFileFormat<IssuanceRecords> = {
  describes: "the certificate issuer's record",
  version: 1,
  validate: (document) => {
    const certificates = document.certificates;
    if (certificates === null || typeof certificates !== "object" || Array.isArray(certificates)) throw new Error("needs a certificates object");
    for (const [file, r] of Object.entries(certificates as Record<string, Record<string, unknown>>)) {
      const renewals = r?.renewals as Record<string, unknown> | undefined;
      const ok = count(r?.failures) && count(renewals?.succeeded) && count(renewals?.failed) && optional(r.serial, "string") && optional(r.installedAt, "string") && optional(r.jitterDraw, "number") && optional(r.lastError, "string") && optional(r.nextAttemptAt, "string");
      if (!ok) throw new Error(`the record of ${file} needs failures and renewals counts, and strings or numbers where it has more`);
    }
    return document as unknown as IssuanceRecords;
  },
  fix: "delete it: the issuer then treats every served certificate as not its own and issues each again",
};

export interface CertificateSources {
  /** Every certificate HAProxy serves now. */
  served(): Promise<ServedCertificate[]>;
  /** The issuer's record file, when the stack manages certificates. */
  recordsFile?: string;
  log(line: string): void;
}

/** The issuer's records, or none when there is no file (yet); a file that cannot be read is said, and exported as none. */
async function readRecords(file: string | undefined, log: (line: string) => void): Promise<Record<string, IssuanceRecord>> {
  if (!file) return {};
  const text = await readFile(file, "utf8").catch(() => undefined);
  if (text === undefined) return {};
  try {
    return parseStateFile(file, text, ISSUANCE_RECORDS_FORMAT).certificates;
  } catch (error) {
    log((error as Error).message);
    return {};
  }
}

/** Registers the certificate metrics; each reads HAProxy (and the records) when scraped. */
export function registerCertificateMetrics(registry: Registry, sources: CertificateSources): void {
  // One read per scrape, shared by the gauges collected in that scrape.
  let pending: Promise<{ served: ServedCertificate[]; records: Record<string, IssuanceRecord> }> | undefined;
  const read = () => {
    pending ??= (async () => {
      try {
        // Labelled by the file's name, as the topology names it (HAProxy's says where the config put it).
        const served = (await sources.served()).map((c) => ({ ...c, file: basename(c.file) }));
        return { served, records: await readRecords(sources.recordsFile, sources.log) };
      } catch (error) {
        sources.log(`cannot read the served certificates: ${(error as Error).message}`);
        return { served: [], records: await readRecords(sources.recordsFile, sources.log) };
      } finally {
        setTimeout(() => (pending = undefined), 0);
      }
    })();
    return pending;
  };
  const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
  new Gauge({
    name: "haproxy_sidecar_certificate_not_after_seconds",
    help: "Unix time when the certificate HAProxy serves from this file expires",
    labelNames: ["file"],
    registers: [registry],
    async collect() {
      const { served } = await read();
      this.reset();
      for (const c of served) this.set({ file: c.file }, seconds(c.notAfter));
    },
  });
  new Gauge({
    name: "haproxy_sidecar_certificate_not_before_seconds",
    help: "Unix time from which the certificate HAProxy serves from this file is valid (with not_after: its lifetime)",
    labelNames: ["file"],
    registers: [registry],
    async collect() {
      const { served } = await read();
      this.reset();
      for (const c of served) this.set({ file: c.file }, seconds(c.notBefore));
    },
  });
  new Gauge({
    name: "haproxy_sidecar_certificate_info",
    help: "1 for the certificate HAProxy serves from this file, with its serial, issuer and names",
    labelNames: ["file", "serial", "issuer", "names"],
    registers: [registry],
    async collect() {
      const { served } = await read();
      this.reset();
      for (const c of served) this.set({ file: c.file, serial: c.serial, issuer: c.issuer, names: c.names.join(",") }, 1);
    },
  });
  new Gauge({
    name: "haproxy_sidecar_certificate_installed_served",
    help: "For a certificate the stack manages: 1 if HAProxy serves the one the issuer last installed, 0 if another (a placeholder, or changed behind the issuer's back)",
    labelNames: ["file"],
    registers: [registry],
    async collect() {
      const { served, records } = await read();
      this.reset();
      for (const [file, record] of Object.entries(records)) {
        const now = served.find((c) => c.file === file);
        this.set({ file }, now !== undefined && record.serial === now.serial ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: "haproxy_sidecar_certificate_renewal_failures",
    help: "Attempts to obtain this managed certificate that failed in a row (0 once one succeeds)",
    labelNames: ["file"],
    registers: [registry],
    async collect() {
      const { records } = await read();
      this.reset();
      for (const [file, record] of Object.entries(records)) this.set({ file }, record.failures);
    },
  });
  // A counter, kept in the record file: read (reset, then the recorded count), not incremented, here.
  new Counter({
    name: "haproxy_sidecar_certificate_renewals_total",
    help: "Attempts to obtain this managed certificate, by result (succeeded, failed)",
    labelNames: ["file", "result"],
    registers: [registry],
    async collect() {
      const { records } = await read();
      this.reset();
      for (const [file, record] of Object.entries(records)) {
        this.inc({ file, result: "succeeded" }, record.renewals.succeeded);
        this.inc({ file, result: "failed" }, record.renewals.failed);
      }
    },
  });
}
