import { join } from "node:path";
import type { Event, EventFilter } from "../../shared/event.ts";
import { createLogger, type Logger } from "../../shared/log.ts";
import { parseEventsConfig, type EventsConfig } from "./config.ts";
import { Delivery, type NotifierCounters } from "./delivery.ts";
import { GuestCache, enricher } from "./enrich.ts";
import { createGotifyListener } from "./listeners/gotify.ts";
import { JournalListener } from "./listeners/journal.ts";
import { PveClusterListener } from "./listeners/pve-cluster.ts";
import { PveTasksListener } from "./listeners/pve-tasks.ts";
import type { PveReader } from "./listeners/pve.ts";
import { SyslogListener } from "./listeners/syslog.ts";
import { WebSocketListener, mappedParser } from "./listeners/websocket.ts";
import { WebhookListener } from "./listeners/webhook.ts";
import { EventPipeline, type PipelineCounters, type RecentEvents, type WaitTick } from "./pipeline.ts";
import type { Emit, EventListener, ListenerCounters, RawEvent } from "./source.ts";
import { Spool } from "./spool.ts";

export { eventsConfigSchema, parseEventsConfig, type EventsConfig, type EventsConfigInput } from "./config.ts";
export type { PveReader } from "./listeners/pve.ts";
export type { RecentEvents, WaitTick } from "./pipeline.ts";
export type { RawEvent } from "./source.ts";

export interface EventServiceDeps {
  /** Needed by the PVE listeners and enrichment; the lead adapts PveClient to it. */
  pve?: PveReader;
  log?: Logger;
}

export interface EventServiceStatus {
  running: boolean;
  pipeline: {
    filter?: EventFilter;
    dedup_window_ms: number;
    rate_limit: EventsConfig["rate_limit"];
    ring_size: number;
    cursor: number;
    counters: PipelineCounters;
  };
  listeners: Array<{ name: string; running: boolean; error?: string; counters: ListenerCounters }>;
  notifiers: Array<{ name: string; type: string; filter?: EventFilter; counters: NotifierCounters }>;
  guest_cache: { guests: number; updated_at?: string };
}

interface ListenerSlot {
  listener: EventListener;
  running: boolean;
  error?: string;
}

/**
 * The agent's event side: listeners feed one pipeline; its events go to a ring read by MCP clients
 * (recent / waitFor), to `onEvent` subscribers (the tunnel) and to each notifier's spool.
 */
export class EventService {
  readonly config: EventsConfig;
  readonly guests = new GuestCache();
  private readonly pipeline: EventPipeline;
  private readonly slots: ListenerSlot[];
  private readonly deliveries: Delivery[];
  private readonly deps: EventServiceDeps;
  private readonly log: Logger;
  private refreshTimer?: NodeJS.Timeout;
  private running = false;

  /** Builds the service from a parsed config (see `fromConfig` for raw input). */
  constructor(config: EventsConfig, deps: EventServiceDeps = {}) {
    this.config = config;
    this.deps = deps;
    this.log = deps.log ?? createLogger("events");
    this.pipeline = new EventPipeline({
      filter: config.filter,
      dedupWindowMs: config.dedup_window_ms,
      rateLimit: config.rate_limit,
      ringSize: config.ring_size,
      enrich: enricher(this.guests),
      log: this.log,
    });
    this.deliveries = config.notifiers.map((n) => {
      const spool = new Spool({ dir: join(config.spool_dir as string, n.name), max_events: n.spool.max_events, max_bytes: n.spool.max_bytes, name: n.name, log: this.log });
      return new Delivery(n, spool, this.log);
    });
    this.pipeline.subscribe((event) => {
      for (const delivery of this.deliveries) delivery.offer(event);
    });
    this.slots = this.buildListeners((raw) => this.pipeline.ingest(raw)).map((listener) => ({ listener, running: false }));
  }

  /** Parses the raw `events` config section, then builds the service. */
  static fromConfig(raw: unknown, deps: EventServiceDeps = {}): EventService {
    return new EventService(parseEventsConfig(raw), deps);
  }

  /**
   * Starts the notifiers (sending what their spools kept from before) and then every listener. A listener
   * that cannot start (its port taken, say) is logged and reported in `status()`; the others still run.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    for (const delivery of this.deliveries) delivery.start();
    await Promise.all(this.slots.map((slot) => this.startListener(slot)));
    this.startGuestRefresh();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.refreshTimer);
    await Promise.all(this.slots.filter((s) => s.running).map(async (slot) => {
      await slot.listener.stop();
      slot.running = false;
    }));
    await Promise.all(this.deliveries.map((d) => d.stop()));
  }

  /** Feeds an event from elsewhere in the agent through the same pipeline. */
  publish(raw: RawEvent): Event | undefined {
    return this.pipeline.ingest(raw);
  }

