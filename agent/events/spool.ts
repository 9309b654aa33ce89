import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { eventSchema, type Event } from "../../shared/event.ts";
import type { Logger } from "../../shared/log.ts";

export interface SpoolOptions {
  dir: string;
  max_events: number;
  max_bytes: number;
  /** Names the notifier in logs. */
  name: string;
  log: Logger;
}

export interface SpoolEntry {
  seq: number;
  file: string;
  bytes: number;
  event: Event;
}

const FILE = /^(\d{16})\.json$/;

/**
 * A notifier's outbox on disk: one file per event (`<seq>.json`, written to a temporary name, fsync'd,
 * then renamed, so a crash leaves either the whole event or nothing), read back in order after a
 * restart, removed once delivered. Bounded: when full, the oldest entries are dropped, counted and
 * logged, because a notifier that is down for days must not fill the host's disk.
 */
export class Spool {
  private readonly opts: SpoolOptions;
  private readonly entries: SpoolEntry[] = [];
  private readonly ids = new Set<string>();
  private bytes = 0;
  private nextSeq = 1;
  /** Entries dropped to respect the bounds (or unreadable after a restart). */
  dropped = 0;

  constructor(opts: SpoolOptions) {
    this.opts = opts;
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    this.load();
  }

  get size(): number {
    return this.entries.length;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  /** Persists an event (durably, before returning); false if an event with that id is already waiting. */
  append(event: Event): boolean {
    if (this.ids.has(event.id)) return false;
    const text = JSON.stringify(event);
    const bytes = Buffer.byteLength(text);
    if (bytes > this.opts.max_bytes) {
      this.drop(1, "an event larger than the whole spool", event.id);
      return false;
    }
    let evict = 0;
    let freed = 0;
    while (evict < this.entries.length && (this.entries.length - evict + 1 > this.opts.max_events || this.bytes - freed + bytes > this.opts.max_bytes)) {
      freed += this.entries[evict].bytes;
      evict++;
    }
    if (evict > 0) {
      for (const entry of this.entries.slice(0, evict)) this.remove(entry);
      this.drop(evict, "the oldest events: spool full");
    }
    const seq = this.nextSeq++;
    const file = join(this.opts.dir, `${String(seq).padStart(16, "0")}.json`);
    writeDurably(file, text);
    this.entries.push({ seq, file, bytes, event });
    this.ids.add(event.id);
    this.bytes += bytes;
    return true;
  }

  /** The oldest waiting entry. */
  peek(): SpoolEntry | undefined {
    return this.entries[0];
  }

  /** Forgets a delivered (or dropped) entry; a no-op if it is already gone. */
  remove(entry: SpoolEntry): void {
    const index = this.entries.indexOf(entry);
    if (index < 0) return;
    this.entries.splice(index, 1);
    this.ids.delete(entry.event.id);
    this.bytes -= entry.bytes;
    try {
      unlinkSync(entry.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }

  private drop(count: number, what: string, eventId?: string): void {
    this.dropped += count;
    this.opts.log.warn(`notifier spool dropped ${what}`, { notifier: this.opts.name, count, dropped_total: this.dropped, ...(eventId ? { event_id: eventId } : {}) });
  }

  private load(): void {
    const names = readdirSync(this.opts.dir).sort();
    for (const name of names) {
      const path = join(this.opts.dir, name);
      if (name.endsWith(".tmp")) {
        unlinkSync(path);
        continue;
      }
      const match = FILE.exec(name);
      if (!match) continue;
      const seq = Number(match[1]);
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
      const entry = readEntry(path, seq);
      if (!entry) {
        unlinkSync(path);
        this.drop(1, "an unreadable spool file", undefined);
        continue;
      }
      this.entries.push(entry);
      this.ids.add(entry.event.id);
      this.bytes += entry.bytes;
    }
    if (this.entries.length) this.opts.log.info("notifier spool resumed", { notifier: this.opts.name, events: this.entries.length, bytes: this.bytes });
  }
}

function readEntry(file: string, seq: number): SpoolEntry | undefined {
  try {
    const text = readFileSync(file, "utf8");
    const parsed = eventSchema.safeParse(JSON.parse(text));
    return parsed.success ? { seq, file, bytes: Buffer.byteLength(text), event: parsed.data } : undefined;
  } catch {
    return undefined;
  }
}

/** Write, fsync, rename, fsync the directory: after this returns the file survives a power cut. */
function writeDurably(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(join(file, ".."), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
