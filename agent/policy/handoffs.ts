// Commands that run other commands: wrappers (sudo, env, timeout, xargs, find -exec ...), shells
// given code (bash -c, eval, su -c, watch, trap ...) and shells reading code from stdin or a file.
// The walker checks what they hand off exactly like a command typed directly.
//
// Deliberately not followed:
// - ssh to another host: that host runs its own agent and policy (ssh to localhost is followed);
// - chroot into another root: its "/" is not the host's (chroot / is followed);
// - interpreters running their own language (python -c, perl -e, awk system()): out of scope;
// - script files named on the command line (bash ./x.sh): the policy does not read files.
import { parseArgs } from "./argv.ts";
import { findNarrowsBefore, findStartPaths } from "./effects.ts";
import { hasUnknown } from "./words.ts";

export type Handoff =
  /**
   * args[start..end) run as a command. `replace` is a placeholder for input (find's {}, xargs -I);
   * `appendInput` adds input words at the end (xargs); `inputFromStdin` says the input is stdin.
   */
  | { kind: "command"; start: number; end: number; replace?: string; appendInput?: boolean; inputFromStdin?: boolean; under?: string[] }
  /** this text runs as shell code, with these positional parameters ($0, $1 ...) when given */
  | { kind: "script"; text: string; positional?: string[] }
  /** shell code arrives on stdin */
  | { kind: "stdin-script" }
  /** args[index] names a file of shell code (a process substitution when it is <(...)) */
  | { kind: "script-file"; index: number };

interface WrapperSpec {
  /** Options that take a value. */
  valued?: readonly string[];
  /** Options after which nothing runs (command -v, sudo -l). */
  noCommand?: readonly string[];
  /** Options whose value is shell code (flock -c, script -c). */
  script?: readonly string[];
  /** NAME=value words may come before the command (env, sudo). */
  assignments?: boolean;
  /** Operands between the options and the command: timeout's duration, flock's lock file. */
  operands?: number;
  /** The remaining operands are appended to the script option's code (env -S 'cmd' args). */
  scriptTakesOperands?: boolean;
}

const WRAPPERS: Record<string, WrapperSpec> = {
  sudo: {
    valued: ["-C", "-D", "-g", "-h", "-p", "-R", "-r", "-T", "-t", "-U", "-u", "--close-from", "--chdir", "--group",
      "--host", "--prompt", "--chroot", "--role", "--type", "--command-timeout", "--other-user", "--user"],
    noCommand: ["-l", "--list", "-e", "--edit", "-V", "--version", "-v", "--validate", "-K", "--remove-timestamp"],
    assignments: true,
  },
  doas: { valued: ["-u"], noCommand: ["-C"] },
  pkexec: { valued: ["--user"] },
  env: {
    valued: ["-u", "--unset", "-C", "--chdir"],
    script: ["-S", "--split-string"],
    scriptTakesOperands: true,
    assignments: true,
  },
  nohup: {},
  setsid: {},
  builtin: {},
  unbuffer: {},
  chronic: {},
  ifne: {},
  exec: { valued: ["-a"] },
  command: { noCommand: ["-v", "-V"] },
  timeout: { valued: ["-k", "-s", "--kill-after", "--signal"], operands: 1 },
  nice: { valued: ["-n", "--adjustment"] },
  ionice: { valued: ["-c", "-n", "--class", "--classdata"], noCommand: ["-p", "-P", "-u", "--pid", "--pgid", "--uid"] },
  chrt: { valued: ["-T", "-P", "-D", "--sched-runtime", "--sched-period", "--sched-deadline"], noCommand: ["-p", "--pid"], operands: 1 },
  taskset: { noCommand: ["-p", "--pid"], operands: 1 },
  stdbuf: { valued: ["-i", "-o", "-e", "--input", "--output", "--error"] },
  time: { valued: ["-f", "-o", "--format", "--output"] },
  flock: { valued: ["-w", "-E", "--timeout", "--wait", "--conflict-exit-code"], script: ["-c", "--command"], operands: 1 },
  nsenter: { valued: ["-t", "--target", "-S", "--setuid", "-G", "--setgid"] },
  unshare: { valued: ["-S", "-G", "-R", "-w", "--setuid", "--setgid", "--root", "--wd"] },
  "systemd-run": {
    valued: ["-u", "--unit", "-p", "--property", "-E", "--setenv", "--uid", "--gid", "--nice", "--working-directory",
      "-M", "--machine", "-H", "--host", "--description", "--slice", "--on-active", "--on-boot", "--on-startup",
      "--on-unit-active", "--on-unit-inactive", "--on-calendar", "--path-property", "--socket-property",
      "--timer-property"],
    noCommand: ["-S", "--shell"],
  },
  strace: {
    valued: ["-e", "-o", "-p", "-s", "-u", "-E", "-a", "-b", "-I", "-O", "-S", "-X", "-P", "-U", "--trace",
      "--signal", "--output", "--attach", "--user", "--env"],
  },
  busybox: { noCommand: ["--list", "--install", "--help"] },
  toybox: {},
  sshpass: { valued: ["-p", "-f", "-d", "-P"] },
  script: { valued: ["-E", "-o", "-T", "-I", "-O", "-B", "-m"], script: ["-c", "--command"], noCommand: [] },
  screen: { valued: ["-S", "-c", "-e", "-h", "-p", "-s", "-t", "-T"], noCommand: ["-r", "-R", "-x", "-X", "-Q", "-v"] },
};

