// Reading command-line options the way GNU getopt does, for rules and wrappers.

export interface ParsedArgs {
  /** Every option given, as written without its value: "-r", "--recursive". */
  flags: Set<string>;
  /** Values of options that take one, by option. */
  values: Map<string, string[]>;
  operands: string[];
}

export interface ParseOptions {
  /** Options that take a value (the next word, or attached: -uroot, --user=root). */
  valued?: readonly string[];
  /** Stop at the first operand (POSIX, and wrappers such as sudo and env); GNU tools permute. */
  stopAtOperand?: boolean;
}

export function parseArgs(args: readonly string[], { valued = [], stopAtOperand = false }: ParseOptions = {}): ParsedArgs {
  const parsed: ParsedArgs = { flags: new Set(), values: new Map(), operands: [] };
  const addValue = (option: string, value: string | undefined) => {
    parsed.flags.add(option);
    if (value !== undefined) parsed.values.set(option, [...(parsed.values.get(option) ?? []), value]);
  };
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    if (arg === "--") {
      parsed.operands.push(...args.slice(index + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const option = eq === -1 ? arg : arg.slice(0, eq);
      const value = eq !== -1 ? arg.slice(eq + 1) : valued.includes(option) ? args[++index] : undefined;
      addValue(option, value);
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      index = readCluster(args, index, valued, addValue);
      continue;
    }
    if (stopAtOperand) {
      parsed.operands.push(...args.slice(index));
      break;
    }
    parsed.operands.push(arg);
  }
  return parsed;
}

/** Reads "-abc" (with a valued letter taking the rest or the next word); returns the last index used. */
function readCluster(
  args: readonly string[],
  index: number,
  valued: readonly string[],
  addValue: (option: string, value: string | undefined) => void,
): number {
  const arg = args[index];
  for (let at = 1; at < arg.length; at++) {
    const option = `-${arg[at]}`;
    if (!valued.includes(option)) {
      addValue(option, undefined);
      continue;
    }
    const rest = arg.slice(at + 1);
    if (rest !== "") {
      addValue(option, rest);
      return index;
    }
    addValue(option, args[index + 1]);
    return index + 1;
  }
  return index;
}
