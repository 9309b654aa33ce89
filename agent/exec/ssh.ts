import { randomBytes } from "node:crypto";
import ssh2, { type ClientChannel } from "ssh2";
import { z } from "zod";
import { ToolError, formatZodError } from "../../shared/errors.ts";
import { watchStop, type StopReason } from "./deadline.ts";
import { DEFAULT_KNOWN_HOSTS, hostName, keyTypeOf, loadKnownHosts, hostKeyAlgorithms, sshFingerprint, verifyHostKey, type KnownHost, type KnownHosts } from "./known-hosts.ts";
import { OutputCapture } from "./output.ts";
import { KILL_GRACE_MS, SETTLE_AFTER_STOP_MS, parseExecRequest, resultOf, throwIfAborted, type ExecOptions, type ExecRequest, type ExecResult, type ExitStatus } from "./run.ts";

const { Client, utils } = ssh2;

/** How much of the start of stdout may come before the process-group marker (a chatty .bashrc). */
const MARKER_SEARCH_BYTES = 4096;

export const sshTargetSchema = z.object({
  host: z.string().regex(/^[A-Za-z0-9.:_-]{1,253}$/, "must be a host name or IP address"),
  port: z.number().int().min(1).max(65535).default(22),
  username: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/, "must be a user name").default("root"),
  /** The client key, PEM or OpenSSH format text (on a PVE node, root's /root/.ssh/id_rsa). */
  privateKey: z.string().min(1),
  /** OpenSSH known_hosts files the server's host key must be listed in. */
  knownHosts: z.array(z.string().startsWith("/")).min(1).default(DEFAULT_KNOWN_HOSTS),
  /** Limit for TCP connect and SSH handshake, within the command's own timeout. */
  connectTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
});
export type SshTarget = z.infer<typeof sshTargetSchema>;
export type SshOptions = ExecOptions & z.input<typeof sshTargetSchema>;

/**
 * Runs `command` on another host over SSH, with the same limits and result as runLocal. The host key must be
 * in one of the known_hosts files; anything else is refused, naming the key's SHA256 fingerprint.
 * On timeout or abort the remote process group gets TERM then KILL (through a second channel: OpenSSH
 * refuses "signal" requests for root sessions) and the connection is closed.
 *
 * @example
 * await runSsh({ host: "pve2", privateKey, command: "pvecm status", timeoutMs: 20_000, signal });
 */
export async function runSsh(opts: SshOptions): Promise<ExecResult> {
  const req = parseExecRequest(opts);
  const target = parseTarget(opts);
  if (req.runAs) throw new ToolError("invalid_arguments", "runAs is not supported over SSH: connect as that user (username) instead");
  throwIfAborted(opts.signal);
  const known = await loadKnownHosts(target.knownHosts);
  return new SshRun(req, target, known, opts).result;
}

function parseTarget(opts: SshOptions): SshTarget {
  const { host, port, username, privateKey, knownHosts, connectTimeoutMs } = opts;
  const parsed = sshTargetSchema.safeParse({ host, port, username, privateKey, knownHosts, connectTimeoutMs });
  if (!parsed.success) throw new ToolError("invalid_arguments", formatZodError(parsed.error));
  const key = utils.parseKey(parsed.data.privateKey);
  if (key instanceof Error) throw new ToolError("invalid_arguments", `privateKey: ${key.message}`);
  return parsed.data;
}

/** One command on one connection, from connect to settled result. */
class SshRun {
  readonly result: Promise<ExecResult>;
  private resolve!: (r: ExecResult) => void;
  private reject!: (e: ToolError) => void;
  private readonly conn = new Client();
  private readonly capture: OutputCapture;
  private readonly marker = new GroupMarker();
  private readonly started = performance.now();
  private readonly disarm: () => void;
  private readonly timers: ReturnType<typeof setTimeout>[] = [];
  private channel?: ClientChannel;
  private hostKeyError?: ToolError;
  private exit?: ExitStatus;
  private stopped?: StopReason;
  private execRequested = false;
  private settled = false;
  private readonly req: ExecRequest;
  private readonly target: SshTarget;