/** Shells: -c runs its argument, -s or no script file reads stdin. Non-bash shells are parsed as bash. */
const SHELLS = new Set(["sh", "bash", "dash", "zsh", "ksh", "ksh93", "mksh", "ash", "rbash", "posh", "yash", "fish", "csh", "tcsh"]);

const SPECIAL: Record<string, (args: string[]) => Handoff[]> = {
  eval: (args) => (args.length > 0 ? [{ kind: "script", text: args.join(" ") }] : []),
  source: sourceHandoffs,
  ".": sourceHandoffs,
  alias: (args) => args.filter((arg) => /^[^=\s-][^=\s]*=/.test(arg)).map((arg) => ({ kind: "script", text: arg.slice(arg.indexOf("=") + 1) })),
  trap: trapHandoffs,
  su: suHandoffs,
  runuser: suHandoffs,
  xargs: xargsHandoffs,
  find: findHandoffs,
  watch: watchHandoffs,
  at: atHandoffs,
  batch: atHandoffs,
  ssh: sshHandoffs,
  tmux: tmuxHandoffs,
  chroot: chrootHandoffs,
};

/** What a command hands off, judged from its name and (statically known) arguments. */
export function handoffsOf(name: string, args: string[]): Handoff[] {
  if (SHELLS.has(name)) return shellHandoffs(args);
  const special = SPECIAL[name];
  if (special !== undefined) return special(args);
  const spec = WRAPPERS[name];
  return spec === undefined ? [] : wrapperHandoffs(spec, args);
}

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

function wrapperHandoffs(spec: WrapperSpec, args: string[]): Handoff[] {
  const parsed = parseArgs(args, { valued: [...(spec.valued ?? []), ...(spec.script ?? [])], stopAtOperand: true });
  if (spec.noCommand?.some((option) => parsed.flags.has(option))) return [];
  let index = args.length - parsed.operands.length;
  while (spec.assignments && index < args.length && (ASSIGNMENT.test(args[index]) || args[index] === "-")) index++;
  index += spec.operands ?? 0;
  const code = spec.script?.flatMap((option) => parsed.values.get(option) ?? [])[0];
  if (code !== undefined) {
    return [{ kind: "script", text: spec.scriptTakesOperands ? [code, ...parsed.operands].join(" ") : code }];
  }
  const trailingCode = scriptOptionAt(spec, args, index);
  if (trailingCode !== undefined) return [{ kind: "script", text: trailingCode }];
  return index < args.length ? [{ kind: "command", start: index, end: args.length }] : [];
}

/** flock FILE -c CMD: the script option may follow the lock file. */
function scriptOptionAt(spec: WrapperSpec, args: string[], index: number): string | undefined {
  return spec.script?.includes(args[index]) ? (args[index + 1] ?? "") : undefined;
}

function shellHandoffs(args: string[]): Handoff[] {
  let commandMode = false;
  let readStdin = false;
  let index = 0;
  for (; index < args.length; index++) {
    const arg = args[index];
    if (arg === "--" || arg === "-") {
      index++;
      break;
    }
    if (arg === "--rcfile" || arg === "--init-file") {
      index++;
      continue;
    }
    if (arg.startsWith("--")) continue;
    if (!/^[-+][A-Za-z]+$/.test(arg)) break;
    for (const letter of arg.slice(1)) {
      if (arg[0] === "-" && letter === "c") commandMode = true;
      if (arg[0] === "-" && letter === "s") readStdin = true;
      if (letter === "o" || letter === "O") index++; // -o pipefail
    }
  }
  if (commandMode) return index < args.length ? [{ kind: "script", text: args[index], positional: args.slice(index + 1) }] : [];
  if (readStdin || index >= args.length) return [{ kind: "stdin-script" }];
  return [{ kind: "script-file", index }];
}

function sourceHandoffs(args: string[]): Handoff[] {
  return args.length > 0 ? [{ kind: "script-file", index: 0 }] : [];
}

function trapHandoffs(args: string[]): Handoff[] {
  const rest = args[0] === "--" ? args.slice(1) : args;
  const [action] = rest;
  if (rest.length < 2 || action.startsWith("-")) return [];
  return [{ kind: "script", text: action }];
}

/** su [-] [user] -c CMD, runuser -u USER -- CMD. */
function suHandoffs(args: string[]): Handoff[] {
  const parsed = parseArgs(args, { valued: ["-c", "--command", "--session-command", "-s", "--shell", "-g", "--group", "-G", "--supp-group", "-u", "--user", "-w", "--whitelist-environment"] });
  const code = [...(parsed.values.get("-c") ?? []), ...(parsed.values.get("--command") ?? []), ...(parsed.values.get("--session-command") ?? [])];
  if (code.length > 0) return code.map((text) => ({ kind: "script", text }));
  const separator = args.indexOf("--");
  if ((parsed.flags.has("-u") || parsed.flags.has("--user")) && separator !== -1 && separator + 1 < args.length) {
    return [{ kind: "command", start: separator + 1, end: args.length }];
  }
  return [];
}

