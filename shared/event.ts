import { z } from "zod";

/**
 * The one event shape: what the agent's listeners observe on the host and the cluster, as MCP clients
 * read it (read/wait tools) and notifiers send it. Pure: the worker parses the same schema.
 */
export const eventSources = ["pve-task", "pve-cluster", "pve-notify", "syslog", "journal", "gotify", "websocket"] as const;
export const eventSourceSchema = z.enum(eventSources);
export type EventSource = z.infer<typeof eventSourceSchema>;

/** Ordered from least to most severe; `min_severity` filters compare positions in this list. */
export const severities = ["debug", "info", "notice", "warning", "error", "critical"] as const;
export const severitySchema = z.enum(severities);
export type Severity = z.infer<typeof severitySchema>;

export const eventSchema = z.object({
  /** Unique, time-sortable (26 Crockford base-32 characters, ULID layout); stable for an event PVE identifies itself (a task's UPID). */
  id: z.string().min(1).max(128),
  time: z.iso.datetime({ offset: true }),
  source: eventSourceSchema,
  node: z.string().min(1).optional(),
  severity: severitySchema,
  title: z.string(),
  message: z.string(),
  metadata: z.record(z.string(), z.unknown()),
});
export type Event = z.infer<typeof eventSchema>;

export const eventFilterSchema = z
  .object({
    /** Keep events at least this severe. */
    min_severity: severitySchema.optional(),
    /** Keep events from this PVE node (exact name). */
    node: z.string().min(1).optional(),
    /** Keep events from any of these sources. */
    source: z.array(eventSourceSchema).min(1).optional(),
    /** Keep events whose title or message contains any of these words (case-insensitive). */
    include: z.array(z.string().min(1)).min(1).optional(),
    /** Drop events whose title or message contains any of these words (case-insensitive). */
    exclude: z.array(z.string().min(1)).min(1).optional(),
    /** Keep events about this guest (`metadata.vmid`). */
    vmid: z.number().int().positive().optional(),
    /** Keep events of this kind (`metadata.type`: a PVE task type such as `qmstart`, a notification type such as `vzdump`, a cluster change such as `guest-stopped`). */
    type: z.string().min(1).optional(),
  })
  .strict();
export type EventFilter = z.infer<typeof eventFilterSchema>;

export function severityRank(severity: Severity): number {
  return severities.indexOf(severity);
}

/** Whether an event passes a filter; every stated condition must hold, an empty filter passes everything. */
export function matchesFilter(event: Event, filter: EventFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.min_severity && severityRank(event.severity) < severityRank(filter.min_severity)) return false;
  if (filter.node !== undefined && event.node !== filter.node) return false;
  if (filter.source && !filter.source.includes(event.source)) return false;
  if (filter.vmid !== undefined && Number(event.metadata.vmid) !== filter.vmid) return false;
  if (filter.type !== undefined && event.metadata.type !== filter.type) return false;
  const text = `${event.title}\n${event.message}`.toLowerCase();
  if (filter.include && !filter.include.some((word) => text.includes(word.toLowerCase()))) return false;
  if (filter.exclude && filter.exclude.some((word) => text.includes(word.toLowerCase()))) return false;
  return true;
}
