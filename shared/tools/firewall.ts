import { z } from "zod";
import { defineTool } from "../tool.ts";
import { nodeName, vmid } from "./common.ts";

/** Which firewall: the datacenter's, a node's (host.fw) or one guest's. */
const where = {
  level: z.enum(["cluster", "node", "guest"]).describe("cluster (datacenter rules for every node), node (host firewall) or guest."),
  node: nodeName.optional().describe("level node: the node. level guest: looked up when omitted."),
  vmid: vmid.optional().describe("level guest: the VM or container."),
};

const rule = z.object({
  pos: z.number().int(),
  type: z.string().describe("in, out, forward, or group (a security group)"),
  action: z.string().describe("ACCEPT, DROP, REJECT, or the security group's name"),
  enable: z.boolean(),
  macro: z.string().optional(),
  proto: z.string().optional(),
  source: z.string().optional(),
  dest: z.string().optional(),
  dport: z.string().optional(),
  sport: z.string().optional(),
  iface: z.string().optional(),
  log: z.string().optional(),
  comment: z.string().optional(),
});

const target = { level: z.string(), node: z.string().optional(), vmid: z.number().int().optional() };

export const firewallInfo = defineTool({
  name: "firewall_info",
  title: "Firewall rules and options",
  description:
    "Reads the PVE firewall at one level: action rules (the ordered rule list, with each rule's pos and the list's digest, " +
    "which firewall_rule_delete needs) or options (enable, default policies, logging, filters). " +
    "Rules are evaluated top to bottom; guest rules apply only when the guest's NIC has firewall=1 and the guest's options enable it.",
  scope: "proxmox:read",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  mutating: false,
  input: z.object({ action: z.enum(["rules", "options"]), ...where }),
  output: z.object({
    ...target,
    action: z.string(),
    rules: z.array(rule).optional(),
    digest: z.string().optional().describe("Identifies this version of the rule list (or options); pass it to firewall_rule_delete."),
    options: z.record(z.string(), z.unknown()).optional(),
  }),
});

export const firewallRuleAdd = defineTool({
  name: "firewall_rule_add",
  title: "Add a firewall rule",
  description:
    "Adds one rule to the cluster, node or guest firewall, at position pos (default 0, the top: evaluated first). " +
    "Give action ACCEPT, DROP or REJECT with type in or out, and what it matches: macro (SSH, HTTPS, ...) or proto with dport/sport, " +
    "source and dest (IP, CIDR, range, alias or +ipset). For type group, action names a security group. " +
    "The rule is enabled unless enable=false. Returns the rule as stored and the list's new digest.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    ...where,
    type: z.enum(["in", "out", "forward", "group"]).describe("Direction, or group to insert a security group."),
    action: z.string().min(2).max(20).describe("ACCEPT, DROP, REJECT, or a security group name for type group."),
    macro: z.string().max(128).optional(),
    proto: z.string().optional().describe("tcp, udp, icmp, ... or a protocol number; needed with dport/sport."),
    dport: z.string().optional().describe("Destination port(s): 22, 80,443, 8000:8100 or a service name."),
    sport: z.string().optional(),
    source: z.string().max(512).optional(),
    dest: z.string().max(512).optional(),
    iface: z.string().optional().describe("Network interface, e.g. net0 for a guest, vmbr0 for a node."),
    log: z.enum(["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog"]).optional(),
    comment: z.string().optional(),
    enable: z.boolean().default(true),
    pos: z.number().int().min(0).optional().describe("Insert before the rule at this position (0 = top)."),
  }),
  output: z.object({ ...target, rule, digest: z.string() }),
});

export const firewallRuleDelete = defineTool({
  name: "firewall_rule_delete",
  title: "Delete a firewall rule",
  description:
    "DESTRUCTIVE: removes the rule at position pos from the cluster, node or guest firewall. Read the list with firewall_info first " +
    "and pass its digest: PVE refuses the deletion if the list changed since (another rule would be at that position). " +
    "Deleting an ACCEPT rule can cut access (including your own SSH or web GUI); deleting a DROP rule opens access. Returns the deleted rule.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  mutating: true,
  input: z.object({ ...where, pos: z.number().int().min(0), digest: z.string().min(1).max(64).describe("The digest firewall_info returned with the rules.") }),
  output: z.object({ ...target, deleted: rule, remaining: z.number().int() }),
});
