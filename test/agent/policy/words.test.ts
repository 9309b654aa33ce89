import { describe, expect, it } from "vitest";
import { collectCommands } from "../../../agent/policy/commands.ts";
import { ansiC, display, hasUnknown, knownPart, unknown } from "../../../agent/policy/words.ts";

/** The argv of the first command, with unknown parts shown as written. */
const argv = (source: string) => collectCommands(source, "/")[0].argv;
const args = (source: string) => collectCommands(source, "/").at(-1)?.args ?? [];

describe("word expansion", () => {
  it("removes every kind of quoting", () => {
    expect(argv(`'r''m' "-rf" r\\m $'\\x2f' $"x"`)).toEqual(["rm", "-rf", "rm", "/", "x"]);
  });

  it("expands braces like bash, but not quoted ones", () => {
    expect(argv("echo /{etc,usr}/x {1..3} {a..c..2}")).toEqual(["echo", "/etc/x", "/usr/x", "1", "2", "3", "a", "c"]);
    expect(argv(`echo "{a,b}" \\{a,b\\} {a}`)).toEqual(["echo", "{a,b}", "{a,b}", "{a}"]);
    expect(argv(`echo {"/",x}`)).toEqual(["echo", "/", "x"]);
  });

  it("expands tilde to root's home", () => {
    expect(argv("ls ~ ~/x ~root ~alice/y")).toEqual(["ls", "/root", "/root/x", "/root", "/home/alice/y"]);
  });

  it("splits unquoted expansions into fields, quoted ones not", () => {
    expect(args(`v="a b"; printf '%s' $v "$v"`)).toEqual(["%s", "a", "b", "a b"]);
  });

  it("evaluates parameter operators on known values", () => {
    expect(args('p=/usr/local/bin; echo ${p:0:4} ${p%/*} ${p##*/} ${p/local/} ${p^^} ${q:-dflt}')).toEqual([
      "/usr", "/usr/local", "bin", "/usr//bin", "/USR/LOCAL/BIN", "dflt",
    ]);
  });

  it("keeps what only run time knows as marked, displayable parts", () => {
    const [value] = args('echo "$(date)-$USER"');
    expect(hasUnknown(value)).toBe(true);
    expect(knownPart(value)).toBe("-");
    expect(display(value)).toBe("$(date)-$USER");
  });

  it("decodes $'...' escapes", () => {
    expect(ansiC("\\x72\\155\\u0020\\t\\\\")).toBe("rm \t\\");
    expect(display(unknown("$(a  b)"))).toBe("$(a  b)");
  });
});
