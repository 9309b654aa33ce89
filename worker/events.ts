import { matchesFilter, type Event, type EventFilter } from "../shared/event.ts";

interface Entry {
  seq: number;
  event: Event;
}

/** What survives a restart of the holder (Durable Object storage on Workers). */
export interface EventLogSnapshot {
  next: number;
  entries: Entry[];
}

/**
 * The recent events of one agent, as the worker received them, with a cursor that keeps counting across
 * agent reconnects so a client can page through what it missed.
 */
export class EventLog {
  private entries: Entry[] = [];
  private next = 1;
  private readonly listeners = new Set<(event: Event, seq: number) => void>();
  private readonly size: number;
  private readonly seen = new Set<string>();

  constructor(size = 1000, snapshot?: EventLogSnapshot) {
    this.size = size;
    if (snapshot) {
      this.entries = snapshot.entries.slice(-size);
      this.next = snapshot.next;
      for (const e of this.entries) this.seen.add(e.event.id);
    }
  }

  /** Adds an event unless its id is already here (the agent re-sends after a reconnect). */
  add(event: Event): boolean {
    if (this.seen.has(event.id)) return false;
    const entry = { seq: this.next++, event };
    this.entries.push(entry);
    this.seen.add(event.id);
    if (this.entries.length > this.size) this.seen.delete((this.entries.shift() as Entry).event.id);
    for (const l of this.listeners) l(event, entry.seq);
    return true;
  }

  get cursor(): number {
    return this.next - 1;
  }

  read(filter: EventFilter, since: number | undefined, limit: number): { events: Event[]; cursor: number; missed: boolean } {
    const oldest = this.entries[0]?.seq ?? this.next;
    const missed = since !== undefined && since + 1 < oldest && since < this.cursor;
    const after = since === undefined ? this.entries : this.entries.filter((e) => e.seq > since);
    const matching = after.filter((e) => matchesFilter(e.event, filter));
    const page = since === undefined ? matching.slice(-limit) : matching.slice(0, limit);
    const cursor = since !== undefined && page.length === limit ? page[page.length - 1].seq : this.cursor;
    return { events: page.map((e) => e.event), cursor, missed };
  }

  /** Resolves with the first matching event (already here after `since`, or arriving), or undefined at the timeout. */
  wait(filter: EventFilter, since: number | undefined, timeoutMs: number, signal: AbortSignal): Promise<{ event?: Event; cursor: number }> {
    if (since !== undefined) {
      const earlier = this.entries.find((e) => e.seq > since && matchesFilter(e.event, filter));
      if (earlier) return Promise.resolve({ event: earlier.event, cursor: earlier.seq });
    }
    return new Promise((resolve) => {
      const done = (result: { event?: Event; cursor: number }) => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        signal.removeEventListener("abort", onAbort);
        resolve(result);
      };
      const listener = (event: Event, seq: number) => {
        if (matchesFilter(event, filter)) done({ event, cursor: seq });
      };
      const onAbort = () => done({ cursor: this.cursor });
      const timer = setTimeout(() => done({ cursor: this.cursor }), timeoutMs);
      this.listeners.add(listener);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Calls `listener` for every new event; returns the unsubscribe function. */
  subscribe(listener: (event: Event, seq: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): EventLogSnapshot {
    return { next: this.next, entries: this.entries };
  }
}
