import { z } from "zod";
import { defineTool } from "../tool.ts";
import { guestType, nodeName, vmid } from "./common.ts";

const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true } as const;

/** What pvescheduler did with a job last, or does now. */
export const replicationState = z.enum(["ok", "failing", "never_run", "running", "removing"]);

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
          state: replicationState,
          disabled: z.boolean().optional(),
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

export const haResource = defineTool({
  name: "ha_resource",
  title: "Manage a guest under high availability",
  description:
    "Keeps a guest running through node failures: add puts it under HA, update changes its requested state or limits, " +
    "remove ends HA management (the guest itself is untouched), migrate (live) or relocate (stop, move, start) ask the HA manager " +
    "to move it to node. Moves run asynchronously; follow them with ha_info status.",
  scope: "proxmox:write",
  privileges: ["Sys.Audit", "Sys.Console"],
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  mutating: true,
  input: z.object({
    action: z.enum(["add", "update", "remove", "migrate", "relocate"]),
    vmid,
    type: guestType.optional(),
    node: nodeName.optional().describe("migrate, relocate: target node."),
    state: z.enum(["started", "stopped", "disabled", "ignored"]).optional().describe("Requested state (add: default started)."),
    max_restart: z.number().int().min(0).optional().describe("Restarts on the same node (default 1)."),
    max_relocate: z.number().int().min(0).optional().describe("Moves to another node (default 1)."),
    group: z.string().optional().describe("HA group (PVE 8; PVE 9 uses rules)."),
    comment: z.string().max(4096).optional(),
    digest: z.string().max(64).optional().describe("update: digest of a previous answer."),
  }),
  output: z.object({
    action: z.string(),
    sid: z.string(),
    managed: z.boolean(),
    node: z.string().optional(),
    state: z.string().optional(),
    request_state: z.string().optional(),
    requested_node: z.string().optional(),
    max_restart: z.number().optional(),
    max_relocate: z.number().optional(),
    group: z.string().optional(),
    comment: z.string().optional(),
    digest: z.string().optional(),
    comigrated: z.array(z.string()).optional(),
    blocking: z.array(z.string()).optional(),
    note: z.string().optional(),
  }),
});

export const replicationJob = defineTool({
  name: "replication_job",
  title: "Manage a storage replication job",
  description:
    "Copies a guest's ZFS disks to another node on a schedule: create, update or delete a job, or run it now (waits for the run). " +
    "DESTRUCTIVE: delete also removes the replicated volumes on the target unless keep. Jobs and their state: ha_info action=replication.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  mutating: true,
  input: z.object({
    action: z.enum(["create", "update", "delete", "run"]),
    id: z.string().regex(/^[1-9][0-9]{2,8}-\d{1,9}$/, "expected <vmid>-<n>, e.g. 100-0").describe("<vmid>-<n>, e.g. 100-0."),
    target: nodeName.optional().describe("create: node receiving the copies."),
    schedule: z.string().max(128).optional().describe("Calendar event, e.g. */30 or 22:00."),
    rate: z.number().min(0).optional().describe("MB/s limit; update: 0 removes it."),
    comment: z.string().max(4096).optional(),
    disable: z.boolean().optional(),
    keep: z.boolean().optional().describe("delete: keep the replica on target."),
    force: z.boolean().optional().describe("delete: drop the job only, no cleanup."),
    wait_seconds: z.number().int().min(0).max(50).default(45).describe("run, delete: wait up to this for the run."),
  }),
  output: z.object({
    action: z.string(),
    id: z.string(),
    guest: z.number().int(),
    source: z.string().optional(),
    target: z.string(),
    schedule: z.string().optional(),
    rate: z.number().optional(),
    comment: z.string().optional(),
    disabled: z.boolean().optional(),
    state: z.enum([...replicationState.options, "scheduled", "removed"]).optional(),
    last_sync: z.number().optional(),
    next_sync: z.number().optional(),
    duration: z.number().optional(),
    fail_count: z.number().int().optional(),
    error: z.string().optional(),
    note: z.string().optional(),
  }),
});
