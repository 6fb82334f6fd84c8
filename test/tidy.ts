// The tidy rules (TigerBeetle's src/tidy.zig is the model): checks on the code itself, not its
// behaviour. Every check is a pure function of in-memory sources, so each rule's own test can
// feed it a small violation; test/tidy.test.ts holds the configuration (layers, allowlists) and
// runs the checks over the real tree. Parsing uses the TypeScript compiler API, not regexes.
import { builtinModules } from 'node:module';
import { posix } from 'node:path';
import ts from 'typescript';

/** One file of the tree: a repo-relative POSIX path and its text. */
export interface Source {
  path: string;
  text: string;
}

/** One broken rule, at file:line. */
export interface Violation {
  path: string;
  line: number;
  rule: string;
  message: string;
}

export function formatViolation(violation: Violation): string {
  return `${violation.path}:${violation.line}: [${violation.rule}] ${violation.message}`;
}

const parsed = new WeakMap<Source, ts.SourceFile>();

function parse(source: Source): ts.SourceFile {
  let file = parsed.get(source);
  if (!file) {
    file = ts.createSourceFile(source.path, source.text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
    parsed.set(source, file);
  }
  return file;
}

function lineOf(file: ts.SourceFile, position: number): number {
  return file.getLineAndCharacterOfPosition(position).line + 1;
}

function walk(node: ts.Node, visit: (node: ts.Node) => void): void {
  visit(node);
  node.forEachChild((child) => walk(child, visit));
}

const isTypeScript = (path: string): boolean => path.endsWith('.ts');
export const isTestCode = (path: string): boolean => path.startsWith('test/');

const specifiers = new WeakMap<Source, Array<{ specifier: string; line: number }>>();

/** Every module specifier of a file (static and dynamic imports, re-exports) with its line. */
function importSpecifiers(source: Source): Array<{ specifier: string; line: number }> {
  const cached = specifiers.get(source);
  if (cached) return cached;
  const file = parse(source);
  const found: Array<{ specifier: string; line: number }> = [];
  specifiers.set(source, found);
  walk(file, (node) => {
    let specifier: ts.Expression | undefined;
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) specifier = node.moduleSpecifier;
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) specifier = node.arguments[0];
    if (specifier && ts.isStringLiteral(specifier)) found.push({ specifier: specifier.text, line: lineOf(file, node.getStart()) });
  });
  return found;
}

/** The repo path a relative specifier names ('./x.js' from src/<dir>/y.ts is src/<dir>/x.ts). */
function resolveSpecifier(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  return posix.normalize(posix.join(posix.dirname(from), specifier)).replace(/\.js$/, '.ts');
}

// ---------------------------------------------------------------------------------------------
// Rule "layers": a src folder imports only the folders below it; src never imports test/ or
// commands/; every src folder is a known layer.

export function checkLayers(sources: Source[], layers: Record<string, string[]>): Violation[] {
  const violations: Violation[] = [];
  const seen = new Set<string>();
  for (const source of sources) {
    const folder = srcFolderOf(source.path);
    if (folder === undefined || !isTypeScript(source.path)) continue;
    const allowed = layers[folder];
    if (!allowed) {
      if (!seen.has(folder)) violations.push({ path: source.path, line: 1, rule: 'layers', message: `src/${folder} is not a known layer: add it to the layer table` });
      seen.add(folder);
      continue;
    }
    for (const { specifier, line } of importSpecifiers(source)) {
      const target = resolveSpecifier(source.path, specifier);
      if (target === undefined) continue;
      const targetFolder = srcFolderOf(target);
      if (targetFolder === undefined) {
        violations.push({ path: source.path, line, rule: 'layers', message: `src/ imports ${target}, outside src/` });
      } else if (targetFolder !== folder && !allowed.includes(targetFolder)) {
        violations.push({ path: source.path, line, rule: 'layers', message: `src/${folder} may not import src/${targetFolder} (allowed: ${allowed.join(', ') || 'none'})` });
      }
    }
  }
  return violations;
}

function srcFolderOf(path: string): string | undefined {
  const parts = path.split('/');
  return parts[0] === 'src' && parts.length > 2 ? parts[1] : undefined;
}

/** Layers the table lets a folder reach, directly or not; a cycle makes "down" meaningless. */
export function layerCycles(layers: Record<string, string[]>): string[] {
  const cycles: string[] = [];
  const visit = (folder: string, path: string[]): void => {
    if (path.includes(folder)) {
      cycles.push([...path.slice(path.indexOf(folder)), folder].join(' -> '));
      return;
    }
    for (const below of layers[folder] ?? []) visit(below, [...path, folder]);
  };
  for (const folder of Object.keys(layers)) visit(folder, []);
  return cycles;
}

