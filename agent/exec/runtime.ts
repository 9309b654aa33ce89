import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { ToolError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import type { ExecConfig } from "../config.ts";
import { checkCommand, type PolicyDecision } from "../policy/policy.ts";
import { AuditLog } from "./audit.ts";
import { runLocal, type ExecOptions, type ExecResult } from "./run.ts";
import { ExecSlots } from "./slots.ts";
import { runSsh } from "./ssh.ts";

/** Where a command runs, as the audit log names it. */
export type ExecTarget = { kind: "host" } | { kind: "ssh"; node: string; host: string } | { kind: "vm"; vmid: number };

export interface CommandRequest {
  command: string;
  cwd?: string;
  env?: Record<string, string>;
  stdin?: string;
  timeout_s?: number;
  dry_run: boolean;
}

export interface CallerContext {
  principal: string;
  callId: string;
  signal: AbortSignal;
  onOutput?: ExecOptions["onOutput"];
}

export interface CommandOutcome extends Partial<ExecResult> {
  target: string;
  dry_run: boolean;
  policy: { allowed: boolean; rule?: string; reason?: string; match?: string };
}

export function targetName(t: ExecTarget | { kind: "lxc"; vmid: number }): string {
  if (t.kind === "host") return "host";
  if (t.kind === "ssh") return `ssh:${t.node}`;
  return `${t.kind}:${t.vmid}`;
}

/**
 * Everything a command goes through: the policy, the audit log, the concurrency limit, then the run
 * itself (locally, over SSH, or by a caller-supplied runner such as the QEMU guest agent).
 */
export class ExecRuntime {
  readonly cfg: ExecConfig;
  readonly audit: AuditLog;
  private readonly slots: ExecSlots;
  private readonly log: Logger;
  private sshKey?: string;

  constructor(cfg: ExecConfig, log: Logger) {
    this.cfg = cfg;
    this.log = log;
    this.audit = new AuditLog({ file: cfg.audit_file, maxBytes: cfg.audit_max_bytes, keep: cfg.audit_keep });
    this.slots = new ExecSlots(cfg.max_concurrency);
  }

  /** The policy's verdict on a command, as the tools report it. */
  check(command: string, cwd?: string): PolicyDecision {
    return checkCommand(command, { extraRules: this.cfg.policy_rules, auditLogDir: dirname(this.cfg.audit_file), cwd });
  }

  /**
   * Checks, audits and runs one command. A refusal is a ToolError naming the rule and the matching part,
   * so the AI can choose another way; `run` replaces the local runner (SSH, pct, guest agent).
   */
  async execute(target: string, req: CommandRequest, caller: CallerContext, run?: (opts: ExecOptions) => Promise<ExecResult>): Promise<CommandOutcome> {
    const decision = this.check(req.command, req.cwd);
    const policy = decision.allowed ? { allowed: true } : { allowed: false, rule: decision.rule, reason: decision.reason, match: decision.match };
    const base = { principal: caller.principal, target, command: req.command, call_id: caller.callId };
    if (req.dry_run) {
      this.audit.write({ ...base, decision: "dry_run", ...(decision.allowed ? {} : { rule: decision.rule }) });
      return { target, dry_run: true, policy };
    }
    if (!decision.allowed) {
      this.audit.write({ ...base, decision: "refused", rule: decision.rule });
      throw new ToolError("policy_refused", `refused by policy rule '${decision.rule}': ${decision.reason} (matched: ${decision.match})`, { rule: decision.rule, match: decision.match });
    }
    const release = await this.slots.acquire(caller.signal);
    try {
      const opts: ExecOptions = {
        command: req.command,
        cwd: req.cwd,
        env: req.env,
        stdin: req.stdin,
        timeoutMs: (req.timeout_s ?? this.cfg.default_timeout_s) * 1000,
        maxOutputBytes: this.cfg.max_output_bytes,
        ...(this.cfg.run_as ? { runAs: { user: this.cfg.run_as } } : {}),
        signal: caller.signal,
        onOutput: caller.onOutput,
      };
      const result = await (run ?? runLocal)(opts);
      this.audit.write({ ...base, decision: "allowed", exit_code: result.exit_code, duration_ms: result.duration_ms, truncated: result.truncated });
      return { ...result, target, dry_run: false, policy };
    } catch (err) {
      // Allowed but it could not run (SSH refused, guest agent absent): recorded without an exit code.
      this.audit.write({ ...base, decision: "allowed" });
      throw err;
    } finally {
      release();
    }
  }

  /** Runs over SSH on another node, as the configured user with the configured key. */
  ssh(host: string): (opts: ExecOptions) => Promise<ExecResult> {
    const { ssh } = this.cfg;
    return (opts) => {
      this.sshKey ??= readKey(ssh.private_key);
      const { runAs: _runAs, ...rest } = opts;
      return runSsh({ ...rest, host, port: ssh.port, username: ssh.user, privateKey: this.sshKey, knownHosts: ssh.known_hosts });
    };
  }

  close(): void {
    this.audit.close();
    this.log.debug("exec runtime closed");
  }
}

function readKey(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new ToolError("ssh_failed", `cannot read the SSH private key ${path}: ${(err as Error).message}`);
  }
}
