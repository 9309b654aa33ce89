// Types for the parts of mvdan-sh (GopherJS build of mvdan.cc/sh/v3/syntax) the policy uses.
// Field names follow the Go structs; absent pointers arrive as null. Positions are byte offsets.
declare module "mvdan-sh" {
  export interface Pos {
    Offset(): number;
  }

  export interface Node {
    Pos(): Pos;
    End(): Pos;
  }

  export interface File extends Node {
    Stmts: Stmt[];
  }

  export interface Stmt extends Node {
    Cmd: Node | null;
    Redirs: Redirect[];
    Background: boolean;
    Coprocess: boolean;
  }

  export interface Redirect extends Node {
    Op: number;
    N: Lit | null;
    Word: Word | null;
    Hdoc: Word | null;
  }

  export interface CallExpr extends Node {
    Assigns: Assign[];
    Args: Word[];
  }

  export interface Assign extends Node {
    Append: boolean;
    Naked: boolean;
    Name: Lit | null;
    Index: Node | null;
    Value: Word | null;
    Array: ArrayExpr | null;
  }

  export interface ArrayExpr extends Node {
    Elems: { Value: Word | null }[];
  }

  export interface Word extends Node {
    Parts: Node[];
  }

  export interface Lit extends Node {
    Value: string;
  }

  export interface SglQuoted extends Node {
    Dollar: boolean;
    Value: string;
  }

  export interface DblQuoted extends Node {
    Parts: Node[];
  }

  export interface ParamExp extends Node {
    Short: boolean;
    Excl: boolean;
    Length: boolean;
    Width: boolean;
    Param: Lit | null;
    Index: Node | null;
    Slice: Node | null;
    Repl: Node | null;
    Names: number;
    Exp: { Op: number; Word: Word | null } | null;
  }

  export interface CmdSubst extends Node {
    Stmts: Stmt[];
  }

  export interface ProcSubst extends Node {
    Op: number;
    Stmts: Stmt[];
  }

  export interface BinaryCmd extends Node {
    Op: number;
    X: Stmt;
    Y: Stmt;
  }

  export interface IfClause extends Node {
    Cond: Stmt[];
    Then: Stmt[];
    Else: IfClause | null;
  }

  export interface WhileClause extends Node {
    Cond: Stmt[];
    Do: Stmt[];
  }

  export interface ForClause extends Node {
    Loop: Node;
    Do: Stmt[];
  }

  export interface WordIter extends Node {
    Name: Lit;
    Items: Word[];
  }

  export interface CaseClause extends Node {
    Word: Word;
    Items: { Patterns: Word[]; Stmts: Stmt[] }[];
  }

  export interface Block extends Node {
    Stmts: Stmt[];
  }

  export interface FuncDecl extends Node {
    Name: Lit;
    Body: Stmt;
  }

  export interface TimeClause extends Node {
    Stmt: Stmt | null;
  }

  export interface CoprocClause extends Node {
    Stmt: Stmt;
  }

  export interface DeclClause extends Node {
    Variant: Lit;
    Args: Assign[];
  }

  export interface ParseError {
    Error(): string;
  }

  export interface Parser {
    Parse(src: string, name: string): File;
  }

  export interface Syntax {
    NewParser(...options: unknown[]): Parser;
    Variant(lang: unknown): unknown;
    LangBash: unknown;
    NodeType(node: Node): string;
    /** Calls visit for every node depth-first (and with null after a node's children); return false to skip the children. */
    Walk(node: Node, visit: (node: Node | null) => boolean): void;
  }

  const sh: { syntax: Syntax };
  export default sh;
}
