import { z } from "zod";
import { defineTool } from "../tool.ts";
import { guestType, nodeName, vmid } from "./common.ts";
import { taskOutcome, taskWait } from "./tasks.ts";

const snapname = z
  .string()
  .regex(/^[a-zA-Z][a-zA-Z0-9_-]{1,39}$/, "a snapshot name: a letter, then letters, digits, - or _ (2 to 40 characters)")
  .describe("e.g. before-upgrade.");
const where = { node: nodeName.optional(), type: guestType.optional() };
const output = z.object({ vmid: z.number().int(), node: z.string(), type: z.enum(["qemu", "lxc"]), snapname: z.string(), ...taskOutcome });

export const snapshotCreate = defineTool({
  name: "snapshot_create",
  title: "Take a snapshot of a guest",
  description:
    "Snapshots a VM or container, e.g. before an upgrade. Needs snapshot-capable storage (LVM-thin, ZFS, Ceph, qcow2). " +
    "Not a backup: use backup_run. List with guest_info action=snapshots.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    vmid,
    snapname,
    ...where,
    description: z.string().optional(),
    vmstate: z.boolean().optional().describe("VMs: save RAM too."),
    ...taskWait,
  }),
  output,
});

export const snapshotRollback = defineTool({
  name: "snapshot_rollback",
  title: "Roll a guest back to a snapshot",
  description:
    "DESTRUCTIVE: returns a VM or container to a snapshot; everything written since (disks, config) is lost, a running " +
    "guest is stopped first. A RAM snapshot resumes running; else start=true starts it.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  mutating: true,
  input: z.object({ vmid, snapname, ...where, start: z.boolean().optional(), ...taskWait }),
  output,
});

export const snapshotDelete = defineTool({
  name: "snapshot_delete",
  title: "Delete a guest snapshot",
  description:
    "DESTRUCTIVE: deletes a guest snapshot (that rollback point is gone; the current state stays). " +
    "force=true drops it from the config even if deleting disk snapshots fails.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  mutating: true,
  input: z.object({ vmid, snapname, ...where, force: z.boolean().optional(), ...taskWait }),
  output,
});
