// The error codes a source tree raises, read with TypeScript's own parser: every `new X(...)` of a
// class that extends ReidError (directly or through others, such as UsageError or PageError) and
// every `super(...)` that fixes a code in such a class. Each subclass's constructor is followed to
// ReidError(code, exit, message), so a class added tomorrow is understood without a list here.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import ts from "typescript";
import { ExitCode } from "../../src/errors.js";
import { sources } from "../architecture/imports.js";

const EXIT_CODES: Readonly<Record<string, number>> = ExitCode;

/** One place that raises a code: which code (null: not a literal) and which exit codes it can have. */
export interface Raised {
  readonly code: string | null;
  /** The exit codes the call can give; empty when they cannot be read from the source. */
  readonly exits: readonly number[];
  /** `path:line`, relative to the scanned root. */
  readonly where: string;
  /** The code's expression as written, for a code that is not a literal. */
  readonly expression: string;
}

/** Where a constructor takes its code or exit: one of its parameters (with a default), or fixed. */
type Slot =
  | { readonly kind: "param"; readonly index: number; readonly fallback: ts.Expression | undefined }
  | { readonly kind: "fixed"; readonly value: ts.Expression | undefined };

interface Signature {
  readonly code: Slot;
  readonly exit: Slot;
  readonly params: readonly ts.ParameterDeclaration[];
}

interface ClassInfo {
  readonly parent: string | null;
  readonly constructor: ts.ConstructorDeclaration | undefined;
  readonly file: ts.SourceFile;
}

/** Every code raised under `root`, in file order. */
export function raisedCodes(root: string): Raised[] {
  const files = [...sources(root)].map((path) =>
    ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.Latest, true),
  );
  const classes = new Map<string, ClassInfo>();
  for (const file of files) {
    for (const node of file.statements) {
      if (!ts.isClassDeclaration(node) || !node.name) continue;
      const parent = node.heritageClauses
        ?.find((clause) => clause.token === ts.SyntaxKind.ExtendsKeyword)
        ?.types[0]?.expression.getText(file);
      const made = node.members.find(ts.isConstructorDeclaration);
      classes.set(node.name.text, { parent: parent ?? null, constructor: made, file });
    }
  }
  const signatures = new Map<string, Signature | null>();
  const signatureOf = (name: string): Signature | null => {
    if (signatures.has(name)) return signatures.get(name) ?? null;
    signatures.set(name, null);
    const found = resolve(name, classes, signatureOf);
    signatures.set(name, found);
    return found;
  };

  const raised: Raised[] = [];
  for (const file of files) {
    const where = (node: ts.Node) =>
      `${relative(root, file.fileName)}:${file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1}`;
    const visit = (node: ts.Node, inClass: string | null) => {
      const className = ts.isClassDeclaration(node) && node.name ? node.name.text : inClass;
      if (ts.isNewExpression(node)) {
        const signature = signatureOf(node.expression.getText(file));
        if (signature && signature.code.kind === "param") {
          raised.push(site(signature, node.arguments ?? [], where(node), file));
        }
      }
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.SuperKeyword && className) {
        // A class that fixes its code in its super call raises it wherever it is made: count it once, here.
        const own = signatureOf(className);
        if (own && own.code.kind === "fixed") raised.push(fixedSite(own, where(node), file));
      }
      ts.forEachChild(node, (child) => visit(child, className));
    };
    visit(file, null);
  }
  return raised;
}

/** How the class `name` takes its code and exit, followed through its super call to ReidError. */
function resolve(
  name: string,
  classes: ReadonlyMap<string, ClassInfo>,
  signatureOf: (name: string) => Signature | null,
): Signature | null {
  const info = classes.get(name);
  if (!info) return null;
  if (name === "ReidError" && info.constructor) {
    const params = info.constructor.parameters;
    return {
      code: { kind: "param", index: 0, fallback: undefined },
      exit: { kind: "param", index: 1, fallback: undefined },
      params,
    };
  }
  if (!info.parent) return null;
  const parent = signatureOf(info.parent);
  if (!parent) return null;
  if (!info.constructor) return parent;
  const params = info.constructor.parameters;
  const superCall = findSuperCall(info.constructor);
  if (!superCall) return null;
  const through = (slot: Slot): Slot => {
    if (slot.kind === "fixed") return slot;
    const argument = superCall.arguments[slot.index] ?? slot.fallback;
    const index = argument && ts.isIdentifier(argument) ? paramIndex(params, argument.text) : -1;
    if (index >= 0) return { kind: "param", index, fallback: params[index]?.initializer };
    return { kind: "fixed", value: argument };
  };
  return { code: through(parent.code), exit: through(parent.exit), params };
}

