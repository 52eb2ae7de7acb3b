// The hot-path rules as a lint (issue 10; README "Layers"): nothing inside a burst function may allocate, make
// a closure, touch BigInt or make a DataView. The TypeScript parser (no type checker: it stays well under a second)
// reads the queue code and walks every function a burst runs.
//
// What is hot (the roots):
//   - every method named `burst` of any class in a .ts file under drivers/ or src/ethdev/ (found, not listed:
//     a new driver, e.g. drivers/af_xdp/, is linted as soon as its queues exist);
//   - HOT_ROOTS below: per-packet code that a burst reaches through another object (the mempool, rings, the
//     MAC rewrite, af_packet's kick) and the apps' per-burst functions (l2fwd's forwardLane, pktgen's fill /
//     process / steps). A listed root that no longer exists fails the test (rename it here).
// What a hot function pulls in (followed transitively, across files): calls to functions declared in its own
// file or imported by name (`import { dmaWords } from "./mmio.ts"`, aliases, re-exports, `import * as ns`,
// `const { f } = ns` at module level) from any relative module of the project; `this.m()`, `this.getter`
// and `super.m()` in its class and the base classes it extends; `Class.staticMethod()`. Not followed: calls
// on other objects (`pool.free(b)`: that is why the mempool's methods are roots), packages, `bun:ffi`
// symbols, and functions declared to return `never` (they only throw).
//
// Flagged inside hot bodies: `new` (`new DataView` as DataView); closures (arrow functions, function
// expressions, nested functions or classes); BigInt (literals `1n`, `BigInt(…)`, BigInt64Array /
// BigUint64Array: every element read is a BigInt); array and object literals; template literals and string concatenation with a literal;
// spread; calls that allocate (.map .filter .forEach .reduce .slice .concat .subarray .join .split …); await,
// yield, async and generator functions; for…of / array destructuring (iterators); for…in; regex literals;
// `arguments`; rest parameters. A `throw` statement is an error path: what its expression allocates is fine,
// and the calls in it are not followed. Not flagged: try/catch (no allocation unless something throws, and
// JSC's optimizing tiers compile it), string concatenation of two variables (no types here to see it), and
// reading or writing through a DataView made once outside the burst: bench/rules.bench.ts measures
// getUint16/getUint32/setUint16/setUint32 on a long-lived DataView over the pool as fast as src/net/bytes.ts's
// shifts or faster (README, "Hot-path rules, measured"), so only making one per call is an error.
//
// Exceptions are ALLOW entries, each for one construct in one function of one file with the reason it is
// not per packet; an entry without a construct is a function the lint does not enter (a slow path a burst can
// reach, but not per packet). An entry that matches nothing fails the test: the list only shrinks.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix, resolve } from "node:path";
import ts from "typescript";

const ROOT = resolve(import.meta.dir, "../..");

// ---- The lint ------------------------------------------------------------------------------------------

type Kind =
  | "new" | "closure" | "BigInt" | "DataView" | "array literal" | "object literal" | "template literal" | "string concat"
  | "spread" | "allocating call" | "await" | "async" | "iterator" | "for-in" | "regex" | "arguments" | "rest parameter";
const ALL_KINDS: Kind[] = [
  "new", "closure", "BigInt", "DataView", "array literal", "object literal", "template literal", "string concat",
  "spread", "allocating call", "await", "async", "iterator", "for-in", "regex", "arguments", "rest parameter",
];

interface Violation {
  file: string;
  line: number;
  fn: string;
  kind: Kind;
  what: string;
  /** The root (a burst, or a HOT_ROOTS entry) it was reached from. */
  via: string;
}

interface Root {
  file: string;
  /** "Class.method" or "function". */
  fn: string;
  why: string;
}

interface Allow {
  file: string;
  fn: string;
  /** The construct allowed; none: the function is not entered at all. */
  kind?: Kind;
  why: string;
}

/** Methods that return a new object (array, view, string, iterator, bound function) on every call. */
const ALLOCATING_METHODS = new Set([
  "map", "filter", "forEach", "reduce", "reduceRight", "flatMap", "flat", "find", "findIndex", "findLast", "findLastIndex",
  "some", "every", "slice", "concat", "subarray", "splice", "join", "split", "bind", "entries", "keys", "values", "from", "of",
  "toSorted", "toReversed", "toSpliced", "with",
]);
const BIGINT_NAMES = new Set(["BigInt", "BigInt64Array", "BigUint64Array"]);

type FnNode = ts.FunctionDeclaration | ts.MethodDeclaration | ts.GetAccessorDeclaration | ts.SetAccessorDeclaration;