// ---------------------------------------------------------------------------------------------
// Rule "purity": the pure folders do no I/O, read no clock, draw no unseeded randomness and are
// not async (time arrives as ticks, randomness from an injected seeded PRNG).

const bannedGlobals: Record<string, string> = {
  Date: 'the wall clock (Date)',
  performance: 'a clock (performance)',
  setTimeout: 'timers',
  setInterval: 'timers',
  setImmediate: 'timers',
  queueMicrotask: 'the microtask queue',
  process: 'process access',
  Buffer: "Node's Buffer (use Uint8Array)",
  crypto: 'the crypto global (randomness or I/O)',
  fetch: 'network I/O (fetch)',
};
const bannedModules = new Set(['level', 'classic-level', ...builtinModules]);

export function checkPurity(sources: Source[], pureFolders: string[]): Violation[] {
  const violations: Violation[] = [];
  for (const source of sources) {
    const folder = srcFolderOf(source.path);
    if (folder === undefined || !pureFolders.includes(folder) || !isTypeScript(source.path)) continue;
    const file = parse(source);
    const report = (node: ts.Node, what: string): void => {
      violations.push({ path: source.path, line: lineOf(file, node.getStart()), rule: 'purity', message: `src/${folder} is pure but uses ${what}` });
    };
    for (const { specifier, line } of importSpecifiers(source)) {
      if (specifier.startsWith('node:') || bannedModules.has(specifier)) {
        violations.push({ path: source.path, line, rule: 'purity', message: `src/${folder} is pure but imports '${specifier}'` });
      }
    }
    walk(file, (node) => {
      if (ts.isIdentifier(node) && Object.hasOwn(bannedGlobals, node.text) && isReference(node)) report(node, bannedGlobals[node.text]!);
      if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'Math' && node.name.text === 'random') report(node, 'unseeded randomness (Math.random)');
      if (node.kind === ts.SyntaxKind.AsyncKeyword) report(node, 'async code');
      if (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier)) report(node, 'async code (await)');
    });
  }
  return violations;
}

/** Whether an identifier refers to a binding (not a property name or a declaration's own name). */
function isReference(node: ts.Identifier): boolean {
  const parent = node.parent;
  if (ts.isPropertyAccessExpression(parent) && parent.name === node) return false;
  if (ts.isQualifiedName(parent) && parent.right === node) return false;
  if (ts.isShorthandPropertyAssignment(parent)) return true;
  return (parent as { name?: ts.Node }).name !== node;
}

// ---------------------------------------------------------------------------------------------
// Rule "function-length": a function spans at most `limit` lines, counted from its first token
// to its last. Known offenders are listed with their current length; the list may only shrink.

export interface FunctionSpan {
  path: string;
  name: string;
  line: number;
  lines: number;
}

export function functionSpans(source: Source): FunctionSpan[] {
  const file = parse(source);
  const spans: FunctionSpan[] = [];
  const names = new Map<string, number>();
  walk(file, (node) => {
    if (!ts.isFunctionLike(node) || !('body' in node) || !node.body) return;
    if (source.path.endsWith('.test.ts') && isDescribeCallback(node)) return;
    const start = lineOf(file, node.getStart());
    let name = qualifiedName(node);
    const count = (names.get(name) ?? 0) + 1;
    names.set(name, count);
    if (count > 1) name = `${name}#${count}`;
    spans.push({ path: source.path, name, line: start, lines: lineOf(file, node.getEnd()) - start + 1 });
  });
  return spans;
}

/** A describe(...) callback only groups tests; the tests inside it are measured one by one. */
function isDescribeCallback(node: ts.Node): boolean {
  const call = node.parent;
  return ts.isCallExpression(call) && /^describe\b/.test(call.expression.getText());
}

/** A stable name for a function: its enclosing classes, functions and variables, joined by '.'. */
function qualifiedName(node: ts.Node): string {
  const parts: string[] = [];
  for (let current: ts.Node = node; !ts.isSourceFile(current); current = current.parent) {
    const name = ownName(current);
    if (name !== undefined) parts.unshift(name);
  }
  return parts.join('.') || '(anonymous)';
}

