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

export const backupInfo = defineTool({
  name: "backup_info",
  title: "Backups and backup jobs",
  description:
    "action=list: backup archives (vzdump) on one storage or on every storage with backup content, newest first, optionally for " +
    "one vmid; the volid is what backup_restore takes. action=jobs: the scheduled backup jobs of the cluster (schedule, storage, mode, " +
    "selected guests, next run). Non-shared storages (like 'local') are read on `node` (default: the node the agent talks to).",
  scope: "proxmox:read",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  mutating: false,
  input: z.object({
    action: z.enum(["list", "jobs"]),
    storage: z.string().optional().describe("list: only this storage."),
    vmid: vmid.optional().describe("list: only backups of this guest."),
    node: nodeName.optional(),
    ...pageInput,
  }),
  output: z.object({
    action: z.string(),
    backups: z.array(backupEntry).optional(),
    jobs: z
      .array(z.object({ id: z.string(), schedule: z.string().optional(), enabled: z.boolean(), storage: z.string().optional(), mode: z.string().optional(),
        compress: z.string().optional(), selection: z.string().describe("all, all except ..., pool ... or the vmid list"), next_run: z.number().int().optional(),
        comment: z.string().optional(), prune_backups: z.string().optional() }))
      .optional(),
    ...pageOutput,
  }),
});

export const backupRun = defineTool({
  name: "backup_run",
  title: "Back up guests now (vzdump)",
  description:
    "Backs up VMs and containers now with vzdump to a backup storage: vmid (a list) or all=true (every guest, or every guest of " +
    "`node`). mode snapshot (default: no downtime), suspend, or stop (cleanest, guest is shut down meanwhile). compress zstd " +
    "(default), gzip, lzo or 0. PVE runs one job per node, so guests on several nodes start several tasks; each is followed with " +
    "progress. Returns the tasks and the archives created. A guest that is locked (e.g. by another backup or a snapshot) makes " +
    "the job fail with PVE's message. List backups with backup_info.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    vmid: z.array(vmid).optional().describe("Guests to back up."),
    all: z.boolean().optional().describe("Every guest (of `node`, if given)."),
    node: nodeName.optional(),
    storage: z.string().optional().describe("Backup storage (PVE's default: 'local')."),
    mode: z.enum(["snapshot", "suspend", "stop"]).default("snapshot"),
    compress: z.enum(["zstd", "gzip", "lzo", "0"]).default("zstd"),
    notes_template: z.string().optional().describe("Notes for the archives, e.g. '{{guestname}} before upgrade'."),
    protected: z.boolean().optional().describe("Protect the new archives from pruning and deletion."),
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
    "Restores a vzdump archive (volid from backup_info) as guest vmid; the type (VM or container) follows the archive. To a new " +
    "vmid it creates a guest. DESTRUCTIVE with force=true: an existing stopped guest with that vmid is overwritten, its current " +
    "disks and config are lost (PVE refuses without force, and always for a running guest). storage puts the disks on another " +
    "storage; unique=true gives new MAC addresses (for a copy next to the original).",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  mutating: true,
  input: z.object({
    archive: z.string().min(3).describe("Backup volid, e.g. backup:backup/vzdump-qemu-100-2026_11_23-02_00_03.vma.zst."),
    vmid,
    node: nodeName.optional().describe("Node to restore on (default: the guest's node if it exists, else the node the agent talks to)."),
    storage: z.string().optional().describe("Storage for the restored disks (default: as in the backup)."),
    force: z.boolean().optional().describe("Overwrite an existing guest with this vmid."),
    unique: z.boolean().optional().describe("Assign new MAC addresses."),
    start: z.boolean().optional().describe("Start the guest afterwards."),
    pool: z.string().optional(),
    ...taskWait,
  }),
  output: z.object({ vmid: z.number().int(), node: z.string(), type: z.enum(["qemu", "lxc"]), archive: z.string(), upid, status: taskOutcome.status, exitstatus: taskOutcome.exitstatus }),
});