interface Mod {
  path: string;
  sf: ts.SourceFile;
  functions: Map<string, ts.FunctionDeclaration>;
  classes: Map<string, ts.ClassDeclaration>;
  /** Local name → module path and imported name ("*": the namespace). */
  imports: Map<string, { from: string; name: string }>;
  /** `const { a, b: c } = ns` at module level: local → namespace local and name. */
  destructured: Map<string, { ns: string; name: string }>;
  /** `export { a as b }` (no from): exported → local. */
  localExports: Map<string, string>;
  /** `export { a as b } from "x"`, `export * as b from "x"` (name "*"). */
  reexports: Map<string, { from: string; name: string }>;
  /** `export * from "x"`. */
  stars: string[];
}

type Target =
  | { kind: "function"; mod: Mod; node: ts.FunctionDeclaration }
  | { kind: "class"; mod: Mod; node: ts.ClassDeclaration }
  | { kind: "namespace"; path: string };

interface Work {
  mod: Mod;
  node: FnNode;
  name: string;
  cls: { mod: Mod; node: ts.ClassDeclaration } | undefined;
  via: string;
}

class HotPathLint {
  private readonly mods = new Map<string, Mod | undefined>();

  /** `read(path)` gives a module's text by its repository-relative path (posix), or undefined. */
  constructor(private readonly read: (path: string) => string | undefined) {}

  module(path: string): Mod | undefined {
    if (this.mods.has(path)) return this.mods.get(path);
    const text = this.read(path);
    const mod = text === undefined ? undefined : this.index(path, text);
    this.mods.set(path, mod);
    return mod;
  }

  /** Every method named `burst` (with a body) of every class in these files: the roots found, not listed. */
  burstRoots(files: string[]): Root[] {
    const roots: Root[] = [];
    for (const f of files) {
      const mod = this.module(f);
      if (!mod) continue;
      for (const [name, cls] of mod.classes) {
        for (const m of cls.members) {
          if (ts.isMethodDeclaration(m) && m.body && nameOf(m.name) === "burst") roots.push({ file: f, fn: `${name}.burst`, why: "a queue's burst" });
        }
      }
    }
    return roots;
  }

  /** Lints the roots and what they call; returns the violations (allowlisted ones removed) and what was used. */
  run(roots: Root[], allow: Allow[] = []): { violations: Violation[]; missing: Root[]; unusedAllow: Allow[]; hot: string[] } {
    const visited = new Set<ts.Node>();
    const queue: Work[] = [];
    const missing: Root[] = [];
    const used = new Set<Allow>();
    const hot: string[] = [];
    const found: Violation[] = [];
    for (const r of roots) {
      const w = this.findRoot(r);
      if (w) queue.push(w);
      else missing.push(r);
    }
    while (queue.length > 0) {
      const w = queue.shift()!;
      if (visited.has(w.node)) continue;
      visited.add(w.node);
      const cold = allow.find((a) => a.kind === undefined && a.file === w.mod.path && a.fn === w.name);
      if (cold) {
        used.add(cold);
        continue;
      }
      hot.push(`${w.mod.path} ${w.name}`);
      this.walk(w, found, queue);
    }
    const violations = found.filter((v) => {
      const a = allow.find((e) => e.kind === v.kind && e.file === v.file && e.fn === v.fn);
      if (a) used.add(a);
      return !a;
    });
    violations.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
    return { violations, missing, unusedAllow: allow.filter((a) => !used.has(a)), hot };
  }

  private findRoot(r: Root): Work | undefined {
    const mod = this.module(r.file);
    if (!mod) return undefined;
    const dot = r.fn.indexOf(".");
    if (dot < 0) {
      const f = mod.functions.get(r.fn);
      return f?.body ? { mod, node: f, name: r.fn, cls: undefined, via: `${r.file} ${r.fn}` } : undefined;
    }
    const cls = mod.classes.get(r.fn.slice(0, dot));
    if (!cls) return undefined;
    const m = this.member({ mod, node: cls }, r.fn.slice(dot + 1), false);
    return m ? { ...m, via: `${r.file} ${r.fn}` } : undefined;
  }

