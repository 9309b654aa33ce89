import { execFile, spawn, type ChildProcessByStdio } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { stat } from "node:fs/promises";
import { userInfo } from "node:os";
import type { Writable } from "node:stream";
import { z } from "zod";
import { execResultSchema } from "../../shared/tools/exec.ts";
import { ToolError, formatZodError } from "../../shared/errors.ts";
import { watchStop, type StopReason } from "./deadline.ts";
import { OutputCapture, type OnOutput } from "./output.ts";
import { outputPipes, type OutputPipes } from "./pipes.ts";

const MiB = 1024 * 1024;
/** Between SIGTERM to the process group and SIGKILL to whatever is left of it. */
export const KILL_GRACE_MS = 500;
/** After a stop, the result is returned by then even if a process is stuck (state D) or a server never answers. */
export const SETTLE_AFTER_STOP_MS = 900;
/** After the shell exits, how long background processes that still hold its pipes may keep writing to the result. */
const DRAIN_AFTER_EXIT_MS = 250;

const noNul = (s: string) => !s.includes("\0");

/** What to run; the serialisable part of the options, validated before anything starts. */
export const execRequestSchema = z.object({
  command: z.string().min(1).max(MiB).refine(noNul, "must not contain NUL"),
  /** Absolute working directory; default the user's home directory, or / when it has none. */
  cwd: z.string().startsWith("/", "must be an absolute path").refine(noNul, "must not contain NUL").optional(),
  /** Variables set over the minimal base environment (PATH, HOME, LANG, USER, LOGNAME). */
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a shell variable name"), z.string().refine(noNul, "must not contain NUL")).optional(),
  /** Text written to the command's standard input, which is then closed. */
  stdin: z.string().max(16 * MiB).optional(),
  timeoutMs: z.number().int().min(1).max(24 * 3600_000).default(30_000),
  /** Per stream: bytes kept in the result; the rest is counted and dropped. */
  maxOutputBytes: z.number().int().min(0).max(64 * MiB).default(MiB),
  /** Run as another local user instead of the agent's own (the agent must be root). */
  runAs: z.object({ user: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$/, "must be a user name") }).strict().optional(),
});
export type ExecRequest = z.infer<typeof execRequestSchema>;

export type ExecOptions = z.input<typeof execRequestSchema> & {
  /** Aborting ends the command: the result comes back with `cancelled: true`. */
  signal?: AbortSignal;
  /** Newest output as it arrives, at most about 4 calls a second. */
  onOutput?: OnOutput;
};

export { execResultSchema };
export type ExecResult = z.infer<typeof execResultSchema>;

/** Validates the request part of exec options; a bad one is an invalid_arguments error naming the field. */
export function parseExecRequest(opts: z.input<typeof execRequestSchema>): ExecRequest {
  const parsed = execRequestSchema.safeParse({
    command: opts.command,
    cwd: opts.cwd,
    env: opts.env,
    stdin: opts.stdin,
    timeoutMs: opts.timeoutMs,
    maxOutputBytes: opts.maxOutputBytes,
    runAs: opts.runAs,
  });
  if (!parsed.success) throw new ToolError("invalid_arguments", formatZodError(parsed.error));
  return parsed.data;
}

/** The result of a command that ran, however it ended. */
export function resultOf(capture: OutputCapture, startedAt: number, exit: ExitStatus | undefined, stopped: StopReason | undefined): ExecResult {
  return {
    exit_code: exit?.code ?? null,
    signal: exit?.signal ?? null,
    ...capture.finish(),
    duration_ms: Math.round(performance.now() - startedAt),
    timed_out: stopped === "timeout",
    cancelled: stopped === "abort",
  };
}

export interface ExitStatus {
  code: number | null;
  signal: string | null;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ToolError("cancelled", "the command was cancelled before it started");
}

interface Identity {
  user: string;
  uid: number;
  gid: number;
  home: string;
}

/**
 * Runs `command` with bash (sh where there is no bash) in its own process group. On timeout or abort the
 * whole group gets SIGTERM, then SIGKILL after KILL_GRACE_MS, so background children and pipelines die
 * with it; the promise settles within a second of the stop. Throws ToolError only when nothing could run
 * (bad options, unknown user, cancelled before start); a failing or stopped command is a result.
 *
 * @example
 * const r = await runLocal({ command: "pveversion", timeoutMs: 10_000, signal });
 */
export async function runLocal(opts: ExecOptions): Promise<ExecResult> {
  const req = parseExecRequest(opts);
  const who = req.runAs ? await lookupUser(req.runAs.user) : ownIdentity();
  if (req.cwd) await requireDirectory(req.cwd);
  const cwd = req.cwd ?? ((await isDirectory(who.home)) ? who.home : "/");
  const [file, args] = commandLine(req.command, who);
  const pipes = await outputPipes();
  if (opts.signal?.aborted) Object.values(pipes).forEach((p) => p.destroy());
  throwIfAborted(opts.signal);
  return execute(file, args, cwd, environment(who, req.env), pipes, req, opts);
}

