// Every error the project reports on purpose, read from the source: each class that extends
// CodedError, its stable code, its doc comment (what it means) and the message it prints (which says
// what to do). Reading the source, not a list kept by hand, is what keeps the page complete.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

export interface ErrorDescription {
  code: string;
  className: string;
  /** The class's doc comment; empty where it has none (a test refuses that). */
  meaning: string;
  /** The message, with each interpolated value shown as "…". */
  message: string;
  /** Repository-relative. */
  file: string;
}

/** The folders whose modules may throw a coded error. */
const SOURCE_FOLDERS = ["lib", "haproxy", "sidecar", "verification", "infra"] as const;

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });

export function errorCatalogue(root: string): ErrorDescription[] {
  const found: ErrorDescription[] = [];
  for (const file of SOURCE_FOLDERS.flatMap((folder) => sourceFiles(join(root, folder)))) {
    const text = readFileSync(file, "utf8");
    if (!text.includes("CodedError")) continue;
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    for (const statement of source.statements) {
      if (!ts.isClassDeclaration(statement) || statement.name === undefined) continue;
      const code = codeOf(statement);
      if (code === undefined) continue;
      found.push({ code, className: statement.name.text, meaning: docOf(statement), message: messageOf(statement, source), file: relative(root, file) });
    }
  }
  return found.sort((a, b) => a.code.localeCompare(b.code));
}

function codeOf(declaration: ts.ClassDeclaration): string | undefined {
  for (const member of declaration.members) {
    if (ts.isPropertyDeclaration(member) && member.name.getText() === "code" && member.initializer && ts.isStringLiteral(member.initializer)) return member.initializer.text;
  }
  return undefined;
}

function docOf(node: ts.Node): string {
  const docs = (node as { jsDoc?: ts.JSDoc[] }).jsDoc ?? [];
  const comment = docs.at(-1)?.comment;
  const text = typeof comment === "string" ? comment : ts.getTextOfJSDocComment(comment) ?? "";
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/** The super(...) call's first argument, its template's literal parts kept and each ${...} shown as "…". */
function messageOf(declaration: ts.ClassDeclaration, source: ts.SourceFile): string {
  let message = "";
  const visit = (node: ts.Node) => {
    if (message !== "") return;
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.SuperKeyword && node.arguments[0]) return void (message = flatten(node.arguments[0], source));
    ts.forEachChild(node, visit);
  };
  visit(declaration);
  return message;
}

function flatten(node: ts.Expression, source: ts.SourceFile): string {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node)) return node.head.text + node.templateSpans.map((span) => `${interpolated(span.expression, source)}${span.literal.text}`).join("");
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken) return flatten(node.left, source) + flatten(node.right, source);
  if (ts.isParenthesizedExpression(node)) return flatten(node.expression, source);
  return "…";
}

/** A plain value (a name, a property) as "…"; a conditional part's literal text is kept where it is one literal. */
function interpolated(node: ts.Expression, source: ts.SourceFile): string {
  if (ts.isConditionalExpression(node)) {
    const [a, b] = [flatten(node.whenTrue, source), flatten(node.whenFalse, source)];
    return a === "" ? (b === "…" ? "…" : `[${b}]`) : b === "" ? (a === "…" ? "…" : `[${a}]`) : "…";
  }
  return "…";
}
