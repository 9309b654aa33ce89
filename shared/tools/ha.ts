import { z } from "zod";
import { defineTool } from "../tool.ts";
import { nodeName, vmid } from "./common.ts";

const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true } as const;

export const haInfo = defineTool({
  name: "ha_info",
  title: "High availability and replication",
  description:
    "Read-only views of high availability and storage replication, picked with action: " +
    "status (quorum, the CRM master, each node's LRM and every HA service with its state; a service in 'fence' or 'error' needs attention), " +
    "resources (guests under HA with requested state and restart/relocate limits), " +
    "groups (HA groups; PVE 9 replaced them with node-affinity rules, which are listed too), " +
    "replication (replication jobs with the state of their last run, next run and error; filter by node or vmid). " +
    "Use when a guest moved or did not come back after a node failure, or to check that replicas are current.",
  scope: "proxmox:read",
  annotations: readOnly,
  mutating: false,
  input: z.object({
    action: z.enum(["status", "resources", "groups", "replication"]),
    node: nodeName.optional().describe("replication: only jobs whose guest runs on this node."),
    vmid: vmid.optional().describe("replication: only this guest's jobs."),
  }),
  output: z.object({
    action: z.string(),
    quorate: z.boolean().optional(),
    master: z.object({ node: z.string(), status: z.string() }).optional(),
    lrm: z.array(z.object({ node: z.string(), status: z.string() })).optional(),
    services: z.array(z.object({ sid: z.string(), node: z.string(), state: z.string(), request_state: z.string().optional(), status: z.string() })).optional(),
    resources: z
      .array(z.object({ sid: z.string(), type: z.string(), state: z.string(), max_restart: z.number().optional(), max_relocate: z.number().optional(), failback: z.boolean().optional(), group: z.string().optional(), comment: z.string().optional() }))
      .optional(),
    groups: z.array(z.record(z.string(), z.unknown())).optional(),
    rules: z.array(z.object({ rule: z.string(), type: z.string(), resources: z.string(), nodes: z.string().optional(), strict: z.boolean().optional(), disabled: z.boolean().optional(), comment: z.string().optional() })).optional(),
    replication: z
      .array(
        z.object({
          id: z.string(),
          guest: z.number().int(),
          source: z.string().optional(),
          target: z.string(),
          schedule: z.string().optional(),
          state: z.enum(["ok", "failing", "never_run"]),
          last_sync: z.number().optional().describe("epoch seconds of the last successful run"),
          next_sync: z.number().optional(),
          duration: z.number().optional().describe("seconds the last run took"),
          fail_count: z.number().int().optional(),
          error: z.string().optional(),
        }),
      )
      .optional(),
    note: z.string().optional(),
  }),
});
