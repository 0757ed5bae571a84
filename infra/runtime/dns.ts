// Asking the local stack's name server, as HAProxy does: one query to one server, no system resolver.
import { Resolver } from "node:dns/promises";

/** Error codes of a query the server answered (the name has no record, or is refused): it serves. */
const ANSWERED = new Set(["ENOTFOUND", "ENODATA", "EREFUSED", "ENONAME"]);

/** The A records `server` ("address:port") holds for `name`: [] when it answers with none; throws when it does not answer. */
export async function resolveA(server: string, name: string, timeoutMs = 1000): Promise<string[]> {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  resolver.setServers([server]);
  try {
    return await resolver.resolve4(name);
  } catch (error) {
    if (ANSWERED.has((error as NodeJS.ErrnoException).code ?? "")) return [];
    throw error;
  }
}

/** Whether a name server answers at all. */
export async function dnsServing(server: string, name: string): Promise<boolean> {
  try {
    await resolveA(server, name);
    return true;
  } catch {
    return false;
  }
}
