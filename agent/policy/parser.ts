// The policy's only contact with mvdan-sh: parsing, node types, walking and source spans.
import sh from "mvdan-sh";
import type { File, Node, ParseError, Parser } from "mvdan-sh";

const { syntax } = sh;

/** Operator codes of mvdan.cc/sh/v3/syntax (token order in tokens.go). */
export const Op = {
  and: 10,
  or: 11,
  pipe: 12,
  pipeAll: 13,
  rdrOut: 54, // >
  appOut: 55, // >>
  rdrIn: 56, // <
  rdrInOut: 57, // <>
  dplIn: 58, // <&
  dplOut: 59, // >&
  clbOut: 60, // >|
  hdoc: 61, // <<
  dashHdoc: 62, // <<-
  wordHdoc: 63, // <<<
  rdrAll: 64, // &>
  appAll: 65, // &>>
  expPlus: 68, // ${x+w}
  expColAssign: 75, // ${x:=w}; 68..75 are the default/alternate-value forms
  expRemSmallSuffix: 76, // ${x%pat}
  expRemLargeSuffix: 77, // ${x%%pat}
  expRemSmallPrefix: 78, // ${x#pat}
  expRemLargePrefix: 79, // ${x##pat}
  expUpperFirst: 80, // ${x^}
  expUpperAll: 81, // ${x^^}
  expLowerFirst: 82, // ${x,}
  expLowerAll: 83, // ${x,,}
} as const;

/** A parse failure, carrying the parser's own message ("command:1:6: reached EOF without closing quote '"). */
export class ShellSyntaxError extends Error {}

let parser: Parser | undefined;

/** Parses bash source into a syntax tree. */
export function parseScript(source: string, name: string): File {
  parser ??= syntax.NewParser(syntax.Variant(syntax.LangBash));
  try {
    return parser.Parse(source, name);
  } catch (error) {
    const message = (error as Partial<ParseError>)?.Error?.() ?? String(error);
    throw new ShellSyntaxError(message);
  }
}

export function nodeType(node: Node): string {
  return syntax.NodeType(node);
}

/** Depth-first visit of every node under `root`; returning false skips a node's children. */
export function visitNodes(root: Node, visit: (node: Node) => boolean): void {
  syntax.Walk(root, (node) => (node == null ? true : visit(node)));
}

/** Node identity for bookkeeping: the GopherJS wrappers are new objects on every access. */
export function nodeKey(node: Node): string {
  return `${node.Pos().Offset()}:${node.End().Offset()}`;
}

/** Source text addressed by the parser's byte offsets. */
export class SourceText {
  readonly text: string;
  #bytes: Uint8Array | undefined;

  constructor(text: string) {
    this.text = text;
    this.#bytes = /^[\x00-\x7f]*$/.test(text) ? undefined : new TextEncoder().encode(text);
  }

  between(start: number, end: number): string {
    if (this.#bytes === undefined) return this.text.slice(start, end);
    return new TextDecoder().decode(this.#bytes.subarray(start, end));
  }

  of(node: Node): string {
    return this.between(node.Pos().Offset(), node.End().Offset());
  }
}
