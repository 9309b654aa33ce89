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
    "list: a node's storages with type, content types, shared flag, usage. content: volumes on one storage (paginated); " +
    "their volids feed guest_create, backup_restore, storage_delete_volume. status: one storage's usage and state.",
  scope: "proxmox:read",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  mutating: false,
  input: z.object({
    action: z.enum(["list", "content", "status"]),
    node: nodeName.optional().describe("Default: the agent's node."),
    storage: z.string().optional().describe("For content, status."),
    content: z.enum(["images", "rootdir", "iso", "vztmpl", "backup", "snippets", "import"]).optional().describe("list, content: filter by content type."),
    vmid: vmid.optional().describe("content: only this guest's volumes."),
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
    "Has PVE download a URL onto a storage: content iso (.iso/.img) or vztmpl (container template, .tar.zst/.xz/.gz). " +
    "With checksum and checksum_algorithm PVE verifies it. Won't overwrite an existing file. Returns the volid for guest_create.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  mutating: true,
  input: z.object({
    url: z.string().regex(/^https?:\/\//, "an http(s) URL"),
    filename: z.string().min(1).max(255).describe("e.g. debian-12-netinst.iso."),
    content: z.enum(["iso", "vztmpl"]),
    storage: z.string().default("local").describe("Must allow this content."),
    node: nodeName.optional().describe("Default: the agent's node."),
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
    "DESTRUCTIVE: permanently deletes a volume (volid): ISO, container template, backup archive or unused disk. " +
    "PVE refuses protected backups; disks attached to a guest are refused (use guest_disk).",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  mutating: true,
  input: z.object({ volume: z.string().regex(/^[a-zA-Z][a-zA-Z0-9._-]*:.+$/, "a volid such as local:iso/x.iso"), node: nodeName.optional().describe("Non-shared storage: its node."), ...taskWait }),
  output: z.object({ volume: z.string(), node: z.string(), ...taskOutcome }),
});
