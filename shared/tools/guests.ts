import { z } from "zod";
import { defineTool, pageInput, pageOutput } from "../tool.ts";
import { guestType, nodeName, upid, vmid } from "./common.ts";

const guestSummary = z.object({
  vmid: z.number().int(),
  name: z.string().optional(),
  type: z.enum(["qemu", "lxc"]),
  node: z.string(),
  status: z.string().describe("running, stopped, paused, ..."),
  template: z.boolean(),
  cpu: z.number().optional(),
  maxcpu: z.number().optional(),
  mem: z.number().optional(),
  maxmem: z.number().optional(),
  uptime: z.number().optional(),
  tags: z.string().optional(),
});

export const guestList = defineTool({
  name: "guest_list",
  title: "List guests (VMs and containers)",
  description:
    "Lists virtual machines and containers across the cluster with node, status and usage. " +
    "Filter by node, type (qemu or lxc) and status (running, stopped).",
  scope: "proxmox:read",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  mutating: false,
  input: z.object({
    node: nodeName.optional(),
    type: guestType.optional(),
    status: z.string().optional().describe("Only guests in this state, e.g. running or stopped."),
    ...pageInput,
  }),
  output: z.object({ guests: z.array(guestSummary), ...pageOutput }),
});

export const guestStatus = defineTool({
  name: "guest_status",
  title: "Guest status",
  description:
    "Shows the current state of one VM or container: status, uptime, CPU, memory, disk and network counters, lock, HA state. " +
    "node and type are looked up when omitted.",
  scope: "proxmox:read",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  mutating: false,
  input: z.object({ vmid, node: nodeName.optional(), type: guestType.optional() }),
  output: z.object({
    vmid: z.number().int(),
    node: z.string(),
    type: z.enum(["qemu", "lxc"]),
    status: z.string(),
    name: z.string().optional(),
    uptime: z.number().optional(),
    cpu: z.number().optional(),
    mem: z.number().optional(),
    maxmem: z.number().optional(),
    lock: z.string().optional(),
    qmpstatus: z.string().optional(),
  }),
});

const powerOutput = z.object({
  vmid: z.number().int(),
  node: z.string(),
  action: z.string(),
  upid,
  status: z.enum(["running", "stopped"]).describe("Task state: running if the wait ended first."),
  exitstatus: z.string().optional().describe("OK, or the task's error text."),
});

const taskWait = {
  wait: z.boolean().default(true).describe("Follow the task until it ends (default true)."),
  wait_seconds: z.number().int().min(1).max(50).default(45).describe("Longest wait before answering 'still running' with the UPID."),
};

export const guestPower = defineTool({
  name: "guest_power",
  title: "Start, shut down or reboot a guest",
  description:
    "Changes a VM's or container's power state cleanly: start, shutdown (asks the guest OS), reboot, suspend, resume. " +
    "Returns the PVE task; with wait=true (default) it follows the task, reporting progress, and returns its exit status. " +
    "To cut power without asking the guest, use guest_stop.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    vmid,
    action: z.enum(["start", "shutdown", "reboot", "suspend", "resume"]),
    node: nodeName.optional(),
    type: guestType.optional(),
    ...taskWait,
  }),
  output: powerOutput,
});

export const guestStop = defineTool({
  name: "guest_stop",
  title: "Hard-stop or reset a guest",
  description:
    "DESTRUCTIVE: stops (or, for VMs, resets) a guest immediately, like pulling the plug; unsaved data in the guest is lost " +
    "and filesystems may need a check. Prefer guest_power with shutdown; use this when a guest does not respond.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  mutating: true,
  input: z.object({ vmid, action: z.enum(["stop", "reset"]).default("stop"), node: nodeName.optional(), type: guestType.optional(), ...taskWait }),
  output: powerOutput,
});
