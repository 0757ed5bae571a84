// The documentation as a reader sees it: every Markdown page of the repository's docs (and the
// README) rendered to HTML with marked and one template, links between pages turned into links
// between the HTML files, links to the repository's files kept pointing at those files.
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, posix, relative } from "node:path";
import { Marked, type Tokens } from "marked";
import { anchor } from "./anchor.ts";

/** The Markdown pages of the site, repository-relative: the README and everything under docs/. */
export function sitePages(root: string): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir)).flatMap((entry) => {
      const path = posix.join(dir, entry);
      return statSync(join(root, path)).isDirectory() ? walk(path) : path.endsWith(".md") ? [path] : [];
    });
  return ["README.md", ...walk("docs").sort()];
}

/** README.md → index.html; docs/a/b.md → docs/a/b.html. */
export const htmlPath = (page: string): string => (page === "README.md" ? "index.html" : page.replace(/\.md$/, ".html"));

/** Renders every page into outDir; returns the HTML files written, relative to outDir. */
export function renderSite(root: string, outDir: string): string[] {
  const pages = sitePages(root);
  const written: string[] = [];
  for (const page of pages) {
    const html = renderPage(root, outDir, page, readFileSync(join(root, page), "utf8"));
    const out = join(outDir, htmlPath(page));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, html);
    written.push(htmlPath(page));
  }
  return written;
}

function renderPage(root: string, siteDir: string, page: string, markdown: string): string {
  const pageDir = posix.dirname(page);
  const outDir = posix.dirname(htmlPath(page));
  const marked = new Marked({
    gfm: true,
    walkTokens(token) {
      if (token.type === "link") token.href = siteHref(token.href, pageDir, outDir, root, siteDir);
    },
    renderer: {
      heading({ tokens, depth, text }: Tokens.Heading) {
        return `<h${depth} id="${anchor(text)}">${this.parser.parseInline(tokens)}</h${depth}>\n`;
      },
    },
  });
  const body = marked.parse(markdown, { async: false });
  const title = /^# (.+)$/m.exec(markdown)?.[1] ?? page;
  const home = posix.relative(outDir, "index.html");
  const docsIndex = posix.relative(outDir, "docs/README.html");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font: 16px/1.55 system-ui, sans-serif; max-width: 58rem; margin: 0 auto; padding: 1rem 1.5rem 4rem; color: #1f2328; }
nav { border-bottom: 1px solid #d0d7de; padding-bottom: .5rem; margin-bottom: 1.5rem; }
nav a { margin-right: 1rem; }
pre, code { font: 13.5px/1.45 ui-monospace, monospace; background: #f6f8fa; }
pre { padding: .8rem; overflow-x: auto; }
table { border-collapse: collapse; display: block; overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; vertical-align: top; }
</style>
</head>
<body>
<nav><a href="${home}">Overview</a><a href="${docsIndex}">Documentation</a></nav>
<main>
${body}
</main>
</body>
</html>
`;
}

/**
 * A link as the site needs it: another page's .md becomes its .html (the anchor kept); a file of the
 * repository is linked where it lies, relative to the HTML file; absolute URLs and anchors stay.
 */
function siteHref(href: string, pageDir: string, outDir: string, root: string, siteDir: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith("#")) return href;
  const [path = "", fragment] = href.split("#", 2);
  const target = posix.normalize(posix.join(pageDir, path));
  const suffix = fragment === undefined ? "" : `#${fragment}`;
  if (target.endsWith(".md")) return `${posix.relative(outDir, htmlPath(target)) || posix.basename(htmlPath(target))}${suffix}`;
  // Not a page: the repository's file, from the HTML file's folder.
  return `${relative(join(siteDir, outDir), join(root, target))}${suffix}`;
}

const escapeHtml = (text: string): string => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
