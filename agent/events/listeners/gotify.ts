import { z } from "zod";
import type { Severity } from "../../../shared/event.ts";
import type { Logger } from "../../../shared/log.ts";
import type { BackoffOptions } from "../backoff.ts";
import type { Emit, RawEvent } from "../source.ts";
import { parseJson, validDate } from "../text.ts";
import { WebSocketListener } from "./websocket.ts";

export interface GotifyListenerOptions {
  /** http(s)://host[:port][/prefix] of the Gotify server. */
  url: string;
  /** A Gotify *client* token (reading messages needs a client, not an application, token). */
  client_token: string;
  reconnect: BackoffOptions;
  idle_timeout_ms: number;
  emit: Emit;
  log: Logger;
}

/** A message as Gotify's /stream pushes it. */
const gotifyMessage = z.looseObject({
  id: z.number(),
  appid: z.number().optional(),
  message: z.string(),
  title: z.string().optional(),
  priority: z.number().optional(),
  date: z.string().optional(),
  extras: z.record(z.string(), z.unknown()).optional(),
});

/** Gotify priorities run 0..10 (the Android app: 0 silent, 1-3 quiet, 4-7 sound, 8+ high). */
export function severityFromGotify(priority: number | undefined): Severity {
  const p = priority ?? 5;
  if (p >= 10) return "critical";
  if (p >= 8) return "error";
  if (p >= 6) return "warning";
  if (p >= 4) return "notice";
  if (p >= 1) return "info";
  return "debug";
}

export function gotifyEvent(text: string, server: string): RawEvent | undefined {
  const m = parseJson(gotifyMessage, text);
  if (!m) return undefined;
  const date = validDate(m.date);
  return {
    source: "gotify",
    ...(date ? { time: date } : {}),
    severity: severityFromGotify(m.priority),
    title: m.title || "Gotify message",
    message: m.message,
    metadata: { gotify_id: m.id, ...(m.appid !== undefined ? { appid: m.appid } : {}), ...(m.priority !== undefined ? { priority: m.priority } : {}), ...(m.extras ? { extras: m.extras } : {}) },
    // Gotify numbers messages per server, so a message re-sent after a reconnect keeps its event id.
    stableKey: `${server}\0${m.id}`,
  };
}

/** Gotify's stream URL: ws(s)://…/stream, authenticated with the client token in `X-Gotify-Key`. */
export function gotifyStreamUrl(server: string): string {
  const url = new URL(server);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/stream`;
  return url.toString();
}

export function createGotifyListener(opts: GotifyListenerOptions): WebSocketListener {
  return new WebSocketListener({
    name: "gotify",
    url: gotifyStreamUrl(opts.url),
    headers: { "X-Gotify-Key": opts.client_token },
    parse: (text) => gotifyEvent(text, opts.url),
    reconnect: opts.reconnect,
    idle_timeout_ms: opts.idle_timeout_ms,
    emit: opts.emit,
    log: opts.log,
  });
}
