// From shell source to the list of things it would run. Every simple command is visited: in
// pipelines, lists, subshells, blocks, if/while/for/case bodies, function bodies, $(...), `...`,
// <(...) and >(...); commands behind wrappers and shell code handed to shells (bash -c, eval,
// echo ... | sh) are parsed again and walked the same way, up to a nesting limit. A final pass
// checks that no command in the syntax tree was missed; if one was, the command is refused.
import type {
  Assign, BinaryCmd, Block, CallExpr, CaseClause, CmdSubst, CoprocClause, DeclClause, File, ForClause,
  FuncDecl, IfClause, Lit, Node, Redirect, SglQuoted, Stmt, TimeClause, WhileClause, Word,
} from "mvdan-sh";
import { parseArgs } from "./argv.ts";
import { writes } from "./effects.ts";
import { handoffsOf, type Handoff } from "./handoffs.ts";
import { listedUnder, printedBy } from "./output.ts";
import { Op, ShellSyntaxError, SourceText, nodeKey, nodeType, parseScript, visitNodes } from "./parser.ts";
import { resolvePath } from "./paths.ts";
import { PositionalParameters, ScriptVariables } from "./variables.ts";
import {
  TooComplex, combine, display, expandWord, hasUnknown, heredocValues, unknown, wordValues, type Env, type WordContext,
} from "./words.ts";

export interface Redirection {
  /** The operator as written: ">", ">>", "<", "&>", "<<<" ... */
  op: string;
  /** The expanded target file ("" for here-documents). */
  target: string;
  text: string;
}

/** One thing the shell would run, as the rules see it. */
export interface Command {
  /**
   * call: a simple command. bare: a statement without a command (`x=1`, `> file`, or the redirections
   * of a compound command). function: a function definition. script: shell code handed to a shell.
   */
  kind: "call" | "bare" | "function" | "script";
  /** Command name, unquoted, without its directory ("/usr/bin/r'm'" → "rm"); the function name; "" when bare. */
  name: string;
  /** Expanded arguments; parts unknown before run time are marked (see words.ts). */
  args: string[];
  /** The argv for people: expanded, with unknown parts shown as written. */
  argv: string[];
  /** Source text of this command. */
  text: string;
  redirects: Redirection[];
  assigns: { name: string; value: string }[];
  /** Commands whose output reaches this command's stdin; follow them transitively. */
  stdin: Command[];
  /** Every text a here-document or here-string may feed to stdin (unknown parts marked). */
  stdinTexts?: string[];
  /** Commands whose output is spliced into this command ($(...), <(...)), or feeds a script. */
  sources: Command[];
  /** Directories the command may run in. */
  cwd: string[];
  /** The call only runs something else (sudo, env, bash -c ...), which appears as its own Command. */
  wrapper: boolean;
  /** For a function: it calls itself at least twice, concurrently (in a pipeline or in the background). */
  forkBomb?: boolean;
  /**
   * For a script: where the code comes from, its text when known, and whether it was given inline
   * (bash -c "$x", echo "$x" | sh) but holds parts unknown before run time.
   */
  script?: { origin: "argument" | "stdin" | "file"; text?: string; dynamic: boolean; path?: string };
}

/** A structural reason to refuse a command before any rule looks at it. */
export class Refusal extends Error {
  readonly rule: string;
  readonly match: string;

  constructor(rule: string, reason: string, match: string) {
    super(reason);
    this.rule = rule;
    this.match = match;
  }
}

const MAX_DEPTH = 8;
const MAX_COMMANDS = 2000;
const MAX_DIRECTORIES = 32;

/** Every command the source would run, outermost first; throws Refusal or TooComplex. */
export function collectCommands(source: string, cwd: string): Command[] {
  const walker = new Walker();
  walker.script(source, undefined, 0, { stdin: [] }, [cwd]);
  return walker.commands;
}

type Dirs = string[];

/** Possible working directories after a statement: if it succeeded, and in any case. */
interface Outcome {
  ok: Dirs;
  any: Dirs;
}

interface Scope {
  src: SourceText;
  words: WordContext;
  depth: number;
  visited: Set<string>;
  /** What each $(...) of this source prints, when known, by node. */
  outputs: Map<string, string[] | undefined>;
  /** Functions defined so far, walked again at each call with its arguments as $1, $2 ... */
  functions: Map<string, FuncDecl>;
}

