import { z } from "zod";
import { defineTool, pageInput, pageOutput } from "../tool.ts";
import { nodeName, upid, vmid } from "./common.ts";

/** Arguments of every tool that starts a PVE task (explained once, in the server instructions). */
export const taskWait = {
  wait: z.boolean().default(true),
  wait_seconds: z.number().int().min(1).max(50).default(45),
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
    "PVE tasks (UPIDs from start, backup, migrate, ...). list: recent tasks, newest first, paginated. " +
    "status: state and exit status, optionally waiting. log: `limit` lines from `start`; shows why a task failed.",
  scope: "proxmox:read",
  annotations: readOnly,
  mutating: false,
  input: z.object({
    action: z.enum(["list", "status", "log"]),
    upid: upid.optional().describe("status, log: the task."),
    node: nodeName.optional().describe("list: only this node."),
    vmid: vmid.optional().describe("list: only this guest."),
    type: z.string().optional().describe("list: worker type, e.g. vzdump."),
    errors: z.boolean().optional().describe("list: only failed."),
    running: z.boolean().optional().describe("list: only running."),
    since: z.number().int().optional().describe("list: started since, epoch seconds."),
    start: z.number().int().min(0).default(0).describe("log: first line, 0-based."),
    wait_seconds: z.number().int().min(0).max(50).default(0).describe("status: wait up to this for the end."),
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
    "DESTRUCTIVE: aborts a running task (SIGTERM, like the GUI's Stop), e.g. a backup blocking other work. An aborted " +
    "restore, clone or migration can leave a half-done guest to clean up. Returns the final status.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  mutating: true,
  input: z.object({ upid }),
  output: z.object({ upid: z.string(), node: z.string(), status: z.enum(["running", "stopped"]), exitstatus: z.string().optional() }),
});