function ownName(node: ts.Node): string | undefined {
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const name = (node as { name?: ts.Node }).name;
  if (name && (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isPrivateIdentifier(name))) return name.text;
  if ((ts.isArrowFunction(node) || ts.isFunctionExpression(node)) && ts.isCallExpression(node.parent)) {
    const callee = node.parent.expression.getText().split('(')[0];
    const title = node.parent.arguments[0];
    return title && ts.isStringLiteralLike(title) ? `${callee}('${title.text.slice(0, 40)}')` : `${callee}(callback)`;
  }
  return undefined;
}

/** Allowlist key of a function: "path:name". */
export const spanKey = (span: FunctionSpan): string => `${span.path}:${span.name}`;

export function checkFunctionLength(sources: Source[], limit: number, allowlist: Record<string, number>): Violation[] {
  const violations: Violation[] = [];
  const found = new Map<string, FunctionSpan>();
  for (const source of sources) {
    if (!isTypeScript(source.path)) continue;
    for (const span of functionSpans(source)) {
      found.set(spanKey(span), span);
      const listed = allowlist[spanKey(span)];
      const at = { path: span.path, line: span.line, rule: 'function-length' };
      if (listed === undefined && span.lines > limit) {
        violations.push({ ...at, message: `${span.name} is ${span.lines} lines, over the limit of ${limit}: split it` });
      } else if (listed !== undefined && span.lines > listed) {
        violations.push({ ...at, message: `${span.name} grew to ${span.lines} lines; its allowlist entry says ${listed} and may only shrink` });
      } else if (listed !== undefined && span.lines <= limit) {
        violations.push({ ...at, message: `${span.name} is ${span.lines} lines, within the limit now: remove its allowlist entry` });
      } else if (listed !== undefined && span.lines < listed) {
        violations.push({ ...at, message: `${span.name} shrank to ${span.lines} lines: lower its allowlist entry from ${listed}` });
      }
    }
  }
  for (const key of Object.keys(allowlist)) {
    if (!found.has(key)) violations.push({ path: key.split(':')[0]!, line: 1, rule: 'function-length', message: `allowlist entry ${key} names no function: remove it` });
  }
  return violations;
}

// ---------------------------------------------------------------------------------------------
// Rule "dead-export": every export of src/ has a user outside its own file and outside test/.
// An export nobody imports is dead code; one only tests import is test scaffolding in src/; one
// only its own file uses needs no `export`. A type (interface, type alias) its own file uses is
// fine: it names part of a signature. Entry points (oclif commands, hooks) are exempt, and so are
// the listed test-only exports that pin real behaviour.

interface ExportTable {
  /** Names this file declares and exports, with the line of the declaration. */
  local: Map<string, number>;
  /** The local names that are types only (interfaces, type aliases). */
  types: Set<string>;
  /** `export { a as b } from './x.js'`: b forwards to (x, a); b is in `local` too. */
  forwards: Map<string, { path: string; name: string }>;
  /** `export * from './x.js'`. */
  stars: string[];
}

function exportTable(source: Source): ExportTable {
  const file = parse(source);
  const table: ExportTable = { local: new Map(), types: new Set(), forwards: new Map(), stars: [] };
  const add = (name: string, node: ts.Node): void => void table.local.set(name, lineOf(file, node.getStart()));
  for (const statement of file.statements) {
    if (ts.isExportDeclaration(statement)) {
      const target = statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier) ? resolveSpecifier(source.path, statement.moduleSpecifier.text) : undefined;
      if (!statement.exportClause) {
        if (target) table.stars.push(target);
      } else if (ts.isNamedExports(statement.exportClause)) {
        for (const element of statement.exportClause.elements) {
          const original = (element.propertyName ?? element.name).getText();
          if (target) {
            table.forwards.set(element.name.text, { path: target, name: original });
            add(element.name.text, element);
          } else add(element.name.text, element);
          if (element.isTypeOnly || statement.isTypeOnly) table.types.add(element.name.text);
        }
      }
    } else if (ts.isExportAssignment(statement)) {
      add('default', statement);
    } else if (ts.canHaveModifiers(statement) && ts.getModifiers(statement)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) {
      const isDefault = ts.getModifiers(statement)!.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword);
      if (ts.isVariableStatement(statement)) {
        for (const declaration of statement.declarationList.declarations) if (ts.isIdentifier(declaration.name)) add(declaration.name.text, declaration);
      } else {
        const name = (statement as { name?: ts.Identifier }).name;
        add(isDefault || !name ? 'default' : name.text, statement);
        if (name && (ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement))) table.types.add(name.text);
      }
    }
  }
  return table;
}

