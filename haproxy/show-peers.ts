// "show peers": one header line per peers section ("<reference>: [<date>] id=NAME disabled=0
// flags=0x33 resync_timeout=... task_calls=N"), then that section's peers and tables, indented.
// Only the headers are read: whether each section has finished its resync.
import { ShowPeersGarbledError } from "./errors.ts";

export interface PeersSectionState {
  name: string;
  disabled: boolean;
  /**
   * The section has learnt the tables from the old worker and the remote peers, or no longer waits
   * for them (HAProxy's PEERS_RESYNC_FINISHED: flags 0x1 and 0x2). Only then does the worker hand its
   * tables to the next one at a reload: before, a reload starts the next worker's tables empty.
   */
  resynced: boolean;
}

const SECTION = /^0x[0-9a-f]+: \[[^\]]*\] id=(\S+) disabled=(\d+) flags=0x([0-9a-f]+) resync_timeout=\S+ task_calls=\d+$/;
const RESYNC_FINISHED = 0x3;

export function parsePeersSections(text: string): PeersSectionState[] {
  return text
    .split("\n")
    .filter((line) => line !== "" && !/^\s/.test(line))
    .map((line) => {
      const m = SECTION.exec(line);
      if (!m) throw new ShowPeersGarbledError(line);
      return { name: m[1]!, disabled: m[2] !== "0", resynced: (Number.parseInt(m[3]!, 16) & RESYNC_FINISHED) === RESYNC_FINISHED };
    });
}
