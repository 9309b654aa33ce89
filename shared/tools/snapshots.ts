import { z } from "zod";
import { defineTool } from "../tool.ts";
import { guestType, nodeName, vmid } from "./common.ts";
import { taskOutcome, taskWait } from "./tasks.ts";

const snapname = z
  .string()
  .regex(/^[a-zA-Z][a-zA-Z0-9_-]{1,39}$/, "a snapshot name: a letter, then letters, digits, - or _ (2 to 40 characters)")
  .describe("Snapshot name, e.g. before-upgrade.");
const where = { node: nodeName.optional(), type: guestType.optional() };
const output = z.object({ vmid: z.number().int(), node: z.string(), type: z.enum(["qemu", "lxc"]), snapname: z.string(), ...taskOutcome });

export const snapshotCreate = defineTool({
  name: "snapshot_create",
  title: "Take a snapshot of a guest",
  description:
    "Takes a snapshot of a VM or container, e.g. before an upgrade, so it can be rolled back with snapshot_rollback. vmstate=true " +
    "(VMs only) also saves the RAM, so a rollback resumes the running VM. Needs storage with snapshot support (LVM-thin, ZFS, Ceph, " +
    "qcow2). List snapshots with guest_info action=snapshots. A snapshot is not a backup: it lives on the same storage; use backup_run " +
    "for that.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    vmid,
    snapname,
    ...where,
    description: z.string().optional(),
    vmstate: z.boolean().optional().describe("VM: include the RAM state."),
    ...taskWait,
  }),
  output,
});

export const snapshotRollback = defineTool({
  name: "snapshot_rollback",
  title: "Roll a guest back to a snapshot",
  description:
    "DESTRUCTIVE: returns a VM or container to the state of a snapshot. Everything written since the snapshot (disks and config) " +
    "is lost; a running guest is stopped first. A snapshot with RAM state resumes running; otherwise start=true starts the " +
    "guest after the rollback.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  mutating: true,
  input: z.object({ vmid, snapname, ...where, start: z.boolean().optional().describe("Start the guest after the rollback."), ...taskWait }),
  output,
});

export const snapshotDelete = defineTool({
  name: "snapshot_delete",
  title: "Delete a guest snapshot",
  description:
    "DESTRUCTIVE: deletes a snapshot of a VM or container; the guest's current state is kept, but the snapshot can no longer be " +
    "rolled back to. force=true removes it from the config even if removing the disk snapshots fails.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  mutating: true,
  input: z.object({ vmid, snapname, ...where, force: z.boolean().optional(), ...taskWait }),
  output,
});
