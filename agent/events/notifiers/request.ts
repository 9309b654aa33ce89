import type { Event } from "../../../shared/event.ts";

/** What a notifier sends for one event; the delivery loop does the sending and the retrying. */
export interface HttpRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** Formats an event for one notifier type. */
export type RequestBuilder<C> = (config: C, event: Event) => HttpRequest;

/**
 * A header value from event text: control characters (a CR/LF would be refused, or worse, split the
 * header) become spaces, and non-ASCII text is sent as an RFC 2047 encoded word, which ntfy decodes.
 */
export function headerValue(text: string): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return /^[\x20-\x7e]*$/.test(flat) ? flat : `=?UTF-8?B?${Buffer.from(flat, "utf8").toString("base64")}?=`;
}
