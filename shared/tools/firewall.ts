import { z } from "zod";
import { defineTool } from "../tool.ts";
import { nodeName, vmid } from "./common.ts";

/** Which firewall: the datacenter's, a node's (host.fw) or one guest's. */
const where = {
  level: z.enum(["cluster", "node", "guest"]).describe("cluster: datacenter-wide."),
  node: nodeName.optional().describe("level node: required; guest: found if omitted."),
  vmid: vmid.optional().describe("level guest: required."),
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
    "Reads a cluster, node or guest firewall: rules (ordered, with pos and the digest firewall_rule_delete needs) " +
    "or options (enable, policies, logging). Guest rules need firewall=1 on the NIC and enable in the guest's options.",
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
    "Adds a rule to a cluster, node or guest firewall (evaluated top first). Match by macro (SSH, HTTPS, ...) " +
    "or proto with dport/sport, and source/dest (IP, CIDR, range, alias or +ipset).",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    ...where,
    type: z.enum(["in", "out", "forward", "group"]).describe("group: insert a security group."),
    action: z.string().min(2).max(20).describe("ACCEPT, DROP, REJECT; type group: the group name."),
    macro: z.string().max(128).optional(),
    proto: z.string().optional().describe("e.g. tcp, udp; needed with dport/sport."),
    dport: z.string().optional().describe("e.g. 22, 80,443, 8000:8100 or a service name."),
    sport: z.string().optional(),
    source: z.string().max(512).optional(),
    dest: z.string().max(512).optional(),
    iface: z.string().optional().describe("e.g. net0 (guest), vmbr0 (node)."),
    log: z.enum(["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog"]).optional(),
    comment: z.string().optional(),
    enable: z.boolean().default(true),
    pos: z.number().int().min(0).optional().describe("Insert before this position; omitted: 0, the top."),
  }),
  output: z.object({ ...target, rule, digest: z.string() }),
});

export const firewallRuleDelete = defineTool({
  name: "firewall_rule_delete",
  title: "Delete a firewall rule",
  description:
    "DESTRUCTIVE: removes the rule at pos from a cluster, node or guest firewall; PVE refuses if the list changed since " +
    "firewall_info gave the digest. Deleting an ACCEPT can cut access (even your SSH/GUI); deleting a DROP opens it.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  mutating: true,
  input: z.object({ ...where, pos: z.number().int().min(0), digest: z.string().min(1).max(64).describe("From firewall_info rules.") }),
  output: z.object({ ...target, deleted: rule, remaining: z.number().int() }),
});
