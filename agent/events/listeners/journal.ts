import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { z } from "zod";
import type { Logger } from "../../../shared/log.ts";
import { backoffDelay, type BackoffOptions } from "../backoff.ts";
import { firstLine, parseJson } from "../text.ts";
import { severityFromSyslog, type Emit, type EventListener, type ListenerCounters, type RawEvent } from "../source.ts";

export interface JournalOptions {
  /** systemd units to follow (`-u`); empty follows the whole journal. */
  units: string[];
  /** Only entries at least this important (journalctl `-p`, 0 emerg .. 7 debug). */
  max_priority?: number;
  /** journalctl, found on PATH unless a path is given. */
  command: string;
  /** Remembers the last entry read, so a restarted agent resumes after it instead of missing or repeating entries. */
  cursor_file?: string;
  restart: BackoffOptions;
  emit: Emit;
  log: Logger;
}

/**
 * A journal field as `journalctl -o json` prints it: a string; an array of bytes when the value is not
 * printable UTF-8 (colour escapes, binary); null when larger than 4096 bytes (without `--all`); an
 * array of those when the field occurs more than once in the entry.
 */
const fieldValue = z.union([z.string(), z.array(z.number().int().min(0).max(255)), z.null()]);
const field = z.union([fieldValue, z.array(fieldValue)]).optional();
const journalEntry = z.looseObject({
  MESSAGE: field,
  PRIORITY: field,
  _HOSTNAME: field,
  SYSLOG_IDENTIFIER: field,
  _COMM: field,
  _SYSTEMD_UNIT: field,
  UNIT: field,
  _PID: field,
  __REALTIME_TIMESTAMP: field,
  __CURSOR: field,
  _BOOT_ID: field,
  MESSAGE_ID: field,
  _TRANSPORT: field,
});

// CSI sequences (colours) and other control characters except tab and newline.
const CONTROL = /\u001b\[[0-9;?]*[ -/]*[@-~]|[\u0000-\u0008\u000b-\u001f\u007f]/g;

function text(value: z.infer<typeof field>): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (value.length > 0 && value.every((v) => typeof v === "number")) return Buffer.from(value as number[]).toString("utf8").replace(CONTROL, "");
  for (const item of value as Array<z.infer<typeof fieldValue>>) {
    const first = text(item);
    if (first !== undefined) return first;
  }
  return undefined;
}

/** One line of `journalctl -o json` as a raw event; undefined for a line that is not a journal entry. */
export function journalEvent(line: string): RawEvent | undefined {
  const entry = parseJson(journalEntry, line);
  if (!entry) return undefined;
  const message = text(entry.MESSAGE) ?? (entry.MESSAGE === null ? "(message larger than 4096 bytes not shown by journalctl)" : "");
  const priority = Number(text(entry.PRIORITY) ?? 6);
  const micros = Number(text(entry.__REALTIME_TIMESTAMP));
  const identifier = text(entry.SYSLOG_IDENTIFIER) ?? text(entry._COMM);
  const unit = text(entry._SYSTEMD_UNIT);
  const cursor = text(entry.__CURSOR);
  const pid = text(entry._PID);
  const node = text(entry._HOSTNAME);
  return {
    source: "journal",
    ...(Number.isFinite(micros) && micros > 0 ? { time: new Date(Math.floor(micros / 1000)) } : {}),
    node,
    severity: severityFromSyslog(Number.isFinite(priority) ? priority : 6),
    title: `${identifier ?? unit ?? "journal"}: ${firstLine(message)}`,
    message,
    metadata: {
      ...(unit ? { unit } : {}),
      ...(text(entry.UNIT) ? { subject_unit: text(entry.UNIT) } : {}),
      ...(identifier ? { identifier } : {}),
      ...(pid ? { pid: Number(pid) } : {}),
      priority,
      ...(text(entry.MESSAGE_ID) ? { message_id: text(entry.MESSAGE_ID) } : {}),
      ...(text(entry._TRANSPORT) ? { transport: text(entry._TRANSPORT) } : {}),
      ...(text(entry._BOOT_ID) ? { boot_id: text(entry._BOOT_ID) } : {}),
      ...(cursor ? { cursor } : {}),
    },
    ...(cursor ? { stableKey: cursor } : {}),
    rateKey: `journal\0${node ?? ""}\0${unit ?? identifier ?? ""}`,
  };
}

