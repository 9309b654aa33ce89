/**
 * Storage replication jobs (/cluster/replication, pve-manager PVE/API2/ReplicationConfig.pm) and their
 * runs. PVE runs no task for them: pvescheduler picks up a due job within a minute and records each
 * run in the job's state on the guest's node (/nodes/{node}/replication), which is what we watch.
 */
import { z } from "zod";
import { ToolError } from "../../shared/errors.ts";
import { replicationJob } from "../../shared/tools/ha.ts";
import { bool, defined, locate } from "./guests.ts";
import { implement, type ToolContext } from "./registry.ts";
import { abortableSleep } from "./tasks.ts";
import { compact, flag, num, pveGet, refuseStray } from "./values.ts";

const jobConfig = z.looseObject({
  id: z.string(),
  guest: num,
  target: z.string(),
  source: z.string().optional(),
  schedule: z.string().optional(),
  rate: num.optional(),
  comment: z.string().optional(),
  disable: flag.optional(),
  remove_job: z.string().optional(),
});
/** A row of /nodes/{node}/replication: the config and the job's state (pid while a run is under way). */
export const jobStatusRow = jobConfig.extend({
  last_sync: num.optional(),
  last_try: num.optional(),
  next_sync: num.optional(),
  duration: num.optional(),
  fail_count: num.optional(),
  error: z.string().optional(),
  pid: num.optional(),
});
type JobConfig = z.output<typeof jobConfig>;
type JobStatus = z.output<typeof jobStatusRow>;

/** A due job's next_sync is computed from last_try 0, a time in 1970: a time past means "due now", so it is left out. */
export function nextSync(j: JobStatus): number | undefined {
  return j.next_sync && j.next_sync * 1000 > Date.now() - 60_000 ? j.next_sync : undefined;
}

/** One word for where a job stands, from its state row. */
export function stateOf(j: JobStatus) {
  if (j.remove_job) return "removing" as const;
  if (j.pid) return "running" as const;
  if ((j.fail_count ?? 0) > 0 || j.error) return "failing" as const;
  return j.last_sync ? ("ok" as const) : ("never_run" as const);
}

/** The job as the tool reports it: config, and the state of its last run when the guest's node could be asked. */
function report(config: JobConfig, status?: JobStatus) {
  return compact({
    id: config.id,
    guest: config.guest,
    source: status?.source ?? config.source,
    target: config.target,
    schedule: config.schedule,
    rate: config.rate,
    comment: config.comment,
    disabled: config.disable || undefined,
    state: status ? stateOf(status) : undefined,
    last_sync: status?.last_sync || undefined,
    next_sync: status && nextSync(status),
    duration: status?.duration,
    fail_count: status?.fail_count,
    error: status?.error,
  });
}

type Args = z.output<typeof replicationJob.input>;
const settings = ["schedule", "rate", "comment", "disable"] as const;
const allowed: Record<Args["action"], readonly string[]> = {
  create: ["target", ...settings],
  update: settings,
  delete: ["keep", "force"],
  run: [],
};

/** Arguments that mean nothing for the action are refused, so a mistaken call changes nothing. */
function checkArgs(args: Args): void {
  const { action } = args;
  refuseStray(args, ["target", ...settings, "keep", "force"], allowed[action], action);
  if (action === "create" && !args.target) throw new ToolError("invalid_arguments", "create needs target, the node that receives the replica");
  if (action === "update" && !settings.some((k) => args[k] !== undefined)) throw new ToolError("invalid_arguments", `update needs at least one of ${settings.join(", ")}`);
}

const jobPath = (id: string) => `/cluster/replication/${id}`;

/** The job's row on the node that runs its guest, if that node answers and still has the job. */
async function statusOf(ctx: ToolContext, node: string, config: JobConfig): Promise<JobStatus | undefined> {
  const rows = await pveGet(ctx, z.array(jobStatusRow), `/nodes/${node}/replication`, { guest: config.guest }).catch(() => undefined);
  return rows?.find((r) => r.id === config.id);
}

async function readJob(ctx: ToolContext, id: string, withStatus = true) {
  const config = await pveGet(ctx, jobConfig, jobPath(id));
  const { node } = await locate(ctx, config.guest);
  return { config, node, status: withStatus ? await statusOf(ctx, node, config) : undefined };
}

/**
 * Polls the job's row until `done` says so or the wait ends, reporting what pvescheduler is at.
 * Returns the last row seen (undefined once the job is gone).
 */
