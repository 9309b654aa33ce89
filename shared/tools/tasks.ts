import { z } from "zod";
import { defineTool, pageInput, pageOutput } from "../tool.ts";
import { nodeName, upid, vmid } from "./common.ts";

/** Arguments of every tool that starts a PVE task. */
export const taskWait = {
  wait: z.boolean().default(true).describe("Follow the task until it ends, reporting progress (default true); false returns the UPID at once."),
  wait_seconds: z.number().int().min(1).max(50).default(45).describe("Longest wait before answering status 'running' with the UPID (default 45)."),
};

/** What such a tool says about its task. */
export const taskOutcome = {
  upid: upid.describe("The PVE task; follow it with task_info action status."),
  status: z.enum(["running", "stopped"]).describe("running when the wait ended before the task (or with wait=false)."),
  exitstatus: z.string().optional().describe("OK, WARNINGS: <n>, or the task's error (a failed task is returned as a tool error)."),
};

const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true } as const;

const taskEntry = z.object({
  upid: z.string(),
  node: z.string(),
  type: z.string().describe("Worker type: qmstart, vzdump, qmigrate, qmclone, download, ..."),
  id: z.string().describe("What it works on, usually the vmid."),
  user: z.string(),
  starttime: z.number().int().describe("Epoch seconds."),
  endtime: z.number().int().optional(),
  status: z.string().describe("running, OK, WARNINGS: <n>, or the error text."),
});

export const taskInfo = defineTool({
  name: "task_info",
  title: "PVE tasks: list, status, log",
  description:
    "Reads Proxmox tasks (the UPIDs that start, backup, migrate, clone, ... return). " +
    "action=list: recent tasks across the cluster or on one node, newest first; filter by vmid, type (e.g. vzdump, qmigrate), errors=true (failed only), " +
    "running=true (still running only), since (epoch seconds); paginated. " +
    "action=status: one task's state and exit status; with wait_seconds > 0 it waits (with progress) until the task ends or the time is up, " +
    "e.g. to follow a task an earlier call left running. A failed task is reported, not raised. " +
    "action=log: the task's log lines from `start` (0-based), `limit` lines at a time; use it to see why a task failed.",
  scope: "proxmox:read",
  annotations: readOnly,
  mutating: false,
  input: z.object({
    action: z.enum(["list", "status", "log"]),
    upid: upid.optional().describe("The task (status and log)."),
    node: nodeName.optional().describe("list: only this node (default: every online node)."),
    vmid: vmid.optional().describe("list: only tasks of this guest."),
    type: z.string().optional().describe("list: only this worker type, e.g. vzdump."),
    errors: z.boolean().optional().describe("list: only failed tasks."),
    running: z.boolean().optional().describe("list: only running tasks."),
    since: z.number().int().optional().describe("list: only tasks started at or after this epoch second."),
    start: z.number().int().min(0).default(0).describe("log: first line (0-based)."),
    wait_seconds: z.number().int().min(0).max(50).default(0).describe("status: wait up to this long for the task to end (default 0: answer at once)."),
    ...pageInput,
  }),
  output: z.object({
    action: z.string(),
    tasks: z.array(taskEntry).optional(),
    task: z
      .object({ upid: z.string(), node: z.string(), type: z.string(), id: z.string(), user: z.string(), starttime: z.number().int(), status: z.enum(["running", "stopped"]),
        exitstatus: z.string().optional() })
      .optional(),
    lines: z.array(z.object({ n: z.number().int(), t: z.string() })).optional().describe("log: the lines, numbered from 1 as PVE does."),
    next_start: z.number().int().optional().describe("log: pass as start to read on; absent at the end of the log."),
    total: z.number().int().optional(),
    next_cursor: pageOutput.next_cursor,
  }),
});

export const taskStop = defineTool({
  name: "task_stop",
  title: "Stop a running PVE task",
  description:
    "DESTRUCTIVE: aborts a running task (like the Stop button in the task viewer): the worker gets SIGTERM and ends with 'received interrupt'. " +
    "An aborted restore, clone or migration can leave a half-done guest behind that needs cleaning up. Use it for a backup or download " +
    "that blocks other work. Returns the task's final status.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  mutating: true,
  input: z.object({ upid }),
  output: z.object({ upid: z.string(), node: z.string(), status: z.enum(["running", "stopped"]), exitstatus: z.string().optional() }),
});
