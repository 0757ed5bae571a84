// The topology model's reference, read from the zod schema itself: its JSON Schema (which an editor
// uses to check a topology.json as it is typed) and a page per type, every field with its type,
// default, description and an example. Nothing here is written by hand, so nothing here goes stale.
import { z } from "zod";
import { Topology } from "../model/schema.ts";
import { anchor } from "./anchor.ts";

/** Where the published JSON Schema lives in the repository; its $id. */
export const TOPOLOGY_SCHEMA_FILE = "docs/reference/topology.schema.json";

type JsonSchema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  $defs?: Record<string, JsonSchema>;
  [key: string]: unknown;
};

/** The JSON Schema of what a topology file may hold (the input: fields with defaults may be left out). */
export function topologyJsonSchema(): JsonSchema {
  const schema = z.toJSONSchema(Topology, { io: "input", unrepresentable: "any", target: "draft-2020-12" }) as JsonSchema;
  // A topology.json names this schema in "$schema" for its editor; the loader leaves that key out.
  const properties = { $schema: { type: "string", description: "The JSON Schema an editor checks this file with: the path or URL of docs/reference/topology.schema.json." }, ...schema.properties };
  return {
    $schema: schema.$schema,
    $id: TOPOLOGY_SCHEMA_FILE,
    title: "Topology",
    description: "A load-balancer topology: what HAProxy serves and balances, and the services around it. Generated from infra/model by npm run docs.",
    ...Object.fromEntries(Object.entries(schema).filter(([key]) => key !== "$schema")),
    properties,
  };
}

export interface FieldDoc {
  name: string;
  /** Markdown: a type, a list of allowed values, or a link to a named type. */
  type: string;
  required: boolean;
  default?: unknown;
  description?: string;
  example?: unknown;
}

export interface TypeDoc {
  /** A named type ("Frontend"), or an unnamed object by where it sits ("Global.statsSocket"). */
  name: string;
  /** Its JSON Pointer in the topology's JSON Schema: "#/$defs/Frontend". */
  pointer: string;
  fields: FieldDoc[];
}

const refName = (ref: string): string => ref.slice(ref.lastIndexOf("/") + 1);

/**
 * Every object type of the schema, the topology first, then each type in the order a reader meets it
 * (breadth first), unnamed objects under their parent's name. A field's example is the first value
 * the given topology inputs hold for it, else the registry's ("Type.field" → value).
 */
export function topologyTypes(schema: JsonSchema, exampleInputs: readonly unknown[] = [], exampleRegistry: Readonly<Record<string, unknown>> = {}): TypeDoc[] {
  const defs = schema.$defs ?? {};
  /** A property's schema → the object types it leads to (named, or unnamed under "Owner.field"), each with the values found under it. */
  const subtypes = (owner: string, field: string, pointer: string, node: JsonSchema, values: unknown[], reach: (name: string, pointer: string, node: JsonSchema, values: unknown[]) => void): void => {
    if (node.$ref !== undefined) return reach(refName(node.$ref), node.$ref, defs[refName(node.$ref)]!, values);
    for (const key of ["anyOf", "oneOf", "allOf"] as const) node[key]?.forEach((branch, i) => subtypes(owner, field, `${pointer}/${key}/${i}`, branch, values, reach));
    if (node.items !== undefined) subtypes(owner, field, `${pointer}/items`, node.items, values.flatMap((v) => (Array.isArray(v) ? v : [])), reach);
    if (typeof node.additionalProperties === "object") subtypes(owner, field, `${pointer}/additionalProperties`, node.additionalProperties as JsonSchema, values.flatMap((v) => (v !== null && typeof v === "object" ? Object.values(v) : [])), reach);
    if (node.properties !== undefined) reach(`${owner}.${field}`, pointer, node, values);
  };
  const fieldValues = (values: unknown[], field: string): unknown[] =>
    values.flatMap((v) => (v !== null && typeof v === "object" && !Array.isArray(v) && (v as Record<string, unknown>)[field] !== undefined ? [(v as Record<string, unknown>)[field]] : []));

  // First every value the inputs hold, by type: the data is finite, so the walk ends even where types recurse (conditions).
  const valuesOf = new Map<string, unknown[]>();
  const collect = (name: string, pointer: string, node: JsonSchema, values: unknown[]) => {
    if (values.length === 0) return;
    valuesOf.set(name, [...(valuesOf.get(name) ?? []), ...values]);
    for (const [field, property] of Object.entries(node.properties ?? {})) subtypes(name, field, `${pointer}/properties/${field}`, property, fieldValues(values, field), collect);
  };
  collect("Topology", "#", schema, [...exampleInputs]);

  // Then the types, breadth first from the topology.
  const types: TypeDoc[] = [];
  const queue: { name: string; pointer: string; node: JsonSchema }[] = [{ name: "Topology", pointer: "#", node: schema }];
  const reached = new Set(["Topology"]);
  const reach = (name: string, pointer: string, node: JsonSchema) => {
    if (reached.has(name)) return;
    reached.add(name);
    queue.push({ name, pointer, node });
  };
  for (let i = 0; i < queue.length; i++) {
    const { name, pointer, node } = queue[i]!;
    const values = valuesOf.get(name) ?? [];
    const fields = Object.entries(node.properties ?? {}).map(([field, property]): FieldDoc => {
      subtypes(name, field, `${pointer}/properties/${field}`, property, [], reach);
      const doc: FieldDoc = { name: field, type: typeOf(property, name, field), required: (node.required ?? []).includes(field) };
      const description = descriptionOf(property);
      if (description !== undefined) doc.description = description;
      if (property.default !== undefined) doc.default = property.default;
      const example = fieldValues(values, field)[0] ?? exampleRegistry[`${name}.${field}`];
      if (example !== undefined) doc.example = example;
      return doc;
    });
    types.push({ name, pointer, fields });
  }
  return types;
}