function xargsHandoffs(args: string[]): Handoff[] {
  const parsed = parseArgs(args, {
    valued: ["-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--arg-file", "--delimiter", "--eof", "--max-lines",
      "--max-args", "--max-procs", "--max-chars", "--process-slot-var"],
    stopAtOperand: true,
  });
  const start = args.length - parsed.operands.length;
  const replace = parsed.values.get("-I")?.[0] ?? parsed.values.get("--replace")?.[0] ??
    (parsed.flags.has("-i") || parsed.flags.has("--replace") ? "{}" : undefined);
  if (start >= args.length) return []; // runs echo
  return [{ kind: "command", start, end: args.length, replace, appendInput: replace === undefined, inputFromStdin: !parsed.flags.has("-a") && !parsed.flags.has("--arg-file") }];
}

/** find -exec CMD {} ;: without a narrowing test first, {} may be anything under the start paths. */
function findHandoffs(args: string[]): Handoff[] {
  const handoffs: Handoff[] = [];
  for (let index = 0; index < args.length; index++) {
    if (!["-exec", "-execdir", "-ok", "-okdir"].includes(args[index])) continue;
    const start = index + 1;
    let end = start;
    while (end < args.length && args[end] !== ";" && !(args[end] === "+" && args[end - 1] === "{}")) end++;
    const under = findNarrowsBefore(args, index) ? undefined : findStartPaths(args);
    if (end > start) handoffs.push({ kind: "command", start, end, replace: "{}", under });
    index = end;
  }
  return handoffs;
}

function watchHandoffs(args: string[]): Handoff[] {
  const parsed = parseArgs(args, { valued: ["-n", "--interval", "-q", "--equexit"], stopAtOperand: true });
  const start = args.length - parsed.operands.length;
  if (start >= args.length) return [];
  if (parsed.flags.has("-x") || parsed.flags.has("--exec")) return [{ kind: "command", start, end: args.length }];
  return [{ kind: "script", text: parsed.operands.join(" ") }];
}

function atHandoffs(args: string[]): Handoff[] {
  const parsed = parseArgs(args, { valued: ["-q", "-f", "-t"] });
  if (["-l", "-r", "-d", "-c"].some((option) => parsed.flags.has(option))) return [];
  const file = args.indexOf("-f");
  return file !== -1 && file + 1 < args.length ? [{ kind: "script-file", index: file + 1 }] : [{ kind: "stdin-script" }];
}

const LOCAL_HOSTS = /^(localhost|localhost\.localdomain|127(\.\d+){3}|::1|0\.0\.0\.0)$/;

/** Only ssh to this very host is followed; any other host enforces its own policy. */
function sshHandoffs(args: string[]): Handoff[] {
  const parsed = parseArgs(args, {
    valued: ["-B", "-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O", "-o", "-p", "-Q", "-R", "-S", "-W", "-w"],
    stopAtOperand: true,
  });
  const [destination, ...command] = parsed.operands;
  if (destination === undefined || command.length === 0) return [];
  const host = destination.replace(/^ssh:\/\//, "").replace(/^.*@/, "").replace(/:\d+$/, "");
  return LOCAL_HOSTS.test(host) ? [{ kind: "script", text: command.join(" ") }] : [];
}

const TMUX_SHELL_COMMANDS = new Set(["new-session", "new", "new-window", "neww", "split-window", "splitw",
  "respawn-pane", "respawnp", "respawn-window", "respawnw", "run-shell", "run", "display-popup", "popup", "pipe-pane", "pipep"]);

function tmuxHandoffs(args: string[]): Handoff[] {
  const global = parseArgs(args, { valued: ["-L", "-S", "-f", "-c", "-T"], stopAtOperand: true });
  const code = global.values.get("-c") ?? [];
  const [subcommand, ...rest] = global.operands;
  const handoffs: Handoff[] = code.map((text) => ({ kind: "script", text }));
  if (subcommand === undefined || !TMUX_SHELL_COMMANDS.has(subcommand)) return handoffs;
  const parsed = parseArgs(rest, { valued: ["-c", "-e", "-F", "-f", "-l", "-n", "-s", "-t", "-x", "-y", "-T"], stopAtOperand: true });
  if (parsed.operands.length > 0) handoffs.push({ kind: "script", text: parsed.operands.join(" ") });
  return handoffs;
}

/** chroot / CMD runs on the host itself (and an unknown root may be /); any other root is another system. */
function chrootHandoffs(args: string[]): Handoff[] {
  const parsed = parseArgs(args, { valued: ["--userspec", "--groups"], stopAtOperand: true });
  const rootIndex = args.length - parsed.operands.length;
  const root = args[rootIndex];
  if (root === undefined || !(hasUnknown(root) || /^\/+\.?\/*$/.test(root))) return [];
  return rootIndex + 1 < args.length ? [{ kind: "command", start: rootIndex + 1, end: args.length }] : [];
}
