// Path arithmetic for rules: resolving arguments against the working directory, and matching paths
// (which may themselves be globs such as /*) against protected path patterns.
import { posix } from "node:path";
import { knownPart } from "./words.ts";

/**
 * Absolute, normalised form of a path argument run in `cwd`, with unknown parts read as empty
 * (`"$dir/"` with dir unset is `/`). Undefined when nothing of the path is known.
 */
export function resolvePath(arg: string, cwd: string): string | undefined {
  const known = knownPart(arg);
  if (known === "") return undefined;
  const normal = posix.normalize(known.startsWith("/") ? known : `${cwd}/${known}`);
  return normal.length > 1 ? normal.replace(/\/+$/, "") : normal;
}

const GLOB_CHAR = /[*?[]|[@!+](?=\()/;

export function isGlob(path: string): boolean {
  return GLOB_CHAR.test(path);
}

/**
 * True when `path` names something `pattern` covers. Both may hold glob characters; in patterns, a
 * `**` segment stands for any number of directories (`/etc/pve/priv/**` covers the directory itself).
 */
export function pathMatches(path: string, pattern: string): boolean {
  return matchSegments(segments(path), segments(pattern), false);
}

/**
 * True when removing `path` recursively takes something `pattern` covers with it: the path is
 * covered itself, or is one of its ancestors (`/`, `/var` and `/var/*` all contain /var/lib/pve-cluster).
 */
export function pathContains(path: string, pattern: string): boolean {
  return matchSegments(segments(path), segments(pattern), true);
}

/** True when `path` is `dir` or below it. */
export function isUnder(path: string, dir: string): boolean {
  return pathMatches(path, `${dir}/**`);
}

function segments(path: string): string[] {
  return path.split("/").filter((segment) => segment !== "" && segment !== ".");
}

function matchSegments(path: string[], pattern: string[], prefixIsEnough: boolean): boolean {
  if (path.length === 0) return prefixIsEnough || pattern.every((segment) => segment === "**");
  if (pattern.length === 0) return false;
  const [head, ...rest] = pattern;
  if (head === "**") {
    return matchSegments(path, rest, prefixIsEnough) || matchSegments(path.slice(1), pattern, prefixIsEnough);
  }
  return segmentMatches(path[0], head) && matchSegments(path.slice(1), rest, prefixIsEnough);
}

/** True when two names, either of which may be a glob (systemctl stop 'pve*'), may be the same. */
export function namesMatch(name: string, pattern: string): boolean {
  return segmentMatches(name, pattern);
}

function segmentMatches(path: string, pattern: string): boolean {
  const pathIsGlob = isGlob(path);
  const patternIsGlob = isGlob(pattern);
  if (!pathIsGlob && !patternIsGlob) return path === pattern;
  if (!patternIsGlob) return globRegExp(path).test(pattern);
  if (!pathIsGlob) return globRegExp(pattern).test(path);
  return globsMayOverlap(path, pattern);
}

/** Two globs may match a common name unless their fixed beginnings or endings disagree. */
function globsMayOverlap(a: string, b: string): boolean {
  const head = (glob: string) => glob.slice(0, glob.search(GLOB_CHAR));
  if ((head(a) === "" && b.startsWith(".")) || (head(b) === "" && a.startsWith("."))) return false; // * skips dotfiles
  const tail = (glob: string) => glob.slice(Math.max(...["*", "?", "]", ")"].map((char) => glob.lastIndexOf(char))) + 1);
  const [headA, headB, tailA, tailB] = [head(a), head(b), tail(a), tail(b)];
  return (headA.startsWith(headB) || headB.startsWith(headA)) && (tailA.endsWith(tailB) || tailB.endsWith(tailA));
}

/** A bash glob for one path segment as a regular expression; extglob groups match anything. */
function globRegExp(glob: string): RegExp {
  let source = glob.startsWith(".") ? "" : "(?!\\.)"; // like bash without dotglob: * and ? skip dotfiles
  for (let index = 0; index < glob.length; index++) {
    const char = glob[index];
    if ("@!+*?".includes(char) && glob[index + 1] === "(") {
      const close = glob.indexOf(")", index);
      if (close !== -1) {
        source += ".*";
        index = close;
        continue;
      }
    }
    if (char === "*") source += ".*";
    else if (char === "?") source += ".";
    else if (char === "[" && glob.indexOf("]", index + 2) !== -1) {
      const close = glob.indexOf("]", index + 2);
      const body = glob.slice(index + 1, close).replace(/^!/, "^").replace(/\\/g, "\\\\");
      source += `[${body}]`;
      index = close;
    } else source += char.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  try {
    return new RegExp(`^${source}$`, "s");
  } catch {
    return /^.*$/s; // a malformed class: assume it may match
  }
}