function findSuperCall(made: ts.ConstructorDeclaration): ts.CallExpression | undefined {
  let found: ts.CallExpression | undefined;
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.SuperKeyword) found ??= node;
    ts.forEachChild(node, visit);
  };
  if (made.body) visit(made.body);
  return found;
}

function paramIndex(params: readonly ts.ParameterDeclaration[], name: string): number {
  return params.findIndex((param) => ts.isIdentifier(param.name) && param.name.text === name);
}

function site(
  signature: Signature,
  args: readonly ts.Expression[],
  where: string,
  file: ts.SourceFile,
): Raised {
  const pick = (slot: Slot) => (slot.kind === "param" ? (args[slot.index] ?? slot.fallback) : slot.value);
  const code = pick(signature.code);
  // A default that depends on another argument (PageError's exit on its status) sees that argument.
  const bound = new Map<string, ts.Expression>();
  signature.params.forEach((param, i) => {
    const arg = args[i];
    if (arg && ts.isIdentifier(param.name)) bound.set(param.name.text, arg);
  });
  return {
    code: code && isText(code) ? code.text : null,
    exits: exitsOf(pick(signature.exit), bound),
    where,
    expression: code?.getText(file) ?? "(none)",
  };
}

function fixedSite(signature: Signature, where: string, file: ts.SourceFile): Raised {
  const code = signature.code.kind === "fixed" ? signature.code.value : undefined;
  const exit = signature.exit.kind === "fixed" ? signature.exit.value : signature.exit.fallback;
  return {
    code: code && isText(code) ? code.text : null,
    exits: exitsOf(exit),
    where,
    expression: code?.getText(file) ?? "(none)",
  };
}

function isText(node: ts.Expression): node is ts.StringLiteral | ts.NoSubstitutionTemplateLiteral {
  return ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node);
}

/**
 * `ExitCode.usage` and `2` are 2; `status === 400 ? ExitCode.usage : ExitCode.auth` is 2 or 4, or
 * one of them when `bound` gives `status` as a number; anything else is unknown (empty).
 */
function exitsOf(
  node: ts.Expression | undefined,
  bound: ReadonlyMap<string, ts.Expression> = new Map(),
): number[] {
  if (!node) return [];
  if (ts.isParenthesizedExpression(node)) return exitsOf(node.expression, bound);
  if (ts.isNumericLiteral(node)) return [Number(node.text)];
  if (ts.isConditionalExpression(node)) {
    const holds = evaluate(node.condition, bound);
    if (holds === true) return exitsOf(node.whenTrue, bound);
    if (holds === false) return exitsOf(node.whenFalse, bound);
    return [...exitsOf(node.whenTrue, bound), ...exitsOf(node.whenFalse, bound)];
  }
  if (ts.isPropertyAccessExpression(node) && node.expression.getText() === "ExitCode") {
    const value = EXIT_CODES[node.name.text];
    return value === undefined ? [] : [value];
  }
  return [];
}

/** `a === 1 || a === 2` with `a` bound to a number; undefined when it cannot be told. */
function evaluate(node: ts.Expression, bound: ReadonlyMap<string, ts.Expression>): boolean | undefined {
  if (ts.isParenthesizedExpression(node)) return evaluate(node.expression, bound);
  if (!ts.isBinaryExpression(node)) return undefined;
  if (node.operatorToken.kind === ts.SyntaxKind.BarBarToken) {
    const [left, right] = [evaluate(node.left, bound), evaluate(node.right, bound)];
    if (left === true || right === true) return true;
    return left === false && right === false ? false : undefined;
  }
  if (node.operatorToken.kind !== ts.SyntaxKind.EqualsEqualsEqualsToken) return undefined;
  const value = ts.isIdentifier(node.left) ? bound.get(node.left.text) : undefined;
  if (!value || !ts.isNumericLiteral(value) || !ts.isNumericLiteral(node.right)) return undefined;
  return Number(value.text) === Number(node.right.text);
}