/** (path, name) pairs a file imports, or (path, '*') for a namespace it uses whole. */
function importedNames(source: Source): Array<{ path: string; name: string }> {
  const file = parse(source);
  const used: Array<{ path: string; name: string }> = [];
  walk(file, (node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const path = resolveSpecifier(source.path, node.moduleSpecifier.text);
      const clause = node.importClause;
      if (!path || !clause) return;
      if (clause.name) used.push({ path, name: 'default' });
      const bindings = clause.namedBindings;
      if (bindings && ts.isNamedImports(bindings)) {
        for (const element of bindings.elements) used.push({ path, name: (element.propertyName ?? element.name).getText() });
      } else if (bindings && ts.isNamespaceImport(bindings)) {
        used.push(...namespaceUses(file, bindings.name.text).map((name) => ({ path, name })));
      }
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const argument = node.arguments[0];
      const path = argument && ts.isStringLiteral(argument) ? resolveSpecifier(source.path, argument.text) : undefined;
      if (path) used.push(...dynamicImportNames(node).map((name) => ({ path, name })));
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      const path = resolveSpecifier(source.path, node.argument.literal.text);
      if (path) used.push({ path, name: node.qualifier ? node.qualifier.getText().split('.')[0]! : '*' });
    }
  });
  return used;
}

/** `ns.x` uses x; any other use of `ns` uses everything. */
function namespaceUses(file: ts.SourceFile, namespace: string): string[] {
  const names: string[] = [];
  walk(file, (node) => {
    if (!ts.isIdentifier(node) || node.text !== namespace || ts.isNamespaceImport(node.parent)) return;
    const parent = node.parent;
    if ((ts.isPropertyAccessExpression(parent) || ts.isQualifiedName(parent)) && (ts.isPropertyAccessExpression(parent) ? parent.expression : parent.left) === node) {
      names.push((ts.isPropertyAccessExpression(parent) ? parent.name : parent.right).text);
    } else names.push('*');
  });
  return names;
}

/** `const { a, b } = await import('./x.js')` uses a and b; any other shape uses everything. */
function dynamicImportNames(call: ts.CallExpression): string[] {
  const parent = ts.isAwaitExpression(call.parent) ? call.parent.parent : call.parent;
  if (ts.isVariableDeclaration(parent) && ts.isObjectBindingPattern(parent.name)) {
    return parent.name.elements.map((element) => (element.propertyName ?? element.name).getText());
  }
  return ['*'];
}

/** Identifiers of a file other than declaration names: a cheap "used inside its own file". */
function localReferences(source: Source): Set<string> {
  const names = new Set<string>();
  walk(parse(source), (node) => {
    if (ts.isIdentifier(node) && isReference(node) && !ts.isExportSpecifier(node.parent)) names.add(node.text);
  });
  return names;
}

export interface DeadExportOptions {
  /** Paths or path prefixes whose exports are loaded by name from outside (oclif, hooks). */
  entryPoints: string[];
  /** "path:name" of test-only exports kept on purpose, each with its reason. */
  testOnly: Record<string, string>;
}

export function checkDeadExports(sources: Source[], options: DeadExportOptions): Violation[] {
  const tables = new Map(sources.filter((s) => isTypeScript(s.path)).map((s) => [s.path, exportTable(s)]));
  const users = new Map<string, Set<string>>();
  const markUsed = (path: string, name: string, user: string, depth = 0): void => {
    const table = tables.get(path);
    if (!table || depth > 16) return;
    const names = name === '*' ? [...table.local.keys()] : [name];
    for (const each of names) {
      if (table.local.has(each)) users.set(`${path}:${each}`, (users.get(`${path}:${each}`) ?? new Set()).add(user));
      const forward = table.forwards.get(each);
      if (forward) markUsed(forward.path, forward.name, user, depth + 1);
      if (!table.local.has(each) && !forward) for (const star of table.stars) markUsed(star, each, user, depth + 1);
    }
    if (name === '*') for (const star of table.stars) markUsed(star, '*', user, depth + 1);
  };
  for (const source of sources) {
    if (!isTypeScript(source.path)) continue;
    for (const { path, name } of importedNames(source)) markUsed(path, name, source.path);
  }
  return deadExportViolations(sources, tables, users, options);
}