/** A file the command itself writes before it may run it (`echo reboot > x.sh; sh x.sh`). */
interface WrittenFile {
  /** Every content it may get; undefined when unknown (a download, a copy). */
  texts: string[] | undefined;
  writers: Command[];
}

interface Input {
  stdin: Command[];
  stdinTexts?: string[];
}

/** One expansion of a simple command: its fields and the word each came from. */
interface Invocation {
  call: CallExpr;
  wordSources: Command[][];
  scope: Scope;
  input: Input;
  dirs: Dirs;
}

const REDIRECT_OPS: Record<number, string> = {
  [Op.rdrOut]: ">", [Op.appOut]: ">>", [Op.rdrIn]: "<", [Op.rdrInOut]: "<>", [Op.dplIn]: "<&", [Op.dplOut]: ">&",
  [Op.clbOut]: ">|", [Op.hdoc]: "<<", [Op.dashHdoc]: "<<-", [Op.wordHdoc]: "<<<", [Op.rdrAll]: "&>", [Op.appAll]: "&>>",
};

class Walker {
  readonly commands: Command[] = [];
  #files = new Map<string, WrittenFile>();

  script(text: string, parentEnv: Env | undefined, depth: number, input: Input, dirs: Dirs): void {
    if (depth > MAX_DEPTH) {
      throw new Refusal("nesting-limit", `shell code nested more than ${MAX_DEPTH} levels deep is not checked`, text);
    }
    const file = parse(text);
    const src = new SourceText(text);
    const outputs = new Map<string, string[] | undefined>();
    const words: WordContext = {
      env: new ScriptVariables(file, src, parentEnv),
      src,
      substitution: (node) => outputs.get(nodeKey(node)),
    };
    const scope: Scope = { src, words, depth, visited: new Set(), outputs, functions: new Map() };
    this.#list(file.Stmts, scope, input, dirs);
    checkCoverage(file, scope);
  }

