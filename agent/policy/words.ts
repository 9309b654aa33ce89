// Static expansion of shell words: quotes, escapes, $'..', tilde, braces, and variables the
// script itself assigns. Whatever cannot be known before running (command substitutions,
// positional parameters, unassigned variables) stays in the value as a marked "unknown" part.
import type { DblQuoted, Lit, Node, ParamExp, SglQuoted, Word } from "mvdan-sh";
import { Op, nodeType, type SourceText } from "./parser.ts";

/** Where variable values come from. */
export interface Env {
  /** Every value the variable may hold, or undefined when the policy cannot know it. */
  lookup(name: string): string[] | undefined;
}

export interface WordContext {
  env: Env;
  src: SourceText;
  /** What a $(...) prints, when the walker could tell (`$(echo /)`, `$(pwd)`). */
  substitution?: (node: Node) => string[] | undefined;
}

/** The command expands into more variants than the policy is willing to check one by one. */
export class TooComplex extends Error {}

const MAX_ALTERNATIVES = 64;
const MAX_BRACE_FIELDS = 256;

// An unknown part is kept as \u0000<source text>\u0001 (whitespace in it as \u0002) so that rules
// can tell it apart, field splitting cannot cut it, and a decision can still show what was written.
const UNKNOWN_PART = /\u0000([^\u0001]*)\u0001/g;

export function unknown(text: string): string {
  return `\u0000${text.replace(/[\u0000-\u0002]/g, "").replace(/\s/g, "\u0002")}\u0001`;
}

export function hasUnknown(value: string): boolean {
  return value.includes("\u0000");
}

/** The value as if every unknown part expanded to nothing: the empty-variable reading. */
export function knownPart(value: string): string {
  return value.replace(UNKNOWN_PART, "");
}

/** The value with unknown parts shown as written, for people. */
export function display(value: string): string {
  return value.replace(UNKNOWN_PART, (_, text: string) => text.replace(/\u0002/g, " "));
}

/** Every way a word may expand, each as the list of fields (arguments) it becomes. */
export function expandWord(word: Word, ctx: WordContext): string[][] {
  let result: string[][] = [[]];
  for (const parts of expandBraces(braceTokens(word.Parts))) {
    result = combine(result, fieldsOf(parts, ctx), (a, b) => [...a, ...b]);
  }
  return result;
}

/** Every value a word may take where no field splitting happens (assignments, here-strings). */
export function wordValues(word: Word, ctx: WordContext): string[] {
  return concat(word.Parts, ctx, "unquoted");
}

/** Every text a here-document body may have; `quoted` when its delimiter was quoted. */
export function heredocValues(body: Word, ctx: WordContext, quoted: boolean): string[] {
  return quoted ? [body.Parts.map((part) => ctx.src.of(part)).join("")] : concat(body.Parts, ctx, "heredoc");
}

/** Cartesian product with a ceiling, so hostile input cannot make the policy slow. */
export function combine<A, B, C>(left: A[], right: B[], join: (a: A, b: B) => C): C[] {
  if (left.length * right.length > MAX_ALTERNATIVES) {
    throw new TooComplex(`more than ${MAX_ALTERNATIVES} possible expansions`);
  }
  return left.flatMap((a) => right.map((b) => join(a, b)));
}

/** A word part after brace expansion: a syntax node, or unquoted literal text already unescaped. */
type Part = Node | { text: string };
type LitMode = "unquoted" | "dquote" | "heredoc";

interface Piece {
  text: string;
  split: boolean; // unquoted expansion: subject to field splitting
  quoted: boolean; // quoted: produces a field even when empty
}

interface Fields {
  done: string[];
  current: string;
  open: boolean;
}

function fieldsOf(parts: Part[], ctx: WordContext): string[][] {
  let accs: Fields[] = [{ done: [], current: "", open: false }];
  parts.forEach((part, index) => {
    accs = combine(accs, piecesOf(part, ctx, index === 0), appendPiece);
  });
  return accs.map((acc) => (acc.open ? [...acc.done, acc.current] : acc.done));
}

