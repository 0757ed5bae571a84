// Every generated YAML file (Prometheus, its rules, Alertmanager, Grafana provisioning) is a typed
// object written here with the yaml library: quoting cannot go wrong.
import { stringify } from "yaml";

export interface GeneratedHeader {
  source?: string;
  topology: string;
  target: string;
}

/** A generated YAML file: a header that says where it came from, then the document. */
export function generatedYaml(document: unknown, header: GeneratedHeader): string {
  return `# Generated from ${header.source ?? "a topology"} (topology "${header.topology}", target ${header.target}). Do not edit by hand.\n${stringify(document, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
