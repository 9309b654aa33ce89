import { z } from "zod";
import { defineTool, pageInput } from "../tool.ts";

const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true } as const;

export const clusterStatus = defineTool({
  name: "cluster_status",
  privileges: ["Sys.Audit"],
  title: "Cluster status and quorum",
  description:
    "Cluster name, quorum, and every node with online state and address. Use first to see the installation; " +
    "a standalone host shows one node and no cluster.",
  scope: "proxmox:read",
  annotations: readOnly,
  mutating: false,
  input: z.object({}),
  output: z.object({
    cluster: z
      .object({ name: z.string(), quorate: z.boolean(), nodes: z.number().int(), version: z.number().int().optional() })
      .optional()
      .describe("Absent on a standalone host."),
    nodes: z.array(
      z.object({
        name: z.string(),
        online: z.boolean(),
        ip: z.string().optional(),
        local: z.boolean().optional(),
        nodeid: z.number().int().optional(),
      }),
    ),
  }),
});

const resourceEntry = z.object({
  id: z.string().describe("qemu/100, node/pve1, storage/pve1/local, ..."),
  type: z.string().describe("qemu, lxc, node, storage, sdn, network, pool"),
  node: z.string().optional(),
  status: z.string().optional(),
  name: z.string().optional(),
  vmid: z.number().int().optional(),
  storage: z.string().optional(),
  pool: z.string().optional(),
  cpu: z.number().optional().describe("CPU usage, 0..1"),
  maxcpu: z.number().optional(),
  mem: z.number().optional().describe("bytes"),
  maxmem: z.number().optional(),
  disk: z.number().optional().describe("bytes"),
  maxdisk: z.number().optional(),
  usage: z.number().optional().describe("Fraction used: disk/maxdisk for storage, mem/maxmem for guests and nodes."),
  uptime: z.number().optional(),
  tags: z.string().optional(),
});

export const clusterInfo = defineTool({
  name: "cluster_info",
  title: "Cluster views: resources, log, next id, Ceph, SDN, pools",
  description:
    "Read-only cluster views, by action: resources (guests, nodes, storages, SDN with usage; paginated), " +
    "log (cluster log, newest first), nextid (next free vmid), ceph_status, sdn_status (zones per node), pools. " +
    "For quorum use cluster_status.",
  scope: "proxmox:read",
  annotations: readOnly,
  mutating: false,
  input: z.object({
    action: z.enum(["resources", "log", "nextid", "ceph_status", "sdn_status", "pools"]),
    type: z.enum(["vm", "storage", "node", "sdn"]).optional().describe("resources: only this kind."),
    max: z.number().int().min(1).max(500).default(50).describe("log: how many lines."),
    poolid: z.string().optional().describe("pools: one pool, with members."),
    ...pageInput,
  }),
  output: z.object({
    action: z.string(),
    resources: z.array(resourceEntry).optional(),
    log: z
      .array(z.object({ time: z.number().int(), node: z.string(), tag: z.string(), user: z.string().optional(), pri: z.number().int(), msg: z.string() }))
      .optional(),
    nextid: z.number().int().optional(),
    ceph: z.record(z.string(), z.unknown()).optional().describe("The Ceph status as PVE reports it (health, monmap, osdmap, pgmap)."),
    sdn: z.array(z.object({ zone: z.string(), node: z.string(), status: z.string() })).optional(),
    pools: z.array(z.object({ poolid: z.string(), comment: z.string().optional(), members: z.array(resourceEntry).optional() })).optional(),
    total: z.number().int().optional().describe("Items across all pages (resources, pools)."),
    next_cursor: z.string().optional(),
  }),
});
