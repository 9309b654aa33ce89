import { z } from "zod";
import { ToolError } from "../../shared/errors.ts";
import { paginate } from "../../shared/tool.ts";
import { taskInfo, taskStop } from "../../shared/tools/tasks.ts";
import { implement, type ToolContext } from "./registry.ts";
import { nodesReply, parseReply, taskLogReply, taskStatusReply, upidReply } from "./replies.ts";
import { num } from "./values.ts";

export interface TaskOutcome {
  upid: string;
  status: "running" | "stopped";
  exitstatus?: string;
}

export interface WaitOptions {
  wait: boolean;
  wait_seconds: number;
}

const POLL_MS = 250;
const LOG_EVERY_MS = 500;
const PROGRESS_EVERY_MS = 5_000;
/** Log lines kept with a failed task's error: PVE puts the details there, the exit status is often generic. */
const ERROR_LINES = 3;

/** The node a UPID belongs to (UPID:node:pid:pstart:starttime:type:id:user:). */
export function upidNode(upid: string): string {
  const node = upid.split(":")[1];
  if (!node) throw new ToolError("invalid_arguments", `not a PVE task id: ${upid}`);
  return node;
}

const failed = (exitstatus: string | undefined): boolean => Boolean(exitstatus && exitstatus !== "OK" && !exitstatus.startsWith("WARNINGS"));

/** Reads a task's log from line `from` (0-based) on; PVE numbers lines from 1. */
async function readLog(ctx: ToolContext, upid: string, from: number, limit = 500): Promise<Array<{ n: number; t: string }>> {
  const lines = parseReply(taskLogReply, await ctx.pve.api(ctx).nodes.$(upidNode(upid)).tasks.$(upid).log.$get({ start: from, limit }), "task log");
  // An empty log reads as one "no content" line (an ExtJS workaround in PVE).
  return lines.length === 1 && lines[0].t === "no content" && from === 0 ? [] : lines;
}

/**
 * The task's error text, with the log lines that explain it when the text alone does not: its ERROR
 * lines, or else its last lines (a failed systemctl or command prints its reason there, plainly).
 */
async function failure(ctx: ToolContext, upid: string, exitstatus: string): Promise<ToolError> {
  const lines = (await readLog(ctx, upid, 0, 5000).catch(() => []))
    .map((l) => l.t.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /, "").trim())
    .filter((t) => t && t !== `TASK ERROR: ${exitstatus}` && t !== `ERROR: ${exitstatus}` && t !== exitstatus);
  const errors = lines.filter((t) => /\bERROR:/.test(t));
  const explaining = (errors.length ? errors : lines).slice(-ERROR_LINES);
  const detail = explaining.length ? ` (log: ${explaining.join(" | ")})` : "";
  return new ToolError("pve_error", `task ${upid} failed: ${exitstatus}${detail}`, { upid, exitstatus });
}

/**
 * Follows a PVE task until it stops or `waitMs` passes, sending progress with each new latest log
 * line (and at least every few seconds). A task that ends in error is a tool error carrying the
 * task's own error text; with `raise: false` it is returned instead.
 */
export async function followTask(ctx: ToolContext, upid: string, waitMs: number, raise = true): Promise<TaskOutcome> {
  const task = ctx.pve.api(ctx).nodes.$(upidNode(upid)).tasks.$(upid);
  const until = Math.min(Date.now() + waitMs, ctx.deadline - 1_000);
  let seen = 0;
  let latest = "task running";
  let lastLogRead = 0;
  let lastProgress = 0;
  let sent = "";
  let polls = 0;
  for (;;) {
    const status = parseReply(taskStatusReply, await task.status.$get(), `task ${upid}`);
    if (status.status === "stopped") {
      if (raise && failed(status.exitstatus)) throw await failure(ctx, upid, status.exitstatus!);
      return { upid, status: "stopped", exitstatus: status.exitstatus };
    }
    if (Date.now() >= until) return { upid, status: "running" };
    polls++;
    if (Date.now() - lastLogRead >= LOG_EVERY_MS) {
      lastLogRead = Date.now();
      const lines = await readLog(ctx, upid, seen);
      seen += lines.length;
      latest = lines.at(-1)?.t ?? latest;
    }
    if (latest !== sent || Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
      lastProgress = Date.now();
      sent = latest;
      ctx.progress(polls, undefined, latest);
    }
    await abortableSleep(POLL_MS, ctx.signal);
  }
}