  private index(path: string, text: string): Mod {
    const sf = ts.createSourceFile(path, text, ts.ScriptTarget.ESNext, true, ts.ScriptKind.TS);
    const mod: Mod = {
      path, sf, functions: new Map(), classes: new Map(), imports: new Map(), destructured: new Map(),
      localExports: new Map(), reexports: new Map(), stars: [],
    };
    for (const st of sf.statements) {
      if (ts.isFunctionDeclaration(st) && st.name) mod.functions.set(st.name.text, st);
      else if (ts.isClassDeclaration(st) && st.name) mod.classes.set(st.name.text, st);
      else if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
        const from = resolveSpec(path, st.moduleSpecifier.text);
        const c = st.importClause;
        if (!from || !c || c.isTypeOnly) continue;
        if (c.name) mod.imports.set(c.name.text, { from, name: "default" });
        const nb = c.namedBindings;
        if (nb && ts.isNamespaceImport(nb)) mod.imports.set(nb.name.text, { from, name: "*" });
        else if (nb) for (const e of nb.elements) if (!e.isTypeOnly) mod.imports.set(e.name.text, { from, name: (e.propertyName ?? e.name).text });
      } else if (ts.isExportDeclaration(st) && !st.isTypeOnly) {
        const from = st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier) ? resolveSpec(path, st.moduleSpecifier.text) : undefined;
        const ec = st.exportClause;
        if (st.moduleSpecifier && !from) continue;
        if (!ec) {
          if (from) mod.stars.push(from);
        } else if (ts.isNamespaceExport(ec)) {
          if (from) mod.reexports.set(ec.name.text, { from, name: "*" });
        } else {
          for (const e of ec.elements) {
            const local = (e.propertyName ?? e.name).text;
            if (from) mod.reexports.set(e.name.text, { from, name: local });
            else mod.localExports.set(e.name.text, local);
          }
        }
      } else if (ts.isVariableStatement(st)) {
        for (const d of st.declarationList.declarations) {
          if (!ts.isObjectBindingPattern(d.name) || !d.initializer || !ts.isIdentifier(d.initializer)) continue;
          for (const el of d.name.elements) {
            if (!ts.isIdentifier(el.name)) continue;
            const prop = el.propertyName && ts.isIdentifier(el.propertyName) ? el.propertyName.text : el.name.text;
            mod.destructured.set(el.name.text, { ns: d.initializer.text, name: prop });
          }
        }
      }
    }
    return mod;
  }

  private resolveLocal(mod: Mod, name: string, depth = 0): Target | undefined {
    if (depth > 16) return undefined;
    const f = mod.functions.get(name);
    if (f) return { kind: "function", mod, node: f };
    const c = mod.classes.get(name);
    if (c) return { kind: "class", mod, node: c };
    const imp = mod.imports.get(name);
    if (imp) return imp.name === "*" ? { kind: "namespace", path: imp.from } : this.resolveExport(imp.from, imp.name, depth + 1);
    const d = mod.destructured.get(name);
    if (d) {
      const ns = this.resolveLocal(mod, d.ns, depth + 1);
      if (ns?.kind === "namespace") return this.resolveExport(ns.path, d.name, depth + 1);
    }
    return undefined;
  }

  private resolveExport(path: string, name: string, depth: number): Target | undefined {
    if (depth > 16) return undefined;
    const mod = this.module(path);
    if (!mod) return undefined;
    const re = mod.reexports.get(name);
    if (re) return re.name === "*" ? { kind: "namespace", path: re.from } : this.resolveExport(re.from, re.name, depth + 1);
    const local = mod.localExports.get(name) ?? name;
    const t = this.resolveLocal(mod, local, depth + 1);
    if (t) return t;
    for (const s of mod.stars) {
      const r = this.resolveExport(s, name, depth + 1);
      if (r) return r;
    }
    return undefined;
  }

  /** Method or accessor `name` of a class or of the classes it extends. */
  private member(cls: { mod: Mod; node: ts.ClassDeclaration }, name: string, skipOwn: boolean, depth = 0): Omit<Work, "via"> | undefined {
    if (depth > 16) return undefined;
    if (!skipOwn) {
      for (const m of cls.node.members) {
        if ((ts.isMethodDeclaration(m) || ts.isGetAccessorDeclaration(m)) && m.body && nameOf(m.name) === name) {
          return { mod: cls.mod, node: m, name: `${cls.node.name?.text ?? "?"}.${name}`, cls };
        }
      }
    }
    const ext = cls.node.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0]?.expression;
    if (!ext || !ts.isIdentifier(ext)) return undefined;
    const base = this.resolveLocal(cls.mod, ext.text);
    return base?.kind === "class" ? this.member({ mod: base.mod, node: base.node }, name, false, depth + 1) : undefined;
  }

  /** The function a call runs, when the lint can see it (see the header: what is followed). */
  private callee(w: Work, callee: ts.Expression): Omit<Work, "via"> | undefined {
    if (ts.isIdentifier(callee)) {
      const t = this.resolveLocal(w.mod, callee.text);
      return t?.kind === "function" ? { mod: t.mod, node: t.node, name: callee.text, cls: undefined } : undefined;
    }
    if (!ts.isPropertyAccessExpression(callee)) return undefined;
    const m = callee.name.text;
    const obj = callee.expression;
    if (obj.kind === ts.SyntaxKind.ThisKeyword) return w.cls && this.member(w.cls, m, false);
    if (obj.kind === ts.SyntaxKind.SuperKeyword) return w.cls && this.member(w.cls, m, true);
    if (!ts.isIdentifier(obj)) return undefined;
    const t = this.resolveLocal(w.mod, obj.text);
    if (t?.kind === "class") return staticMethod(t, m);
    if (t?.kind !== "namespace") return undefined;
    const f = this.resolveExport(t.path, m, 0);
    return f?.kind === "function" ? { mod: f.mod, node: f.node, name: m, cls: undefined } : undefined;
  }

  private walk(w: Work, out: Violation[], queue: Work[]): void {
    const sf = w.mod.sf;
    const flag = (node: ts.Node, kind: Kind, what: string): void => {
      const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
      out.push({ file: w.mod.path, line, fn: w.name, kind, what, via: w.via });
    };
    const follow = (t: Omit<Work, "via"> | undefined): void => {
      if (!t || !t.node.body) return;
      if (t.node.type?.kind === ts.SyntaxKind.NeverKeyword) return; // only throws: an error path
      queue.push({ ...t, via: w.via });
    };
    const fn = w.node;
    if (fn.modifiers?.some((m) => m.kind === ts.SyntaxKind.AsyncKeyword)) flag(fn, "async", "async function (a promise per call)");
    if ((ts.isFunctionDeclaration(fn) || ts.isMethodDeclaration(fn)) && fn.asteriskToken) flag(fn, "async", "generator function (an iterator per call)");
    for (const p of fn.parameters) if (p.dotDotDotToken) flag(p, "rest parameter", `rest parameter ...${p.name.getText(sf)} (an array per call)`);

    const visit = (node: ts.Node): void => {
      if (ts.isTypeNode(node)) return;
      if (ts.isThrowStatement(node)) return; // an error path may allocate; its calls are not followed
      if (ts.isArrowFunction(node) || ts.isFunctionExpression(node)) {
        flag(node, "closure", ts.isArrowFunction(node) ? "closure (arrow function)" : "closure (function expression)");
        return;
      }
      if (ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node) || ts.isClassExpression(node)) {
        flag(node, "closure", ts.isFunctionDeclaration(node) ? "closure (nested function)" : "class expression (a class per call)");
        return;
      }
      const parent = node.parent;
      switch (node.kind) {
        case ts.SyntaxKind.NewExpression: {
          const e = (node as ts.NewExpression).expression;
          if (ts.isIdentifier(e) && e.text === "DataView") flag(node, "DataView", "new DataView(…) (make it once, outside the burst)");
          else flag(node, "new", `new ${e.getText(sf)}(…)`);
          break;
        }
        case ts.SyntaxKind.BigIntLiteral:
          flag(node, "BigInt", `BigInt literal ${node.getText(sf)}`);
          break;
        case ts.SyntaxKind.Identifier: {
          const id = node as ts.Identifier;
          const isMemberName = (ts.isPropertyAccessExpression(parent) && parent.name === id) || (ts.isPropertyAssignment(parent) && parent.name === id);
          if (isMemberName) break;
          if (BIGINT_NAMES.has(id.text)) flag(node, "BigInt", id.text);
          else if (id.text === "arguments") flag(node, "arguments", "arguments object");
          break;
        }
        case ts.SyntaxKind.ArrayLiteralExpression:
          if (isAssignmentTarget(node)) flag(node, "iterator", "array destructuring (an iterator)");
          else flag(node, "array literal", "array literal");
          break;
        case ts.SyntaxKind.ObjectLiteralExpression:
          if (!isAssignmentTarget(node)) flag(node, "object literal", "object literal");
          break;
        case ts.SyntaxKind.ArrayBindingPattern:
          flag(node, "iterator", "array destructuring (an iterator)");
          break;
        case ts.SyntaxKind.TemplateExpression:
        case ts.SyntaxKind.TaggedTemplateExpression:
          flag(node, "template literal", "template literal");
          break;
        case ts.SyntaxKind.BinaryExpression: {
          const b = node as ts.BinaryExpression;
          const op = b.operatorToken.kind;
          if ((op === ts.SyntaxKind.PlusToken || op === ts.SyntaxKind.PlusEqualsToken) && (isStringy(b.left) || isStringy(b.right))) {
            flag(node, "string concat", "string concatenation");
          }
          break;
        }
        case ts.SyntaxKind.SpreadElement:
        case ts.SyntaxKind.SpreadAssignment:
          flag(node, "spread", "spread");
          break;
        case ts.SyntaxKind.AwaitExpression:
          flag(node, "await", "await");
          break;
        case ts.SyntaxKind.YieldExpression:
          flag(node, "await", "yield");
          break;
        case ts.SyntaxKind.ForOfStatement:
          flag(node, "iterator", "for…of (an iterator)");
          break;
        case ts.SyntaxKind.ForInStatement:
          flag(node, "for-in", "for…in");
          break;
        case ts.SyntaxKind.RegularExpressionLiteral:
          flag(node, "regex", `regex literal ${node.getText(sf)}`);
          break;
        case ts.SyntaxKind.CallExpression: {
          const callee = (node as ts.CallExpression).expression;
          const target = this.callee(w, callee);
          // A call to a function that only throws (declared `never`) is a throw: an error path, not followed.
          if (target?.node.type?.kind === ts.SyntaxKind.NeverKeyword) return;
          if (ts.isPropertyAccessExpression(callee)) {
            const m = callee.name.text;
            if (ALLOCATING_METHODS.has(m)) flag(node, "allocating call", `.${m}() allocates`);
          }
          follow(target);
          break;
        }
        case ts.SyntaxKind.PropertyAccessExpression: {
          // `this.getter` (not called): the getter's body runs.
          const pa = node as ts.PropertyAccessExpression;
          if (pa.expression.kind === ts.SyntaxKind.ThisKeyword && w.cls && !(ts.isCallExpression(parent) && parent.expression === pa)) {
            const m = this.member(w.cls, pa.name.text, false);
            if (m && ts.isGetAccessorDeclaration(m.node)) follow(m);
          }
          break;
        }
      }
      ts.forEachChild(node, visit);
    };
    for (const p of fn.parameters) if (p.initializer) visit(p.initializer);
    if (fn.body) ts.forEachChild(fn.body, visit);
  }
}

