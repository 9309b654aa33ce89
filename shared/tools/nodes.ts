import { z } from "zod";
import { defineTool } from "../tool.ts";
import { nodeName } from "./common.ts";

const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true } as const;

export const nodeList = defineTool({
  name: "node_list",
  privileges: ["Sys.Audit"],
  title: "List nodes",
  description: "Lists the cluster's nodes with online state, CPU and memory usage, and uptime.",
  scope: "proxmox:read",
  annotations: readOnly,
  mutating: false,
  input: z.object({}),
  output: z.object({
    nodes: z.array(
      z.object({
        node: z.string(),
        status: z.string().describe("online, offline or unknown"),
        cpu: z.number().optional().describe("CPU usage, 0..1"),
        maxcpu: z.number().optional(),
        mem: z.number().optional().describe("bytes used"),
        maxmem: z.number().optional(),
        uptime: z.number().optional().describe("seconds"),
      }),
    ),
  }),
});

export const nodeStatus = defineTool({
  name: "node_status",
  privileges: ["Sys.Audit"],
  title: "Node status",
  description:
    "Shows one node's CPU usage and model, memory, swap and root disk usage, load average, uptime, kernel and PVE versions.",
  scope: "proxmox:read",
  annotations: readOnly,
  mutating: false,
  input: z.object({ node: nodeName }),
  output: z.object({
    node: z.string(),
    cpu: z.number().describe("CPU usage, 0..1"),
    cpus: z.number().int().optional(),
    cpu_model: z.string().optional(),
    loadavg: z.array(z.string()),
    memory: z.object({ used: z.number(), total: z.number(), free: z.number() }),
    swap: z.object({ used: z.number(), total: z.number(), free: z.number() }).optional(),
    rootfs: z.object({ used: z.number(), total: z.number(), avail: z.number() }).optional(),
    uptime: z.number().describe("seconds"),
    kernel: z.string().optional(),
    pve_version: z.string().optional(),
  }),
});
