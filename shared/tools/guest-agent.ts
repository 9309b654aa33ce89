import { z } from "zod";
import { defineTool } from "../tool.ts";
import { nodeName, vmid } from "./common.ts";

const target = { vmid, node: nodeName.optional().describe("Looked up when omitted.") };
const guestPath = z.string().min(1).max(4096).describe("Absolute path in the guest, e.g. /etc/hosts.");

export const guestAgentInfo = defineTool({
  name: "guest_agent_info",
  title: "Ask a VM's QEMU guest agent",
  description:
    "Reads from a running VM via its QEMU guest agent: ping, osinfo, network (IPs, MACs: how to learn a VM's IP), " +
    "fsinfo (mounts, usage), users (logged in), hostname, file_read (up to 64 KiB). " +
    "Needs agent: 1 in the config and qemu-guest-agent running. VMs only.",
  scope: "proxmox:read",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  mutating: false,
  input: z.object({ ...target, action: z.enum(["ping", "osinfo", "network", "fsinfo", "users", "hostname", "file_read"]), file: guestPath.optional().describe("file_read: absolute path.") }),
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
    "Writes a file inside a running VM via the QEMU guest agent, replacing it if present (up to 60 KiB). Needs the guest agent running.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  mutating: true,
  input: z.object({ ...target, file: guestPath, content: z.string().max(61_440), encode: z.boolean().default(true).describe("false: content is already base64.") }),
  output: z.object({ vmid: z.number().int(), node: z.string(), file: z.string(), bytes: z.number().int() }),
});

export const guestAgentFs = defineTool({
  name: "guest_agent_fs",
  title: "Freeze, thaw or trim a VM's filesystems",
  description:
    "Via a VM's QEMU guest agent: freeze (suspend all writes for a consistent storage snapshot; guest apps block, " +
    "so thaw right after), thaw, trim (fstrim: reclaim thin storage).",
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
