// What the runner must know of a classic script before a runtime without a script compiler can
// run it through eval (islet; workerd has one, its unsafeEval binding): which of its top-level
// names a browser would put in the global scope that an indirect eval keeps to itself. In sloppy
// code those are the `let`, `const` and `class` declarations; in strict code every declaration.
// Also the scripts a worker test pulls in itself with importScripts("...").
// Parsed with acorn (the parser of webpack, rollup and eslint) rather than guessed with patterns.
import { parse, type Node, type Program } from 'acorn';

interface DeclarationNode extends Node {
  kind?: string;
  id?: { type: string; name?: string } | null;
  declarations?: { id: PatternNode }[];
}

interface PatternNode extends Node {
  name?: string;
  properties?: { type: string; value?: PatternNode; argument?: PatternNode }[];
  elements?: (PatternNode | null)[];
  left?: PatternNode;
  argument?: PatternNode;
}

function boundNames(pattern: PatternNode | null | undefined, out: string[]): void {
  if (!pattern) return;
  if (pattern.type === 'Identifier' && pattern.name) out.push(pattern.name);
  else if (pattern.type === 'ObjectPattern')
    for (const p of pattern.properties ?? []) boundNames(p.type === 'RestElement' ? p.argument : p.value, out);
  else if (pattern.type === 'ArrayPattern') for (const e of pattern.elements ?? []) boundNames(e, out);
  else if (pattern.type === 'AssignmentPattern') boundNames(pattern.left, out);
  else if (pattern.type === 'RestElement') boundNames(pattern.argument, out);
}

function isStrict(program: Program): boolean {
  for (const statement of program.body) {
    const directive = (statement as Node & { directive?: string }).directive;
    if (directive === undefined) return false;
    if (directive === 'use strict') return true;
  }
  return false;
}

/** top-level names an indirect eval of `code` would not leave in the global scope */
export function evalHiddenNames(code: string): string[] {
  let program: Program;
  try {
    program = parse(code, { ecmaVersion: 'latest', sourceType: 'script', allowHashBang: true });
  } catch {
    return []; // the runtime reports the syntax error itself when it evaluates the script
  }
  const strict = isStrict(program);
  const names: string[] = [];
  for (const statement of program.body as DeclarationNode[]) {
    if (statement.type === 'VariableDeclaration') {
      if (strict || statement.kind !== 'var') for (const d of statement.declarations ?? []) boundNames(d.id, names);
    } else if (statement.type === 'ClassDeclaration' || (strict && statement.type === 'FunctionDeclaration')) {
      if (statement.id?.name) names.push(statement.id.name);
    }
  }
  return [...new Set(names)];
}

/** the string arguments of the top-level importScripts(...) calls of a worker test, in order */
export function importedScripts(code: string): string[] {
  const urls: string[] = [];
  for (const call of code.matchAll(/^importScripts\(([^)]*)\);?\s*$/gm)) {
    for (const literal of call[1].matchAll(/"([^"]+)"|'([^']+)'/g)) urls.push(literal[1] ?? literal[2]);
  }
  return urls;
}
