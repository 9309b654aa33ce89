import { randomUUID } from "node:crypto";
import { z } from "zod";
import { ToolError } from "../../shared/errors.ts";
import { paginate } from "../../shared/tool.ts";
import { backupInfo, backupJob, backupRestore, backupRun } from "../../shared/tools/backups.ts";
import { bool, defined, locate, localNode, pveValues } from "./guests.ts";
import { implement, type ToolContext } from "./registry.ts";
import { nodesReply, parseReply, resourcesReply, upidReply } from "./replies.ts";
import { storageContent, type contentReply } from "./storage.ts";
import { followTask, type TaskOutcome, type WaitOptions } from "./tasks.ts";
import { num, refuseStray } from "./values.ts";

/** A /cluster/backup job; PVE 9 returns prune-backups (and fleecing, performance) as objects, older versions as property strings. */
const jobRow = z.looseObject({ id: z.string(), schedule: z.string().optional(), enabled: num.optional(), storage: z.string().optional(), mode: z.string().optional(),
  compress: z.union([z.string(), z.number()]).optional(), all: num.optional(), vmid: z.string().optional(), pool: z.string().optional(),
  exclude: z.string().optional(), node: z.string().optional(), "next-run": num.optional(), comment: z.string().optional(),
  "prune-backups": z.union([z.string(), z.record(z.string(), z.unknown())]).optional(), "notes-template": z.string().optional() });
type JobRow = z.output<typeof jobRow>;
const storagesReply = z.array(z.looseObject({ storage: z.string() }));

function backupEntry(storage: string, v: z.output<typeof contentReply>[number]) {
  return {
    volid: v.volid,
    storage,
    vmid: v.vmid,
    type: v.subtype === "qemu" || v.subtype === "lxc" ? v.subtype : v.volid.includes("vzdump-lxc-") ? ("lxc" as const) : v.volid.includes("vzdump-qemu-") ? ("qemu" as const) : undefined,
    ctime: v.ctime,
    size: v.size,
    format: v.format,
    notes: v.notes,
    protected: v.protected,
  };
}

/** Backups on the given storages (or every storage with backup content) as `node` sees them, newest first. */
async function listBackups(ctx: ToolContext, node: string, storage: string | undefined, vmid: number | undefined) {
  const storages = storage
    ? [storage]
    : parseReply(storagesReply, await ctx.pve.request("GET", `/nodes/${node}/storage`, { content: "backup" }, ctx), `GET /nodes/${node}/storage`).map((s) => s.storage);
  const lists = await Promise.all(storages.map(async (s) => (await storageContent(ctx, node, s, defined({ content: "backup", vmid }))).map((v) => backupEntry(s, v))));
  return lists.flat().sort((a, b) => (b.ctime ?? 0) - (a.ctime ?? 0) || (a.volid < b.volid ? 1 : -1));
}

/** Which node runs vzdump for which guests: PVE backs up only the guests of the node it runs on. */
async function plan(ctx: ToolContext, args: z.output<typeof backupRun.input>): Promise<Array<{ node: string; vmids: number[] }>> {
  if (args.all) {
    if (args.vmid?.length) throw new ToolError("invalid_arguments", "give vmid or all, not both");
    if (args.node) return [{ node: args.node, vmids: [] }];
    const nodes = parseReply(nodesReply, await ctx.pve.api(ctx).nodes.$get(), "GET /nodes");
    return nodes.filter((n) => n.status === "online").map((n) => ({ node: n.node, vmids: [] })).sort((a, b) => a.node.localeCompare(b.node));
  }
  if (!args.vmid?.length) throw new ToolError("invalid_arguments", "give vmid (a list of guests) or all=true");
  const rows = parseReply(resourcesReply, await ctx.pve.api(ctx).cluster.resources.$get({ type: "vm" }), "GET /cluster/resources");
  const fallback = args.node ?? (await localNode(ctx));
  const byNode = new Map<string, number[]>();
  for (const vmid of [...new Set(args.vmid)].sort((a, b) => a - b)) {
    // An unknown vmid goes to some node anyway, so PVE answers for it ("unable to find VM").
    const node = rows.find((r) => r.vmid === vmid)?.node ?? fallback;
    byNode.set(node, [...(byNode.get(node) ?? []), vmid]);
  }
  return [...byNode.entries()].map(([node, vmids]) => ({ node, vmids }));
}

