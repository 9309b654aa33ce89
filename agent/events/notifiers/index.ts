import { z } from "zod";
import { eventFilterSchema, type Event } from "../../../shared/event.ts";
import { backoffSchema } from "../backoff.ts";
import { discordNotifierSchema, discordRequest } from "./discord.ts";
import { gotifyNotifierSchema, gotifyRequest } from "./gotify.ts";
import { ntfyNotifierSchema, ntfyRequest } from "./ntfy.ts";
import type { HttpRequest, RequestBuilder } from "./request.ts";
import { webhookNotifierSchema, webhookRequest } from "./webhook.ts";

/** Settings every notifier has, whatever its type. */
const common = {
  /** Names the notifier in status and logs, and its spool directory. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "letters, digits, - and _ (it names a directory)"),
  /** Only matching events are sent to this notifier. */
  filter: eventFilterSchema.optional(),
  timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
  retry: backoffSchema(1_000, 300_000),
  spool: z
    .object({
      max_events: z.number().int().min(1).max(1_000_000).default(10_000),
      max_bytes: z.number().int().min(1024).default(50 * 1024 * 1024),
    })
    .strict()
    .prefault({}),
};

export const notifierConfigSchema = z.discriminatedUnion("type", [
  webhookNotifierSchema.extend(common).strict(),
  discordNotifierSchema.extend(common).strict(),
  gotifyNotifierSchema.extend(common).strict(),
  ntfyNotifierSchema.extend(common).strict(),
]);
export type NotifierConfig = z.infer<typeof notifierConfigSchema>;
export type NotifierType = NotifierConfig["type"];

const builders: { [T in NotifierType]: RequestBuilder<Extract<NotifierConfig, { type: T }>> } = {
  webhook: webhookRequest,
  discord: discordRequest,
  gotify: gotifyRequest,
  ntfy: ntfyRequest,
};

/** The HTTP request a notifier sends for an event. */
export function buildRequest(config: NotifierConfig, event: Event): HttpRequest {
  return (builders[config.type] as RequestBuilder<NotifierConfig>)(config, event);
}
