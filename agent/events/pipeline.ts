import { createHash } from "node:crypto";
import { ToolError } from "../../shared/errors.ts";
import { eventSchema, matchesFilter, type Event, type EventFilter } from "../../shared/event.ts";
import type { Logger } from "../../shared/log.ts";
import { eventId } from "./ids.ts";
import type { RawEvent } from "./source.ts";
import { clip } from "./text.ts";

export interface RateLimit {
  /** Events a key may pass per interval (also the burst size). */
  events: number;
  interval_ms: number;
}

export interface PipelineOptions {
  /** Events that do not match are dropped before anything else sees them. */
  filter?: EventFilter;
  dedupWindowMs: number;
  rateLimit: RateLimit;
  /** Recent events kept in memory for `recent` and `waitFor`. */
  ringSize: number;
  /** Adds what the caller knows (guest name and type, a task's node); must not throw. */
  enrich?: (event: Event) => Event;
  log: Logger;
  /** How often `waitFor` calls its `onTick` (default 1 s). */
  tickMs?: number;
  /** Injected clock for tests. */
  now?: () => number;
}

export interface PipelineCounters {
  received: number;
  invalid: number;
  filtered: number;
  deduplicated: number;
  rate_limited: number;
  delivered: number;
}

export interface RecentEvents {
  events: Event[];
  /** Pass as `since` next time to get only what came after these. */
  cursor: number;
  /** Events after `since` were evicted from the ring before they were read. */
  missed: boolean;
}

export interface WaitTick {
  elapsed_ms: number;
  remaining_ms: number;
}

const MAX_TITLE = 512;
const MAX_MESSAGE = 16 * 1024;
const TICK_MS = 1_000;
const PRUNE_EVERY = 1_000;

interface Bucket {
  tokens: number;
  updated: number;
}

interface Stored {
  cursor: number;
  event: Event;
}

/**
 * Normalises raw events into the event shape and passes them through enrichment, the filter,
 * deduplication and a per-key rate limit; survivors go into a ring of recent events (read by cursor)
 * and to every subscriber.
 */
export class EventPipeline {
  private readonly opts: PipelineOptions;
  private readonly now: () => number;
  private readonly seen = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly ring: Stored[] = [];
  private readonly subscribers = new Set<(event: Event) => void>();
  private head = 0;
  private sincePrune = 0;
  private readonly stats: PipelineCounters = { received: 0, invalid: 0, filtered: 0, deduplicated: 0, rate_limited: 0, delivered: 0 };