function deadExportViolations(sources: Source[], tables: Map<string, ExportTable>, users: Map<string, Set<string>>, options: DeadExportOptions): Violation[] {
  const violations: Violation[] = [];
  const kept = new Set<string>();
  for (const source of sources) {
    const table = tables.get(source.path);
    if (!table || !source.path.startsWith('src/') || options.entryPoints.some((entry) => source.path.startsWith(entry))) continue;
    const local = localReferences(source);
    for (const [name, line] of table.local) {
      const key = `${source.path}:${name}`;
      const all = [...(users.get(key) ?? [])];
      const outside = all.filter((user) => !isTestCode(user));
      const at = { path: source.path, line, rule: 'dead-export' };
      if (Object.hasOwn(options.testOnly, key)) {
        kept.add(key);
        if (outside.length > 0) violations.push({ ...at, message: `${name} is listed as test-only but ${outside[0]} uses it: remove its testOnly entry` });
        else if (all.length === 0) violations.push({ ...at, message: `${name} is listed as test-only but no test uses it now: remove its entry (and the export, if its own file alone uses it)` });
      } else if (outside.length > 0 || (table.types.has(name) && (all.length > 0 || local.has(name)))) {
        continue;
      } else if (all.length > 0) {
        violations.push({ ...at, message: `${name} is exported only for tests (${all[0]}): remove it, move it to the test, or list it in testOnly with a reason` });
      } else if (local.has(name)) {
        violations.push({ ...at, message: `${name} is used only inside its own file: drop the export` });
      } else {
        violations.push({ ...at, message: `${name} is exported but never used: remove it` });
      }
    }
  }
  for (const key of Object.keys(options.testOnly)) {
    if (!kept.has(key)) violations.push({ path: key.split(':')[0]!, line: 1, rule: 'dead-export', message: `testOnly entry ${key} names no export: remove it` });
  }
  return violations;
}

// ---------------------------------------------------------------------------------------------
// Rule "cited-path": every repo path a comment (or the README) cites exists. A path with a
// folder is looked up from the repo root, from src/ and from the citing file's folder; a bare
// file name must name some file of the tree. Not paths: URLs, placeholders whose first part is
// in capitals (DATA/cluster.json), files a running program writes under the listed runtime
// folders, and the listed words that merely look like file names.

const citedPathPattern = /(?<![\w@.\/-])((?:[\w-]+\/)*[\w-]+(?:\.[\w-]+)*\.(?:ts|mjs|js|md|json|c|gyp)|(?:src|test|commands|bin|docs)\/(?:[\w-]+\/)*)(?![\w\/-])/g;

/** The comments of a TypeScript file as (offset, text); a Markdown file is one comment. */
export function commentsOf(source: Source): Array<{ offset: number; text: string }> {
  if (source.path.endsWith('.md')) return [{ offset: 0, text: source.text }];
  const literals: Array<[number, number]> = [];
  walk(parse(source), (node) => {
    if (ts.isStringLiteralLike(node) || ts.isRegularExpressionLiteral(node) || ts.isTemplateLiteralToken(node) || node.kind === ts.SyntaxKind.TemplateHead) {
      literals.push([node.getStart(), node.getEnd()]);
    }
  });
  literals.sort((a, b) => a[0] - b[0]);
  const comments: Array<{ offset: number; text: string }> = [];
  const text = source.text;
  let next = 0;
  for (let at = 0; at < text.length; at++) {
    while (next < literals.length && literals[next]![1] <= at) next++;
    if (next < literals.length && literals[next]![0] <= at) {
      at = literals[next]![1] - 1;
      continue;
    }
    if (text.startsWith('//', at) || text.startsWith('/*', at)) {
      const end = text.startsWith('//', at) ? text.indexOf('\n', at) : text.indexOf('*/', at + 2) + 2;
      const stop = end <= at + 1 ? text.length : end;
      comments.push({ offset: at, text: text.slice(at, stop) });
      at = stop - 1;
    }
  }
  return comments;
}

export interface CitedPathOptions {
  exists: (path: string) => boolean;
  /** Base names of every file of the tree. */
  basenames: Set<string>;
  /** Folders (relative to where a program runs) whose files only exist at run time. */
  runtimeFolders: string[];
  /** Words that look like file names but are not ("Node.js"). */
  notPaths: string[];
}

export function checkCitedPaths(sources: Source[], options: CitedPathOptions): Violation[] {
  const violations: Violation[] = [];
  for (const source of sources) {
    if (!isTypeScript(source.path) && !source.path.endsWith('.md')) continue;
    for (const comment of commentsOf(source)) {
      const text = comment.text.replace(/\b\w+:\/\/\S+/g, (url) => ' '.repeat(url.length));
      for (const match of text.matchAll(citedPathPattern)) {
        const cited = match[1]!;
        if (citedPathExists(source.path, cited, options)) continue;
        const line = source.text.slice(0, comment.offset + match.index).split('\n').length;
        violations.push({ path: source.path, line, rule: 'cited-path', message: `cites ${cited}, which does not exist: fix or drop the reference` });
      }
    }
  }
  return violations;
}

