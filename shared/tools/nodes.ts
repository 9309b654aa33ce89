import { z } from "zod";
import { defineTool, pageInput } from "../tool.ts";
import { nodeName } from "./common.ts";
import { taskOutcome, taskWait } from "./tasks.ts";

const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true } as const;

export const nodeList = defineTool({
  name: "node_list",
  privileges: ["Sys.Audit"],
  title: "List nodes",
  description: "Lists cluster nodes: online state, CPU, memory, uptime.",
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
  description: "One node's CPU, memory, swap, root disk, load, uptime, kernel and PVE version.",
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

const time = z
  .string()
  .regex(/^(\d+|\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?)$/, "expected epoch seconds or an ISO 8601 time like 2025-11-23T08:00:00Z")
  .describe("Epoch seconds or ISO 8601 time (UTC unless it has an offset).");

export const nodeInfo = defineTool({
  name: "node_info",
  title: "Node views: services, logs, network, disks, updates, certificates, statistics",
  description:
    "Read-only views of one node, by action: services (PVE systemd units), journal, syslog (numbered lines, paginated), " +
    "network, disks (SMART health, SSD wear), smart (one disk's attributes), updates (pending apt; needs Sys.Modify), " +
    "certificates (TLS, expiry), rrd (usage history), version. journal and syslog need Sys.Syslog.",
  scope: "proxmox:read",
  annotations: readOnly,
  mutating: false,
  input: z.object({
    node: nodeName,
    action: z.enum(["services", "journal", "syslog", "network", "disks", "smart", "updates", "certificates", "rrd", "version"]),
    lines: z.number().int().min(1).max(1000).default(100).describe("journal: newest entries."),
    since: time.optional().describe("journal, syslog: start; epoch or ISO 8601."),
    until: time.optional().describe("journal, syslog: end time."),
    service: z.string().max(128).optional().describe("syslog: unit, e.g. pveproxy."),
    disk: z.string().regex(/^\/dev\/[a-zA-Z0-9/]+$/, "expected a device path like /dev/sda").optional().describe("smart: e.g. /dev/sda."),
    timeframe: z.enum(["hour", "day", "week", "month", "year", "decade"]).default("hour").describe("rrd: history span."),
    cf: z.enum(["AVERAGE", "MAX"]).default("AVERAGE").describe("rrd only."),
    ...pageInput,
  }),
  output: z.object({
    node: z.string(),
    action: z.string(),
    services: z.array(z.object({ service: z.string(), name: z.string(), state: z.string(), active_state: z.string().optional(), unit_state: z.string().optional(), desc: z.string().optional() })).optional(),
    lines: z.array(z.string()).optional().describe("journal and syslog lines, oldest first."),
    first_line: z.number().int().optional().describe("syslog: number of the first line returned."),
    truncated: z.boolean().optional().describe("Older lines were left out to keep the answer small; narrow since/until."),
    interfaces: z.array(z.record(z.string(), z.unknown())).optional(),
    disks: z
      .array(z.object({ devpath: z.string(), type: z.string().optional(), size: z.number(), model: z.string().optional(), serial: z.string().optional(), health: z.string().optional(), wearout: z.number().optional().describe("SSD life left, percent"), used: z.string().optional() }))
      .optional(),
    smart: z
      .object({ disk: z.string(), health: z.string(), type: z.string().optional(), attributes: z.array(z.record(z.string(), z.unknown())).optional(), text: z.string().optional(), failing: z.array(z.string()).optional() })
      .optional(),
    updates: z.array(z.object({ package: z.string(), old_version: z.string().optional(), version: z.string(), origin: z.string().optional(), title: z.string().optional() })).optional(),
    certificates: z
      .array(z.object({ filename: z.string(), subject: z.string().optional(), issuer: z.string().optional(), fingerprint: z.string().optional(), notbefore: z.number().optional(), notafter: z.number().optional(), expires_in_days: z.number().optional(), san: z.array(z.string()).optional() }))
      .optional(),
    rrd: z.array(z.record(z.string(), z.number())).optional().describe("One point per step: time, cpu, loadavg, memused, memtotal, netin, netout, ..."),
    version: z.object({ version: z.string(), release: z.string(), repoid: z.string() }).optional(),
    total: z.number().int().optional(),
    next_cursor: z.string().optional(),
  }),
});

/**
 * The units PVE manages through /nodes/{node}/services (PVE::API2::Services $service_name_list), as in the
 * PVE 9 API schema. PVE 8 lacks lxcfs, proxmox-firewall, pve-lxc-syscalld and qmeventd and refuses them.
 */
export const pveServices = [
  "chrony", "corosync", "cron", "ksmtuned", "lxcfs", "postfix", "proxmox-firewall", "pve-cluster", "pve-firewall", "pve-ha-crm", "pve-ha-lrm",
  "pve-lxc-syscalld", "pvedaemon", "pvefw-logger", "pveproxy", "pvescheduler", "pvestatd", "qmeventd", "spiceproxy", "sshd", "syslog",
  "systemd-journald", "systemd-timesyncd",
] as const;

export const nodeService = defineTool({
  name: "node_service",
  title: "Start, stop, restart or reload a node service",
  description:
    "Starts, stops, restarts or reloads a PVE systemd service on one node, e.g. restart pveproxy after a certificate change. " +
    "Stopping pve-cluster, corosync, pveproxy or pvedaemon is refused (cuts the cluster or the API); restart them. " +
    "States: node_info action=services.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({ node: nodeName, service: z.enum(pveServices), action: z.enum(["start", "stop", "restart", "reload"]), ...taskWait }),
  output: z.object({ node: z.string(), service: z.string(), action: z.string(), ...taskOutcome }),
});
