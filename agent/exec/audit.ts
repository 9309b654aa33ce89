import { closeSync, fchmodSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { ToolError, formatZodError } from "../../shared/errors.ts";

const MiB = 1024 * 1024;
/** Longer commands (a heredoc with a whole file) are cut in the log, after redaction. */
const MAX_COMMAND_CHARS = 16 * 1024;

export const auditDecisionSchema = z.enum(["allowed", "refused", "dry_run"]);
export type AuditDecision = z.infer<typeof auditDecisionSchema>;

/** One line of the audit log: one command attempt, whether it ran or not. */
export const auditEntrySchema = z.object({
  time: z.iso.datetime(),
  /** Who asked: the `sub` of the client token. */
  principal: z.string().min(1),
  /** Where: `host` (this node), `ssh:<node>`, `lxc:<vmid>` or `vm:<vmid>`. */
  target: z.string().regex(/^(host|ssh:[A-Za-z0-9.:_-]+|lxc:\d+|vm:\d+)$/, "must be host, ssh:<node>, lxc:<vmid> or vm:<vmid>"),
  /** The command with secrets replaced by [redacted]. */
  command: z.string(),
  decision: auditDecisionSchema,
  /** The policy rule that refused (or allowed) the command. */
  rule: z.string().optional(),
  exit_code: z.number().int().nullable().optional(),
  duration_ms: z.number().int().nonnegative().optional(),
  truncated: z.boolean().optional(),
  call_id: z.string().optional(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;
/** What a caller records; `time` defaults to now. */
export type AuditRecord = Omit<AuditEntry, "time"> & { time?: string };

export interface AuditLogOptions {
  /** e.g. /var/log/pve-mcp/audit.jsonl; rotated files get .1, .2, ... */
  file: string;
  /** Rotate before a line would make the file larger than this. */
  maxBytes?: number;
  /** How many rotated files to keep besides the current one. */
  keep?: number;
}

export const recentQuerySchema = z.object({
  limit: z.number().int().min(1).max(1000),
  /** Only entries at or after this time (ISO 8601). */
  since: z.iso.datetime({ offset: true }).optional(),
  principal: z.string().optional(),
  decision: auditDecisionSchema.optional(),
});
export type RecentQuery = z.infer<typeof recentQuerySchema>;

/**
 * Append-only JSON-lines log of command attempts, mode 0600, rotated by size. Commands are redacted
 * before they are written, so a password typed into a command never reaches the disk.
 *
 * @example
 * const audit = new AuditLog({ file: "/var/log/pve-mcp/audit.jsonl" });
 * audit.write({ principal: "alice", target: "host", command, decision: "allowed", exit_code: 0, duration_ms: 12 });
 */
export class AuditLog {
  private readonly file: string;
  private readonly maxBytes: number;
  private readonly keep: number;
  private fd?: number;
  private size = 0;

  constructor(opts: AuditLogOptions) {
    this.file = opts.file;
    this.maxBytes = opts.maxBytes ?? 10 * MiB;
    this.keep = Math.max(1, opts.keep ?? 5);
  }

  /** Redacts and appends one entry; returns the entry as written. */
  write(record: AuditRecord): AuditEntry {
    const command = cut(redactCommand(record.command), MAX_COMMAND_CHARS);
    const parsed = auditEntrySchema.safeParse({ ...record, time: record.time ?? new Date().toISOString(), command });
    if (!parsed.success) throw new ToolError("internal", `audit entry: ${formatZodError(parsed.error)}`);
    const line = Buffer.from(JSON.stringify(parsed.data) + "\n");
    this.open();
    if (this.size > 0 && this.size + line.length > this.maxBytes) this.rotate();
    writeSync(this.open(), line);
    this.size += line.length;
    return parsed.data;
  }

  /** The newest entries first, across rotated files, filtered. */
  recent(query: z.input<typeof recentQuerySchema>): AuditEntry[] {
    const parsed = recentQuerySchema.safeParse(query);
    if (!parsed.success) throw new ToolError("invalid_arguments", formatZodError(parsed.error));
    const { limit, since, principal, decision } = parsed.data;
    const sinceMs = since ? Date.parse(since) : -Infinity;
    const found: AuditEntry[] = [];
    for (const file of this.files()) {
      for (const entry of readEntriesNewestFirst(file)) {
        // Files and lines are in time order, so everything after this is older still.
        if (Date.parse(entry.time) < sinceMs) return found;
        if (principal !== undefined && entry.principal !== principal) continue;
        if (decision !== undefined && entry.decision !== decision) continue;
        found.push(entry);
        if (found.length >= limit) return found;
      }
    }
    return found;
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): number {
    if (this.fd !== undefined) return this.fd;
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const fd = openSync(this.file, "a+", 0o600);
    // The mode given to open only applies to a new file; an old one may have been created looser.
    fchmodSync(fd, 0o600);
    this.size = fstatSync(fd).size;
    this.fd = fd;
    if (this.size > 0 && !endsWithNewline(fd, this.size)) {
      // A crash cut the last line short; start on a fresh line so the next entry stays readable.
      writeSync(fd, "\n");
      this.size += 1;
    }
    return fd;
  }

  private rotate(): void {
    this.close();
    const names = this.files();
    for (let i = names.length - 1; i > 0; i--) {
      try {
        renameSync(names[i - 1] as string, names[i] as string);
      } catch {
        // that generation does not exist yet
      }
    }
    this.open();
  }

  /** The current file, then .1 (newest rotated) to .keep (oldest). */
  private files(): string[] {
    return [this.file, ...Array.from({ length: this.keep }, (_, i) => `${this.file}.${i + 1}`)];
  }
}

function endsWithNewline(fd: number, size: number): boolean {
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  return last[0] === 0x0a;
}

function* readEntriesNewestFirst(file: string): Generator<AuditEntry> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return;
  }
  const lines = text.split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i];
    if (!line) continue;
    try {
      const parsed = auditEntrySchema.safeParse(JSON.parse(line));
      if (parsed.success) yield parsed.data;
    } catch {
      // a line cut by a crash mid-write
    }
  }
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… [${text.length - max} more characters]`;
}

const R = "[redacted]";
/** A shell word: quoted parts, escaped characters and plain characters, up to an operator or blank. */
const WORD = String.raw`(?:'[^']*'|"(?:[^"\\]|\\.)*"|\\.|[^\s'"\\;&|<>()])+`;
const SECRET_NAME = /(password|passwd|passphrase|secret|token|api_?key|access_?key|private_?key|credentials?|(^|_)pass|sshpass)$/i;
const MYSQL = String.raw`\b(?:mysql|mysqldump|mysqladmin|mysqlcheck|mysqlimport|mysqlshow|mysqlpump|mariadb|mariadb-dump|mariadb-admin)\b`;
const AUTH_SCHEME = String.raw`(?:bearer|basic|token|digest|negotiate)`;

/** Secret-bearing patterns, each with how to rewrite a match. Best effort: shell quoting has endless forms. */
const secretPatterns: [RegExp, string | ((...groups: string[]) => string)][] = [
  // PVE API token: keep the token id, hide the secret uuid.
  [/(PVEAPIToken[= ][^\s'"=]+=)([^\s'"]+)/gi, `$1${R}`],
  [new RegExp(String.raw`((?:proxy-)?authorization\s*:\s*${AUTH_SCHEME}\s+)[^\s'"]+`, "gi"), `$1${R}`],
  [new RegExp(String.raw`((?:proxy-)?authorization\s*:\s*)(?!${AUTH_SCHEME}\s|PVEAPIToken)[^\s'"]+`, "gi"), `$1${R}`],
  [/\b((?:cookie|x-api-key|x-auth-token|private-token|csrfpreventiontoken|x-vault-token)\s*:\s*)[^'"\n]+/gi, `$1${R}`],
  // --password X, --password=X, --db-password=X, --cipassword X; not --password-file or --no-password.
  [new RegExp(String.raw`(--(?!no-|ask-)[A-Za-z0-9-]*(?:password|passwd|passphrase|pass|secret|token|api-?key|access-key|private-key|credentials?|bearer))(?![A-Za-z0-9-])(=|\s+(?!-))(${WORD})`, "gi"), `$1$2${R}`],
  // mysql -psecret / -p'secret' (a bare -p prompts and is left alone).
  [new RegExp(String.raw`(${MYSQL}[^;&|\n]*?\s-p)((?:'[^']*'|"(?:[^"\\]|\\.)*"|[^\s'";&|])+)`, "gi"), `$1${R}`],
  [new RegExp(String.raw`(\bsshpass\b[^;&|\n]*?\s-p\s*)(${WORD})`, "g"), `$1${R}`],
  [new RegExp(String.raw`(\b(?:curl|wget)\b[^;&|\n]*?(?:\s-u\s*|\s--user[=\s]\s*)['"]?[^\s:'"]*:)([^\s'"]+)`, "g"), `$1${R}`],
  // URLs with a password: scheme://user:password@host
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@'"]*:)([^\s@/'"]+)(@)/gi, `$1${R}$3`],
  // NAME=value where NAME ends like a secret (PASSWORD=, GITHUB_TOKEN=, AWS_SECRET_ACCESS_KEY=, ?token=).
  [
    new RegExp(String.raw`(^|[^A-Za-z0-9_.-])([A-Za-z_][A-Za-z0-9_.-]*)=(${WORD})`, "g"),
    (match, before, name) => (name.toLowerCase() !== "pveapitoken" && (SECRET_NAME.test(name) || name === "MYSQL_PWD") ? `${before}${name}=${R}` : match),
  ],
  // openssl -pass pass:secret
  [/(\bpass:)([^\s'"]+)/g, `$1${R}`],
  // echo 'user:newpassword' | chpasswd
  [/([A-Za-z0-9_.-]+:)([^\s'":|]+)(['"]?\s*\|\s*(?:sudo\s+)?chpasswd\b)/g, `$1${R}$3`],
];

/**
 * The command with passwords, tokens and keys replaced by [redacted], for the audit log.
 *
 * @example
 * redactCommand("mysql -uroot -psecret123 db") // "mysql -uroot -p[redacted] db"
 */
export function redactCommand(command: string): string {
  let out = command;
  for (const [pattern, replacement] of secretPatterns) {
    out = typeof replacement === "string" ? out.replace(pattern, replacement) : out.replace(pattern, replacement as (...a: string[]) => string);
  }
  return out;
}