/** A property string such as prune-backups as PVE takes it in POST and PUT: "keep-daily=7,keep-weekly=4". */
function propertyString(value: unknown): unknown {
  if (!value || typeof value !== "object" || Array.isArray(value)) return value;
  return Object.entries(value).map(([k, v]) => `${k}=${typeof v === "boolean" ? Number(v) : v}`).join(",");
}

/** A job as backup_info and backup_job show it. */
function jobView(j: JobRow) {
  return {
    id: j.id,
    schedule: j.schedule,
    enabled: (j.enabled ?? 1) === 1,
    storage: j.storage,
    mode: j.mode,
    compress: j.compress === undefined ? undefined : String(j.compress),
    selection: j.pool ? `pool ${j.pool}` : j.all ? (j.exclude ? `all except ${j.exclude}` : "all") : (j.vmid ?? ""),
    node: j.node,
    next_run: j["next-run"],
    comment: j.comment,
    prune_backups: j["prune-backups"] === undefined ? undefined : String(propertyString(j["prune-backups"])),
    notes_template: j["notes-template"],
  };
}

async function listJobs(ctx: ToolContext): Promise<JobRow[]> {
  return parseReply(z.array(jobRow), await ctx.pve.request("GET", "/cluster/backup", {}, ctx), "GET /cluster/backup");
}

/** One job from the list, which has its next run (GET /cluster/backup/{id} has not); an unknown id gets PVE's own error from the latter. */
async function readJob(ctx: ToolContext, id: string): Promise<JobRow> {
  const found = (await listJobs(ctx)).find((j) => j.id === id);
  return found ?? parseReply(jobRow, await ctx.pve.request("GET", `/cluster/backup/${encodeURIComponent(id)}`, {}, ctx), `GET /cluster/backup/${id}`);
}

/**
 * Starts vzdump on `node` and journals its task; undefined when the node holds none of the guests
 * (vzdump then answers "OK" without a task).
 */
async function startVzdump(ctx: ToolContext, node: string, params: Record<string, unknown>): Promise<string | undefined> {
  const reply = await ctx.pve.request("POST", `/nodes/${node}/vzdump`, params, ctx);
  if (reply === "OK") return undefined;
  const upid = parseReply(upidReply, reply, `POST /nodes/${node}/vzdump`);
  ctx.note({ upid });
  return upid;
}

/** Follows started tasks one after the other within one wait budget. */
async function followAll<T extends TaskOutcome>(ctx: ToolContext, tasks: T[], args: WaitOptions): Promise<boolean> {
  const until = Date.now() + args.wait_seconds * 1000;
  if (args.wait) for (const task of tasks) Object.assign(task, await followTask(ctx, task.upid, Math.max(0, until - Date.now())));
  return tasks.every((t) => t.status === "stopped");
}

type JobArgs = z.output<typeof backupJob.input>;
const settings = ["schedule", "storage", "vmid", "all", "exclude", "pool", "node", "mode", "compress", "enabled", "comment", "prune_backups", "notes_template", "options", "delete"] as const;

/** Arguments that mean nothing for the action are refused, so a mistaken call changes nothing. */
function checkJobArgs(args: JobArgs): void {
  const { action } = args;
  if (action !== "create" && !args.id) throw new ToolError("invalid_arguments", `${action} needs id, the job's id (backup_info action=jobs lists them)`);
  const allowed: readonly string[] = action === "update" ? settings : action === "create" ? settings.filter((k) => k !== "delete") : [];
  refuseStray(args, settings, allowed, action, action === "run" ? ": run uses the job's stored settings" : "");
}

