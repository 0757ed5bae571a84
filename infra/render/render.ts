// Topology → haproxy.cfg text, through the Handlebars templates in templates/.
import { readFileSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import Handlebars from "handlebars";
import type { Topology } from "../model/schema.ts";
import { REPO_ROOT } from "../repo.ts";
import type { RenderTarget } from "./targets.ts";
import { buildView, type ConfigView } from "./view.ts";

/** The repository's templates; the apply agent's image, which has no repository, says where with LB_TEMPLATES_DIR. */
export const TEMPLATES_DIR = process.env.LB_TEMPLATES_DIR ?? join(REPO_ROOT, "templates");

export interface RenderOptions {
  /** What the config was generated from, for its header: a path relative to the repository. */
  source?: string;
}

export type ConfigRenderer = (topology: Topology, target: RenderTarget, options?: RenderOptions) => string;

/** Reads and compiles the templates once; the returned function is pure. */
export function createRenderer(templatesDir: string = TEMPLATES_DIR): ConfigRenderer {
  const handlebars = Handlebars.create();
  const partialsDir = join(templatesDir, "partials");
  for (const file of readdirSync(partialsDir).filter((f) => f.endsWith(".hbs")).sort()) {
    handlebars.registerPartial(basename(file, ".hbs"), readFileSync(join(partialsDir, file), "utf8"));
  }
  // noEscape: HTML escaping would corrupt haproxy.cfg (e.g. "&" in a path); the schema already
  // guarantees that no string can break a line or start a comment. strict: a view field the
  // templates name but the view lacks is a bug, so fail loudly instead of rendering nothing.
  const template = handlebars.compile<ConfigView>(readFileSync(join(templatesDir, "haproxy.cfg.hbs"), "utf8"), {
    noEscape: true,
    strict: true,
  });
  return (topology, target, options = {}) => {
    const text = template(buildView(topology, target, options.source ?? "a topology"));
    return text.endsWith("\n") ? text : `${text}\n`;
  };
}

let defaultRenderer: ConfigRenderer | undefined;

/** Renders with the project's templates. */
export function renderHaproxyConfig(topology: Topology, target: RenderTarget, options?: RenderOptions): string {
  defaultRenderer ??= createRenderer();
  return defaultRenderer(topology, target, options);
}