  #push(command: Command): Command {
    if (this.commands.length >= MAX_COMMANDS) throw new TooComplex(`more than ${MAX_COMMANDS} commands`);
    this.commands.push(command);
    return command;
  }

  #list(stmts: Stmt[], scope: Scope, input: Input, dirs: Dirs): Outcome {
    let outcome = same(dirs);
    for (const stmt of stmts) outcome = this.#stmt(stmt, scope, input, outcome.any);
    return outcome;
  }

  #stmt(stmt: Stmt, scope: Scope, input: Input, dirs: Dirs): Outcome {
    const redirects = this.#redirects(stmt.Redirs, scope, input, dirs);
    const inner: Input = {
      stdin: [...input.stdin, ...redirects.stdin],
      stdinTexts: redirects.stdinTexts ?? input.stdinTexts,
    };
    const outcome = this.#command(stmt, scope, inner, redirects.list, dirs);
    return stmt.Background || stmt.Coprocess ? same(dirs) : outcome;
  }

  #command(stmt: Stmt, scope: Scope, input: Input, redirects: Redirection[], dirs: Dirs): Outcome {
    const cmd = stmt.Cmd;
    if (cmd === null) {
      this.#bare(scope, input, redirects, [], [], dirs, scope.src.of(stmt));
      return same(dirs);
    }
    const type = nodeType(cmd);
    if (type === "CallExpr") return this.#call(cmd as CallExpr, scope, input, redirects, dirs);
    if (type === "DeclClause") return this.#declaration(cmd as DeclClause, scope, input, redirects, dirs);
    if (redirects.length > 0) this.#bare(scope, input, redirects, [], [], dirs, scope.src.of(stmt));
    return this.#compound(cmd, type, scope, input, dirs);
  }

  #compound(cmd: Node, type: string, scope: Scope, input: Input, dirs: Dirs): Outcome {
    switch (type) {
      case "BinaryCmd":
        return this.#binary(cmd as BinaryCmd, scope, input, dirs);
      case "Block":
        return this.#list((cmd as Block).Stmts, scope, input, dirs);
      case "Subshell":
        this.#list((cmd as Block).Stmts, scope, input, dirs);
        return same(dirs);
      case "IfClause":
        return this.#if(cmd as IfClause, scope, input, dirs);
      case "WhileClause": {
        const loop = cmd as WhileClause;
        const cond = this.#list(loop.Cond, scope, input, dirs);
        const body = this.#list(loop.Do, scope, input, cond.ok);
        return merge(same(dirs), cond, body);
      }
      case "ForClause": {
        const loop = cmd as ForClause;
        this.#substitutions(loop.Loop, scope, input, dirs);
        return merge(same(dirs), this.#list(loop.Do, scope, input, dirs));
      }
      case "CaseClause": {
        const clause = cmd as CaseClause;
        this.#substitutions(clause.Word, scope, input, dirs);
        for (const item of clause.Items) for (const pattern of item.Patterns) this.#substitutions(pattern, scope, input, dirs);
        return merge(same(dirs), ...clause.Items.map((item) => this.#list(item.Stmts, scope, input, dirs)));
      }
      case "FuncDecl":
        this.#function(cmd as FuncDecl, scope, dirs);
        return same(dirs);
      case "TimeClause": {
        const timed = (cmd as TimeClause).Stmt;
        return timed === null ? same(dirs) : this.#stmt(timed, scope, input, dirs);
      }
      case "CoprocClause":
        this.#stmt((cmd as CoprocClause).Stmt, scope, input, dirs);
        return same(dirs);
      default: // [[ ]], (( )), let: only their substitutions run commands
        this.#substitutions(cmd, scope, input, dirs);
        return same(dirs);
    }
  }

  #binary(binary: BinaryCmd, scope: Scope, input: Input, dirs: Dirs): Outcome {
    if (binary.Op === Op.pipe || binary.Op === Op.pipeAll) {
      const before = this.commands.length;
      this.#stmt(binary.X, scope, input, dirs);
      this.#stmt(binary.Y, scope, { stdin: this.commands.slice(before) }, dirs);
      return same(dirs);
    }
    const left = this.#stmt(binary.X, scope, input, dirs);
    if (binary.Op === Op.and) {
      const right = this.#stmt(binary.Y, scope, input, left.ok);
      return { ok: right.ok, any: union(left.any, right.any) };
    }
    const right = this.#stmt(binary.Y, scope, input, left.any);
    return { ok: union(left.ok, right.ok), any: union(left.any, right.any) };
  }

  #if(clause: IfClause, scope: Scope, input: Input, dirs: Dirs): Outcome {
    const cond = this.#list(clause.Cond, scope, input, dirs);
    const then = this.#list(clause.Then, scope, input, cond.ok);
    const otherwise = clause.Else === null ? same(cond.any) : this.#if(clause.Else, scope, input, cond.any);
    return merge(then, otherwise);
  }

  #function(fn: FuncDecl, scope: Scope, dirs: Dirs): void {
    scope.visited.add(nodeKey(fn));
    const name = fn.Name.Value;
    scope.functions.set(name, fn);
    this.#push({
      ...blank("function", scope.src.of(fn), dirs),
      name,
      argv: [name],
      forkBomb: forksItself(fn.Body, name),
    });
    this.#stmt(fn.Body, scope, { stdin: [] }, dirs);
  }

  #bare(scope: Scope, input: Input, redirects: Redirection[], assigns: Command["assigns"], sources: Command[], dirs: Dirs, text: string): void {
    this.#push({ ...blank("bare", text, dirs), redirects, assigns, sources, stdin: input.stdin, stdinTexts: input.stdinTexts });
  }

  #call(call: CallExpr, scope: Scope, input: Input, redirects: Redirection[], dirs: Dirs): Outcome {
    scope.visited.add(nodeKey(call));
    const assignSources = call.Assigns.flatMap((assign) => this.#substitutions(assign, scope, input, dirs));
    const assigns = call.Assigns.flatMap((assign) => assignmentValues(assign, scope.words));
    if (call.Args.length === 0) {
      this.#bare(scope, input, redirects, assigns, assignSources, dirs, scope.src.of(call));
      return same(dirs);
    }
    const wordSources = call.Args.map((word) => this.#substitutions(word, scope, input, dirs));
    let variants = [{ argv: [] as string[], words: [] as number[] }];
    call.Args.forEach((word, wordIndex) => {
      variants = combine(variants, expandWord(word, scope.words), (variant, fields) => ({
        argv: [...variant.argv, ...fields],
        words: [...variant.words, ...fields.map(() => wordIndex)],
      }));
    });
    const invocation: Invocation = { call, wordSources, scope, input, dirs };
    const outcomes = variants.map((variant) => {
      if (variant.argv.length === 0) {
        this.#bare(scope, input, redirects, assigns, wordSources.flat(), dirs, scope.src.of(call));
        return same(dirs);
      }
      const command = this.#simple(invocation, variant.argv, variant.words, redirects, assigns);
      return command.name === "cd" || command.name === "pushd" ? changeDirectory(command.args, dirs) : same(dirs);
    });
    return merge(...outcomes);
  }

  #declaration(decl: DeclClause, scope: Scope, input: Input, redirects: Redirection[], dirs: Dirs): Outcome {
    scope.visited.add(nodeKey(decl));
    const sources = this.#substitutions(decl, scope, input, dirs);
    const assigns = decl.Args.filter((assign) => !assign.Naked).flatMap((assign) => assignmentValues(assign, scope.words));
    const naked = decl.Args.filter((assign) => assign.Naked).flatMap((assign) =>
      assign.Value !== null ? wordValues(assign.Value, scope.words) : assign.Name !== null ? [assign.Name.Value] : [],
    );
    const args = [...naked, ...assigns.map(({ name, value }) => `${name}=${value}`)];
    const name = decl.Variant.Value;
    this.#push({
      ...blank("call", scope.src.of(decl), dirs),
      name,
      args,
      argv: [name, ...args.map(display)],
      redirects,
      assigns,
      stdin: input.stdin,
      sources,
    });
    return same(dirs);
  }

  /** Records one simple command (argv already expanded) and walks whatever it hands off. */
  #simple(inv: Invocation, argv: string[], fieldWords: number[], redirects: Redirection[], assigns: Command["assigns"]): Command {
    const [written, ...args] = argv;
    const words = inv.call.Args;
    const first = words[fieldWords[0]];
    const last = words[fieldWords[fieldWords.length - 1]];
    const command = this.#push({
      kind: "call",
      name: commandName(written),
      args,
      argv: argv.map(display),
      text: inv.scope.src.between(first.Pos().Offset(), last.End().Offset()),
      redirects,
      assigns,
      stdin: inv.input.stdin,
      stdinTexts: inv.input.stdinTexts,
      sources: [...new Set(fieldWords)].flatMap((word) => inv.wordSources[word]),
      cwd: inv.dirs,
      wrapper: false,
    });
    if (hasUnknown(command.name)) return command; // refused by rule; nothing more can be known
    this.#recordWrites(command);
    const handoffs = handoffsOf(command.name, args);
    command.wrapper = handoffs.length > 0;
    for (const handoff of handoffs) this.#handoff(inv, command, argv, fieldWords, handoff);
    if (written.includes("/")) this.#writtenScript(inv, command, written); // ./x.sh written earlier
    this.#callFunction(inv, command, argv);
    return command;
  }

  #activeFunctions = new Set<FuncDecl>();

  /** A call of a function defined earlier: its body again, with $1 ... bound to this call's arguments. */
  #callFunction(inv: Invocation, command: Command, argv: string[]): void {
    const fn = inv.scope.functions.get(command.name);
    if (fn === undefined || this.#activeFunctions.has(fn)) return;
    const env = new PositionalParameters(inv.scope.words.env, argv);
    const scope: Scope = { ...inv.scope, words: { ...inv.scope.words, env } };
    this.#activeFunctions.add(fn);
    try {
      this.#stmt(fn.Body, scope, { stdin: command.stdin, stdinTexts: command.stdinTexts }, command.cwd);
    } finally {
      this.#activeFunctions.delete(fn);
    }
  }

  /** Remembers files this command writes, and what into them when that is known. */
  #recordWrites(command: Command): void {
    const own = printedBy([command]);
    const targets = [
      ...command.redirects.filter((r) => /^(>|>\||>>|&>|&>>)$/.test(r.op)).map((r) => ({ arg: r.target, texts: own, append: r.op.endsWith(">>") })),
      ...(command.name === "tee" ? parseArgs(command.args).operands.map((arg) => ({ arg, texts: printedBy(command.stdin), append: command.args.includes("-a") })) : []),
      ...writes({ ...command, redirects: [] }).map((w) => ({ arg: w.path, texts: undefined, append: false })),
    ];
    for (const { arg, texts, append } of targets) {
      for (const path of command.cwd.flatMap((dir) => resolvePath(arg, dir) ?? [])) {
        const before = this.#files.get(path);
        const combined = append && before?.texts !== undefined && texts !== undefined
          ? before.texts.flatMap((head) => texts.map((tail) => head + tail))
          : texts;
        this.#files.set(path, { texts: combined, writers: [...(before?.writers ?? []), command] });
      }
    }
  }

  /** Runs, as a script, a file the same command line wrote (its text when known). */
  #writtenScript(inv: Invocation, command: Command, path: string): boolean {
    const files = command.cwd.flatMap((dir) => this.#files.get(resolvePath(path, dir) ?? "") ?? []);
    for (const file of files) this.#script(inv, command, "file", file.texts, file.writers, [], path);
    return files.length > 0;
  }

  #handoff(inv: Invocation, command: Command, argv: string[], fieldWords: number[], handoff: Handoff): void {
    switch (handoff.kind) {
      case "command": {
        const inner = argv.slice(1 + handoff.start, 1 + handoff.end);
        const innerWords = fieldWords.slice(1 + handoff.start, 1 + handoff.end);
        const input = handoff.inputFromStdin ? printedBy(command.stdin) : undefined;
        const under = handoff.under ?? (handoff.inputFromStdin ? listedUnder(command.stdin) : undefined);
        for (const args of withInput(inner, handoff, input, under)) {
          const words = [...innerWords, ...args.slice(innerWords.length).map(() => innerWords[innerWords.length - 1])];
          if (args.length > 0) this.#simple(inv, args, words, [], command.assigns);
        }
        return;
      }
      case "script":
        return this.#script(inv, command, "argument", [handoff.text], command.sources, command.stdin, undefined, handoff.positional);
      case "stdin-script":
        return this.#stdinScript(inv, command);
      case "script-file":
        return this.#scriptFile(inv, command, handoff.index, fieldWords);
    }
  }

  #stdinScript(inv: Invocation, command: Command): void {
    const texts = command.stdinTexts ?? printedBy(command.stdin);
    this.#script(inv, command, "stdin", texts, command.stdin, []);
  }

  #scriptFile(inv: Invocation, command: Command, index: number, fieldWords: number[]): void {
    const path = command.args[index];
    if (/^(-|\/dev\/stdin|\/dev\/fd\/0|\/proc\/self\/fd\/0)$/.test(path)) return this.#stdinScript(inv, command);
    if (this.#writtenScript(inv, command, path)) return;
    const sources = inv.wordSources[fieldWords[1 + index]] ?? [];
    if (sources.length === 0 && !/^\/dev\/(tcp|udp)\//.test(path)) return; // a file on disk: not read
    this.#script(inv, command, "file", printedBy(sources), sources, [], path);
  }

  /** Records shell code handed to a shell and, when its text is known, walks it like typed input. */
  #script(
    inv: Invocation,
    command: Command,
    origin: "argument" | "stdin" | "file",
    texts: string[] | undefined,
    sources: Command[],
    stdin: Command[],
    path?: string,
    positional?: string[],
  ): void {
    const env = positional === undefined ? inv.scope.words.env : new PositionalParameters(inv.scope.words.env, positional);
    for (const text of texts ?? [undefined]) {
      const known = text !== undefined && !hasUnknown(text);
      this.#push({
        ...blank("script", command.text, command.cwd),
        name: command.name,
        argv: command.argv,
        redirects: origin === "argument" ? [] : command.redirects,
        stdin: command.stdin,
        sources,
        script: { origin, text: known ? text : undefined, dynamic: text !== undefined && !known, path },
      });
      if (known) this.script(text, env, inv.scope.depth + 1, { stdin }, command.cwd);
    }
  }

  #redirects(redirs: Redirect[], scope: Scope, input: Input, dirs: Dirs): { list: Redirection[]; stdin: Command[]; stdinTexts?: string[] } {
    const list: Redirection[] = [];
    const stdin: Command[] = [];
    let stdinTexts: string[] | undefined;
    for (const redirect of redirs) {
      const op = REDIRECT_OPS[redirect.Op] ?? "?";
      const text = scope.src.of(redirect);
      const producers = this.#substitutions(redirect, scope, input, dirs);
      if (redirect.Op === Op.hdoc || redirect.Op === Op.dashHdoc) {
        stdinTexts = redirect.Hdoc === null ? [""] : heredocValues(redirect.Hdoc, scope.words, isQuoted(redirect.Word));
        stdin.push(...producers);
        list.push({ op, target: "", text });
        continue;
      }
      const targets = redirect.Word === null ? [""] : wordValues(redirect.Word, scope.words);
      if (redirect.Op === Op.wordHdoc) {
        stdinTexts = targets.map((value) => `${value}\n`);
        stdin.push(...producers);
        list.push({ op, target: "", text });
        continue;
      }
      if (redirect.Op === Op.rdrIn || redirect.Op === Op.rdrInOut) stdin.push(...producers);
      for (const target of targets) list.push({ op, target, text });
    }
    return { list, stdin, stdinTexts };
  }

  /** Walks the $(...), `...` and <(...) inside a node; returns the commands they run. */
  #substitutions(node: Node, scope: Scope, input: Input, dirs: Dirs): Command[] {
    const before = this.commands.length;
    visitNodes(node, (child) => {
      const type = nodeType(child);
      if (type !== "CmdSubst" && type !== "ProcSubst") return true;
      const start = this.commands.length;
      // $(...) shares the shell's stdin: `curl x | echo "$(sh)"` runs the download.
      this.#list((child as CmdSubst).Stmts, scope, { stdin: type === "CmdSubst" ? input.stdin : [] }, dirs);
      scope.outputs.set(nodeKey(child), printedBy(this.commands.slice(start)));
      return false;
    });
    return this.commands.slice(before);
  }
}