function staticMethod(t: { mod: Mod; node: ts.ClassDeclaration }, name: string): Omit<Work, "via"> | undefined {
  for (const m of t.node.members) {
    if (ts.isMethodDeclaration(m) && m.body && nameOf(m.name) === name && m.modifiers?.some((x) => x.kind === ts.SyntaxKind.StaticKeyword)) {
      return { mod: t.mod, node: m, name: `${t.node.name?.text ?? "?"}.${name}`, cls: { mod: t.mod, node: t.node } };
    }
  }
  return undefined;
}

function nameOf(n: ts.PropertyName): string {
  return ts.isIdentifier(n) || ts.isStringLiteral(n) || ts.isPrivateIdentifier(n) ? n.text : "";
}

function isStringy(n: ts.Expression): boolean {
  return ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateExpression(n);
}

/** `[a, b] = …` / `({ a } = …)`, or the left of a for…of: a pattern, not a literal. */
function isAssignmentTarget(n: ts.Node): boolean {
  let p = n.parent;
  let c: ts.Node = n;
  while (ts.isParenthesizedExpression(p)) {
    c = p;
    p = p.parent;
  }
  if (ts.isBinaryExpression(p) && p.left === c && p.operatorToken.kind === ts.SyntaxKind.EqualsToken) return true;
  return (ts.isForOfStatement(p) || ts.isForInStatement(p)) && p.initializer === c;
}

