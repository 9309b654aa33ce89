import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { ToolError } from "../shared/errors.ts";
import { toolResultSchema, type ToolResult } from "../shared/protocol.ts";

/** How a call ended, as the worker will be told. */
export type Outcome =
  | { ok: true; result: ToolResult }
  | { ok: false; code: ToolError["code"]; message: string; retryable: boolean; details?: Record<string, unknown> };

interface Entry {
  tool: string;
  mutating: boolean;
  running?: Promise<Outcome>;
  outcome?: Outcome;
  facts: Record<string, unknown>;
  doneAt?: number;
}

const journalLine = z.discriminatedUnion("s", [
  z.object({ s: z.literal("start"), id: z.string(), tool: z.string(), at: z.number() }),
  z.object({ s: z.literal("note"), id: z.string(), facts: z.record(z.string(), z.unknown()) }),
  z.object({ s: z.literal("done"), id: z.string(), at: z.number(), outcome: z.unknown() }),
  z.object({ s: z.literal("ack"), id: z.string() }),
]);
type JournalLine = z.infer<typeof journalLine>;

const outcomeSchema = z.union([
  z.object({ ok: z.literal(true), result: toolResultSchema }),
  z.object({ ok: z.literal(false), code: z.string(), message: z.string(), retryable: z.boolean(), details: z.record(z.string(), z.unknown()).optional() }),
]);

const KEEP_UNACKED_MS = 15 * 60_000;
const COMPACT_EVERY = 2_000;

/**
 * Remembers every call by id so that none runs twice: a call re-sent after a reconnect joins the run
 * still in flight or gets the recorded outcome. Mutating calls are written to a journal (fsync'd before
 * they run) so the promise survives an agent crash: a call that was running when the agent died is
 * answered "outcome unknown" with what the journal knows (the PVE task it started), never re-run.
 */
export class CallLedger {
  private entries = new Map<string, Entry>();
  private readonly file?: string;
  private linesSinceCompact = 0;

  constructor(stateDir?: string) {
    if (!stateDir) return;
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.file = join(stateDir, "calls.jsonl");
    this.load();
    this.compact();
  }

  /** Runs the call unless this id was seen before; either way resolves to the call's one outcome. */
  run(id: string, tool: string, mutating: boolean, execute: (note: (facts: Record<string, unknown>) => void) => Promise<ToolResult>): Promise<Outcome> {
    const known = this.entries.get(id);
    if (known) return known.running ?? Promise.resolve(known.outcome as Outcome);
    const entry: Entry = { tool, mutating, facts: {} };
    this.entries.set(id, entry);
    if (mutating) this.write({ s: "start", id, tool, at: Date.now() }, true);
    const note = (facts: Record<string, unknown>) => {
      Object.assign(entry.facts, facts);
      if (mutating) this.write({ s: "note", id, facts }, true);
    };
    entry.running = execute(note).then(
      (result): Outcome => ({ ok: true, result }),
      (err): Outcome => {
        const e = err instanceof ToolError ? err : new ToolError("internal", err instanceof Error ? err.message : String(err));
        return { ok: false, code: e.code, message: e.message, retryable: e.retryable, details: e.details };
      },
    ).then((outcome) => {
      entry.outcome = outcome;
      entry.running = undefined;
      entry.doneAt = Date.now();
      if (mutating) this.write({ s: "done", id, at: entry.doneAt, outcome }, false);
      return outcome;
    });
    return entry.running;
  }

  /** Whether the id is known (running or finished and not yet acknowledged). */
  has(id: string): boolean {
    return this.entries.has(id);
  }

  get inFlight(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.running) n++;
    return n;
  }

  /** The worker has the outcomes: forget them. */
  ack(ids: string[]): void {
    for (const id of ids) {
      const entry = this.entries.get(id);
      if (!entry || entry.running) continue;
      this.entries.delete(id);
      if (entry.mutating) this.write({ s: "ack", id }, false);
    }
    this.expire();
  }

  private expire(): void {
    const cutoff = Date.now() - KEEP_UNACKED_MS;
    for (const [id, entry] of this.entries) if (entry.doneAt !== undefined && entry.doneAt < cutoff) this.entries.delete(id);
  }

  private write(line: JournalLine, sync: boolean): void {
    if (!this.file) return;
    const fd = openSync(this.file, "a", 0o600);
    try {
      appendFileSync(fd, JSON.stringify(line) + "\n");
      if (sync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (++this.linesSinceCompact >= COMPACT_EVERY) this.compact();
  }

  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.file as string, "utf8");
    } catch {
      return;
    }
    for (const raw of text.split("\n")) {
      if (!raw.trim()) continue;
      const parsed = safeJournalLine(raw);
      if (parsed) this.replay(parsed);
    }
    for (const [id, entry] of this.entries) {
      if (entry.outcome) continue;
      entry.outcome = interrupted(id, entry);
      entry.doneAt = Date.now();
    }
  }

  private replay(line: JournalLine): void {
    if (line.s === "start") this.entries.set(line.id, { tool: line.tool, mutating: true, facts: {} });
    const entry = this.entries.get(line.id);
    if (!entry) return;
    if (line.s === "note") Object.assign(entry.facts, line.facts);
    if (line.s === "done") {
      const outcome = outcomeSchema.safeParse(line.outcome);
      entry.outcome = outcome.success ? (outcome.data as Outcome) : interrupted(line.id, entry);
      entry.doneAt = line.at;
    }
    if (line.s === "ack") this.entries.delete(line.id);
  }

  /** Rewrites the journal with only the calls still remembered. */
  private compact(): void {
    if (!this.file) return;
    this.expire();
    const lines: string[] = [];
    for (const [id, e] of this.entries) {
      if (!e.mutating) continue;
      lines.push(JSON.stringify({ s: "start", id, tool: e.tool, at: e.doneAt ?? Date.now() }));
      if (Object.keys(e.facts).length) lines.push(JSON.stringify({ s: "note", id, facts: e.facts }));
      if (e.outcome) lines.push(JSON.stringify({ s: "done", id, at: e.doneAt ?? Date.now(), outcome: e.outcome }));
    }
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, lines.length ? lines.join("\n") + "\n" : "", { mode: 0o600 });
    renameSync(tmp, this.file);
    this.linesSinceCompact = 0;
  }
}

function safeJournalLine(raw: string): JournalLine | undefined {
  try {
    const parsed = journalLine.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // a torn last line after a crash
  }
}

function interrupted(id: string, entry: Entry): Outcome {
  const task = typeof entry.facts.upid === "string" ? ` It had started PVE task ${entry.facts.upid}; check it with the task tools.` : "";
  return {
    ok: false,
    code: "outcome_unknown",
    message: `The agent stopped while ${entry.tool} (call ${id}) was running, so its outcome is unknown; it was not run again.${task}`,
    retryable: false,
    details: { ...entry.facts },
  };
}
