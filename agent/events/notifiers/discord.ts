import { z } from "zod";
import type { Severity } from "../../../shared/event.ts";
import { clip } from "../text.ts";
import type { HttpRequest, RequestBuilder } from "./request.ts";

export const discordNotifierSchema = z.object({
  type: z.literal("discord"),
  /** The channel webhook URL, https://discord.com/api/webhooks/<id>/<token> (a secret: never logged). */
  url: z.url({ protocol: /^https?$/ }),
  username: z.string().min(1).max(80).default("Proxmox VE"),
});
export type DiscordNotifierConfig = z.infer<typeof discordNotifierSchema>;

/** Embed side-bar colours, grey to dark red. */
export const discordColours: Record<Severity, number> = {
  debug: 0x95a5a6,
  info: 0x3498db,
  notice: 0x1abc9c,
  warning: 0xf39c12,
  error: 0xe74c3c,
  critical: 0x992d22,
};

/** One embed per event, within Discord's limits (title 256, description 4096 characters). */
export const discordRequest: RequestBuilder<DiscordNotifierConfig> = (config, event): HttpRequest => {
  const fields = [
    { name: "Severity", value: event.severity, inline: true },
    { name: "Source", value: event.source, inline: true },
    ...(event.node ? [{ name: "Node", value: event.node, inline: true }] : []),
  ];
  const url = new URL(config.url);
  // Without wait=true Discord accepts the request before validating the message, hiding errors.
  url.searchParams.set("wait", "true");
  return {
    url: url.toString(),
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      username: config.username,
      // Event text is not ours: it must not ping @everyone or a role.
      allowed_mentions: { parse: [] },
      embeds: [
        {
          title: clip(event.title || "(no title)", 256),
          description: clip(event.message, 4096),
          color: discordColours[event.severity],
          timestamp: event.time,
          fields,
          footer: { text: event.id },
        },
      ],
    }),
  };
};
