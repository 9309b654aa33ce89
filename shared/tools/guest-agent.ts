import { z } from "zod";
import { defineTool } from "../tool.ts";
import { nodeName, vmid } from "./common.ts";

const target = { vmid, node: nodeName.optional().describe("Looked up when omitted.") };
const guestPath = z.string().min(1).max(4096).describe("Absolute path inside the guest, e.g. /etc/hostname or C:\\\\Windows\\\\win.ini.");

export const guestAgentInfo = defineTool({
  name: "guest_agent_info",
  title: "Ask a VM's QEMU guest agent",
  description:
    "Reads from inside a running VM through the QEMU guest agent, picked with action: ping (is the agent answering), " +
    "osinfo (OS name, version, kernel), network (interfaces with IP and MAC addresses: the way to learn a VM's IP), " +
    "fsinfo (mounted filesystems with size and usage), users (logged-in users), hostname, file_read (a file's content, up to 64 KiB). " +
    "Needs agent: 1 in the VM config, the VM running, and qemu-guest-agent installed and running in the guest; PVE's error says which is missing. " +
    "VMs only: containers have no guest agent.",
  scope: "proxmox:read",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  mutating: false,
  input: z.object({ ...target, action: z.enum(["ping", "osinfo", "network", "fsinfo", "users", "hostname", "file_read"]), file: guestPath.optional().describe("file_read: the file.") }),
  output: z.object({
    vmid: z.number().int(),
    node: z.string(),
    action: z.string(),
    ok: z.boolean().optional().describe("ping: the agent answered."),
    osinfo: z.record(z.string(), z.unknown()).optional(),
    interfaces: z
      .array(z.object({ name: z.string(), mac: z.string().optional(), addresses: z.array(z.string()).describe("address/prefix"), rx_bytes: z.number().optional(), tx_bytes: z.number().optional() }))
      .optional(),
    filesystems: z.array(z.object({ mountpoint: z.string(), type: z.string(), name: z.string().optional(), total_bytes: z.number().optional(), used_bytes: z.number().optional(), usage: z.number().optional() })).optional(),
    users: z.array(z.object({ user: z.string(), domain: z.string().optional(), login_time: z.number().optional() })).optional(),
    hostname: z.string().optional(),
    file: z.object({ path: z.string(), content: z.string(), bytes: z.number().int(), truncated: z.boolean() }).optional(),
  }),
});

export const guestAgentFileWrite = defineTool({
  name: "guest_agent_file_write",
  title: "Write a file inside a VM",
  description:
    "Writes content to a file inside a running VM through the QEMU guest agent, replacing the file if it exists (up to 60 KiB of text). " +
    "Set encode=false only when content is already base64. Needs the guest agent running in the VM.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  mutating: true,
  input: z.object({ ...target, file: guestPath, content: z.string().max(61_440), encode: z.boolean().default(true).describe("PVE base64-encodes the content (default true).") }),
  output: z.object({ vmid: z.number().int(), node: z.string(), file: z.string(), bytes: z.number().int() }),
});

export const guestAgentFs = defineTool({
  name: "guest_agent_fs",
  title: "Freeze, thaw or trim a VM's filesystems",
  description:
    "Runs a filesystem operation through the QEMU guest agent: freeze (flush and suspend writes on every guest filesystem, for a " +
    "consistent storage-level snapshot; applications in the guest block until thaw, so thaw right after), thaw (resume writes), " +
    "trim (fstrim: tell thin storage which blocks are unused, to reclaim space). Returns how many filesystems were affected.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({ ...target, action: z.enum(["freeze", "thaw", "trim"]) }),
  output: z.object({
    vmid: z.number().int(),
    node: z.string(),
    action: z.string(),
    filesystems: z.number().int().optional().describe("freeze/thaw: how many filesystems changed state."),
    frozen: z.boolean().optional().describe("The fsfreeze state afterwards."),
    trimmed: z.array(z.object({ path: z.string(), bytes: z.number().optional(), error: z.string().optional() })).optional(),
  }),
});
