// Reading Prometheus text expositions in tests, to compare ours with HAProxy's own exporter.

export interface ParsedExposition {
  /** "# HELP" / "# TYPE" per metric, in order. */
  metadata: { name: string; type: string; help: string }[];
  /** Series key (name + sorted labels) → value. */
  samples: Map<string, number>;
}

/** A series key independent of label order: name{a="1",b="2"}. */
export function seriesKey(name: string, labels: Record<string, string>): string {
  const pairs = Object.keys(labels).sort().map((k) => `${k}="${labels[k]}"`);
  return pairs.length ? `${name}{${pairs.join(",")}}` : name;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): ParsedExposition {
  const metadata: ParsedExposition["metadata"] = [];
  const samples = new Map<string, number>();
  const help = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let match: RegExpExecArray | null;
    if ((match = /^# HELP (\S+) (.*)$/.exec(line))) help.set(match[1]!, match[2]!);
    else if ((match = /^# TYPE (\S+) (\S+)$/.exec(line))) metadata.push({ name: match[1]!, type: match[2]!, help: help.get(match[1]!) ?? "" });
    else if (line.startsWith("#")) continue;
    else if ((match = SAMPLE.exec(line))) {
      const labels: Record<string, string> = {};
      for (const [, k, v] of (match[2] ?? "").matchAll(LABEL)) labels[k!] = v!;
      samples.set(seriesKey(match[1]!, labels), Number(match[3]));
    } else throw new Error(`not an exposition line: ${JSON.stringify(line)}`);
  }
  return { metadata, samples };
}

/** Metric names (without labels) of the samples. */
export const metricNames = (exposition: ParsedExposition) => new Set([...exposition.samples.keys()].map((k) => k.replace(/\{.*$/, "")));