/** "./x.ts" from "drivers/a/b.ts" → "drivers/a/x.ts"; packages and bun: modules are not followed. */
function resolveSpec(from: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const p = posix.normalize(posix.join(posix.dirname(from), spec));
  return p.endsWith(".ts") ? p : `${p}.ts`;
}

function formatViolation(v: Violation): string {
  return `${v.file}:${v.line}  ${v.fn}  ${v.what}${v.via.endsWith(` ${v.fn}`) ? "" : `  (hot via ${v.via})`}`;
}

// ---- What the project's lint covers ----------------------------------------------------------------------

/** Per-packet code a burst reaches through another object, and the apps' per-burst functions. */
const HOT_ROOTS: Root[] = [
  ...["alloc", "allocUpTo", "allocRxUpTo", "allocBulk", "free", "freeBulk", "freeChain", "chainAppend", "offset"].map((m) => ({
    file: "src/mem/mempool.ts", fn: `Mempool.${m}`, why: "the bursts' buffer allocation, free and addressing",
  })),
  ...["enqueueBurst", "dequeueBurst", "enqueueBulk", "dequeueBulk"].map((m) => ({
    file: "src/mem/ring.ts", fn: `IndexRing.${m}`, why: "ring ports' bursts and the mempool's shared free ring",
  })),
  { file: "src/ethdev/burst.ts", fn: "Burst.freeFrom", why: "frees what a TX burst did not take, every burst" },
  { file: "src/ethdev/burst.ts", fn: "Burst.push", why: "per packet in apps that build bursts" },
  { file: "drivers/af_packet/socket.ts", fn: "PacketSocket.kick", why: "af_packet's TX kick, once per burst" },
  { file: "drivers/pcap/port.ts", fn: "PcapPort.nextFrame", why: "pcap RX: per replayed frame" },
  { file: "drivers/pcap/file.ts", fn: "PcapWriter.frame", why: "pcap TX: per written frame" },
  { file: "apps/l2fwd/forward.ts", fn: "forwardLane", why: "l2fwd: RX burst → MAC update → TX burst" },
  { file: "src/net/ether.ts", fn: "MacRewrite.apply", why: "l2fwd's MAC update, per frame" },
  { file: "apps/pktgen/generator.ts", fn: "FrameGenerator.fill", why: "pktgen builds every TX frame here" },
  { file: "apps/pktgen/generator.ts", fn: "ReplaySource.fill", why: "pktgen's pcap replay, per frame" },
  { file: "apps/pktgen/receiver.ts", fn: "Receiver.process", why: "pktgen checks every RX frame here" },
  { file: "apps/pktgen/receiver.ts", fn: "StreamState.track", why: "per RX frame (reached through a stream object)" },
  { file: "apps/pktgen/histogram.ts", fn: "LatencyHistogram.record", why: "per RX frame" },
  { file: "apps/pktgen/engine.ts", fn: "Engine.txStep", why: "pktgen's TX burst step" },
  { file: "apps/pktgen/engine.ts", fn: "Engine.rxStep", why: "pktgen's RX burst step" },
];