function parse(text: string): File {
  try {
    return parseScript(text, "command");
  } catch (error) {
    if (error instanceof ShellSyntaxError) {
      throw new Refusal("parse-error", `the command cannot be parsed: ${error.message}`, text);
    }
    throw error;
  }
}

/** Fails closed: a command in the syntax tree that the walk did not reach is refused, never skipped. */
function checkCoverage(file: File, scope: Scope): void {
  visitNodes(file, (node) => {
    const type = nodeType(node);
    if ((type === "CallExpr" || type === "DeclClause" || type === "FuncDecl") && !scope.visited.has(nodeKey(node))) {
      throw new Refusal("unsupported-syntax", "the policy could not follow every command in this shell code", scope.src.of(node));
    }
    return true;
  });
}

function blank(kind: Command["kind"], text: string, cwd: Dirs): Command {
  return { kind, name: "", args: [], argv: [], text, redirects: [], assigns: [], stdin: [], sources: [], cwd, wrapper: false };
}

function same(dirs: Dirs): Outcome {
  return { ok: dirs, any: dirs };
}

function union(...lists: Dirs[]): Dirs {
  const all = [...new Set(lists.flat())];
  if (all.length > MAX_DIRECTORIES) throw new TooComplex(`more than ${MAX_DIRECTORIES} possible working directories`);
  return all;
}