function appendPiece(acc: Fields, piece: Piece): Fields {
  if (!piece.split) {
    return { done: acc.done, current: acc.current + piece.text, open: acc.open || piece.quoted || piece.text !== "" };
  }
  const [first = "", ...rest] = piece.text.split(/[ \t\n]+/);
  const done = [...acc.done];
  let current = acc.current + first;
  let open = acc.open || first !== "";
  for (const segment of rest) {
    if (open) done.push(current);
    current = segment;
    open = segment !== "";
  }
  return { done, current, open };
}

function piecesOf(part: Part, ctx: WordContext, first: boolean): Piece[] {
  if ("text" in part) return [{ text: first ? expandTilde(part.text, ctx.env) : part.text, split: false, quoted: false }];
  switch (nodeType(part)) {
    case "SglQuoted":
      return [{ text: singleQuoted(part as SglQuoted), split: false, quoted: true }];
    case "DblQuoted":
      return concat((part as DblQuoted).Parts, ctx, "dquote").map((text) => ({ text, split: false, quoted: true }));
    case "ParamExp":
    case "CmdSubst": {
      const values = nodeType(part) === "ParamExp" ? paramValues(part as ParamExp, ctx) : substitutionValues(part, ctx);
      if (!splitsOnWhitespace(ctx.env)) return [{ text: unknown(ctx.src.of(part)), split: false, quoted: false }];
      return values.map((text) => ({ text, split: true, quoted: false }));
    }
    case "ExtGlob":
      return [{ text: ctx.src.of(part), split: false, quoted: false }];
    default: // ArithmExp, ProcSubst
      return [{ text: unknown(ctx.src.of(part)), split: false, quoted: false }];
  }
}

/** Field splitting as modelled here needs IFS to be whitespace; a script that changes it gets no guesses. */
function splitsOnWhitespace(env: Env): boolean {
  const ifs = env.lookup("IFS");
  return ifs !== undefined && ifs.every((value) => /^[ \t\n]*$/.test(value));
}

function substitutionValues(node: Node, ctx: WordContext): string[] {
  const printed = ctx.substitution?.(node);
  return printed?.map((text) => text.replace(/\n+$/, "")) ?? [unknown(ctx.src.of(node))];
}

function concat(parts: Node[], ctx: WordContext, mode: LitMode): string[] {
  let values = [""];
  parts.forEach((part, index) => {
    values = combine(values, partValues(part, ctx, mode, index === 0), (a, b) => a + b);
  });
  return [...new Set(values)];
}

function partValues(part: Node, ctx: WordContext, mode: LitMode, first: boolean): string[] {
  switch (nodeType(part)) {
    case "Lit": {
      const text = unescapeLit((part as Lit).Value, mode);
      return [mode === "unquoted" && first ? expandTilde(text, ctx.env) : text];
    }
    case "SglQuoted":
      return [mode === "unquoted" ? singleQuoted(part as SglQuoted) : ctx.src.of(part)];
    case "DblQuoted":
      return concat((part as DblQuoted).Parts, ctx, "dquote");
    case "ParamExp":
      return paramValues(part as ParamExp, ctx);
    case "CmdSubst":
      return substitutionValues(part, ctx);
    default:
      return [unknown(ctx.src.of(part))];
  }
}