/** The exceptions: keep this tiny, each with why it is not per packet. */
const ALLOW: Allow[] = [
  {
    file: "drivers/ring/port.ts", fn: "RingTxQueue.refreshPeer",
    why: "not entered: runs only when the peer's LIVE word differs from the generation this queue is bound to, i.e. once after the peer "
      + "(re)starts, to attach its new ring (new views: bindPeer, IndexRing.attach); while the peer is down it returns before any of that",
  },
  {
    file: "apps/pktgen/receiver.ts", fn: "Receiver.frame", kind: "new",
    why: "new StreamState: the first frame of a stream id not seen before, at most MAX_STREAMS per receiver; every later frame finds it",
  },
];

function tsFiles(dir: string): string[] {
  const abs = join(ROOT, dir);
  if (!existsSync(abs)) return [];
  const out: string[] = [];
  for (const name of readdirSync(abs)) {
    const rel = posix.join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...tsFiles(rel));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(rel);
  }
  return out.sort();
}

function diskReader(path: string): string | undefined {
  const abs = join(ROOT, path);
  return existsSync(abs) && statSync(abs).isFile() ? readFileSync(abs, "utf8") : undefined;
}

// ---- Tests ----------------------------------------------------------------------------------------------

describe("hot-path lint", () => {
  test("no allocation, closure, BigInt or DataView in any burst or what it calls", () => {
    const lint = new HotPathLint(diskReader);
    const files = [...tsFiles("drivers"), ...tsFiles("src/ethdev")];
    const bursts = lint.burstRoots(files);
    // The drivers' queues are found, not listed: a sanity floor so that a broken finder cannot pass silently.
    for (const known of ["drivers/intel/adv-rxtx.ts AdvRxQueue.burst", "drivers/intel/adv-rxtx.ts AdvTxQueue.burst", "drivers/e1000/rxtx.ts E1000eRxQueue.burst",
      "drivers/af_packet/rxtx.ts AfPacketTxQueue.burst", "drivers/ring/port.ts RingRxQueue.burst", "drivers/null/port.ts NullRxQueue.burst", "drivers/pcap/port.ts PcapTxQueue.burst"]) {
      expect(bursts.map((r) => `${r.file} ${r.fn}`)).toContain(known);
    }
    const { violations, missing, unusedAllow, hot } = lint.run([...bursts, ...HOT_ROOTS], ALLOW);
    // HOTPATH_LINT_LIST=1 bun test test/unit/hotpath-lint.test.ts: what was linted.
    if (process.env.HOTPATH_LINT_LIST) console.log(`roots:\n  ${[...bursts, ...HOT_ROOTS].map((r) => `${r.file} ${r.fn}`).join("\n  ")}\nhot functions:\n  ${hot.join("\n  ")}`);
    // Helpers in other files are followed (dmaWords is imported by the Intel queues).
    expect(hot).toContain("drivers/intel/mmio.ts dmaWords");
    expect(missing.map((r) => `${r.file} ${r.fn}`)).toEqual([]);
    expect(unusedAllow.map((a) => `${a.file} ${a.fn} ${a.kind ?? "(not entered)"}: stale allowlist entry`)).toEqual([]);
    if (violations.length > 0) {
      throw new Error(`${violations.length} hot-path violation(s) (${bursts.length} bursts, ${hot.length} hot functions):\n` +
        violations.map((v) => `  ${formatViolation(v)}`).join("\n") +
        "\nmove the work out of the burst (set it up once, reuse it), or, if it is not per packet, add a narrow ALLOW entry with the reason");
    }
  });

  test("a violation put into a real helper one import away (drivers/intel/mmio.ts dmaWords) is found through the import", () => {
    const mmio = diskReader("drivers/intel/mmio.ts")!;
    const broken = mmio.replace("out[at] = a >>> 0;", "out[at] = [a][0]! >>> 0;");
    expect(broken).not.toBe(mmio);
    const lint = new HotPathLint((p) => (p === "drivers/intel/mmio.ts" ? broken : diskReader(p)));
    const { violations } = lint.run(lint.burstRoots([...tsFiles("drivers/intel"), ...tsFiles("drivers/e1000")]));
    expect(violations.map((v) => `${v.file} ${v.fn} ${v.kind}`)).toEqual(["drivers/intel/mmio.ts dmaWords array literal"]);
    expect(formatViolation(violations[0]!)).toMatch(/^drivers\/intel\/mmio\.ts:\d+  dmaWords  array literal  \(hot via drivers\/\S+ \w+\.burst\)$/);
  });

  // The lint checks itself, so that it cannot rot into passing everything: a file with every forbidden
  // construct (each line says what must be found on it) and a clean one with what is allowed.
  const BAD = `
import { helper2 } from "./util.ts";
import * as util from "./util.ts";
const { helper3 } = util;
class Base {
  protected shared(): number {
    return [1].length; // expect: array literal
  }
}
export class BadQueue extends Base {
  private get view(): number {
    return { a: 1 }.a; // expect: object literal
  }
  burst(burst: Burst, ...more: number[]): number { // expect: rest parameter
    const a = new Uint8Array(4); // expect: new
    const f = () => 1; // expect: closure
    const g = function () { return 2; }; // expect: closure
    function inner(): void {} // expect: closure
    const big = 1n + BigInt(2); // expect: BigInt, BigInt
    const dv = new DataView(a.buffer); // expect: DataView
    const x = a.length;
    const arr = [1, 2]; // expect: array literal
    const obj = { k: 1 }; // expect: object literal
    const s = \`n=\${burst.count}\`; // expect: template literal
    const s2 = "n=" + burst.count; // expect: string concat
    const c = [...arr]; // expect: spread, array literal
    const o2 = { ...obj }; // expect: spread, object literal
    arr.map((v) => v); // expect: allocating call, closure
    const sub = a.subarray(1); // expect: allocating call
    for (const v of arr) void v; // expect: iterator
    for (const k in obj) void k; // expect: for-in
    const [p, q] = arr; // expect: iterator
    const re = /x/; // expect: regex
    const n = arguments.length; // expect: arguments
    void [f, g, big, dv, x, s, s2, c, o2, sub, p, q, re, n, more, inner]; // expect: array literal
    helper(); // followed: same file
    helper2(); // followed: named import
    util.helper4(); // followed: namespace import
    helper3(); // followed: module-level destructuring of a namespace
    this.shared(); // followed: base class method
    return this.view; // followed: getter
  }
  async other(): Promise<void> { // not hot: not a burst, not called from one
    await 0;
  }
}
function helper(): number {
  return new Array(3).length; // expect: new
}
`;
  const UTIL = `
export function helper2(): unknown {
  return { two: 2 }; // expect: object literal
}
export function helper3(): unknown {
  return [3]; // expect: array literal
}
export async function helper4(): Promise<void> { // expect: async
  await null; // expect: await
}
`;
  const CLEAN = `
import { dmaWords } from "./util.ts";
function fail(what: string): never {
  throw new Error(\`bad \${what}\`);
}
export class CleanQueue extends RxQueueBase {
  private readonly fresh = new Uint32Array(32);
  private readonly view = new DataView(this.fresh.buffer);
  burst(burst: Burst, start = 0): number {
    const v = this.view;
    v.setUint16(0, v.getUint16(2) + v.getUint32(4));
    const { bufs, capacity } = burst;
    if (capacity < 1) throw new RangeError(\`capacity \${capacity} < \${[1][0]}\`);
    if (start < 0) fail(\`start \${start}\`);
    const d = this.fresh;
    let n = 0;
    for (let i = start; i < capacity; i++) {
      if ((Atomics.load(d, i) & 1) === 0) break;
      dmaWords(i, 0, 128, d, i);
      bufs[n++] = d[i]! >>> 0;
    }
    Atomics.store(d, 0, n);
    try {
      this.pool.free(bufs[0]!);
    } catch {
      n = 0;
    }
    const label = "const string";
    void label;
    return this.count(n) as number;
  }
  private count(n: number): number {
    return n > 0 ? n : 0;
  }
}
`;
  const CLEAN_UTIL = `
export function dmaWords(lo: number, hi: number, off: number, out: Uint32Array, at: number): void {
  const a = lo + off;
  out[at] = a >>> 0;
  out[at + 1] = hi + (a > 0xffffffff ? 1 : 0);
}
`;
  function expected(path: string, text: string): string[] {
    const out: string[] = [];
    text.split("\n").forEach((l, i) => {
      const m = /\/\/ expect: (.+)$/.exec(l);
      if (m) for (const k of m[1]!.split(",")) out.push(`${path}:${i + 1} ${k.trim()}`);
    });
    return out;
  }
  const fake = (files: Record<string, string>) => new HotPathLint((p) => files[p]);

  test("self-test: every forbidden construct is found, and only where it is", () => {
    const files = { "drivers/fake/rxtx.ts": BAD, "drivers/fake/util.ts": UTIL };
    const lint = fake(files);
    const roots = lint.burstRoots(["drivers/fake/rxtx.ts"]);
    expect(roots.map((r) => r.fn)).toEqual(["BadQueue.burst"]);
    const { violations, hot } = lint.run(roots);
    const got = violations.map((v) => `${v.file}:${v.line} ${v.kind}`).sort();
    const want = [...expected("drivers/fake/rxtx.ts", BAD), ...expected("drivers/fake/util.ts", UTIL)].sort();
    expect(got).toEqual(want);
    expect(new Set(violations.map((v) => v.kind))).toEqual(new Set(ALL_KINDS));
    expect(hot).not.toContain("drivers/fake/rxtx.ts BadQueue.other");
    expect(formatViolation(violations.find((v) => v.fn === "helper")!)).toBe("drivers/fake/rxtx.ts:48  helper  new Array(…)  (hot via drivers/fake/rxtx.ts BadQueue.burst)");
  });

  test("self-test: a clean burst passes (throw paths, never-returning helpers, destructuring of objects, Atomics)", () => {
    const lint = fake({ "drivers/fake/clean.ts": CLEAN, "drivers/fake/util.ts": CLEAN_UTIL });
    const roots = lint.burstRoots(["drivers/fake/clean.ts"]);
    const { violations, hot } = lint.run(roots);
    expect(violations.map(formatViolation)).toEqual([]);
    expect(hot).toEqual(["drivers/fake/clean.ts CleanQueue.burst", "drivers/fake/util.ts dmaWords", "drivers/fake/clean.ts CleanQueue.count"]);
  });

  test("self-test: allowlist entries are narrow, a function can be left cold, and stale entries are reported", () => {
    const lint = fake({ "drivers/fake/rxtx.ts": BAD, "drivers/fake/util.ts": UTIL });
    const roots = lint.burstRoots(["drivers/fake/rxtx.ts"]);
    const all = lint.run(roots).violations;
    const { violations, unusedAllow } = lint.run(roots, [
      { file: "drivers/fake/rxtx.ts", fn: "helper", kind: "new", why: "test" },
      { file: "drivers/fake/util.ts", fn: "helper4", why: "test: not entered" },
      { file: "drivers/fake/rxtx.ts", fn: "BadQueue.burst", kind: "DataView", why: "test" },
      { file: "drivers/fake/rxtx.ts", fn: "nothing", kind: "new", why: "stale" },
    ]);
    const dropped = all.filter((v) => !violations.includes(v) && !violations.some((w) => w.file === v.file && w.line === v.line && w.kind === v.kind));
    expect(dropped.map((v) => `${v.fn} ${v.kind}`).sort()).toEqual(["BadQueue.burst DataView", "helper new", "helper4 async", "helper4 await"]);
    expect(unusedAllow.map((a) => a.fn)).toEqual(["nothing"]);
  });
});