function execute(file: string, args: string[], cwd: string, env: Record<string, string>, { stdout: out, stderr: err }: OutputPipes, req: ExecRequest, opts: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const capture = new OutputCapture(req.maxOutputBytes, opts.onOutput);
    out.onData = (chunk) => capture.push("stdout", chunk);
    err.onData = (chunk) => capture.push("stderr", chunk);
    let child: ChildProcessByStdio<Writable, null, null>;
    try {
      // detached: the child calls setsid(), so its pid is the id of a process group holding all its descendants.
      child = spawn(file, args, { cwd, env, detached: true, stdio: ["pipe", out.childEnd, err.childEnd] });
    } catch (e) {
      out.destroy();
      err.destroy();
      return reject(new ToolError("internal", `cannot start ${file}: ${(e as Error).message}`));
    } finally {
      // The child holds its own copies; ours would keep the pipes open after it exits.
      out.childEnd.destroy();
      err.childEnd.destroy();
    }
    const timers: ReturnType<typeof setTimeout>[] = [];
    let stopped: StopReason | undefined;
    let exit: ExitStatus | undefined;
    let outputClosed = false;
    let settled = false;

    const killGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-(child.pid as number), sig);
      } catch {
        // the group is already gone
      }
    };
    const finish = () => {
      settled = true;
      disarm();
      for (const t of timers) clearTimeout(t);
      out.destroy();
      err.destroy();
      child.stdin.destroy();
    };
    const settle = () => {
      if (settled) return;
      finish();
      resolve(resultOf(capture, started, exit, stopped));
    };
    const disarm = watchStop(req.timeoutMs, opts.signal, (why) => {
      stopped = why;
      killGroup("SIGTERM");
      // Not cleared when the result settles: a descendant that ignores SIGTERM must still die.
      setTimeout(() => killGroup("SIGKILL"), KILL_GRACE_MS).unref();
      timers.push(setTimeout(settle, SETTLE_AFTER_STOP_MS));
    });

    void Promise.all([out.ended, err.ended]).then(() => {
      outputClosed = true;
      if (exit) settle();
    });
    // The command may exit without reading its input.
    child.stdin.on("error", () => {});
    child.stdin.end(req.stdin ?? "");
    child.on("error", (e) => {
      if (settled || child.pid !== undefined) return;
      finish();
      capture.finish();
      reject(new ToolError("internal", `cannot start ${file}: ${e.message}`));
    });
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      if (outputClosed) return settle();
      // Background processes may still hold the output open; give them a moment, not forever.
      timers.push(setTimeout(settle, stopped ? 50 : DRAIN_AFTER_EXIT_MS));
    });
  });
}

/**
 * bash, with --norc because Node's stdio pipes are sockets, and bash run with a socket on stdin thinks rshd
 * started it and would read ~/.bashrc (which may print, or change PATH).
 */
const shell: [string, string[]] = (() => {
  try {
    accessSync("/bin/bash", constants.X_OK);
    return ["/bin/bash", ["--norc", "--noprofile", "-c"]];
  } catch {
    return ["/bin/sh", ["-c"]];
  }
})();

const SETPRIV = "/usr/bin/setpriv";

/**
 * Another user is reached with util-linux's setpriv (essential on Debian, so on every PVE host), not sudo:
 * PVE does not install sudo, and sudo -n would need a sudoers rule per user. setpriv --init-groups keeps the
 * user's supplementary groups, which Node's own uid/gid spawn options drop.
 */
function commandLine(command: string, who: Identity): [string, string[]] {
  const [sh, shArgs] = shell;
  if (who.uid === process.getuid?.()) return [sh, [...shArgs, command]];
  return [SETPRIV, ["--reuid", String(who.uid), "--regid", String(who.gid), "--init-groups", "--", sh, ...shArgs, command]];
}

/** The child's whole environment: nothing of the agent's own (its tokens and keys stay out). */
function environment(who: Identity, extra: Record<string, string> | undefined): Record<string, string> {
  return {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: who.home,
    LANG: "C.UTF-8",
    USER: who.user,
    LOGNAME: who.user,
    ...extra,
  };
}

function ownIdentity(): Identity {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  try {
    const info = userInfo();
    return { user: info.username, uid, gid, home: info.homedir || "/" };
  } catch {
    // A uid without a passwd entry (some containers).
    return { user: String(uid), uid, gid, home: "/" };
  }
}

/** The user's uid, gid and home from the passwd database (files, LDAP, whatever NSS serves). */
async function lookupUser(user: string): Promise<Identity> {
  const own = ownIdentity();
  if (user === own.user) return own;
  const line = await new Promise<string>((resolve, reject) => {
    execFile("getent", ["passwd", "--", user], { timeout: 5_000 }, (err, stdout) => {
      if (!err) return resolve(stdout);
      if ((err as { code?: unknown }).code === 2) return reject(new ToolError("invalid_arguments", `runAs: there is no user '${user}' on this host`));
      reject(new ToolError("internal", `runAs: cannot look up user '${user}': ${err.message}`));
    });
  });
  const [name, , uid, gid, , home] = line.trim().split(":");
  const who = { user: name ?? user, uid: Number(uid), gid: Number(gid), home: home || "/" };
  if (!Number.isInteger(who.uid) || !Number.isInteger(who.gid)) throw new ToolError("internal", `runAs: unreadable passwd entry for '${user}'`);
  if (own.uid !== 0 && who.uid !== own.uid) throw new ToolError("invalid_arguments", `runAs: the agent runs as '${own.user}', not root, so it cannot run commands as '${user}'`);
  return who;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function requireDirectory(path: string): Promise<void> {
  if (!(await isDirectory(path))) throw new ToolError("invalid_arguments", `cwd: ${path} is not an existing directory`);
}