/** The job properties given, in PVE's names; `options` carries the others and yields to the named arguments. */
function jobParams(args: JobArgs): Record<string, unknown> {
  const named = defined({
    schedule: args.schedule, storage: args.storage, vmid: args.vmid?.join(","), all: bool(args.all), exclude: args.exclude?.join(","), pool: args.pool,
    node: args.node, mode: args.mode, compress: args.compress, enabled: bool(args.enabled), comment: args.comment, "prune-backups": args.prune_backups,
    "notes-template": args.notes_template, delete: args.delete?.length ? args.delete.join(",") : undefined,
  });
  return { ...pveValues(args.options ?? {}), ...named };
}

/** The GUI's "Run now" (pve-manager www/manager6/dc/Backup.js run_backup_now): the job minus its scheduling properties. */
function runParams(job: JobRow): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  const scheduling = new Set(["enabled", "starttime", "dow", "id", "schedule", "type", "node", "comment", "next-run", "repeat-missed"]);
  for (const [key, value] of Object.entries(job)) if (!scheduling.has(key) && value !== undefined && value !== null) params[key] = propertyString(value);
  params.all = job.all ? 1 : 0;
  return params;
}

/**
 * Where vzdump runs for a job: its node if it names one; for a vmid list the nodes holding those guests (or, if
 * none exists, one node, so PVE reports them); for all or a pool every online node, each backing up its own guests.
 */
async function runNodes(ctx: ToolContext, job: JobRow): Promise<{ nodes: string[]; offline: string[] }> {
  if (job.node) return { nodes: [job.node], offline: [] };
  if (job.vmid && !job.all && !job.pool) {
    const ids = new Set(job.vmid.split(/[,;\s]+/).filter(Boolean).map(Number));
    const rows = parseReply(resourcesReply, await ctx.pve.api(ctx).cluster.resources.$get({ type: "vm" }), "GET /cluster/resources");
    const nodes = [...new Set(rows.filter((r) => r.vmid !== undefined && ids.has(r.vmid) && r.node).map((r) => r.node!))].sort();
    return { nodes: nodes.length ? nodes : [await localNode(ctx)], offline: [] };
  }
  const all = parseReply(nodesReply, await ctx.pve.api(ctx).nodes.$get(), "GET /nodes");
  const by = (online: boolean) => all.filter((n) => (n.status === "online") === online).map((n) => n.node).sort();
  return { nodes: by(true), offline: by(false) };
}

async function runJob(ctx: ToolContext, args: JobArgs, job: JobRow) {
  const params = runParams(job);
  const { nodes, offline } = await runNodes(ctx, job);
  const tasks: Array<{ node: string } & TaskOutcome> = [];
  const failures: Array<{ node: string; err: unknown }> = [];
  for (const node of nodes) {
    try {
      const upid = await startVzdump(ctx, node, params);
      if (upid) tasks.push({ node, upid, status: "running" });
    } catch (err) {
      failures.push({ node, err });
    }
  }
  // Refused everywhere: PVE's own error (the GUI shows one per node); refused on some nodes: said in the note.
  if (!tasks.length && failures.length) throw failures[0].err;
  const done = await followAll(ctx, tasks, args);
  const notes = [
    ...offline.map((n) => `${n} is offline: its guests were not backed up.`),
    ...failures.map((f) => `Not started on ${f.node}: ${f.err instanceof Error ? f.err.message : String(f.err)}`),
    ...(tasks.length ? [] : ["No node holds a guest of this job: nothing was backed up."]),
  ];
  return { status: done ? ("stopped" as const) : ("running" as const), tasks, ...(notes.length ? { note: notes.join(" ") } : {}) };
}