const CURSOR_SAVE_MS = 1_000;
const STOP_GRACE_MS = 2_000;

/**
 * Follows the systemd journal through `journalctl -f -o json` (journald's own stable interface; no
 * native binding is needed) and emits each entry. Restarts journalctl with backoff if it exits.
 */
export class JournalListener implements EventListener {
  readonly name = "journal";
  private readonly opts: JournalOptions;
  private child?: ChildProcess;
  private stopped = true;
  private attempt = 0;
  private retryTimer?: NodeJS.Timeout;
  private saveTimer?: NodeJS.Timeout;
  private cursor?: string;
  private savedCursor?: string;
  private readonly stats: ListenerCounters = { received: 0, emitted: 0, errors: 0, malformed: 0, restarts: 0 };

  constructor(opts: JournalOptions) {
    this.opts = opts;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.cursor = this.loadCursor();
    this.savedCursor = this.cursor;
    this.spawn();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.saveTimer);
    this.saveCursor();
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => {
        child.kill("SIGKILL");
        setTimeout(resolve, STOP_GRACE_MS).unref();
      }, STOP_GRACE_MS);
      child.once("close", () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill("SIGTERM");
    });
  }

  counters(): ListenerCounters {
    return { ...this.stats };
  }

  /** The journalctl arguments for the current position. */
  args(): string[] {
    const args = ["-f", "-o", "json", "--no-pager"];
    for (const unit of this.opts.units) args.push("-u", unit);
    if (this.opts.max_priority !== undefined) args.push("-p", String(this.opts.max_priority));
    args.push(this.cursor ? `--after-cursor=${this.cursor}` : "--lines=0");
    return args;
  }

  private spawn(): void {
    if (this.stopped) return;
    const child = spawn(this.opts.command, this.args(), { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    createInterface({ input: child.stdout! }).on("line", (line) => this.receive(line));
    createInterface({ input: child.stderr! }).on("line", (line) => this.opts.log.warn("journalctl said", { line: line.slice(0, 500) }));
    child.on("error", (err) => {
      this.stats.errors++;
      this.opts.log.error("cannot run journalctl", { command: this.opts.command, error: err.message });
    });
    child.on("close", (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.stopped) return;
      this.stats.errors++;
      this.opts.log.warn("journalctl exited; restarting", { code, signal });
      this.retryTimer = setTimeout(() => {
        this.stats.restarts++;
        this.spawn();
      }, backoffDelay(this.attempt++, this.opts.restart));
    });
  }

  private receive(line: string): void {
    if (!line.trim()) return;
    this.stats.received++;
    const event = journalEvent(line);
    if (!event) {
      this.stats.malformed++;
      return;
    }
    this.attempt = 0;
    const cursor = event.metadata?.cursor;
    if (typeof cursor === "string") this.rememberCursor(cursor);
    this.stats.emitted++;
    this.opts.emit(event);
  }

  private rememberCursor(cursor: string): void {
    this.cursor = cursor;
    if (!this.opts.cursor_file || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.saveCursor();
    }, CURSOR_SAVE_MS);
  }

  private loadCursor(): string | undefined {
    if (!this.opts.cursor_file) return undefined;
    try {
      return readFileSync(this.opts.cursor_file, "utf8").trim() || undefined;
    } catch {
      return undefined;
    }
  }

  private saveCursor(): void {
    const file = this.opts.cursor_file;
    if (!file || !this.cursor || this.cursor === this.savedCursor) return;
    try {
      writeFileSync(`${file}.tmp`, `${this.cursor}\n`, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
      this.savedCursor = this.cursor;
    } catch (err) {
      this.stats.errors++;
      this.opts.log.warn("cannot save the journal cursor", { file, error: (err as Error).message });
    }
  }
}
