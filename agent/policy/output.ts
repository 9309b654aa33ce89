// What simple producers print, so that code and arguments built from them can be checked:
// `echo 'cmd' | sh`, `sh <(printf ...)`, `rm -rf "$(echo /)"`, `cd "$(mktemp -d)"`.
import { parseArgs } from "./argv.ts";
import type { Command } from "./commands.ts";
import { findNarrowsBefore, findStartPaths } from "./effects.ts";
import { ansiC, unknown } from "./words.ts";

/**
 * Every text the commands feeding a pipe or $(...) may print, when a single producer we can model
 * writes it (the last stage of a pipeline counts); undefined otherwise.
 */
export function printedBy(producers: Command[]): string[] | undefined {
  const leaves = producers.filter((producer) =>
    producer.kind === "call" && !producer.wrapper &&
    !producers.some((other) => other !== producer && (other.sources.includes(producer) || other.stdin.includes(producer))));
  return leaves.length === 1 ? outputOf(leaves[0]) : undefined;
}

/** Where the paths an unnarrowed `find` prints start (`find / | xargs rm -rf`); undefined otherwise. */
export function listedUnder(producers: Command[]): string[] | undefined {
  const leaves = producers.filter((producer) => producer.kind === "call" && !producer.wrapper);
  const [find] = leaves;
  if (leaves.length !== 1 || find.name !== "find") return undefined;
  return findNarrowsBefore(find.args, find.args.length) ? undefined : findStartPaths(find.args);
}

function outputOf(cmd: Command): string[] | undefined {
  switch (cmd.name) {
    case "cat":
      return cmd.args.every((arg) => arg === "-") ? (cmd.stdinTexts ?? printedBy(cmd.stdin)) : undefined;
    case "pwd":
      return cmd.cwd.map((dir) => `${dir}\n`);
    case "mktemp":
      return [`${mktempPath(cmd.args)}\n`];
    default: {
      const text = printedText(cmd.name, cmd.args);
      return text === undefined ? undefined : [text];
    }
  }
}

/** The text echo or printf writes, or undefined for other commands and printf formats we do not model. */
function printedText(name: string, args: readonly string[]): string | undefined {
  if (name === "echo") return echoText(args);
  if (name === "printf") return printfText(args);
  return undefined;
}

function echoText(args: readonly string[]): string {
  let index = 0;
  let newline = true;
  let escapes = false;
  for (; index < args.length && /^-[neE]+$/.test(args[index]); index++) {
    for (const letter of args[index].slice(1)) {
      if (letter === "n") newline = false;
      else escapes = letter === "e";
    }
  }
  const body = args.slice(index).join(" ");
  return (escapes ? ansiC(body) : body) + (newline ? "\n" : "");
}

function printfText(args: readonly string[]): string | undefined {
  const [format, ...values] = args[0] === "--" ? args.slice(1) : args;
  if (format === undefined || format === "-v") return undefined;
  const specs = format.match(/%./gs) ?? [];
  if (specs.some((spec) => !["%s", "%b", "%%"].includes(spec))) return undefined;
  const perRound = specs.filter((spec) => spec !== "%%").length;
  const template = ansiC(format);
  let next = 0;
  let out = "";
  do {
    out += template.replace(/%[sb%]/g, (spec) => {
      if (spec === "%%") return "%";
      const value = values[next++] ?? "";
      return spec === "%b" ? ansiC(value) : value;
    });
  } while (perRound > 0 && next < values.length);
  return out;
}

/** mktemp prints a fresh name: known directory, unknown tail. */
function mktempPath(args: readonly string[]): string {
  const { values, operands } = parseArgs(args, { valued: ["-p", "--tmpdir", "--suffix"] });
  const dir = values.get("-p")?.[0] ?? values.get("--tmpdir")?.[0] ?? "/tmp";
  const template = operands[0];
  if (template === undefined) return `${dir}/tmp.${unknown("XXXXXXXXXX")}`;
  const name = template.replace(/X{3,}/, (xs) => unknown(xs));
  return template.includes("/") ? name : `${dir}/${name}`;
}