export const backupTools = [
  implement(backupInfo, async (args, ctx) => {
    if (args.action === "jobs") {
      const jobs = (await listJobs(ctx)).map(jobView);
      const page = paginate(jobs, args.limit, args.cursor);
      return { action: args.action, jobs: page.items, total: page.total, next_cursor: page.next_cursor };
    }
    const node = args.node ?? (await localNode(ctx));
    const page = paginate(await listBackups(ctx, node, args.storage, args.vmid), args.limit, args.cursor);
    return { action: args.action, backups: page.items, total: page.total, next_cursor: page.next_cursor };
  }),

  implement(backupRun, async (args, ctx) => {
    const jobs = await plan(ctx, args);
    const common = defined({ storage: args.storage, mode: args.mode, compress: args.compress, "notes-template": args.notes_template, protected: bool(args.protected) });
    const started = Math.floor(Date.now() / 1000) - 2;
    const tasks: Array<{ node: string; vmids: number[] } & TaskOutcome> = [];
    for (const job of jobs) {
      const params = { ...common, ...(args.all ? { all: 1 } : { vmid: job.vmids.join(",") }) };
      const upid = await startVzdump(ctx, job.node, params);
      if (upid) tasks.push({ ...job, upid, status: "running" });
    }
    const done = await followAll(ctx, tasks, args);
    const backups: Awaited<ReturnType<typeof listBackups>> = [];
    if (done) {
      for (const task of tasks) {
        const found = await listBackups(ctx, task.node, args.storage ?? "local", undefined);
        const mine = found.filter((b) => (b.ctime ?? 0) >= started && (args.all || (b.vmid !== undefined && task.vmids.includes(b.vmid))));
        backups.push(...mine.filter((b) => !backups.some((x) => x.volid === b.volid)));
      }
    }
    return { status: done ? ("stopped" as const) : ("running" as const), tasks, backups };
  }),

  implement(backupRestore, async (args, ctx) => {
    const { archive, vmid } = args;
    const kind = /vzdump-(qemu|lxc)-/.exec(archive)?.[1] as "qemu" | "lxc" | undefined;
    if (!kind) throw new ToolError("invalid_arguments", `cannot tell from '${archive}' whether it is a VM or a container backup (expected a vzdump-qemu-... or vzdump-lxc-... archive)`);
    const existing = args.node ? undefined : await locate(ctx, vmid).catch(() => undefined);
    const node = args.node ?? existing?.node ?? (await localNode(ctx));
    const common = defined({ vmid, storage: args.storage, force: bool(args.force), unique: bool(args.unique), start: bool(args.start), pool: args.pool });
    const params = kind === "qemu" ? { ...common, archive } : { ...common, ostemplate: archive, restore: 1 };
    const upid = parseReply(upidReply, await ctx.pve.request("POST", `/nodes/${node}/${kind}`, params, ctx), `POST /nodes/${node}/${kind}`);
    ctx.note({ upid });
    const outcome = args.wait ? await followTask(ctx, upid, args.wait_seconds * 1000) : { upid, status: "running" as const };
    return { vmid, node, type: kind, archive, ...outcome };
  }),

  implement(backupJob, async (args, ctx) => {
    checkJobArgs(args);
    const { action } = args;
    if (action === "run") {
      const job = await readJob(ctx, args.id!);
      return { action, ...jobView(job), ...(await runJob(ctx, args, job)) };
    }
    if (action === "delete") {
      const job = await readJob(ctx, args.id!);
      await ctx.pve.request("DELETE", `/cluster/backup/${encodeURIComponent(job.id)}`, {}, ctx);
      return { action, ...jobView(job), next_run: undefined, note: "Only the schedule is gone: the job's backups stay. create with these settings brings it back." };
    }
    // PVE makes up an id when none is given but does not return it; the GUI's form of id is one we can read back.
    const id = args.id ?? `backup-${randomUUID().slice(0, 13)}`;
    if (action === "create") {
      ctx.note({ id });
      await ctx.pve.request("POST", "/cluster/backup", { ...jobParams(args), id }, ctx);
    } else await ctx.pve.request("PUT", `/cluster/backup/${encodeURIComponent(id)}`, jobParams(args), ctx);
    return { action, ...jobView(await readJob(ctx, id)) };
  }),
];