async function watch(ctx: ToolContext, node: string, config: JobConfig, waitSeconds: number, done: (row: JobStatus | undefined) => boolean) {
  const until = Math.min(Date.now() + waitSeconds * 1000, ctx.deadline - 1_000);
  for (let polls = 1; ; polls++) {
    const rows = await pveGet(ctx, z.array(jobStatusRow), `/nodes/${node}/replication`, { guest: config.guest });
    const row = rows.find((r) => r.id === config.id);
    if (done(row) || Date.now() >= until) return { row, done: done(row) };
    ctx.progress(polls, undefined, row?.pid ? `${config.id} is running` : `waiting for pvescheduler to start ${config.id}`);
    await abortableSleep(POLL_MS, ctx.signal);
  }
}

const POLL_MS = 500;

async function runNow(ctx: ToolContext, args: Args) {
  const { id } = args;
  const { config, node } = await readJob(ctx, id, false);
  if (config.disable) throw new ToolError("invalid_arguments", `replication job ${id} is disabled and pvescheduler skips it: enable it first (action=update, disable=false)`);
  if (config.remove_job) throw new ToolError("invalid_arguments", `replication job ${id} is marked for removal`);
  await ctx.pve.request("POST", `/nodes/${node}/replication/${id}/schedule_now`, {}, ctx);
  // schedule_now sets last_try to 0; the run sets it to its start and drops its pid when it ends.
  const ended = (r: JobStatus | undefined) => !r || (!r.pid && (r.last_try ?? 0) > 0);
  const { row, done } = await watch(ctx, node, config, args.wait_seconds, ended);
  if (!row) throw new ToolError("pve_error", `replication job ${id} disappeared while it was to run`);
  if (done && stateOf(row) === "failing") throw new ToolError("pve_error", `replication job ${id} failed: ${row.error ?? "see its log"}`, { id, fail_count: row.fail_count });
  const running = Boolean(row.pid);
  return {
    action: "run",
    ...report(config, row),
    ...(done ? {} : { state: running ? ("running" as const) : ("scheduled" as const), note: `pvescheduler ${running ? "is running it" : "starts it within a minute"}; ha_info action=replication shows how it ends.` }),
  };
}

async function remove(ctx: ToolContext, args: Args) {
  const { id } = args;
  const { config, node, status } = await readJob(ctx, id);
  const keeps = args.keep ? `the replica on ${config.target} stays` : `the replicated volumes on ${config.target} are deleted`;
  await ctx.pve.request("DELETE", jobPath(id), defined({ keep: bool(args.keep), force: bool(args.force) }), ctx);
  if (args.force) {
    return { action: "delete", ...report(config), state: "removed" as const, note: `Job entry dropped without cleanup: the replica on ${config.target} and the replication snapshots stay.` };
  }
  // pvescheduler skips disabled jobs, so a disabled job would wait forever for its removal.
  const enabled = config.disable ? " (enabled again: pvescheduler skips disabled jobs)" : "";
  if (config.disable) {
    await ctx.pve.request("PUT", jobPath(id), { delete: "disable" }, ctx);
    delete config.disable;
  }
  const failCount = status?.fail_count ?? 0;
  const { row } = await watch(ctx, node, config, args.wait_seconds, (r) => !r || (r.fail_count ?? 0) > failCount);
  if (!row) return { action: "delete", ...report(config), state: "removed" as const, note: `Job removed${enabled}; ${keeps}.` };
  return {
    action: "delete",
    ...report(config, row),
    state: "removing" as const,
    note: row.error
      ? `Marked for removal${enabled}, but the removal failed and pvescheduler retries it: ${row.error}`
      : `Marked for removal${enabled}: at its next run pvescheduler removes the job and ${keeps}.`,
  };
}

export const replicationTools = [
  implement(replicationJob, async (args, ctx) => {
    checkArgs(args);
    const { action, id } = args;
    if (action === "run") return runNow(ctx, args);
    if (action === "delete") return remove(ctx, args);
    const options = { schedule: args.schedule, comment: args.comment || undefined, rate: args.rate || undefined };
    if (action === "create") {
      await ctx.pve.request("POST", "/cluster/replication", defined({ id, type: "local", target: args.target, ...options, disable: args.disable ? 1 : undefined }), ctx);
    } else {
      const cleared = [args.rate === 0 && "rate", args.comment === "" && "comment", args.disable === false && "disable"].filter(Boolean);
      await ctx.pve.request("PUT", jobPath(id), defined({ ...options, disable: args.disable ? 1 : undefined, delete: cleared.length ? cleared.join(",") : undefined }), ctx);
    }
    const { config, status } = await readJob(ctx, id);
    const first = action === "create" && !config.disable ? "pvescheduler runs its first sync within a minute; " : "";
    return { action, ...report(config, status), note: `${first}ha_info action=replication shows its runs.` };
  }),
];
