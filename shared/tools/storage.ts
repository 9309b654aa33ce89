import { z } from "zod";
import { defineTool, pageInput, pageOutput } from "../tool.ts";
import { nodeName, vmid } from "./common.ts";
import { taskOutcome, taskWait } from "./tasks.ts";

const storageEntry = z.object({
  storage: z.string(),
  type: z.string().describe("dir, lvmthin, nfs, zfspool, rbd, pbs, ..."),
  content: z.array(z.string()).describe("What it may hold: images, rootdir, iso, vztmpl, backup, snippets, import."),
  shared: z.boolean(),
  active: z.boolean().optional(),
  enabled: z.boolean().optional(),
  total: z.number().optional().describe("Bytes."),
  used: z.number().optional(),
  avail: z.number().optional(),
  used_fraction: z.number().optional(),
});

export const storageInfo = defineTool({
  name: "storage_info",
  title: "Storages and their content",
  description:
    "action=list: the storages of a node with type, content types, shared flag and usage (total/used/avail bytes). " +
    "action=content: the volumes on one storage, filtered by content type (iso, vztmpl, backup, images, rootdir, ...) and vmid; " +
    "paginated; volids are what guest_create (ISOs, templates), backup_restore and storage_delete_volume take. action=status: one " +
    "storage's usage and state. node defaults to the node the agent talks to; shared storages look the same from every node.",
  scope: "proxmox:read",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  mutating: false,
  input: z.object({
    action: z.enum(["list", "content", "status"]),
    node: nodeName.optional(),
    storage: z.string().optional().describe("content, status: the storage."),
    content: z.enum(["images", "rootdir", "iso", "vztmpl", "backup", "snippets", "import"]).optional().describe("list: storages that can hold it; content: only volumes of it."),
    vmid: vmid.optional().describe("content: only volumes of this guest."),
    ...pageInput,
  }),
  output: z.object({
    action: z.string(),
    node: z.string(),
    storages: z.array(storageEntry).optional(),
    status: storageEntry.optional(),
    volumes: z
      .array(z.object({ volid: z.string(), content: z.string(), format: z.string().optional(), size: z.number().optional(), ctime: z.number().int().optional(),
        vmid: z.number().int().optional(), notes: z.string().optional(), protected: z.boolean().optional() }))
      .optional(),
    total: pageOutput.total.optional(),
    next_cursor: pageOutput.next_cursor,
  }),
});

export const storageDownload = defineTool({
  name: "storage_download",
  title: "Download an ISO or container template to a storage",
  description:
    "Has PVE download a file from a URL onto a storage (download-url): content iso (an installer or cloud image, .iso/.img) or " +
    "vztmpl (a container template, .tar.zst/.tar.xz/.tar.gz). Give checksum and checksum_algorithm to have it verified; a mismatch " +
    "fails with PVE's message. PVE refuses to overwrite an existing file. Follows the download with progress and returns the new " +
    "volid, usable in guest_create.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  mutating: true,
  input: z.object({
    url: z.string().regex(/^https?:\/\//, "an http(s) URL"),
    filename: z.string().min(1).max(255).describe("Target file name, e.g. debian-12.8.0-amd64-netinst.iso."),
    content: z.enum(["iso", "vztmpl"]),
    storage: z.string().default("local").describe("A file-based storage allowing that content (default local)."),
    node: nodeName.optional().describe("Node whose storage receives the file (default: the node the agent talks to)."),
    checksum: z.string().optional(),
    checksum_algorithm: z.enum(["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]).optional(),
    verify_certificates: z.boolean().optional().describe("Default true."),
    ...taskWait,
  }),
  output: z.object({ node: z.string(), storage: z.string(), volid: z.string(), ...taskOutcome }),
});

export const storageDeleteVolume = defineTool({
  name: "storage_delete_volume",
  title: "Delete a volume from a storage",
  description:
    "DESTRUCTIVE: deletes a volume for good: an ISO image, a container template, a backup archive, or an unused disk image. " +
    "Protected backups are refused by PVE. Disks still attached to a guest are refused here: detach or remove them with guest_disk. " +
    "volume is the volid (storage:...); on a non-shared storage give the node holding it.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  mutating: true,
  input: z.object({ volume: z.string().regex(/^[a-zA-Z][a-zA-Z0-9._-]*:.+$/, "a volid such as local:iso/x.iso"), node: nodeName.optional(), ...taskWait }),
  output: z.object({ volume: z.string(), node: z.string(), ...taskOutcome }),
});
