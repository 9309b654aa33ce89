import { createHmac } from "node:crypto";
import { z } from "zod";
import type { HttpRequest, RequestBuilder } from "./request.ts";

export const webhookNotifierSchema = z.object({
  type: z.literal("webhook"),
  url: z.url({ protocol: /^https?$/ }),
  /** Shared secret for the HMAC signature; receivers (an n8n webhook trigger, a script) verify it. */
  secret: z.string().min(16, "use at least 16 characters").optional(),
  /** Extra headers, e.g. an Authorization the receiver also checks. */
  headers: z.record(z.string(), z.string()).default({}),
});
export type WebhookNotifierConfig = z.infer<typeof webhookNotifierSchema>;

/** `sha256=<hex HMAC-SHA256 of the raw body>`, the GitHub-style signature most webhook receivers know. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/**
 * POSTs the event itself as JSON. `X-PVE-MCP-Event-Id` lets the receiver drop a repeat (delivery is
 * at-least-once); `X-PVE-MCP-Signature` proves the body came from this agent.
 */
export const webhookRequest: RequestBuilder<WebhookNotifierConfig> = (config, event): HttpRequest => {
  const body = JSON.stringify(event);
  return {
    url: config.url,
    headers: {
      ...config.headers,
      "Content-Type": "application/json",
      "X-PVE-MCP-Event-Id": event.id,
      ...(config.secret ? { "X-PVE-MCP-Signature": signBody(config.secret, body) } : {}),
    },
    body,
  };
};
