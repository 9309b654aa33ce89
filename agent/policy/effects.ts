// What a command does to files: which paths it deletes, writes and reads, resolved against the
// directories it may run in. Rules ask these questions instead of knowing every tool's options.
import { parseArgs } from "./argv.ts";
import type { Command } from "./commands.ts";
import { resolvePath } from "./paths.ts";
import { hasUnknown } from "./words.ts";

export interface PathEffect {
  /** Absolute path; may be a glob such as /etc/*. */
  path: string;
  /** The whole tree goes (rm -r, mv of a directory, find -delete, rsync --delete). */
  recursive: boolean;
  /** Appends to the file instead of replacing it. */
  append: boolean;
  /** The argument had parts only known at run time; `path` is its empty-variable reading. */
  uncertain: boolean;
}

/** An argument resolved in every directory the command may run in. */
export function pathsOf(cmd: Command, arg: string): string[] {
  return [...new Set(cmd.cwd.flatMap((dir) => resolvePath(arg, dir) ?? []))];
}

function effects(cmd: Command, args: readonly string[], recursive: boolean, append = false): PathEffect[] {
  return args.flatMap((arg) => pathsOf(cmd, arg).map((path) => ({ path, recursive, append, uncertain: hasUnknown(arg) })));
}

const has = (flags: Set<string>, ...options: string[]) => options.some((option) => flags.has(option));

// ---- deletions -----------------------------------------------------------------------------------

/** Paths the command removes. */
export function deletions(cmd: Command): PathEffect[] {
  if (cmd.kind !== "call") return [];
  const parsed = parseArgs(cmd.args);
  switch (cmd.name) {
    case "rm":
      return effects(cmd, parsed.operands, has(parsed.flags, "-r", "-R", "--recursive"));
    case "unlink":
      return effects(cmd, parsed.operands, false);
    case "shred":
      return [...parsed.flags].some((flag) => flag === "-u" || flag.startsWith("--remove")) ? effects(cmd, shredOperands(cmd), false) : [];
    case "mv":
      return effects(cmd, transfer(cmd).sources, true);
    case "rsync":
      return rsyncDeletions(cmd);
    case "find":
      return findDeletions(cmd);
    case "gzip":
    case "bzip2":
    case "xz":
    case "lzma":
      // Compressing in place replaces the file with file.gz: /etc/passwd is gone.
      return has(parsed.flags, "-c", "--stdout", "-k", "--keep", "-l", "--list", "-t", "--test") ? [] : effects(cmd, parsed.operands, has(parsed.flags, "-r", "--recursive"));
    default:
      return [];
  }
}

function shredOperands(cmd: Command): string[] {
  return parseArgs(cmd.args, { valued: ["-n", "--iterations", "-s", "--size", "--random-source"] }).operands;
}

function rsyncDeletions(cmd: Command): PathEffect[] {
  const parsed = parseArgs(cmd.args, { valued: RSYNC_VALUED });
  const deleting = [...parsed.flags].some((flag) => flag.startsWith("--del"));
  const removingSources = parsed.flags.has("--remove-source-files");
  const { sources, destination } = transferOperands(parsed.operands);
  const local = (arg: string) => !/^[^/]*:/.test(arg);
  return [
    ...(deleting && destination !== undefined && local(destination) ? effects(cmd, [destination], true) : []),
    ...(removingSources ? effects(cmd, sources.filter(local), false) : []),
  ];
}

const RSYNC_VALUED = ["-e", "--rsh", "--exclude", "--include", "--exclude-from", "--include-from", "--files-from",
  "-f", "--filter", "-B", "--block-size", "--log-file", "--partial-dir", "-T", "--temp-dir", "--compare-dest",
  "--copy-dest", "--link-dest", "--chmod", "--chown", "--bwlimit", "--timeout", "--port", "--password-file"];

/** Tests that narrow what find selects; without one, find -delete takes everything under its start. */
const FIND_NARROWING = new Set(["-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename", "-regex",
  "-iregex", "-lname", "-ilname", "-mtime", "-mmin", "-atime", "-amin", "-ctime", "-cmin", "-newer", "-anewer",
  "-cnewer", "-newermt", "-newerct", "-newerat", "-size", "-user", "-group", "-uid", "-gid", "-nouser", "-nogroup",
  "-perm", "-empty", "-inum", "-samefile", "-links", "-used", "-context"]);

const FIND_DELETING_COMMANDS = new Set(["rm", "shred", "unlink"]);

