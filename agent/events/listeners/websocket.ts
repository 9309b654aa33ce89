import WebSocket from "ws";
import { z } from "zod";
import { severities, type Severity } from "../../../shared/event.ts";
import type { Logger } from "../../../shared/log.ts";
import { backoffDelay, type BackoffOptions } from "../backoff.ts";
import type { Emit, EventListener, ListenerCounters, RawEvent } from "../source.ts";
import { parseJson, validDate } from "../text.ts";

const jsonObject = z.record(z.string(), z.unknown());

export interface WebSocketListenerOptions {
  name: string;
  url: string;
  headers?: Record<string, string>;
  /** Turns one text message into a raw event, or undefined to skip it. */
  parse: (text: string) => RawEvent | undefined;
  reconnect: BackoffOptions;
  /** Reconnect when nothing (message or ping) arrived for this long; 0 never. */
  idle_timeout_ms: number;
  emit: Emit;
  log: Logger;
}

/**
 * Subscribes to a WebSocket that pushes messages (Gotify's /stream, a home-automation bus, anything
 * that speaks JSON or text) and reconnects with backoff when the connection drops or goes silent.
 */
export class WebSocketListener implements EventListener {
  readonly name: string;
  private readonly opts: WebSocketListenerOptions;
  private ws?: WebSocket;
  private stopped = true;
  private attempt = 0;
  private retryTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private readonly stats: ListenerCounters = { received: 0, emitted: 0, errors: 0, malformed: 0, reconnects: 0, connected: 0 };

  constructor(opts: WebSocketListenerOptions) {
    this.name = opts.name;
    this.opts = opts;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.idleTimer);
    const ws = this.ws;
    this.ws = undefined;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once("close", () => resolve());
      ws.terminate();
    });
  }

  counters(): ListenerCounters {
    return { ...this.stats };
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.opts.url, { headers: this.opts.headers, handshakeTimeout: 10_000, maxPayload: 1024 * 1024 });
    this.ws = ws;
    ws.on("open", () => {
      this.attempt = 0;
      this.stats.connected = 1;
      this.touch(ws);
      this.opts.log.info("event socket connected", { listener: this.name });
    });
    ws.on("ping", () => this.touch(ws));
    ws.on("message", (data, isBinary) => {
      this.touch(ws);
      this.receive(isBinary ? "" : data.toString());
    });
    ws.on("unexpected-response", (_req, res) => {
      this.opts.log.error("event socket refused", { listener: this.name, status: res.statusCode });
      res.resume();
      ws.terminate();
    });
    ws.on("error", (err) => {
      this.stats.errors++;
      this.opts.log.warn("event socket error", { listener: this.name, error: err.message });
    });
    ws.on("close", () => {
      clearTimeout(this.idleTimer);
      this.stats.connected = 0;
      if (this.ws === ws) this.ws = undefined;
      if (this.stopped) return;
      this.retryTimer = setTimeout(() => {
        this.stats.reconnects++;
        this.connect();
      }, backoffDelay(this.attempt++, this.opts.reconnect));
    });
  }

  private touch(ws: WebSocket): void {
    if (!this.opts.idle_timeout_ms) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.opts.log.warn("event socket silent; reconnecting", { listener: this.name });
      ws.terminate();
    }, this.opts.idle_timeout_ms);
  }

  private receive(text: string): void {
    this.stats.received++;
    let event: RawEvent | undefined;
    try {
      event = text ? this.opts.parse(text) : undefined;
    } catch {
      event = undefined;
    }
    if (!event) {
      this.stats.malformed++;
      return;
    }
    this.stats.emitted++;
    this.opts.emit(event);
  }
}

/** Where the generic socket finds each event part in a JSON message (dotted paths). */
export interface FieldMapping {
  title: string;
  message: string;
  severity: string;
  node: string;
  time: string;
  /** A field naming the message uniquely (gives a stable event id); none by default. */
  id?: string;
}

/**
 * Maps a generic socket's message: a JSON object through the field mapping, anything else as text.
 * Severity values go through `severityMap` first, then are taken as severity names, else "info".
 */
export function mappedParser(name: string, fields: FieldMapping, severityMap: Record<string, Severity> = {}): (text: string) => RawEvent {
  return (text) => {
    const json = parseJson(jsonObject, text);
    if (!json) return { source: "websocket", severity: "info", title: name, message: text, metadata: { listener: name } };
    const pick = (path: string | undefined) => (path ? dig(json, path) : undefined);
    const title = pick(fields.title);
    const message = pick(fields.message);
    const id = pick(fields.id);
    const node = pick(fields.node);
    const time = pick(fields.time);
    const date = validDate(time);
    return {
      source: "websocket",
      ...(date ? { time: date } : {}),
      ...(typeof node === "string" && node ? { node } : {}),
      severity: toSeverity(pick(fields.severity), severityMap),
      title: stringOf(title) ?? name,
      message: stringOf(message) ?? text,
      metadata: { listener: name, payload: json },
      ...(id !== undefined && id !== null ? { stableKey: `${name}\0${String(id)}` } : {}),
    };
  };
}

function toSeverity(value: unknown, map: Record<string, Severity>): Severity {
  if (value === undefined || value === null) return "info";
  const key = String(value);
  if (map[key]) return map[key];
  const lower = key.toLowerCase();
  return (severities as readonly string[]).includes(lower) ? (lower as Severity) : "info";
}

function dig(value: Record<string, unknown>, path: string): unknown {
  let current: unknown = value;
  for (const key of path.split(".")) {
    if (!current || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function stringOf(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : JSON.stringify(value);
}