  constructor(req: ExecRequest, target: SshTarget, known: KnownHosts, opts: ExecOptions) {
    this.req = req;
    this.target = target;
    this.result = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.capture = new OutputCapture(req.maxOutputBytes, opts.onOutput);
    this.disarm = watchStop(req.timeoutMs, opts.signal, (why) => this.stop(why));
    this.conn.on("ready", () => this.exec());
    this.conn.on("error", (err) => this.failConnect(err));
    this.conn.on("close", () => this.settle());
    try {
      this.connect(known);
    } catch (err) {
      this.fail(new ToolError("ssh_failed", `ssh ${this.where()}: ${(err as Error).message}`, { reason: "ssh_connect_failed" }));
    }
  }

  private connect(known: KnownHosts): void {
    const { target, req } = this;
    this.conn.connect({
      host: target.host,
      port: target.port,
      username: target.username,
      privateKey: target.privateKey,
      readyTimeout: Math.min(target.connectTimeoutMs, req.timeoutMs),
      keepaliveInterval: 15_000,
      algorithms: { serverHostKey: hostKeyAlgorithms(known.entries, target.host, target.port) },
      hostVerifier: (key: Buffer) => this.verify(key, known),
    });
  }

  private verify(key: Buffer, known: KnownHosts): boolean {
    const verdict = verifyHostKey(known.entries, this.target.host, this.target.port, key);
    if (verdict.ok) return true;
    this.hostKeyError = hostKeyRefusal(this.target, key, verdict.reason, verdict.known, known.read);
    return false;
  }

  private exec(): void {
    if (this.settled) return;
    this.execRequested = true;
    this.conn.exec(remoteScript(this.req, this.marker.token), (err, channel) => {
      if (err) return this.fail(new ToolError("internal", `ssh ${this.where()}: cannot start the command: ${err.message}`));
      if (this.settled) return channel.close();
      this.channel = channel;
      channel.on("data", (chunk: Buffer) => {
        const known = this.marker.pgid;
        const rest = this.marker.take(chunk);
        if (rest.length) this.capture.push("stdout", rest);
        // Stopped before the remote shell had told its pid: kill it now that it has.
        if (!known && this.marker.pgid && this.stopped) this.killRemote();
      });
      channel.stderr.on("data", (chunk: Buffer) => this.capture.push("stderr", chunk));
      channel.on("exit", (code: number | null, signal?: string) => {
        this.exit = { code: code ?? null, signal: signal ?? null };
      });
      channel.on("close", () => this.settle());
      channel.end(this.req.stdin ?? "");
    });
  }

  private stop(why: StopReason): void {
    this.stopped = why;
    if (!this.execRequested) return this.fail(this.stoppedBeforeStart(why));
    // Once exec is requested the command may be running even before its channel is confirmed.
    this.killRemote();
    this.timers.push(setTimeout(() => this.conn.end(), KILL_GRACE_MS + 100));
    this.timers.push(setTimeout(() => this.settle(), SETTLE_AFTER_STOP_MS));
  }

  /** TERM, then KILL after the grace time, to the remote process group; run detached so it outlives this connection. */
  private killRemote(): void {
    try {
      this.channel?.signal("KILL");
    } catch {
      // servers that do not support signals
    }
    const pgid = this.marker.pgid;
    if (!pgid) return;
    const script = `(kill -TERM -- -${pgid}; sleep ${KILL_GRACE_MS / 1000}; kill -KILL -- -${pgid}) </dev/null >/dev/null 2>&1 &`;
    this.conn.exec(script, (err, channel) => {
      if (!err) channel.resume();
    });
  }

  private failConnect(err: Error & { level?: string }): void {
    if (this.hostKeyError) return this.fail(this.hostKeyError);
    if (this.channel) return this.settle();
    if (err.level === "client-timeout") {
      const limit = Math.min(this.target.connectTimeoutMs, this.req.timeoutMs);
      return this.fail(new ToolError("deadline_exceeded", `ssh ${this.where()}: no SSH handshake within ${limit} ms`));
    }
    const why = err.level === "client-authentication" ? `the server refused our key for user '${this.target.username}'` : err.message;
    this.fail(new ToolError("ssh_failed", `ssh ${this.where()}: ${why}`, { reason: "ssh_connect_failed" }));
  }

  private fail(err: ToolError): void {
    if (this.settled) return;
    this.finish();
    this.capture.finish();
    this.reject(err);
  }

