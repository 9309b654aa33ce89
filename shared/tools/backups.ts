import { z } from "zod";
import { defineTool, pageInput, pageOutput } from "../tool.ts";
import { nodeName, upid, vmid } from "./common.ts";
import { taskOutcome, taskWait } from "./tasks.ts";

const backupEntry = z.object({
  volid: z.string().describe("Archive volume, e.g. backup:backup/vzdump-qemu-100-2026_11_23-02_00_03.vma.zst: pass to backup_restore."),
  storage: z.string(),
  vmid: z.number().int().optional(),
  type: z.enum(["qemu", "lxc"]).optional(),
  ctime: z.number().int().optional().describe("Epoch seconds."),
  size: z.number().optional().describe("Bytes."),
  format: z.string().optional(),
  notes: z.string().optional(),
  protected: z.boolean().optional().describe("Protected backups are kept by pruning and cannot be deleted."),
});

/** A scheduled vzdump job as backup_info lists it and backup_job answers it. */
const jobEntry = z.object({
  id: z.string(),
  schedule: z.string().optional(),
  enabled: z.boolean(),
  storage: z.string().optional(),
  mode: z.string().optional(),
  compress: z.string().optional(),
  selection: z.string().describe("all, all except ..., pool ... or the vmid list"),
  node: z.string().optional(),
  next_run: z.number().int().optional(),
  comment: z.string().optional(),
  prune_backups: z.string().optional(),
  notes_template: z.string().optional(),
});

export const backupInfo = defineTool({
  name: "backup_info",
  title: "Backups and backup jobs",
  description:
    "list: vzdump archives on one or every backup storage, newest first (paginated); volids feed backup_restore. " +
    "jobs: scheduled backup jobs (schedule, storage, mode, guests, next run).",
  scope: "proxmox:read",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  mutating: false,
  input: z.object({
    action: z.enum(["list", "jobs"]),
    storage: z.string().optional().describe("list: only this storage."),
    vmid: vmid.optional().describe("list: only this guest."),
    node: nodeName.optional().describe("list: read on this node; default the agent's."),
    ...pageInput,
  }),
  output: z.object({
    action: z.string(),
    backups: z.array(backupEntry).optional(),
    jobs: z.array(jobEntry).optional(),
    ...pageOutput,
  }),
});

export const backupRun = defineTool({
  name: "backup_run",
  title: "Back up guests now (vzdump)",
  description:
    "Backs up guests now with vzdump: vmid list or all=true. One task per node, each followed; returns the tasks " +
    "and new archives. A locked guest (e.g. by another backup) fails the job.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    vmid: z.array(vmid).optional(),
    all: z.boolean().optional().describe("Every guest."),
    node: nodeName.optional().describe("all: only this node's guests."),
    storage: z.string().optional().describe("PVE default: local."),
    mode: z.enum(["snapshot", "suspend", "stop"]).default("snapshot").describe("snapshot: no downtime; stop: guest down meanwhile."),
    compress: z.enum(["zstd", "gzip", "lzo", "0"]).default("zstd"),
    notes_template: z.string().optional().describe("e.g. '{{guestname}} before upgrade'."),
    protected: z.boolean().optional().describe("Keep archives from pruning and deletion."),
    ...taskWait,
  }),
  output: z.object({
    status: z.enum(["running", "stopped"]).describe("stopped once every task has ended."),
    tasks: z.array(z.object({ node: z.string(), vmids: z.array(z.number().int()), ...taskOutcome })),
    backups: z.array(backupEntry).describe("Archives these tasks created (once they have ended)."),
  }),
});

export const backupRestore = defineTool({
  name: "backup_restore",
  title: "Restore a guest from a backup",
  description:
    "Restores a vzdump archive as guest vmid (VM or container per the archive); a new vmid creates a guest. " +
    "DESTRUCTIVE with force=true: overwrites an existing stopped guest, losing its disks and config (a running one is refused).",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  mutating: true,
  input: z.object({
    archive: z.string().min(3).describe("Backup volid from backup_info."),
    vmid,
    node: nodeName.optional().describe("Default: the guest's node, else the agent's."),
    storage: z.string().optional().describe("Disk storage; default as in the backup."),
    force: z.boolean().optional().describe("Overwrite an existing stopped guest."),
    unique: z.boolean().optional().describe("New MAC addresses (for a copy)."),
    start: z.boolean().optional(),
    pool: z.string().optional(),
    ...taskWait,
  }),
  output: z.object({ vmid: z.number().int(), node: z.string(), type: z.enum(["qemu", "lxc"]), archive: z.string(), upid, status: taskOutcome.status, exitstatus: taskOutcome.exitstatus }),
});

export const backupJob = defineTool({
  name: "backup_job",
  title: "Create, change, delete or run a backup job",
  description:
    "Manages scheduled vzdump jobs (listed by backup_info jobs): create, update (given settings only), delete (the schedule " +
    "only; archives stay), run (backs up the job's guests now with its settings, like the GUI's Run now; returns the tasks).",
  scope: "proxmox:write",
  privileges: ["Sys.Audit", "Sys.Modify", "VM.Backup"],
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    action: z.enum(["create", "update", "delete", "run"]),
    id: z.string().optional().describe("Job id; create: default generated."),
    schedule: z.string().optional().describe("systemd calendar event, e.g. 'sat 02:00'."),
    storage: z.string().optional(),
    vmid: z.array(vmid).optional(),
    all: z.boolean().optional(),
    exclude: z.array(vmid).optional().describe("all: except these."),
    pool: z.string().optional(),
    node: nodeName.optional().describe("Only guests on this node."),
    mode: z.enum(["snapshot", "suspend", "stop"]).optional(),
    compress: z.enum(["zstd", "gzip", "lzo", "0"]).optional(),
    enabled: z.boolean().optional(),
    comment: z.string().optional(),
    prune_backups: z.string().optional().describe("e.g. 'keep-last=7,keep-weekly=4'."),
    notes_template: z.string().optional().describe("e.g. '{{guestname}}'."),
    options: z.record(z.string(), z.coerce.string()).optional().describe("Other job properties, e.g. {mailto: 'a@b.c'}."),
    delete: z.array(z.string()).optional().describe("update: properties to remove."),
    ...taskWait,
  }),
  output: z.object({
    action: z.string(),
    ...jobEntry.shape,
    status: taskOutcome.status.optional(),
    tasks: z.array(z.object({ node: z.string(), ...taskOutcome })).optional(),
    note: z.string().optional(),
  }),
});
