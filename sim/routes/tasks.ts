/**
 * /nodes/{node}/tasks handlers, after pve-manager PVE/API2/Tasks.pm. A task's log "file" lives on
 * the node that ran it, so asking another node for it fails as in PVE ("no such task").
 */
import type { CallContext, RouteTable } from "../context.ts";
import { paramError } from "../errors.ts";
import { splitList } from "../../shared/pve-schema/formats.ts";
import { checkPrivileges, hasPrivileges, splitTokenId } from "../permissions.ts";
import { truthy } from "../../shared/pve-schema/schema.ts";
import { decodeUpid, type Task, type TaskInfo } from "../tasks.ts";

/** $convert_token_task: a token's task shows its user and, separately, the token name. */
function withTokenSplit<T extends Pick<TaskInfo, "user">>(task: T): T & { tokenid?: string } {
  const token = splitTokenId(task.user);
  return token ? { ...task, user: token.userid, tokenid: token.token } : task;
}

/** $check_task_user: a token sees its own tasks, a user sees its own and its tokens' tasks. */
function ownsTask(task: Pick<TaskInfo, "user">, authid: string | undefined): boolean {
  if (authid === undefined) return false;
  const token = splitTokenId(task.user);
  return authid === task.user || (token !== undefined && authid === token.userid);
}

/** PVE::UPID::normalize_status_type */
function statusType(status: string | undefined): string {
  if (!status || status === "unexpected status") return "unknown";
  if (status === "OK") return "ok";
  return /^WARNINGS: \d+$/.test(status) ? "warning" : "error";
}

/** The task, if its log is on the executing node; raises the same parameter errors as PVE. */
function taskOnNode(ctx: CallContext): Task {
  const upid = String(ctx.params.upid);
  if (!decodeUpid(upid)) throw paramError({ upid: "unable to parse worker upid" });
  const task = ctx.sim.tasks.find(upid);
  if (!task || task.node !== ctx.node.name) throw paramError({ upid: "no such task" });
  return task;
}

function requireAccess(ctx: CallContext, task: Pick<TaskInfo, "user">, priv: string): void {
  if (!ownsTask(task, ctx.authid)) checkPrivileges(ctx.sim.access, ctx.authid ?? "", `/nodes/${ctx.node.name}`, [priv]);
}

function listTasks(ctx: CallContext): unknown[] {
  const { params, sim } = ctx;
  const start = Number(params.start ?? 0);
  let limit = Number(params.limit ?? 50);
  const source = String(params.source ?? "archive");
  const errorsOnly = truthy(params.errors);
  const wanted = params.statusfilter !== undefined && !errorsOnly ? new Set(splitList(String(params.statusfilter)).map((s) => s.toLowerCase())) : undefined;
  const auditor = ctx.authid !== undefined && hasPrivileges(sim.access, ctx.authid, `/nodes/${ctx.node.name}`, ["Sys.Audit"]);
  let count = 0;
  // Mirrors $filter_task: `count` ends up as the number of matching tasks, reported as "total".
  const keep = (task: Task): boolean => {
    const type = statusType(task.exitstatus);
    if (params.userfilter !== undefined && !task.user.toLowerCase().includes(String(params.userfilter).toLowerCase())) return false;
    if (!(auditor || ownsTask(task, ctx.authid))) return false;
    if (params.typefilter !== undefined && task.type !== params.typefilter) return false;
    if (truthy(params.vmid) && task.id !== String(params.vmid)) return false;
    if (params.since !== undefined && task.starttime < Number(params.since)) return false;
    if (params.until !== undefined && task.starttime > Number(params.until)) return false;
    if (wanted ? !wanted.has(type) : errorsOnly && type === "ok") return false;
    if (count++ < start || limit <= 0) return false;
    limit--;
    return true;
  };
  const onNode = sim.tasks.all().filter((t) => t.node === ctx.node.name);
  const out: unknown[] = [];
  // Running workers live in the "active" list; finished ones are read from the index, newest first.
  if (source === "active" || source === "all") {
    for (const t of onNode.filter((x) => x.status === "running")) if (keep(t)) out.push(listEntry(t));
  }
  if (source !== "active") {
    for (const t of onNode.filter((x) => x.status === "stopped").reverse()) if (keep(t)) out.push(listEntry(t));
  }
  ctx.setTotal(count);
  return out;
}

/** An index line: running tasks read "RUNNING", finished ones their end time and exit status. */
function listEntry(t: Task): Record<string, unknown> {
  const { upid, node, pid, pstart, starttime, type, id, user } = t;
  const end = t.status === "running" ? { status: "RUNNING" } : { endtime: t.endtime, status: t.exitstatus };
  return withTokenSplit({ upid, node, pid, pstart, starttime, type, id, user, ...end });
}

function taskStatus(ctx: CallContext): Record<string, unknown> {
  const task = taskOnNode(ctx);
  requireAccess(ctx, task, "Sys.Audit");
  const { upid, node, pid, pstart, starttime, type, id, user } = task;
  const status: Record<string, unknown> = withTokenSplit({ node, pid, pstart, starttime, type, id, user, status: task.status, upid });
  if (task.status === "stopped") status.exitstatus = task.exitstatus;
  return status;
}

/** read_task_log: lines {n, t}; an empty log reads as one "no content" line (an ExtJS workaround). */
function taskLog(ctx: CallContext): unknown[] {
  const upid = String(ctx.params.upid);
  const decoded = decodeUpid(upid);
  if (!decoded) throw paramError({ upid: "unable to parse worker upid" });
  const task = ctx.sim.tasks.find(upid);
  const found = task && task.node === ctx.node.name ? task : undefined;
  requireAccess(ctx, found ?? decoded, "Sys.Audit");
  if (!found) {
    ctx.setTotal(1);
    return [{ n: 1, t: "unable to open file - No such file or directory" }];
  }
  const start = Number(ctx.params.start ?? 0);
  const limit = Number(ctx.params.limit ?? 50);
  const lines = found.log.map((t, i) => ({ n: i + 1, t })).slice(start, limit === 0 ? undefined : start + limit);
  const total = found.log.length;
  if (total === 0) {
    ctx.setTotal(1);
    return [{ n: 1, t: "no content" }];
  }
  ctx.setTotal(total);
  return lines;
}

function stopTask(ctx: CallContext): null {
  const task = taskOnNode(ctx);
  requireAccess(ctx, task, "Sys.Modify");
  ctx.sim.tasks.interrupt(task.upid);
  return null;
}

export const taskRoutes: RouteTable = {
  "GET /nodes/{node}/tasks": listTasks,
  "GET /nodes/{node}/tasks/{upid}": () => [{ name: "log" }, { name: "status" }],
  "GET /nodes/{node}/tasks/{upid}/status": taskStatus,
  "GET /nodes/{node}/tasks/{upid}/log": taskLog,
  "DELETE /nodes/{node}/tasks/{upid}": stopTask,
};