  /** Matching events after cursor `since` (oldest first), or the newest `limit` without it. */
  recent(filter?: EventFilter, since?: number, limit?: number): RecentEvents {
    return this.pipeline.recent(filter, since, limit);
  }

  /** The first matching event from now (or after `since`), or null after `timeoutMs`; rejects with ToolError("cancelled") on abort. */
  waitFor(filter: EventFilter | undefined, timeoutMs: number, signal?: AbortSignal, onTick?: (tick: WaitTick) => void, since?: number): Promise<Event | null> {
    return this.pipeline.waitFor(filter, timeoutMs, signal, onTick, since);
  }

  /** Every delivered event, in order (the lead forwards them into the tunnel); returns the unsubscribe function. */
  onEvent(callback: (event: Event) => void): () => void {
    return this.pipeline.subscribe(callback);
  }

  /** A listener by name (`pve-tasks`, `syslog`, `websocket:<name>`, ...), e.g. to read its bound port. */
  listener<T extends EventListener = EventListener>(name: string): T | undefined {
    return this.slots.find((s) => s.listener.name === name)?.listener as T | undefined;
  }

  status(): EventServiceStatus {
    return {
      running: this.running,
      pipeline: {
        ...(this.config.filter ? { filter: this.config.filter } : {}),
        dedup_window_ms: this.config.dedup_window_ms,
        rate_limit: this.config.rate_limit,
        ring_size: this.config.ring_size,
        cursor: this.pipeline.cursor,
        counters: this.pipeline.counters(),
      },
      listeners: this.slots.map((s) => ({ name: s.listener.name, running: s.running, ...(s.error ? { error: s.error } : {}), counters: s.listener.counters() })),
      notifiers: this.deliveries.map((d) => ({ name: d.config.name, type: d.config.type, ...(d.config.filter ? { filter: d.config.filter } : {}), counters: d.counters() })),
      guest_cache: { guests: this.guests.size, ...(this.guests.updatedAt ? { updated_at: new Date(this.guests.updatedAt).toISOString() } : {}) },
    };
  }

  private async startListener(slot: ListenerSlot): Promise<void> {
    try {
      await slot.listener.start();
      slot.running = true;
      slot.error = undefined;
    } catch (err) {
      slot.error = (err as Error).message;
      this.log.error("event listener did not start", { listener: slot.listener.name, error: slot.error });
    }
  }

  /** Without the cluster listener (which refreshes the cache on every poll), the cache refreshes itself. */
  private startGuestRefresh(): void {
    const pve = this.deps.pve;
    if (!pve || this.config.listeners.pve_cluster?.enabled) return;
    const refresh = () => this.guests.refresh(pve, this.log).catch((err) => this.log.warn("cannot refresh the guest cache", { error: (err as Error).message }));
    void refresh();
    this.refreshTimer = setInterval(refresh, this.config.enrichment_refresh_ms);
    this.refreshTimer.unref();
  }

  private buildListeners(emit: Emit): EventListener[] {
    const { listeners: l } = this.config;
    const log = this.log;
    const out: EventListener[] = [];
    const pve = () => {
      if (!this.deps.pve) throw new Error("invalid events config: the PVE listeners need a PVE client (EventServiceDeps.pve)");
      return this.deps.pve;
    };
    if (l.pve_tasks?.enabled) out.push(new PveTasksListener({ reader: pve(), emit, log, interval_ms: l.pve_tasks.interval_ms, emit_existing: l.pve_tasks.emit_existing }));
    if (l.pve_cluster?.enabled) {
      const c = l.pve_cluster;
      out.push(new PveClusterListener({ reader: pve(), emit, log, interval_ms: c.interval_ms, storage_threshold_pct: c.storage_threshold_pct, storage_rearm_pct: c.storage_rearm_pct, onResources: (rows) => this.guests.update(rows) }));
    }
    if (l.webhook?.enabled) out.push(new WebhookListener({ ...l.webhook, emit, log }));
    if (l.syslog?.enabled) out.push(new SyslogListener({ address: l.syslog.address, port: l.syslog.port, emit, log }));
    if (l.journal?.enabled) out.push(new JournalListener({ ...l.journal, emit, log }));
    if (l.gotify?.enabled) out.push(createGotifyListener({ ...l.gotify, emit, log }));
    for (const ws of l.websockets) {
      if (!ws.enabled) continue;
      const name = `websocket:${ws.name}`;
      out.push(new WebSocketListener({ name, url: ws.url, headers: ws.headers, parse: mappedParser(name, ws.fields, ws.severity_map), reconnect: ws.reconnect, idle_timeout_ms: ws.idle_timeout_ms, emit, log }));
    }
    return out;
  }
}
