import { z } from "zod";
import type { Severity } from "../../../shared/event.ts";
import type { HttpRequest, RequestBuilder } from "./request.ts";

export const gotifyNotifierSchema = z.object({
  type: z.literal("gotify"),
  /** http(s)://host[:port][/prefix] of the Gotify server. */
  url: z.url({ protocol: /^https?$/ }),
  /** A Gotify application token. */
  token: z.string().min(1),
});
export type GotifyNotifierConfig = z.infer<typeof gotifyNotifierSchema>;

/** Gotify priority per severity (0 shows no notification, 8+ is "high" on Android). */
export const gotifyPriorities: Record<Severity, number> = { debug: 0, info: 2, notice: 4, warning: 6, error: 8, critical: 10 };

/**
 * POST /message. The token goes in `X-Gotify-Key`, which Gotify accepts like `?token=`, so that it
 * never appears in a URL (proxy and access logs keep URLs).
 */
export const gotifyRequest: RequestBuilder<GotifyNotifierConfig> = (config, event): HttpRequest => {
  const url = new URL(config.url);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/message`;
  return {
    url: url.toString(),
    headers: { "Content-Type": "application/json", "X-Gotify-Key": config.token },
    body: JSON.stringify({
      title: event.title,
      message: event.message,
      priority: gotifyPriorities[event.severity],
      extras: {
        "client::display": { contentType: "text/plain" },
        "pve-mcp::event": { id: event.id, source: event.source, severity: event.severity, ...(event.node ? { node: event.node } : {}), time: event.time },
      },
    }),
  };
};