function citedPathExists(from: string, cited: string, options: CitedPathOptions): boolean {
  if (options.notPaths.includes(cited) || /^[A-Z_]+\//.test(cited)) return true;
  if (options.runtimeFolders.some((folder) => cited.startsWith(`${folder}/`))) return true;
  const bare = cited.replace(/\/$/, '');
  if (!cited.includes('/')) return options.basenames.has(bare) || options.basenames.has(bare.replace(/\.js$/, '.ts'));
  const candidates = [bare, `src/${bare}`, posix.join(posix.dirname(from), bare)].flatMap((path) => [path, path.replace(/^dist\//, '')]);
  return candidates.some((path) => options.exists(path) || options.exists(path.replace(/\.js$/, '.ts')));
}

// ---------------------------------------------------------------------------------------------
// Rule "test-mirror": test/ mirrors src/. A test file test/<dir>/<name>.test.ts tests the file
// src/<dir>/<name>.ts, or is a scenario test of the folder src/<dir>/. Exempt by rule: files that
// are not *.test.ts (helpers, harnesses), tree-wide checks directly in test/, and the listed
// test-only folders.

export function checkTestMirror(testPaths: string[], exists: (path: string) => boolean, exemptFolders: Record<string, string>): Violation[] {
  const violations: Violation[] = [];
  for (const path of testPaths) {
    if (!path.endsWith('.test.ts') || posix.dirname(path) === 'test') continue;
    if (Object.keys(exemptFolders).some((folder) => path.startsWith(`${folder}/`))) continue;
    const mirrored = path.replace(/^test\//, 'src/').replace(/\.test\.ts$/, '.ts');
    if (exists(mirrored) || exists(posix.dirname(mirrored))) continue;
    violations.push({ path, line: 1, rule: 'test-mirror', message: `tests neither ${mirrored} nor a folder ${posix.dirname(mirrored)}/: move it next to what it tests` });
  }
  return violations;
}

// ---------------------------------------------------------------------------------------------
// Rule "dead-file": every src/ file is imported by a file outside test/, or is an entry point
// (TigerBeetle's DeadDetector: a file nothing imports is dead however well it is tested).

export function checkDeadFiles(sources: Source[], entryPoints: string[]): Violation[] {
  const imported = new Map<string, string[]>();
  for (const source of sources) {
    if (!isTypeScript(source.path)) continue;
    for (const { specifier } of importSpecifiers(source)) {
      const target = resolveSpecifier(source.path, specifier);
      if (target && target !== source.path) imported.set(target, [...(imported.get(target) ?? []), source.path]);
    }
  }
  const violations: Violation[] = [];
  for (const source of sources) {
    if (!source.path.startsWith('src/') || !isTypeScript(source.path) || entryPoints.some((entry) => source.path.startsWith(entry))) continue;
    const users = imported.get(source.path) ?? [];
    if (users.some((user) => !isTestCode(user))) continue;
    const why = users.length > 0 ? `only tests import it (${users[0]})` : 'nothing imports it';
    violations.push({ path: source.path, line: 1, rule: 'dead-file', message: `${why}: remove it or move it under test/` });
  }
  return violations;
}

// ---------------------------------------------------------------------------------------------
// Rule "focused-test": no it.only / describe.skip / it.todo and the like: every test runs.

const testFunctions = new Set(['it', 'test', 'describe', 'suite']);
const bannedModifiers = new Set(['only', 'skip', 'todo', 'skipIf', 'runIf', 'fails']);

export function checkFocusedTests(sources: Source[]): Violation[] {
  const violations: Violation[] = [];
  for (const source of sources) {
    if (!source.path.startsWith('test/') || !isTypeScript(source.path)) continue;
    const file = parse(source);
    walk(file, (node) => {
      if (!ts.isPropertyAccessExpression(node) || !ts.isIdentifier(node.expression)) return;
      if (testFunctions.has(node.expression.text) && bannedModifiers.has(node.name.text)) {
        violations.push({ path: source.path, line: lineOf(file, node.getStart()), rule: 'focused-test', message: `${node.getText()} leaves tests out: every test runs` });
      }
    });
  }
  return violations;
}
