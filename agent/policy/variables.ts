// Variables a script assigns, so `d=/etc; rm -rf $d` is judged as `rm -rf /etc`.
import type { Assign, CallExpr, File, Lit, ParamExp, Word, WordIter } from "mvdan-sh";
import { Op, nodeType, visitNodes, type SourceText } from "./parser.ts";
import { TooComplex, expandWord, wordValues, type Env } from "./words.ts";

const MAX_VALUES = 64;

/** Values of variables a script never assigns; the agent runs as root. */
const DEFAULTS: Record<string, string[]> = { HOME: ["/root"], IFS: [" \t\n"] };

/** Commands that set variables to values read at run time. */
const READERS = new Set(["read", "mapfile", "readarray", "getopts", "printf"]);

type Definition = { word: Word; split: boolean } | { literal: string };

/**
 * Every value each variable may hold anywhere in one script. Flow-insensitive on purpose: a variable
 * may hold any value the script ever gives it (`for d in /tmp /etc` means either), which covers every
 * path through ifs and loops. Known limit: a use before the script's first assignment is judged with
 * the script's values, not with whatever the environment held.
 */
export class ScriptVariables implements Env {
  #definitions = new Map<string, Definition[]>();
  #runtime = new Set<string>();
  #cache = new Map<string, string[] | undefined>();
  #resolving = new Set<string>();
  #src: SourceText;
  #parent: Env | undefined;

  constructor(file: File, src: SourceText, parent?: Env) {
    this.#src = src;
    this.#parent = parent;
    visitNodes(file, (node) => {
      this.#collect(node);
      return true;
    });
  }

  lookup(name: string): string[] | undefined {
    if (this.#runtime.has(name)) return undefined;
    const definitions = this.#definitions.get(name);
    if (definitions === undefined) return this.#parent !== undefined ? this.#parent.lookup(name) : DEFAULTS[name];
    if (this.#cache.has(name)) return this.#cache.get(name);
    if (this.#resolving.has(name)) return undefined; // x=$x:/more
    this.#resolving.add(name);
    try {
      const values = [...new Set(definitions.flatMap((definition) => this.#values(definition)))];
      if (values.length > MAX_VALUES) throw new TooComplex(`variable ${name} may take more than ${MAX_VALUES} values`);
      this.#cache.set(name, values);
      return values;
    } finally {
      this.#resolving.delete(name);
    }
  }

  #values(definition: Definition): string[] {
    if ("literal" in definition) return [definition.literal];
    const ctx = { env: this, src: this.#src };
    return definition.split ? expandWord(definition.word, ctx).flat() : wordValues(definition.word, ctx);
  }

  #define(name: string, definition: Definition): void {
    this.#definitions.set(name, [...(this.#definitions.get(name) ?? []), definition]);
  }

  #collect(node: Parameters<typeof nodeType>[0]): void {
    switch (nodeType(node)) {
      case "Assign":
        return this.#assign(node as Assign);
      case "WordIter": {
        const loop = node as WordIter;
        if (loop.Items.length === 0) this.#runtime.add(loop.Name.Value); // for x; do ... (positional parameters)
        for (const item of loop.Items) this.#define(loop.Name.Value, { word: item, split: true });
        return;
      }
      case "CallExpr":
        return this.#reader(node as CallExpr);
      case "ParamExp": {
        // ${x:=default} assigns the default.
        const param = node as ParamExp;
        const exp = param.Exp;
        if (param.Param !== null && exp !== null && exp.Word !== null && (exp.Op === Op.expColAssign || exp.Op === Op.expColAssign - 1)) {
          this.#define(param.Param.Value, { word: exp.Word, split: false });
        }
        return;
      }
    }
  }

  #assign(assign: Assign): void {
    const name = assign.Name?.Value;
    if (name === undefined || assign.Naked) return;
    if (assign.Append || assign.Index !== null) {
      this.#runtime.add(name);
      return;
    }
    if (assign.Array !== null) {
      for (const elem of assign.Array.Elems) if (elem.Value !== null) this.#define(name, { word: elem.Value, split: false });
      return;
    }
    this.#define(name, assign.Value === null ? { literal: "" } : { word: assign.Value, split: false });
  }

  /** read x, mapfile -t lines, printf -v x: values only known at run time. */
  #reader(call: CallExpr): void {
    const words = call.Args.map(literalOf);
    if (!READERS.has(words[0] ?? "")) return;
    for (const word of words.slice(1)) if (word !== undefined && /^[A-Za-z_][A-Za-z0-9_]*$/.test(word)) this.#runtime.add(word);
  }
}

/** Positional parameters of a function call or `sh -c CODE NAME ARGS...`: $0, $1 ..., $#, $@, $*. */
export class PositionalParameters implements Env {
  #parent: Env;
  #args: string[];

  /** args[0] is $0. */
  constructor(parent: Env, args: string[]) {
    this.#parent = parent;
    this.#args = args;
  }

  lookup(name: string): string[] | undefined {
    if (/^\d+$/.test(name)) return [this.#args[Number(name)] ?? ""];
    if (name === "#") return [String(Math.max(0, this.#args.length - 1))];
    if (name === "@" || name === "*") return [this.#args.slice(1).join(" ")];
    return this.#parent.lookup(name);
  }
}

function literalOf(word: Word): string | undefined {
  const [part] = word.Parts;
  return word.Parts.length === 1 && nodeType(part) === "Lit" ? (part as Lit).Value : undefined;
}