/** Where find starts looking (default: the working directory). */
export function findStartPaths(args: readonly string[]): string[] {
  let index = 0;
  while (index < args.length && /^-([HLP]|D|O\d*)$/.test(args[index])) index += args[index] === "-D" ? 2 : 1;
  const starts: string[] = [];
  for (; index < args.length && !/^[-(!]/.test(args[index]); index++) starts.push(args[index]);
  return starts.length > 0 ? starts : ["."];
}

/**
 * find deletes everything under its start unless a narrowing test comes before the deleting action:
 * find evaluates left to right, so `find / -delete -name x` deletes everything. With -o in the
 * expression, any branch may reach the action, so narrowing is not trusted.
 */
function findDeletions(cmd: Command): PathEffect[] {
  const args = cmd.args;
  const action = args.findIndex((arg, index) => arg === "-delete" ||
    (["-exec", "-execdir", "-ok", "-okdir"].includes(arg) && FIND_DELETING_COMMANDS.has(args[index + 1]?.split("/").at(-1) ?? "")));
  if (action === -1 || findNarrowsBefore(args, action)) return [];
  return effects(cmd, findStartPaths(args), true);
}

/** True when a test before args[index] narrows what find selects (and no -o lets other branches through). */
export function findNarrowsBefore(args: readonly string[], index: number): boolean {
  return args.slice(0, index).some((arg) => FIND_NARROWING.has(arg)) && !args.some((arg) => /^(-o|-or|,)$/.test(arg));
}

// ---- writes --------------------------------------------------------------------------------------

const WRITE_REDIRECTS = new Set([">", ">|", "&>", "<>", ">>", "&>>"]);

/** Paths the command creates, replaces or appends to, including through redirections. */
export function writes(cmd: Command): PathEffect[] {
  return [...redirectWrites(cmd), ...(cmd.kind === "call" ? commandWrites(cmd) : [])];
}

function redirectWrites(cmd: Command): PathEffect[] {
  return cmd.redirects
    .filter((r) => WRITE_REDIRECTS.has(r.op) || (r.op === ">&" && !/^(\d+|-)$/.test(r.target)))
    .flatMap((r) => effects(cmd, [r.target], false, r.op === ">>" || r.op === "&>>"));
}

function commandWrites(cmd: Command): PathEffect[] {
  switch (cmd.name) {
    case "tee":
    case "sponge": {
      const parsed = parseArgs(cmd.args);
      return effects(cmd, parsed.operands, false, has(parsed.flags, "-a", "--append"));
    }
    case "cp":
    case "install":
    case "mv":
    case "ln":
    case "rsync":
    case "scp":
      return effects(cmd, transfer(cmd).targets, false);
    case "dd":
      return effects(cmd, cmd.args.filter((arg) => arg.startsWith("of=")).map((arg) => arg.slice(3)), false);
    case "truncate":
      return effects(cmd, parseArgs(cmd.args, { valued: ["-s", "--size", "-r", "--reference"] }).operands, false);
    case "shred":
      return effects(cmd, shredOperands(cmd), false);
    case "sed":
      return effects(cmd, sedInPlaceFiles(cmd.args), false);
    case "perl":
      return effects(cmd, perlInPlaceFiles(cmd.args), false);
    case "curl":
      return effects(cmd, optionValues(cmd.args, ["-o", "--output"], ["-K", "--config", "-d", "--data", "-H", "--header", "-u", "--user", "-X", "--request", "-A", "--user-agent", "-e", "--referer", "-b", "--cookie", "-F", "--form", "-T", "--upload-file", "-x", "--proxy"]), false);
    case "wget":
      return effects(cmd, optionValues(cmd.args, ["-O", "--output-document"], ["-o", "--output-file", "-P", "--directory-prefix", "-U", "--user-agent", "-e", "--execute", "-t", "--tries", "-T", "--timeout"]).filter((file) => file !== "-"), false);
    case "sort":
      return effects(cmd, optionValues(cmd.args, ["-o", "--output"], ["-k", "--key", "-t", "--field-separator", "-S", "--buffer-size", "-T", "--temporary-directory"]), false);
    case "ddrescue":
      return effects(cmd, parseArgs(cmd.args).operands.slice(1, 2), false);
    default:
      return [];
  }
}

function optionValues(args: readonly string[], wanted: string[], otherValued: string[]): string[] {
  const parsed = parseArgs(args, { valued: [...wanted, ...otherValued] });
  return wanted.flatMap((option) => parsed.values.get(option) ?? []);
}

function sedInPlaceFiles(args: readonly string[]): string[] {
  const parsed = parseArgs(args, { valued: ["-e", "--expression", "-f", "--file", "-l", "--line-length"] });
  const inPlace = [...parsed.flags].some((flag) => flag === "-i" || flag === "--in-place");
  if (!inPlace) return [];
  const scriptGiven = has(parsed.flags, "-e", "--expression", "-f", "--file");
  return scriptGiven ? parsed.operands : parsed.operands.slice(1);
}

function perlInPlaceFiles(args: readonly string[]): string[] {
  const parsed = parseArgs(args, { valued: ["-e", "-E", "-M", "-m", "-I"], stopAtOperand: true });
  if (!parsed.flags.has("-i")) return [];
  return has(parsed.flags, "-e", "-E") ? parsed.operands : parsed.operands.slice(1);
}

const TRANSFER_VALUED: Record<string, string[]> = {
  cp: ["-t", "--target-directory", "-S", "--suffix"],
  mv: ["-t", "--target-directory", "-S", "--suffix"],
  ln: ["-t", "--target-directory", "-S", "--suffix"],
  install: ["-t", "--target-directory", "-S", "--suffix", "-m", "--mode", "-o", "--owner", "-g", "--group"],
  rsync: RSYNC_VALUED,
  scp: ["-i", "-P", "-l", "-F", "-c", "-J", "-o", "-S", "-D", "-X"],
};

/** Sources and destination of cp/mv/install/ln/rsync/scp; `targets` covers "into a directory" too. */
function transfer(cmd: Command): { sources: string[]; targets: string[] } {
  const parsed = parseArgs(cmd.args, { valued: TRANSFER_VALUED[cmd.name] ?? [] });
  const directory = parsed.values.get("-t")?.[0] ?? parsed.values.get("--target-directory")?.[0];
  const local = (arg: string) => cmd.name !== "rsync" && cmd.name !== "scp" ? true : !/^[^/]*:/.test(arg);
  if (directory !== undefined) {
    return { sources: parsed.operands, targets: [directory, ...parsed.operands.map((source) => `${directory}/${baseName(source)}`)] };
  }
  if (cmd.name === "ln" && parsed.operands.length === 1) {
    return { sources: [], targets: [`./${baseName(parsed.operands[0])}`] };
  }
  const { sources, destination } = transferOperands(parsed.operands);
  if (destination === undefined || !local(destination)) return { sources: sources.filter(local), targets: [] };
  // A destination that looks like a directory (a trailing slash, or no dot in its name: /etc) may
  // receive each source under its own name; one that looks like a file (105.conf) is the target.
  const mayBeDirectory = destination.endsWith("/") || !baseName(destination).includes(".");
  return {
    sources: sources.filter(local),
    targets: [destination, ...(mayBeDirectory ? sources.map((source) => `${destination}/${baseName(source)}`) : [])],
  };
}

function transferOperands(operands: string[]): { sources: string[]; destination?: string } {
  if (operands.length < 2) return { sources: [] };
  return { sources: operands.slice(0, -1), destination: operands[operands.length - 1] };
}

function baseName(path: string): string {
  return path.split("/").filter((segment) => segment !== "").at(-1) ?? path;
}

// ---- reads ---------------------------------------------------------------------------------------

/** Commands that look at names or metadata, not contents. */
const METADATA_ONLY = new Set(["ls", "stat", "test", "[", "du", "realpath", "readlink", "namei", "lsattr", "getfacl",
  "dirname", "basename", "echo", "printf", "chmod", "chown", "chgrp", "touch", "file", "mkdir", "rmdir"]);

/** Commands that use a private key without printing it; their key options are not reads. */
const KEY_USERS: Record<string, string[]> = {
  ssh: ["-i"], scp: ["-i"], sftp: ["-i"], "ssh-copy-id": ["-i"], "ssh-keygen": ["-f"], "ssh-add": [],
};

/** Paths whose contents the command may read: arguments (also --opt=path, if=path) and input redirections. */
export function reads(cmd: Command): PathEffect[] {
  const fromRedirects = cmd.redirects.filter((r) => r.op === "<" || r.op === "<>").map((r) => r.target);
  if (cmd.kind === "call" && cmd.name === "find") {
    // find lists names; only with -exec does something open the files it finds.
    const runs = cmd.args.some((arg) => /^-(exec|execdir|ok|okdir)$/.test(arg));
    return effects(cmd, [...fromRedirects, ...(runs ? findStartPaths(cmd.args) : [])], false);
  }
  if (cmd.kind !== "call" || cmd.wrapper) return effects(cmd, fromRedirects, false);
  if (METADATA_ONLY.has(cmd.name)) return effects(cmd, fromRedirects, false);
  const keyOptions = KEY_USERS[cmd.name];
  if (keyOptions !== undefined) {
    if (cmd.name === "ssh-keygen" || cmd.name === "ssh-add") return effects(cmd, fromRedirects, false);
    const { operands } = parseArgs(cmd.args, { valued: [...keyOptions, "-P", "-p", "-o", "-F", "-J", "-l", "-c"], stopAtOperand: cmd.name === "ssh" });
    return effects(cmd, [...fromRedirects, ...operands], false);
  }
  const fromArgs = cmd.args.flatMap((arg) => {
    const eq = arg.indexOf("=");
    return eq > 0 ? [arg, arg.slice(eq + 1)] : [arg];
  });
  return effects(cmd, [...fromRedirects, ...fromArgs], false);
}
