import { z } from "zod";
import { defineTool, pageInput, pageOutput } from "../tool.ts";

/** Names as Proxmox Backup Server spells them. */
const pbsName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/).optional().describe("Agent config pbs[].name; omitted: the first.");
const store = z.string().min(3).max(32).regex(/^[A-Za-z0-9_][A-Za-z0-9._-]*$/, "not a PBS datastore name");
const backupType = z.enum(["vm", "ct", "host"]);
const backupId = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._-]*$/).describe("vmid for vm/ct, host name for host.");

const snapshot = z.object({
  "backup-type": z.string(),
  "backup-id": z.string(),
  "backup-time": z.number().int().describe("epoch seconds; identifies the snapshot"),
  time: z.string().describe("backup-time as ISO 8601"),
  size: z.number().optional(),
  protected: z.boolean(),
  verification: z.string().optional().describe("ok, failed, or absent when never verified"),
  owner: z.string().optional(),
  comment: z.string().optional(),
});

export const pbsInfo = defineTool({
  name: "pbs_info",
  title: "Proxmox Backup Server: datastores, backups, GC, tasks",
  description:
    "Reads a PBS configured in the agent: datastores (usage, full estimate, maintenance, last GC), " +
    "groups (count, last backup, owner), snapshots (size, protection, verify state), gc_status (last GC run), tasks (recent PBS tasks).",
  scope: "proxmox:read",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  mutating: false,
  input: z.object({
    action: z.enum(["datastores", "groups", "snapshots", "gc_status", "tasks"]),
    pbs: pbsName,
    store: store.optional().describe("groups, snapshots, gc_status: required; tasks: filter."),
    "backup-type": backupType.optional().describe("groups, snapshots: filter."),
    "backup-id": backupId.optional().describe("snapshots: filter; vmid or host name."),
    errors: z.boolean().default(false).describe("tasks: only failed ones."),
    ...pageInput,
  }),
  output: z.object({
    pbs: z.string(),
    action: z.string(),
    datastores: z
      .array(z.object({ store: z.string(), comment: z.string().optional(), maintenance: z.string().optional(), total: z.number().optional(), used: z.number().optional(), avail: z.number().optional(), usage: z.number().optional(), estimated_full: z.string().optional(), gc_last_run: z.string().optional(), gc_state: z.string().optional() }))
      .optional(),
    groups: z.array(z.object({ "backup-type": z.string(), "backup-id": z.string(), count: z.number().int(), last_backup: z.string(), owner: z.string().optional() })).optional(),
    snapshots: z.array(snapshot).optional(),
    gc: z.record(z.string(), z.unknown()).optional(),
    tasks: z.array(z.object({ upid: z.string(), type: z.string(), id: z.string().optional(), user: z.string(), start: z.string(), end: z.string().optional(), status: z.string() })).optional(),
    total: pageOutput.total.optional(),
    next_cursor: pageOutput.next_cursor,
  }),
});

export const pbsVerify = defineTool({
  name: "pbs_verify",
  title: "Verify backups on a Proxmox Backup Server",
  description:
    "Verifies PBS backups (re-reads chunks, checks checksums): one snapshot (backup-type, backup-id, backup-time), " +
    "one group (backup-type, backup-id) or the whole store. Failed snapshots are a result, not an error.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  mutating: true,
  input: z.object({
    pbs: pbsName,
    store,
    "backup-type": backupType.optional(),
    "backup-id": backupId.optional(),
    "backup-time": z.number().int().min(1).optional().describe("Epoch seconds: verify one snapshot."),
    "ignore-verified": z.boolean().default(true).describe("Skip snapshots already verified OK."),
    wait: z.boolean().default(true),
    wait_seconds: z.number().int().min(1).max(50).default(45),
  }),
  output: z.object({
    pbs: z.string(),
    store: z.string(),
    upid: z.string(),
    status: z.enum(["running", "stopped"]),
    exitstatus: z.string().optional(),
    ok: z.boolean().optional().describe("Every verified snapshot was intact (when stopped)."),
    failed: z.array(z.string()).optional().describe("Snapshots that failed verification, as type/id/time."),
  }),
});

export const pbsPrune = defineTool({
  name: "pbs_prune",
  title: "Prune a backup group on a Proxmox Backup Server",
  description:
    "DESTRUCTIVE unless dry-run: deletes a backup group's snapshots no keep-* retains (keep-last: newest N; others: newest of " +
    "each of the last N periods; protected stay). Needs a keep-*. Dry-run by default: review, then dry-run=false. Space frees after the next GC.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  mutating: true,
  input: z.object({
    pbs: pbsName,
    store,
    "backup-type": backupType,
    "backup-id": backupId,
    "keep-last": z.number().int().min(1).optional(),
    "keep-hourly": z.number().int().min(1).optional(),
    "keep-daily": z.number().int().min(1).optional(),
    "keep-weekly": z.number().int().min(1).optional(),
    "keep-monthly": z.number().int().min(1).optional(),
    "keep-yearly": z.number().int().min(1).optional(),
    "dry-run": z.boolean().default(true).describe("false: really delete."),
  }),
  output: z.object({
    pbs: z.string(),
    store: z.string(),
    group: z.string(),
    "dry-run": z.boolean(),
    keep: z.array(z.string()).describe("Snapshots kept (ISO times), newest first."),
    remove: z.array(z.string()).describe("Snapshots removed, or that would be removed in a dry run."),
    protected: z.array(z.string()),
  }),
});