/** Sends a request that starts a PVE task, journals its UPID, and follows it when asked. */
export async function startTask(ctx: ToolContext, method: string, path: string, params: Record<string, unknown>, opts: WaitOptions): Promise<TaskOutcome> {
  const upid = parseReply(upidReply, await ctx.pve.request(method, path, params, ctx), `${method} ${path}`);
  ctx.note({ upid });
  return opts.wait ? followTask(ctx, upid, opts.wait_seconds * 1000) : { upid, status: "running" };
}

/** Waits `ms`, or fails as cancelled when the call is. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
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

const taskListReply = z.array(
  z.looseObject({ upid: z.string(), node: z.string(), type: z.string(), id: z.string().default(""), user: z.string(), tokenid: z.string().optional(),
    starttime: num, endtime: num.optional(), status: z.string().optional() }),
);
const fullStatusReply = taskStatusReply.extend({ node: z.string(), type: z.string(), id: z.string().default(""), user: z.string(), tokenid: z.string().optional(), starttime: num });

/** A token's task shows user and token apart; the UPID names them together. */
const owner = (t: { user: string; tokenid?: string }): string => (t.tokenid ? `${t.user}!${t.tokenid}` : t.user);

async function onlineNodes(ctx: ToolContext): Promise<string[]> {
  const rows = parseReply(nodesReply, await ctx.pve.api(ctx).nodes.$get(), "GET /nodes");
  return rows.filter((n) => n.status === "online").map((n) => n.node).sort();
}

export const taskTools = [
  implement(taskInfo, async (args, ctx) => {
    const { action } = args;
    if (action === "list") {
      const nodes = args.node ? [args.node] : await onlineNodes(ctx);
      const query: Record<string, unknown> = { limit: 500, source: args.running ? "active" : "all" };
      if (args.vmid !== undefined) query.vmid = args.vmid;
      if (args.type) query.typefilter = args.type;
      if (args.errors) query.errors = 1;
      if (args.since !== undefined) query.since = args.since;
      const rows = (
        await Promise.all(nodes.map(async (n) => parseReply(taskListReply, await ctx.pve.request("GET", `/nodes/${n}/tasks`, query, ctx), `GET /nodes/${n}/tasks`)))
      ).flat();
      const tasks = rows
        .map((t) => ({ upid: t.upid, node: t.node, type: t.type, id: t.id, user: owner(t), starttime: t.starttime, endtime: t.endtime,
          status: !t.status || t.status === "RUNNING" ? "running" : t.status }))
        .sort((a, b) => b.starttime - a.starttime || (a.upid < b.upid ? 1 : -1));
      const page = paginate(tasks, args.limit, args.cursor);
      return { action, tasks: page.items, total: page.total, next_cursor: page.next_cursor };
    }
    if (!args.upid) throw new ToolError("invalid_arguments", `task_info action=${action} needs upid`);
    const upid = args.upid;
    const node = upidNode(upid);
    if (action === "log") {
      const lines = await readLog(ctx, upid, args.start, args.limit);
      return { action, lines, ...(lines.length === args.limit ? { next_start: args.start + lines.length } : {}) };
    }
    if (args.wait_seconds > 0) await followTask(ctx, upid, args.wait_seconds * 1000, false);
    const s = parseReply(fullStatusReply, await ctx.pve.request("GET", `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`, {}, ctx), `task ${upid}`);
    return { action, task: { upid, node: s.node, type: s.type, id: s.id, user: owner(s), starttime: s.starttime, status: s.status, exitstatus: s.exitstatus } };
  }),
  implement(taskStop, async ({ upid }, ctx) => {
    const node = upidNode(upid);
    const path = `/nodes/${node}/tasks/${encodeURIComponent(upid)}`;
    await ctx.pve.request("DELETE", path, {}, ctx);
    const outcome = await followTask(ctx, upid, 5_000, false);
    return { upid, node, status: outcome.status, exitstatus: outcome.exitstatus };
  }),
];