  constructor(opts: PipelineOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  /** Runs one raw event through every stage; returns the delivered event, or undefined if a stage dropped it. */
  ingest(raw: RawEvent): Event | undefined {
    this.stats.received++;
    const normal = this.normalise(raw);
    if (!normal) return undefined;
    const event = this.enrich(normal);
    if (!matchesFilter(event, this.opts.filter)) {
      this.stats.filtered++;
      return undefined;
    }
    const now = this.now();
    this.prune(now);
    if (this.isDuplicate(raw.dedupKey ?? contentKey(event), now)) {
      this.stats.deduplicated++;
      return undefined;
    }
    if (!this.take(raw.rateKey ?? `${event.source}\0${event.node ?? ""}`, now)) {
      this.stats.rate_limited++;
      return undefined;
    }
    this.deliver(event);
    return event;
  }

  /** Called with every delivered event, in order; returns the unsubscribe function. */
  subscribe(callback: (event: Event) => void): () => void {
    this.subscribers.add(callback);
    return () => this.subscribers.delete(callback);
  }

  /** Matching events after cursor `since` (oldest first, at most `limit`), or the newest `limit` without `since`. */
  recent(filter?: EventFilter, since?: number, limit = 100): RecentEvents {
    limit = Math.max(1, Math.floor(limit));
    if (since === undefined) {
      const matching = this.ring.filter((s) => matchesFilter(s.event, filter));
      return { events: matching.slice(-limit).map((s) => s.event), cursor: this.head, missed: false };
    }
    // A cursor past the head comes from before an agent restart: the ring started again from 1.
    const after = since > this.head ? 0 : since;
    const missed = since > this.head || (this.ring.length > 0 && this.ring[0].cursor > after + 1);
    const matching = this.ring.filter((s) => s.cursor > after && matchesFilter(s.event, filter));
    const page = matching.slice(0, limit);
    const cursor = page.length < matching.length ? page[page.length - 1].cursor : this.head;
    return { events: page.map((s) => s.event), cursor, missed };
  }

  /**
   * Resolves with the first delivered event that matches, or null when `timeoutMs` passes; with `since`,
   * an event already in the ring after that cursor counts too (so nothing slips between a read and a wait).
   * Rejects with ToolError("cancelled") on abort. `onTick` fires every `tickMs`, e.g. for progress notifications.
   */
  waitFor(filter: EventFilter | undefined, timeoutMs: number, signal?: AbortSignal, onTick?: (tick: WaitTick) => void, since?: number): Promise<Event | null> {
    if (signal?.aborted) return Promise.reject(cancelled());
    if (since !== undefined) {
      const found = this.ring.find((s) => s.cursor > since && matchesFilter(s.event, filter));
      if (found) return Promise.resolve(found.event);
    }
    const started = this.now();
    return new Promise((resolve, reject) => {
      const finish = (outcome: () => void) => {
        unsubscribe();
        clearTimeout(timer);
        clearInterval(ticker);
        signal?.removeEventListener("abort", onAbort);
        outcome();
      };
      const unsubscribe = this.subscribe((event) => {
        if (matchesFilter(event, filter)) finish(() => resolve(event));
      });
      const timer = setTimeout(() => finish(() => resolve(null)), timeoutMs);
      const ticker = onTick
        ? setInterval(() => {
            const elapsed = this.now() - started;
            onTick({ elapsed_ms: elapsed, remaining_ms: Math.max(0, timeoutMs - elapsed) });
          }, this.opts.tickMs ?? TICK_MS)
        : undefined;
      const onAbort = () => finish(() => reject(cancelled()));
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** The cursor of the newest event delivered so far (0 before any). */
  get cursor(): number {
    return this.head;
  }

  counters(): PipelineCounters {
    return { ...this.stats };
  }

  private normalise(raw: RawEvent): Event | undefined {
    const time = raw.time && !Number.isNaN(raw.time.getTime()) ? raw.time : new Date(this.now());
    const candidate = {
      id: eventId(time, raw.stableKey === undefined ? undefined : `${raw.source}\0${raw.stableKey}`),
      time: time.toISOString(),
      source: raw.source,
      ...(raw.node ? { node: raw.node } : {}),
      severity: raw.severity,
      title: clip(raw.title, MAX_TITLE),
      message: clip(raw.message, MAX_MESSAGE),
      metadata: raw.metadata ?? {},
    };
    const parsed = eventSchema.safeParse(candidate);
    if (parsed.success) return parsed.data;
    this.stats.invalid++;
    this.opts.log.warn("dropping a malformed event", { source: raw.source, issues: parsed.error.issues.map((i) => i.path.join(".")).join(",") });
    return undefined;
  }

  private enrich(event: Event): Event {
    if (!this.opts.enrich) return event;
    try {
      return this.opts.enrich(event);
    } catch (err) {
      this.opts.log.warn("event enrichment failed", { error: (err as Error).message });
      return event;
    }
  }

  private isDuplicate(key: string, now: number): boolean {
    const first = this.seen.get(key);
    if (first !== undefined && now - first < this.opts.dedupWindowMs) return true;
    // Re-inserted so the map stays ordered by window start, which is what prune relies on.
    this.seen.delete(key);
    this.seen.set(key, now);
    return false;
  }

  /** Token bucket per key: `events` tokens, refilled continuously over `interval_ms`. */
  private take(key: string, now: number): boolean {
    const { events, interval_ms } = this.opts.rateLimit;
    const bucket = this.buckets.get(key) ?? { tokens: events, updated: now };
    bucket.tokens = Math.min(events, bucket.tokens + ((now - bucket.updated) * events) / interval_ms);
    bucket.updated = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private prune(now: number): void {
    for (const [key, first] of this.seen) {
      if (now - first < this.opts.dedupWindowMs) break;
      this.seen.delete(key);
    }
    if (++this.sincePrune < PRUNE_EVERY) return;
    this.sincePrune = 0;
    const { interval_ms } = this.opts.rateLimit;
    for (const [key, bucket] of this.buckets) if (now - bucket.updated >= interval_ms) this.buckets.delete(key);
  }

  private deliver(event: Event): void {
    this.head++;
    this.ring.push({ cursor: this.head, event });
    if (this.ring.length > this.opts.ringSize) this.ring.shift();
    this.stats.delivered++;
    for (const callback of [...this.subscribers]) {
      try {
        callback(event);
      } catch (err) {
        this.opts.log.error("event subscriber failed", { error: (err as Error).message });
      }
    }
  }
}

function contentKey(event: Event): string {
  return createHash("sha256").update(`${event.source}\0${event.node ?? ""}\0${event.title}\0${event.message}`).digest("base64url");
}

function cancelled(): ToolError {
  return new ToolError("cancelled", "waiting for an event was cancelled");
}