/** A property's own description, or the one its optional wrapper carries. */
function descriptionOf(node: JsonSchema): string | undefined {
  return node.description ?? [...(node.anyOf ?? []), ...(node.allOf ?? [])].map(descriptionOf).find((d) => d !== undefined);
}

function typeOf(node: JsonSchema, owner: string, field: string): string {
  if (node.$ref !== undefined) return `[${refName(node.$ref)}](#${anchor(refName(node.$ref))})`;
  const branches = node.anyOf ?? node.oneOf;
  if (branches !== undefined) return [...new Set(branches.map((b) => typeOf(b, owner, field)))].join(" or ");
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (node.enum !== undefined) return node.enum.map((v) => `\`${JSON.stringify(v)}\``).join(", ");
  if (node.type === "array") return `list of ${node.items === undefined ? "values" : typeOf(node.items, owner, field)}`;
  if (node.properties !== undefined) return `[object](#${anchor(`${owner}.${field}`)})`;
  if (typeof node.additionalProperties === "object") return `map of name to ${typeOf(node.additionalProperties as JsonSchema, owner, field)}`;
  if (node.type === "integer" || node.type === "number") {
    const range = node.minimum !== undefined && node.maximum !== undefined ? ` ${node.minimum}–${node.maximum}` : "";
    return typeof node.title === "string" ? node.title : `${node.type === "integer" ? "integer" : "number"}${range}`;
  }
  if (typeof node.title === "string") return node.title;
  if (typeof node.type === "string") return node.type;
  return "any";
}

/**
 * Whether a field needs an example of its own: it has no default, and its type is a plain value (an
 * object's fields have theirs in its own section; true is its own example).
 */
export const needsExample = (field: FieldDoc): boolean => field.default === undefined && isPlainValue(field);

/** A field whose value is plain (not an object nor a list of objects, which have sections of their own), and not the constant true. */
const isPlainValue = (field: FieldDoc): boolean => !/\]\(#/.test(field.type) && field.type !== "`true`";

/** "Type.field" for every field without a description: the reference's completeness, checked by a test. */
export const undocumentedFields = (types: readonly TypeDoc[]): string[] => types.flatMap((t) => t.fields.filter((f) => f.description === undefined).map((f) => `${t.name}.${f.name}`));

const inlineJson = (value: unknown, max = 100): string => {
  const text = JSON.stringify(value);
  return `\`${text.length > max ? `${text.slice(0, max - 1)}…` : text}\``;
};
const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The reference page: one section per type, one table row per field. */
export function topologyReferenceMarkdown(types: readonly TypeDoc[]): string {
  const lines = [
    "# Topology reference",
    "",
    "<!-- Generated from infra/model by `npm run docs`; edit the schema's descriptions, not this page. -->",
    "",
    "Every field a topology may hold, from the schema the stack validates with. A topology file is a TypeScript",
    "module that exports `topology` (see `infra/topology.ts`) or a JSON document; for JSON, point your editor at",
    `[topology.schema.json](topology.schema.json) (\`"$schema": "${TOPOLOGY_SCHEMA_FILE}"\` relative to the repository) and it checks fields as you type.`,
    "",
    "Fields marked *required* must be given; the others have the default shown, or are off when left out.",
    "Examples are taken from the topologies in `infra/` where one sets the field.",
    "",
    "Types: " + types.map((t) => `[${t.name}](#${anchor(t.name)})`).join(" · "),
    "",
  ];
  for (const type of types) {
    lines.push(`## ${type.name}`, "", "| Field | Type | Default | Description |", "| --- | --- | --- | --- |");
    for (const f of type.fields) {
      const fallback = f.required ? "*required*" : "";
      const example = f.example !== undefined && isPlainValue(f) && !isSameJson(f.example, f.default) ? ` Example: ${inlineJson(f.example)}.` : "";
      lines.push(`| \`${f.name}\` | ${cell(f.type)} | ${f.default !== undefined ? cell(inlineJson(f.default, 60)) : fallback} | ${cell((f.description ?? "") + example)} |`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

const isSameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