function merge(...outcomes: Outcome[]): Outcome {
  return { ok: union(...outcomes.map((o) => o.ok)), any: union(...outcomes.map((o) => o.any)) };
}

/** cd may fail, so afterwards the shell is in the new directory only if it succeeded. */
function changeDirectory(args: string[], dirs: Dirs): Outcome {
  const target = args.filter((arg) => !/^-[LPe@]+$/.test(arg))[0] ?? "~";
  const home = target === "~" ? "/root" : target;
  const resolved = target === "-" ? [] : dirs.flatMap((dir) => resolvePath(home, dir) ?? []);
  if (resolved.length === 0) return same(dirs); // cd "$unknown": judged where the shell already was
  return { ok: union(resolved), any: union(dirs, resolved) };
}

const MAX_INPUT_LINES = 16;

/**
 * The argv a command gets from its input (xargs, find -exec): the words or lines of a known input
 * (`echo /tmp/a | xargs rm`), otherwise an unknown placeholder.
 */
function withInput(argv: string[], handoff: Extract<Handoff, { kind: "command" }>, input: string[] | undefined, under: string[] | undefined): string[][] {
  const known = input?.length === 1 && !hasUnknown(input[0]) ? input[0] : undefined;
  // Unknown input: paths somewhere under `under` when an unnarrowed find lists them, else anything.
  const placeholders = (text: string) => under?.map((dir) => `${dir}/${unknown(text)}`) ?? [unknown(text)];
  if (handoff.replace !== undefined) {
    const placeholder = handoff.replace;
    const lines = known?.split("\n").filter((line) => line.trim() !== "") ?? placeholders(placeholder);
    if (lines.length > MAX_INPUT_LINES) throw new TooComplex(`more than ${MAX_INPUT_LINES} input lines`);
    return lines.map((line) => argv.map((arg) => arg.split(placeholder).join(line)));
  }
  if (!handoff.appendInput) return [argv];
  if (known !== undefined) return [[...argv, ...known.split(/\s+/).filter((word) => word !== "")]];
  return placeholders("(stdin)").map((placeholder) => [...argv, placeholder]);
}