  private settle(): void {
    if (this.settled) return;
    if (!this.channel) {
      const closed = new ToolError("ssh_failed", `ssh ${this.where()}: the connection closed before the command started`, { reason: "ssh_connect_failed" });
      return this.fail(this.hostKeyError ?? (this.stopped ? this.stoppedBeforeStart(this.stopped) : closed));
    }
    this.finish();
    const rest = this.marker.flush();
    if (rest.length) this.capture.push("stdout", rest);
    this.resolve(resultOf(this.capture, this.started, this.exit, this.stopped));
  }

  private finish(): void {
    this.settled = true;
    this.disarm();
    for (const t of this.timers) clearTimeout(t);
    this.conn.end();
    // A server that never answers the disconnect must not keep the socket open.
    setTimeout(() => this.conn.destroy(), 1_000).unref();
  }

  private stoppedBeforeStart(why: StopReason): ToolError {
    if (why === "abort") return new ToolError("cancelled", `ssh ${this.where()}: the command was cancelled before it started`);
    return new ToolError("deadline_exceeded", `ssh ${this.where()}: could not connect and start the command within ${this.req.timeoutMs} ms`);
  }

  private where(): string {
    return `${this.target.username}@${hostName(this.target.host, this.target.port)}`;
  }
}

function hostKeyRefusal(target: SshTarget, key: Buffer, reason: "unknown" | "changed" | "revoked", known: KnownHost[], read: string[]): ToolError {
  const name = hostName(target.host, target.port);
  const offered = `${keyTypeOf(key)} key ${sshFingerprint(key)}`;
  const files = read.length ? read.join(", ") : `none of ${target.knownHosts.join(", ")} exists`;
  const knownList = known.map((k) => `${k.type} ${sshFingerprint(k.blob)} (${k.source})`).join("; ");
  const messages = {
    unknown: `host key verification failed for ${name}: the server offered ${offered}, which is not in known_hosts (${files})${knownList ? `; known for this host: ${knownList}` : ""}. Check the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and add it (on a cluster: pvecm updatecerts)`,
    changed: `host key verification failed for ${name}: REMOTE HOST IDENTIFICATION HAS CHANGED. The server offered ${offered}, but known_hosts has ${knownList}. Refusing to connect`,
    revoked: `host key verification failed for ${name}: the server offered ${offered}, which known_hosts marks @revoked. Refusing to connect`,
  };
  return new ToolError("host_key_rejected", messages[reason], { reason: `host_key_${reason}`, host: name, key_type: keyTypeOf(key), fingerprint: sshFingerprint(key) });
}

/**
 * The remote side: announce the shell's pid (the process group and session sshd made for this command),
 * then apply cwd and env, then exec bash (sh without it). Env goes in the script because sshd accepts
 * only the variables its AcceptEnv names.
 */
function remoteScript(req: ExecRequest, marker: string): string {
  const lines = [`printf '%s%s\\n' ${quote(marker)} "$$"`];
  if (req.cwd) lines.push(`cd -- ${quote(req.cwd)} || exit 1`);
  for (const [k, v] of Object.entries(req.env ?? {})) lines.push(`export ${k}=${quote(v)}`);
  lines.push(`sh=/bin/sh; [ -x /bin/bash ] && sh=/bin/bash; exec "$sh" -c ${quote(req.command)}`);
  return lines.join("\n");
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Finds the `<token><pgid>` line the remote script prints first and keeps it out of the command's stdout. */
class GroupMarker {
  readonly token = `__pve_mcp_pgid_${randomBytes(8).toString("hex")}=`;
  pgid?: number;
  private head: Buffer | undefined = Buffer.alloc(0);

  /** Returns the part of `chunk` that belongs to the command's output. */
  take(chunk: Buffer): Buffer {
    if (!this.head) return chunk;
    const head = Buffer.concat([this.head, chunk]);
    const text = head.toString("latin1");
    const m = new RegExp(`${this.token}(\\d+)\\n`).exec(text);
    if (m) {
      this.pgid = Number(m[1]);
      this.head = undefined;
      return Buffer.concat([head.subarray(0, m.index), head.subarray(m.index + m[0].length)]);
    }
    if (head.length > MARKER_SEARCH_BYTES) return this.flush(head);
    this.head = head;
    return Buffer.alloc(0);
  }

  /** Gives up waiting for the marker and returns what was held back. */
  flush(held: Buffer | undefined = this.head): Buffer {
    this.head = undefined;
    return held ?? Buffer.alloc(0);
  }
}
