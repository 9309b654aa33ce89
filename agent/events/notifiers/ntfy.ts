import { z } from "zod";
import type { Severity } from "../../../shared/event.ts";
import { headerValue, type HttpRequest, type RequestBuilder } from "./request.ts";

export const ntfyNotifierSchema = z.object({
  type: z.literal("ntfy"),
  /** The topic URL, e.g. https://ntfy.sh/my-pve-alerts. */
  url: z.url({ protocol: /^https?$/ }),
  /** Access token for a protected topic (sent as Bearer). */
  token: z.string().min(1).optional(),
});
export type NtfyNotifierConfig = z.infer<typeof ntfyNotifierSchema>;

/** ntfy priorities: 1 min, 2 low, 3 default, 4 high, 5 max (urgent). */
export const ntfyPriorities: Record<Severity, number> = { debug: 1, info: 2, notice: 3, warning: 4, error: 5, critical: 5 };
/** The first tag that is an emoji short code becomes the notification's icon. */
const ntfyEmoji: Record<Severity, string> = { debug: "mag", info: "information_source", notice: "bell", warning: "warning", error: "x", critical: "rotating_light" };

/** POST to the topic URL: the message as the body, title, priority and tags in headers. */
export const ntfyRequest: RequestBuilder<NtfyNotifierConfig> = (config, event): HttpRequest => {
  const tags = [ntfyEmoji[event.severity], event.source, ...(event.node ? [event.node] : [])];
  return {
    url: config.url,
    headers: {
      "Content-Type": "text/plain; charset=utf-8",
      Title: headerValue(event.title),
      Priority: String(ntfyPriorities[event.severity]),
      Tags: headerValue(tags.map((t) => t.replace(/,/g, " ")).join(",")),
      ...(config.token ? { Authorization: `Bearer ${config.token}` } : {}),
    },
    body: event.message || event.title,
  };
};