function commandName(written: string): string {
  if (hasUnknown(written)) return written;
  return written.split("/").filter((segment) => segment !== "").at(-1) ?? written;
}

function assignmentValues(assign: Assign, ctx: WordContext): Command["assigns"] {
  const name = assign.Name?.Value;
  if (name === undefined || assign.Naked) return [];
  const words = assign.Array !== null ? assign.Array.Elems.flatMap((elem) => (elem.Value === null ? [] : [elem.Value])) : [assign.Value];
  return words.flatMap((word) => (word === null ? [""] : wordValues(word, ctx))).map((value) => ({ name, value }));
}

function isQuoted(delimiter: Word | null): boolean {
  return delimiter !== null && delimiter.Parts.some((part) => nodeType(part) !== "Lit" || (part as Lit).Value.includes("\\"));
}

/** A function that calls itself at least twice, at least once concurrently: the fork bomb shape. */
function forksItself(body: Stmt, name: string): boolean {
  const calls = selfCalls(body, name, false);
  return calls.length >= 2 && calls.some((concurrent) => concurrent);
}

function selfCalls(stmt: Stmt, name: string, concurrent: boolean): boolean[] {
  const inBackground = concurrent || stmt.Background || stmt.Coprocess;
  const cmd = stmt.Cmd;
  if (cmd === null) return [];
  const type = nodeType(cmd);
  if (type === "CallExpr") {
    const [first] = (cmd as CallExpr).Args;
    return first !== undefined && literalWord(first) === name ? [inBackground] : [];
  }
  if (type === "BinaryCmd") {
    const binary = cmd as BinaryCmd;
    const piped = inBackground || binary.Op === Op.pipe || binary.Op === Op.pipeAll;
    return [...selfCalls(binary.X, name, piped), ...selfCalls(binary.Y, name, piped)];
  }
  return childStatements(cmd, type).flatMap((child) => selfCalls(child, name, inBackground));
}

