import { z } from "zod";
import { formatZodError } from "../../shared/errors.ts";
import { eventFilterSchema, severitySchema } from "../../shared/event.ts";
import { backoffSchema } from "./backoff.ts";
import { isLoopback } from "./listeners/webhook.ts";
import { notifierConfigSchema } from "./notifiers/index.ts";

const enabled = z.boolean().default(true);

const listenersSchema = z
  .object({
    /** Task starts, successes and failures from GET /cluster/tasks. */
    pve_tasks: z
      .object({
        enabled,
        interval_ms: z.number().int().min(500).max(600_000).default(5_000),
        emit_existing: z.boolean().default(false),
      })
      .strict()
      .optional(),
    /** Guest, node, quorum, HA and storage changes from GET /cluster/resources and /cluster/status. */
    pve_cluster: z
      .object({
        enabled,
        interval_ms: z.number().int().min(500).max(600_000).default(15_000),
        storage_threshold_pct: z.number().min(1).max(100).default(90),
        storage_rearm_pct: z.number().min(0).max(100).optional(),
      })
      .strict()
      .optional(),
    /** PVE 8.3+ notification webhooks (Datacenter → Notifications → Add → Webhook, URL http://127.0.0.1:<port><path>). */
    webhook: z
      .object({
        enabled,
        host: z.string().refine(isLoopback, "must be a loopback address (127.0.0.1, ::1 or localhost)").default("127.0.0.1"),
        port: z.number().int().min(0).max(65_535).default(8790),
        path: z.string().startsWith("/").default("/pve-webhook"),
        secret: z.string().min(16, "use at least 16 characters"),
        secret_header: z.string().regex(/^[A-Za-z0-9-]+$/).default("X-Webhook-Secret"),
        max_body_bytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(256 * 1024),
      })
      .strict()
      .optional(),
    /** Syslog over UDP (RFC 5424 and 3164), e.g. rsyslog forwarding `*.* @127.0.0.1:5514`. */
    syslog: z
      .object({
        enabled,
        address: z.union([z.ipv4(), z.ipv6()]).default("127.0.0.1"),
        port: z.number().int().min(0).max(65_535).default(5514),
      })
      .strict()
      .optional(),
    /** The systemd journal through `journalctl -f -o json`. */
    journal: z
      .object({
        enabled,
        units: z.array(z.string().min(1)).default([]),
        max_priority: z.number().int().min(0).max(7).optional(),
        command: z.string().min(1).default("journalctl"),
        cursor_file: z.string().optional(),
        restart: backoffSchema(1_000, 60_000),
      })
      .strict()
      .optional(),
    /** Messages pushed by a Gotify server (its /stream WebSocket, with a client token). */
    gotify: z
      .object({
        enabled,
        url: z.url({ protocol: /^https?$/ }),
        client_token: z.string().min(1),
        reconnect: backoffSchema(1_000, 60_000),
        idle_timeout_ms: z.number().int().min(0).default(120_000),
      })
      .strict()
      .optional(),
    /** Any WebSocket that pushes JSON or text messages. */
    websockets: z
      .array(
        z
          .object({
            enabled,
            name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/),
            url: z.url({ protocol: /^wss?$/ }),
            headers: z.record(z.string(), z.string()).default({}),
            fields: z
              .object({
                title: z.string().default("title"),
                message: z.string().default("message"),
                severity: z.string().default("severity"),
                node: z.string().default("node"),
                time: z.string().default("time"),
                id: z.string().optional(),
              })
              .strict()
              .prefault({}),
            severity_map: z.record(z.string(), severitySchema).default({}),
            reconnect: backoffSchema(1_000, 60_000),
            idle_timeout_ms: z.number().int().min(0).default(0),
          })
          .strict(),
      )
      .default([]),
  })
  .strict()
  .prefault({});

export const eventsConfigSchema = z
  .object({
    listeners: listenersSchema,
    /** Events not matching are dropped for everyone (ring, MCP clients, notifiers). */
    filter: eventFilterSchema.optional(),
    /** Same event (by dedup key) again within this window is dropped. */
    dedup_window_ms: z.number().int().min(0).max(86_400_000).default(60_000),
    /** Token bucket per key (source and node, or finer where a listener says so). */
    rate_limit: z
      .object({
        events: z.number().int().min(1).max(100_000).default(30),
        interval_ms: z.number().int().min(1).max(86_400_000).default(60_000),
      })
      .strict()
      .prefault({}),
    ring_size: z.number().int().min(10).max(100_000).default(1_000),
    /** Where notifiers keep undelivered events (one directory per notifier); required with notifiers. */
    spool_dir: z.string().min(1).optional(),
    notifiers: z.array(notifierConfigSchema).default([]),
    /** How often the guest cache behind enrichment is refreshed when the cluster listener (which refreshes it) is off. */
    enrichment_refresh_ms: z.number().int().min(1_000).default(60_000),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.notifiers.length && !cfg.spool_dir) ctx.addIssue({ code: "custom", path: ["spool_dir"], message: "required when notifiers are configured (undelivered events are kept there)" });
    const names = new Set<string>();
    cfg.notifiers.forEach((n, i) => {
      if (names.has(n.name)) ctx.addIssue({ code: "custom", path: ["notifiers", i, "name"], message: `duplicate notifier name ${n.name}` });
      names.add(n.name);
    });
    const sockets = new Set<string>();
    cfg.listeners.websockets.forEach((w, i) => {
      if (sockets.has(w.name)) ctx.addIssue({ code: "custom", path: ["listeners", "websockets", i, "name"], message: `duplicate websocket name ${w.name}` });
      sockets.add(w.name);
    });
  });

export type EventsConfig = z.infer<typeof eventsConfigSchema>;
export type EventsConfigInput = z.input<typeof eventsConfigSchema>;

/** Validates the events section once at start-up; the error names the bad key and what was expected. */
export function parseEventsConfig(raw: unknown, source = "events"): EventsConfig {
  const parsed = eventsConfigSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`invalid events config (${source}): ${formatZodError(parsed.error)}`);
  return parsed.data;
}
