// A peers section, global's localpeer and the stick tables that name the section, read back as the
// model's peers: this load balancer's peer (where it listens), the remote ones, and every table shared
// through the one section. Read once every section is read: localpeer, the section and the tables
// may come in any order.
import type { Location } from "../../haproxy/config-parser.ts";
import { type Draft, type LineAccount, type Outcome, int, text, values } from "./context.ts";

/** A stick-table line's words without "peers NAME", and the section it names. */
export function tableSharing(words: readonly string[]): { words: string[]; peers?: string } {
  const at = words.indexOf("peers");
  if (at < 0) return { words: [...words] };
  return { words: words.filter((_, i) => i !== at && i !== at + 1), peers: words[at + 1] };
}

/** ADDRESS:PORT as a peers section writes it: a host, an IPv4 or a bracketed IPv6 address, or none (every address). */
function hostPort(written: string | undefined): { host?: string; port: number } | undefined {
  const m = /^(?:ipv4@|ipv6@)?(\[[^\]]+\]|[^:[\]]*):(\d+)$/.exec(written ?? "");
  const port = int(m?.[2]);
  if (!m || port === undefined) return undefined;
  const host = m[1]!.replace(/^\[|\]$/g, "");
  return { port, ...(host !== "" && host !== "*" && host !== "0.0.0.0" && { host }) };
}

interface PeerLine {
  name: string;
  host?: string;
  port?: number;
  at: Location;
}

/** The field of the line that is this load balancer's peer (the comparison reads its address as the render places it). */
export const LOCAL_PEER_FIELD = "peers.localPeer, peers.address, peers.port";

type Account = (at: Location, directive: string, outcome: Outcome) => void;
type Restate = (at: Location, change: (line: LineAccount) => void) => void;

/**
 * The model's peers (draft.peers.model) from the first peers section, or each line refused with why:
 * the model has one section, whose local peer global's localpeer names.
 */
export function settlePeers(draft: Draft, account: Account, restate: Restate): void {
  const { sections, localPeer, tables } = draft.peers;
  const [section, ...others] = sections;
  const refuseTables = (why: (peers: string) => string) => {
    for (const table of tables) if (table.peers !== undefined) restate(table.at, (line) => Object.assign(line, { outcome: "refused", field: undefined, why: why(table.peers!) }));
  };
  for (const other of others) {
    account(other.at, `peers ${other.name}`, { refused: `the model shares every table through one peers section (${section!.name}, the first): merge this one into it` });
    for (const d of other.directives) account(d.at, text(d), { refused: "inside a second peers section" });
  }
  if (!section) {
    if (localPeer) restate(localPeer.at, (line) => Object.assign(line, { outcome: "decided", field: "names nothing: the config has no peers section (the stack writes localpeer only beside one)" }));
    refuseTables((peers) => `no peers section named ${JSON.stringify(peers)}`);
    return;
  }
  const peers: PeerLine[] = [];
  let bind: { host?: string; port: number; at: Location } | undefined;
  const lines: [Location, string, Outcome | undefined][] = [];
  for (const d of section.directives) {
    const [keyword, first, second, ...rest] = values(d.words);
    const address = hostPort(keyword === "bind" ? first : second);
    let outcome: Outcome | undefined;
    if (keyword === "peer" && first && address && !rest.length) peers.push({ name: first, ...address, at: d.at });
    else if (keyword === "server" && first && (second === undefined || address) && !rest.length) peers.push({ name: first, ...address, at: d.at });
    else if (keyword === "bind" && address && second === undefined) bind = { ...address, at: d.at };
    else outcome = { refused: `${keyword} is not in the model's peers: it reads peer NAME ADDRESS:PORT lines (or bind ADDRESS:PORT and server NAME [ADDRESS:PORT]), nothing else` };
    lines.push([d.at, text(d), outcome]);
  }
  const local = localPeer && peers.find((p) => p.name === localPeer.name);
  const localAddress = local && (local.port !== undefined ? { host: local.host, port: local.port } : bind);
  const problem = !localPeer
    ? "no localpeer in global: HAProxy then calls this load balancer by the machine's host name, which import cannot know; add localpeer NAME, NAME being the peer line that is this load balancer"
    : !local
      ? `localpeer ${localPeer.name} names none of the section's peers (${peers.map((p) => p.name).join(", ") || "none"}): this load balancer would hand no table over`
      : !localAddress
        ? `the local peer ${local.name} has no address: give it one (or a bind line)`
        : peers.find((p) => p !== local && p.port === undefined)
          ? `a remote peer needs its address: ${peers.find((p) => p !== local && p.port === undefined)!.name}`
          : undefined;
  if (problem) {
    account(section.at, `peers ${section.name}`, { refused: problem });
    for (const [at, directive, outcome] of lines) account(at, directive, outcome ?? { refused: "inside a peers section refused above" });
    if (localPeer) restate(localPeer.at, (line) => Object.assign(line, { outcome: "refused", field: undefined, why: `the peers section ${section.name} is refused: ${problem}` }));
    refuseTables(() => `shared through the peers section ${section.name}, which is refused: ${problem}`);
    return;
  }
  const remotes = peers.filter((p) => p !== local);
  draft.peers.model = { name: section.name, localPeer: local!.name, ...(localAddress!.host !== undefined && { address: localAddress!.host }), port: localAddress!.port, remotes: remotes.map((p) => ({ name: p.name, address: p.host, port: p.port })) };
  account(section.at, `peers ${section.name}`, { field: "peers" });
  for (const [at, directive, outcome] of lines) {
    const field = at === local!.at || at === bind?.at ? LOCAL_PEER_FIELD : `peers.remotes.${peers.find((p) => p.at === at)?.name}`;
    // The bind and server form is written as peer lines, the form the stack renders.
    const written = directive.startsWith("peer ") ? {} : { why: "written as a peer line (peer NAME ADDRESS:PORT)", normalised: true as const };
    account(at, directive, outcome ?? { field, ...written });
  }
  const remoteNames = remotes.map((p) => p.name);
  for (const table of tables) {
    if (table.peers === section.name) continue;
    if (table.peers !== undefined) {
      restate(table.at, (line) => Object.assign(line, { outcome: "refused", field: undefined, why: `no peers section named ${JSON.stringify(table.peers)} (the model's is ${section.name})` }));
      continue;
    }
    // The model shares every table of the stack: one the original kept to itself is shared now.
    const why = `shared through peers ${section.name} in the model, as every table of the stack: it survives reloads${remoteNames.length ? ` and reaches ${remoteNames.join(", ")}` : ""}`;
    restate(table.at, (line) => {
      if (line.outcome === "refused" || line.outcome === "decided") return;
      Object.assign(line, { outcome: "normalised", why: line.why ? `${line.why}; ${why}` : why });
    });
  }
}