function childStatements(cmd: Node, type: string): Stmt[] {
  switch (type) {
    case "Block":
    case "Subshell":
      return (cmd as Block).Stmts;
    case "IfClause": {
      const clause = cmd as IfClause;
      return [...clause.Cond, ...clause.Then, ...(clause.Else === null ? [] : childStatements(clause.Else, "IfClause"))];
    }
    case "WhileClause":
      return [...(cmd as WhileClause).Cond, ...(cmd as WhileClause).Do];
    case "ForClause":
      return (cmd as ForClause).Do;
    case "CaseClause":
      return (cmd as CaseClause).Items.flatMap((item) => item.Stmts);
    case "TimeClause":
      return (cmd as TimeClause).Stmt === null ? [] : [(cmd as TimeClause).Stmt as Stmt];
    case "CoprocClause":
      return [(cmd as CoprocClause).Stmt];
    default:
      return [];
  }
}

function literalWord(word: Word): string | undefined {
  const pieces = word.Parts.map((part) => {
    const type = nodeType(part);
    if (type === "Lit") return (part as Lit).Value.replace(/\\(.)/g, "$1");
    if (type === "SglQuoted") return (part as SglQuoted).Value;
    return undefined;
  });
  return pieces.every((piece) => piece !== undefined) ? pieces.join("") : undefined;
}
