import { z } from "zod";
import { eventFilterSchema, eventSchema } from "../event.ts";
import { defineTool } from "../tool.ts";

/**
 * Event tools are answered by the worker from the events the agent streamed to it, so a client can read
 * what happened even while the agent is offline (on Workers they are kept in the Durable Object).
 */
const filter = eventFilterSchema.shape;
const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true } as const;

export const eventsRead = defineTool({
  name: "events_read",
  title: "Read recent events",
  description:
    "Reads events the agent observed: PVE tasks, guest start/stop/migrate, node and quorum changes, storage filling, " +
    "notifications, syslog, journal. Filter by severity, node, source, vmid, type, include/exclude words; pass cursor as since next time.",
  scope: "proxmox:read",
  annotations: readOnly,
  mutating: false,
  input: z.object({
    ...filter,
    since: z.number().int().min(0).optional().describe("A previous cursor: only newer events."),
    limit: z.number().int().min(1).max(200).default(50),
  }),
  output: z.object({
    events: z.array(eventSchema),
    cursor: z.number().int().describe("Pass as `since` to continue after the last event returned."),
    missed: z.boolean().describe("True when older events after `since` were already dropped from the buffer."),
  }),
});

export const eventsWait = defineTool({
  name: "events_wait",
  title: "Wait for an event",
  description:
    "Waits up to timeout_seconds for an event matching the filter (e.g. vmid 105, type guest-started); returns it, " +
    "or matched=false. Use instead of polling a guest's status.",
  scope: "proxmox:read",
  annotations: readOnly,
  mutating: false,
  input: z.object({
    ...filter,
    since: z.number().int().min(0).optional().describe("Also match buffered events after this cursor."),
    timeout_seconds: z.number().int().min(1).max(50).default(45),
  }),
  output: z.object({ matched: z.boolean(), event: eventSchema.optional(), cursor: z.number().int(), waited_ms: z.number().int() }),
});

export const workerToolDefinitions = [eventsRead, eventsWait];
