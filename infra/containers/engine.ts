// A client of the Docker Engine API (1.41) as podman's service serves it on a unix socket, for the
// calls the local deployer makes; plus podman's own health-check call, which its service needs
// because nothing else runs health checks where systemd does not (podman schedules them with it).
import { Client } from "undici";
import { EngineRequestError } from "../errors.ts";
import type { EngineContainerCreate } from "./deploy-sequence.ts";

const API = "/v1.41";
/** podman's libpod API, served on the same socket. */
const LIBPOD = "/v4.0.0/libpod";

export interface ContainerSummary {
  Id: string;
  Names: string[];
  State: string;
  Labels: Record<string, string>;
}

export class EngineClient {
  private readonly client: Client;

  constructor(readonly socketPath: string) {
    this.client = new Client("http://engine", { socketPath, headersTimeout: 15 * 60_000, bodyTimeout: 15 * 60_000 });
  }

  close(): Promise<void> {
    return this.client.close();
  }

  /** One call; its JSON answer (or text), or EngineRequestError naming the call and the engine's message. */
  async call<T = unknown>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const isRaw = Buffer.isBuffer(body);
    const response = await this.client.request({
      method,
      path,
      body: body === undefined ? undefined : isRaw ? body : JSON.stringify(body),
      headers: { ...(body !== undefined && !isRaw && { "content-type": "application/json" }), ...headers },
    });
    const text = await response.body.text();
    if (response.statusCode >= 400) {
      let message = text.trim();
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        /* not JSON */
      }
      throw new EngineRequestError(`${method} ${path}`, response.statusCode, message);
    }
    try {
      return (text ? JSON.parse(text) : undefined) as T;
    } catch {
      return text as T;
    }
  }

  version(): Promise<{ Version: string; ApiVersion: string }> {
    return this.call("GET", `${API}/version`);
  }

  /** An image's id and labels, or undefined when the engine has no such image. */
  async inspectImage(name: string): Promise<{ Id: string; Labels: Record<string, string> } | undefined> {
    try {
      const info = await this.call<{ Id: string; Config?: { Labels?: Record<string, string> | null } }>("GET", `${API}/images/${encodeURIComponent(name)}/json`);
      return { Id: info.Id, Labels: info.Config?.Labels ?? {} };
    } catch (error) {
      if (error instanceof EngineRequestError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** Builds `tag` from a tar of its context; the build's output lines go to `log`. */
  async build(contextTar: Buffer, options: { tag: string; dockerfile: string; buildArgs: Record<string, string>; labels?: Record<string, string> }, log: (line: string) => void): Promise<void> {
    const query = new URLSearchParams({ t: options.tag, dockerfile: options.dockerfile, buildargs: JSON.stringify(options.buildArgs), labels: JSON.stringify(options.labels ?? {}), rm: "true" });
    const answer = await this.call<string | object>("POST", `${API}/build?${query}`, contextTar, { "content-type": "application/x-tar" });
    const lines = typeof answer === "string" ? answer.split("\n") : [JSON.stringify(answer)];
    for (const line of lines.filter(Boolean)) {
      let parsed: { stream?: string; error?: string };
      try {
        parsed = JSON.parse(line);
      } catch {
        continue;
      }
      if (parsed.error) throw new EngineRequestError(`build ${options.tag}`, 500, parsed.error.trim());
      // The steps, not every line each step prints (apt's output would drown the rest).
      if (parsed.stream?.startsWith("STEP ")) log(`${options.tag}: ${parsed.stream.trim()}`);
    }
    if (!(await this.inspectImage(options.tag))) throw new EngineRequestError(`build ${options.tag}`, 500, "the build ended without the image");
  }

  createNetwork(name: string, driver: string, labels: Record<string, string>): Promise<unknown> {
    return this.call("POST", `${API}/networks/create`, { Name: name, Driver: driver, Labels: labels });
  }

  createVolume(name: string, labels: Record<string, string>): Promise<unknown> {
    return this.call("POST", `${API}/volumes/create`, { Name: name, Labels: labels });
  }

  async createContainer(name: string, body: EngineContainerCreate & { Labels: Record<string, string> }): Promise<string> {
    return (await this.call<{ Id: string }>("POST", `${API}/containers/create?name=${encodeURIComponent(name)}`, body)).Id;
  }

  /** Extracts a tar into `dir` of the container (Terraform's upload). */
  putArchive(container: string, dir: string, tar: Buffer): Promise<unknown> {
    return this.call("PUT", `${API}/containers/${encodeURIComponent(container)}/archive?path=${encodeURIComponent(dir)}`, tar, { "content-type": "application/x-tar" });
  }

  start(container: string): Promise<unknown> {
    return this.call("POST", `${API}/containers/${encodeURIComponent(container)}/start`);
  }

  stop(container: string, seconds = 10): Promise<unknown> {
    return this.call("POST", `${API}/containers/${encodeURIComponent(container)}/stop?t=${seconds}`);
  }

  inspect(container: string): Promise<{ State: { Status: string; Running: boolean; ExitCode: number }; NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }> {
    return this.call("GET", `${API}/containers/${encodeURIComponent(container)}/json`);
  }

  /** Runs the container's health check once: "healthy" or "unhealthy" (podman's own call). */
  async runHealthcheck(container: string): Promise<string> {
    return (await this.call<{ Status: string }>("GET", `${LIBPOD}/containers/${encodeURIComponent(container)}/healthcheck`)).Status;
  }

  async logs(container: string, tail = 20): Promise<string> {
    const raw = await this.call<string>("GET", `${API}/containers/${encodeURIComponent(container)}/logs?stdout=true&stderr=true&tail=${tail}`);
    // Multiplexed stream frames (8-byte headers) or plain text: keep the printable part.
    return String(raw).replace(/[\u0000-\u0008\u000e-\u001f]/g, "");
  }

  listContainers(label: string): Promise<ContainerSummary[]> {
    return this.call("GET", `${API}/containers/json?all=true&filters=${encodeURIComponent(JSON.stringify({ label: [label] }))}`);
  }

  listNetworks(label: string): Promise<{ Name: string }[]> {
    return this.call("GET", `${API}/networks?filters=${encodeURIComponent(JSON.stringify({ label: [label] }))}`);
  }

  async listVolumes(label: string): Promise<{ Name: string }[]> {
    return (await this.call<{ Volumes: { Name: string }[] | null }>("GET", `${API}/volumes?filters=${encodeURIComponent(JSON.stringify({ label: [label] }))}`)).Volumes ?? [];
  }

  removeContainer(id: string): Promise<unknown> {
    return this.call("DELETE", `${API}/containers/${encodeURIComponent(id)}?force=true&v=false`);
  }

  removeNetwork(name: string): Promise<unknown> {
    return this.call("DELETE", `${API}/networks/${encodeURIComponent(name)}`);
  }

  removeVolume(name: string): Promise<unknown> {
    return this.call("DELETE", `${API}/volumes/${encodeURIComponent(name)}`);
  }
}

/** Pure: a tar holding one file, as the archive API takes it (ustar, owned by root). */
export function tarOneFile(name: string, content: string | Buffer, mode = 0o644): Buffer {
  const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
  const header = Buffer.alloc(512);
  const put = (text: string, offset: number, length: number) => header.write(text.slice(0, length), offset, length, "utf8");
  const octal = (n: number, length: number) => n.toString(8).padStart(length - 1, "0") + "\0";
  put(name, 0, 100);
  put(octal(mode, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(data.length, 12), 124, 12);
  put(octal(Math.floor(Date.now() / 1000), 12), 136, 12);
  header.fill(" ", 148, 156);
  put("0", 156, 1);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  const checksum = header.reduce((sum, byte) => sum + byte, 0);
  put(octal(checksum, 7) + " ", 148, 8);
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, padding, Buffer.alloc(1024)]);
}
