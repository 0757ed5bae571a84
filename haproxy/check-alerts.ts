// haproxy -c's verdict on a config, line by line: each [ALERT] that names a place
// ("parsing [FILE:LINE] : ..." or "[FILE:LINE] : ..."), with what it says there.

export interface ConfigAlert {
  file: string;
  line: number;
  message: string;
}

const ALERT = /^\[ALERT\]\s+\(\d+\) : config : (?:parsing )?\[([^\]]+):(\d+)\] : (.*)$/;

/** The alerts of haproxy -c's output that name a file and a line, in order. */
export function configAlerts(output: string): ConfigAlert[] {
  return output.split("\n").flatMap((line) => {
    const m = ALERT.exec(line.trimEnd());
    return m ? [{ file: m[1]!, line: Number(m[2]), message: m[3]! }] : [];
  });
}