function paramValues(param: ParamExp, ctx: WordContext): string[] {
  const opaque = [unknown(ctx.src.of(param))];
  if (param.Length || param.Width || param.Names) return opaque;
  const name = param.Param?.Value ?? "";
  if (!/^([A-Za-z_][A-Za-z0-9_]*|\d+|[@*#])$/.test(name)) return opaque; // $?, $$, $! ...
  // ${a[i]} may be any element of a; ${!x} is the variable x names.
  const values = param.Excl ? indirect(ctx.env.lookup(name), ctx.env) : ctx.env.lookup(name);
  const exp = param.Exp;
  if (exp !== null && exp.Op >= Op.expPlus && exp.Op <= Op.expColAssign) {
    // ${x:-w} and ${x:=w} give x or w; ${x:+w} gives w or nothing.
    const alternate = exp.Word === null ? [""] : concat(exp.Word.Parts, ctx, "unquoted");
    const isAlternateForm = exp.Op <= Op.expPlus + 1;
    return [...new Set(isAlternateForm ? [...alternate, ""] : [...(values ?? opaque), ...alternate])];
  }
  if (values === undefined) return opaque;
  if (param.Slice === null && param.Repl === null && exp === null) return values;
  if (values.some(hasUnknown)) return opaque;
  const transformed = values.map((value) => transform(value, param, ctx));
  return transformed.every((value) => value !== undefined) ? [...new Set(transformed)] : opaque;
}

function indirect(names: string[] | undefined, env: Env): string[] | undefined {
  if (names === undefined || !names.every((name) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name))) return undefined;
  const values = names.map((name) => env.lookup(name));
  return values.every((value) => value !== undefined) ? values.flat() : undefined;
}

/** ${x:1:2}, ${x#pat}, ${x%%pat}, ${x/a/b}, ${x^^} on a known value; undefined when not modelled. */
function transform(value: string, param: ParamExp, ctx: WordContext): string | undefined {
  const single = (word: Word | null) => {
    if (word === null) return "";
    const found = concat(word.Parts, ctx, "unquoted");
    return found.length === 1 && !hasUnknown(found[0]) ? found[0] : undefined;
  };
  if (param.Slice !== null) {
    const slice = param.Slice as unknown as { Offset: Word | null; Length: Word | null };
    const offset = Number(single(slice.Offset)?.trim());
    const length = slice.Length === null ? undefined : Number(single(slice.Length)?.trim());
    if (!Number.isInteger(offset) || (length !== undefined && !Number.isInteger(length))) return undefined;
    const start = offset < 0 ? Math.max(0, value.length + offset) : offset;
    const end = length === undefined ? value.length : length < 0 ? value.length + length : start + length;
    return value.slice(start, Math.max(start, end));
  }
  if (param.Repl !== null) {
    const repl = param.Repl as unknown as { All: boolean; Orig: Word; With: Word | null };
    const [pattern, replacement] = [single(repl.Orig), single(repl.With)];
    return pattern === undefined || replacement === undefined ? undefined : replacePattern(value, pattern, replacement, repl.All);
  }
  const exp = param.Exp;
  if (exp === null) return undefined;
  const pattern = single(exp.Word);
  switch (exp.Op) {
    case Op.expRemSmallSuffix:
    case Op.expRemLargeSuffix:
    case Op.expRemSmallPrefix:
    case Op.expRemLargePrefix:
      return pattern === undefined ? undefined : removeAffix(value, pattern, exp.Op);
    case Op.expUpperFirst:
      return value.charAt(0).toUpperCase() + value.slice(1);
    case Op.expUpperAll:
      return value.toUpperCase();
    case Op.expLowerFirst:
      return value.charAt(0).toLowerCase() + value.slice(1);
    case Op.expLowerAll:
      return value.toLowerCase();
    default:
      return undefined;
  }
}

function removeAffix(value: string, pattern: string, op: number): string {
  const matches = matcherOf(pattern);
  const suffix = op === Op.expRemSmallSuffix || op === Op.expRemLargeSuffix;
  const longest = op === Op.expRemLargeSuffix || op === Op.expRemLargePrefix;
  const cuts = Array.from({ length: value.length + 1 }, (_, index) => index);
  // A suffix starts at `cut`; a prefix ends there. Shortest first unless the doubled operator asks for longest.
  const order = suffix === longest ? cuts : cuts.reverse();
  for (const cut of order) {
    if (suffix ? matches(value.slice(cut)) : matches(value.slice(0, cut))) return suffix ? value.slice(0, cut) : value.slice(cut);
  }
  return value;
}

function replacePattern(value: string, pattern: string, replacement: string, all: boolean): string {
  const anchor = pattern[0] === "#" || pattern[0] === "%" ? pattern[0] : "";
  const matches = matcherOf(anchor === "" ? pattern : pattern.slice(1));
  let out = "";
  let at = 0;
  while (at <= value.length) {
    const canStart = anchor !== "#" || at === 0;
    let end = -1;
    for (let stop = value.length; canStart && stop >= at; stop--) {
      if ((anchor !== "%" || stop === value.length) && stop > at && matches(value.slice(at, stop))) {
        end = stop;
        break;
      }
    }
    if (end === -1) {
      if (at < value.length) out += value[at];
      at++;
      continue;
    }
    out += replacement;
    at = end;
    if (!all) return out + value.slice(at);
  }
  return out;
}

/** A shell pattern (as in ${x#pat}) as a whole-string test; * and ? match slashes here. */
function matcherOf(pattern: string): (text: string) => boolean {
  let source = "";
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index];
    const close = char === "[" ? pattern.indexOf("]", index + 2) : -1;
    if (char === "*") source += "[\\s\\S]*";
    else if (char === "?") source += "[\\s\\S]";
    else if (close !== -1) {
      source += `[${pattern.slice(index + 1, close).replace(/^!/, "^").replace(/\\/g, "\\\\")}]`;
      index = close;
    } else source += char.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  try {
    const regex = new RegExp(`^(?:${source})$`);
    return (text) => regex.test(text);
  } catch {
    return (text) => text === pattern;
  }
}

function singleQuoted(part: SglQuoted): string {
  const value = stripControl(part.Value);
  return part.Dollar ? ansiC(value) : value;
}

function unescapeLit(raw: string, mode: LitMode): string {
  const value = stripControl(raw).replace(/\\\n/g, "");
  if (mode === "unquoted") return value.replace(/\\(.)/gs, "$1");
  const escapable = mode === "dquote" ? /\\([$`"\\])/g : /\\([$`\\])/g;
  return value.replace(escapable, "$1");
}

function stripControl(value: string): string {
  return value.replace(/[\u0000-\u0002]/g, "?");
}

function expandTilde(text: string, env: Env): string {
  const match = /^~([^/]*)(.*)$/s.exec(text);
  if (match === null) return text;
  const [, user, rest] = match;
  if (user === "") return (env.lookup("HOME")?.[0] ?? "/root") + rest;
  if (user === "root") return `/root${rest}`;
  if (/^[a-z_][a-z0-9_-]*$/.test(user)) return `/home/${user}${rest}`;
  return unknown(`~${user}`) + rest; // ~+ ~- ~N
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: "\x07", b: "\b", e: "\x1b", E: "\x1b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v",
  "\\": "\\", "'": "'", '"': '"', "?": "?",
};

/** Decodes bash's $'...' escapes. */
export function ansiC(value: string): string {
  return value.replace(
    /\\(?:x([0-9a-fA-F]{1,2})|u([0-9a-fA-F]{1,4})|U([0-9a-fA-F]{1,8})|([0-7]{1,3})|c(.)|(.))/gs,
    (whole, hex?: string, u4?: string, u8?: string, octal?: string, control?: string, other?: string) => {
      const code = hex ?? u4 ?? u8;
      if (code !== undefined) return safeCodePoint(parseInt(code, 16));
      if (octal !== undefined) return safeCodePoint(parseInt(octal, 8));
      if (control !== undefined) return safeCodePoint(control.charCodeAt(0) & 0x1f);
      return SIMPLE_ESCAPES[other ?? ""] ?? whole;
    },
  );
}

function safeCodePoint(code: number): string {
  return code > 0x10ffff || code <= 2 ? "?" : String.fromCodePoint(code);
}

// Brace expansion, done here rather than with mvdan-sh's SplitBraces, which rewrites the syntax tree
// in place. Unquoted literal text becomes one token per character (escaped ones cannot open braces);
// quoted parts and expansions are single tokens, so {"/",x} expands but "{a,b}" does not.
type BraceToken = { char: string; escaped: boolean } | { node: Node };

function braceTokens(parts: Node[]): BraceToken[] {
  return parts.flatMap((part): BraceToken[] => {
    if (nodeType(part) !== "Lit") return [{ node: part }];
    const tokens: BraceToken[] = [];
    const raw = stripControl((part as Lit).Value).replace(/\\\n/g, "");
    for (let index = 0; index < raw.length; index++) {
      const escaped = raw[index] === "\\" && index + 1 < raw.length;
      tokens.push({ char: escaped ? raw[++index] : raw[index], escaped });
    }
    return tokens;
  });
}

const isChar = (token: BraceToken | undefined, char: string) =>
  token !== undefined && "char" in token && !token.escaped && token.char === char;

function expandBraces(tokens: BraceToken[]): Part[][] {
  for (let open = 0; open < tokens.length; open++) {
    if (!isChar(tokens[open], "{")) continue;
    const brace = matchBrace(tokens, open);
    if (brace === undefined) continue;
    const results = brace.alternatives.flatMap((alternative) =>
      expandBraces([...tokens.slice(0, open), ...alternative, ...tokens.slice(brace.close + 1)]));
    if (results.length > MAX_BRACE_FIELDS) throw new TooComplex(`brace expansion gives more than ${MAX_BRACE_FIELDS} words`);
    return results;
  }
  return [toParts(tokens)];
}

/** The alternatives of the brace opening at `open`, or undefined when it is literal text. */
function matchBrace(tokens: BraceToken[], open: number): { close: number; alternatives: BraceToken[][] } | undefined {
  let depth = 0;
  const commas: number[] = [];
  for (let index = open + 1; index < tokens.length; index++) {
    if (isChar(tokens[index], "{")) depth++;
    else if (isChar(tokens[index], "}")) {
      if (depth > 0) {
        depth--;
        continue;
      }
      const inner = tokens.slice(open + 1, index);
      if (commas.length > 0) {
        const bounds = [open, ...commas, index];
        return { close: index, alternatives: bounds.slice(1).map((end, at) => tokens.slice(bounds[at] + 1, end)) };
      }
      const sequence = braceSequenceOf(inner);
      return sequence === undefined ? undefined : { close: index, alternatives: sequence.map((text) => [...text].map((char) => ({ char, escaped: true }))) };
    } else if (depth === 0 && isChar(tokens[index], ",")) commas.push(index);
  }
  return undefined;
}

function braceSequenceOf(inner: BraceToken[]): string[] | undefined {
  if (!inner.every((token) => "char" in token)) return undefined;
  const text = inner.map((token) => ("char" in token ? token.char : "")).join("");
  const match = /^(-?\d+|[^.])\.\.(-?\d+|[^.])(?:\.\.(-?\d+))?$/.exec(text);
  if (match === null) return undefined;
  const [, from, to, step = "1"] = match;
  const numeric = /^-?\d+$/.test(from) && /^-?\d+$/.test(to);
  if (!numeric && (/\d/.test(from) !== /\d/.test(to))) return undefined;
  return braceSequence(from, to, step);
}

function toParts(tokens: BraceToken[]): Part[] {
  const parts: Part[] = [];
  for (const token of tokens) {
    const last = parts[parts.length - 1];
    if ("node" in token) parts.push(token.node);
    else if (last !== undefined && "text" in last) last.text += token.char;
    else parts.push({ text: token.char });
  }
  return parts;
}

function braceSequence(from: string, to: string, stepText: string): string[] {
  const step = Math.abs(Number.parseInt(stepText, 10)) || 1;
  if (/^-?\d+$/.test(from) && /^-?\d+$/.test(to)) {
    const [a, b] = [Number(from), Number(to)];
    const width = /^-?0\d/.test(from) || /^-?0\d/.test(to) ? Math.max(from.length, to.length) : 0;
    return range(a, b, step).map((n) => String(n).padStart(width, "0"));
  }
  if (from.length === 1 && to.length === 1) {
    return range(from.charCodeAt(0), to.charCodeAt(0), step).map((code) => String.fromCharCode(code));
  }
  return [`{${from}..${to}}`];
}

function range(from: number, to: number, step: number): number[] {
  const count = Math.floor(Math.abs(to - from) / step) + 1;
  if (count > MAX_BRACE_FIELDS) throw new TooComplex(`brace sequence gives more than ${MAX_BRACE_FIELDS} words`);
  const direction = to >= from ? step : -step;
  return Array.from({ length: count }, (_, index) => from + index * direction);
}
