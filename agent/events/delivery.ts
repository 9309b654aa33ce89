import { fetch } from "undici";
import { matchesFilter, type Event } from "../../shared/event.ts";
import type { Logger } from "../../shared/log.ts";
import { backoffDelay, sleep } from "./backoff.ts";
import { buildRequest, type NotifierConfig } from "./notifiers/index.ts";
import type { Spool } from "./spool.ts";

export interface NotifierCounters {
  /** Events offered to this notifier. */
  received: number;
  /** Offered events its filter did not match. */
  filtered: number;
  delivered: number;
  /** Attempts that failed and will be retried. */
  failed: number;
  /** Events the receiver refused for good (a 4xx other than 408/425/429): retrying cannot help. */
  rejected: number;
  /** Events waiting in the spool now. */
  spooled: number;
  /** Events dropped because the spool was full or could not be written. */
  dropped: number;
}

type Outcome = { kind: "ok" } | { kind: "retry"; reason: string } | { kind: "reject"; reason: string };

const RETRYABLE_STATUS = new Set([408, 425, 429]);

/**
 * One notifier's delivery: matching events are written to its spool first (durable before anything is
 * sent), then sent oldest first; a failure is retried with capped exponential backoff and jitter, and
 * an event leaves the spool only once the receiver accepted it. At-least-once: a crash between the
 * receiver's answer and the spool removal sends it again, under the same `X-PVE-MCP-Event-Id`.
 */
export class Delivery {
  readonly config: NotifierConfig;
  private readonly spool: Spool;
  private readonly log: Logger;
  private controller = new AbortController();
  private pumping?: Promise<void>;
  private running = false;
  private lost = 0;
  private readonly stats = { received: 0, filtered: 0, delivered: 0, failed: 0, rejected: 0 };

  constructor(config: NotifierConfig, spool: Spool, log: Logger) {
    this.config = config;
    this.spool = spool;
    this.log = log;
  }

  /** Starts sending what the spool holds, including events left from before a restart. */
  start(): void {
    this.running = true;
    this.controller = new AbortController();
    this.kick();
  }

  /** Stops sending; a request in flight is abandoned and its event stays spooled. */
  async stop(): Promise<void> {
    this.running = false;
    this.controller.abort();
    await this.pumping;
  }

  offer(event: Event): void {
    this.stats.received++;
    if (!matchesFilter(event, this.config.filter)) {
      this.stats.filtered++;
      return;
    }
    try {
      this.spool.append(event);
    } catch (err) {
      this.lost++;
      this.log.error("cannot spool an event; it is lost for this notifier", { notifier: this.config.name, event_id: event.id, error: (err as Error).message });
      return;
    }
    this.kick();
  }

  counters(): NotifierCounters {
    return { ...this.stats, spooled: this.spool.size, dropped: this.spool.dropped + this.lost };
  }

  private kick(): void {
    if (!this.running || this.pumping) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      // An event offered while the loop was finishing would otherwise wait for the next offer.
      if (this.spool.size > 0 && !this.controller.signal.aborted) this.kick();
    });
  }

  private async pump(): Promise<void> {
    const signal = this.controller.signal;
    let attempt = 0;
    while (!signal.aborted) {
      const entry = this.spool.peek();
      if (!entry) return;
      const outcome = await this.send(entry.event, signal);
      if (outcome.kind === "ok") {
        this.spool.remove(entry);
        this.stats.delivered++;
        attempt = 0;
        continue;
      }
      if (signal.aborted) return;
      if (outcome.kind === "reject") {
        this.spool.remove(entry);
        this.stats.rejected++;
        attempt = 0;
        this.log.error("notifier refused an event; dropping it", { notifier: this.config.name, event_id: entry.event.id, reason: outcome.reason });
        continue;
      }
      this.stats.failed++;
      if (attempt % 10 === 0) {
        this.log.warn("notifier delivery failed; will retry", { notifier: this.config.name, reason: outcome.reason, attempt: attempt + 1, spooled: this.spool.size });
      }
      await sleep(backoffDelay(attempt++, this.config.retry), signal);
    }
  }

  private async send(event: Event, stop: AbortSignal): Promise<Outcome> {
    let request;
    try {
      request = buildRequest(this.config, event);
    } catch (err) {
      return { kind: "reject", reason: `cannot format the event: ${(err as Error).message}` };
    }
    const controller = new AbortController();
    const abort = () => controller.abort();
    const timer = setTimeout(abort, this.config.timeout_ms);
    stop.addEventListener("abort", abort, { once: true });
    try {
      const res = await fetch(request.url, { method: "POST", headers: request.headers, body: request.body, signal: controller.signal });
      const text = await res.text().catch(() => "");
      if (res.ok) return { kind: "ok" };
      const reason = `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ""}`;
      return res.status >= 500 || RETRYABLE_STATUS.has(res.status) ? { kind: "retry", reason } : { kind: "reject", reason };
    } catch (err) {
      const e = err as Error & { cause?: Error & { code?: string } };
      // fetch throws a TypeError without a cause for a request it refuses to build (a bad URL or header).
      if (e.name === "TypeError" && !e.cause) return { kind: "reject", reason: e.message };
      if (controller.signal.aborted && !stop.aborted) return { kind: "retry", reason: `no answer within ${this.config.timeout_ms} ms` };
      return { kind: "retry", reason: e.cause?.code ?? e.cause?.message ?? e.message };
    } finally {
      clearTimeout(timer);
      stop.removeEventListener("abort", abort);
    }
  }
}
