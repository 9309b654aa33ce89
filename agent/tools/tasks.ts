import { ToolError } from "../../shared/errors.ts";
import type { ToolContext } from "./registry.ts";
import { parseReply, taskLogReply, taskStatusReply } from "./replies.ts";

export interface TaskOutcome {
  upid: string;
  status: "running" | "stopped";
  exitstatus?: string;
}

const POLL_MS = 250;
const PROGRESS_EVERY_MS = 5_000;

/** The node a UPID belongs to (UPID:node:pid:pstart:starttime:type:id:user:). */
export function upidNode(upid: string): string {
  const node = upid.split(":")[1];
  if (!node) throw new ToolError("invalid_arguments", `not a PVE task id: ${upid}`);
  return node;
}

/**
 * Follows a PVE task until it stops or `waitMs` passes, sending progress with the task's latest log
 * line. A task that ends in error is a tool error carrying the task's own error text.
 */
export async function followTask(ctx: ToolContext, upid: string, waitMs: number): Promise<TaskOutcome> {
  const node = upidNode(upid);
  const task = ctx.pve.api(ctx).nodes.$(node).tasks.$(upid);
  const until = Math.min(Date.now() + waitMs, ctx.deadline - 1_000);
  let lastProgress = 0;
  let polls = 0;
  for (;;) {
    const status = parseReply(taskStatusReply, await task.status.$get(), `task ${upid}`);
    if (status.status === "stopped") {
      if (status.exitstatus && status.exitstatus !== "OK" && !status.exitstatus.startsWith("WARNINGS")) {
        throw new ToolError("pve_error", `task ${upid} failed: ${status.exitstatus}`, { upid, exitstatus: status.exitstatus });
      }
      return { upid, status: "stopped", exitstatus: status.exitstatus };
    }
    if (Date.now() >= until) return { upid, status: "running" };
    polls++;
    if (Date.now() - lastProgress >= PROGRESS_EVERY_MS || polls === 1) {
      lastProgress = Date.now();
      ctx.progress(polls, undefined, await lastLogLine(ctx, node, upid));
    }
    await abortableSleep(POLL_MS, ctx.signal);
  }
}

async function lastLogLine(ctx: ToolContext, node: string, upid: string): Promise<string> {
  const lines = parseReply(taskLogReply, await ctx.pve.api(ctx).nodes.$(node).tasks.$(upid).log.$get({ start: 0, limit: 500 }), "task log");
  return lines.at(-1)?.t ?? "task running";
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new ToolError("cancelled", "call cancelled"));
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ToolError("cancelled", "call cancelled"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
