import { z } from "zod";
import { ToolError } from "../../shared/errors.ts";
import { paginate } from "../../shared/tool.ts";
import { backupInfo, backupRestore, backupRun } from "../../shared/tools/backups.ts";
import { bool, defined, locate, localNode } from "./guests.ts";
import { implement, type ToolContext } from "./registry.ts";
import { nodesReply, parseReply, resourcesReply, upidReply } from "./replies.ts";
import { storageContent, type contentReply } from "./storage.ts";
import { followTask, type TaskOutcome } from "./tasks.ts";
import { num } from "./values.ts";

const jobsReply = z.array(
  z.looseObject({ id: z.string(), schedule: z.string().optional(), enabled: num.optional(), storage: z.string().optional(), mode: z.string().optional(),
    compress: z.union([z.string(), z.number()]).optional(), all: num.optional(), vmid: z.string().optional(), pool: z.string().optional(),
    exclude: z.string().optional(), "next-run": num.optional(), comment: z.string().optional(), "prune-backups": z.union([z.string(), z.record(z.string(), z.unknown())]).optional() }),
);
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

export const backupTools = [
  implement(backupInfo, async (args, ctx) => {
    if (args.action === "jobs") {
      const rows = parseReply(jobsReply, await ctx.pve.request("GET", "/cluster/backup", {}, ctx), "GET /cluster/backup");
      const jobs = rows.map((j) => ({
        id: j.id,
        schedule: j.schedule,
        enabled: (j.enabled ?? 1) === 1,
        storage: j.storage,
        mode: j.mode,
        compress: j.compress === undefined ? undefined : String(j.compress),
        selection: j.pool ? `pool ${j.pool}` : j.all ? (j.exclude ? `all except ${j.exclude}` : "all") : (j.vmid ?? ""),
        next_run: j["next-run"],
        comment: j.comment,
        prune_backups: typeof j["prune-backups"] === "string" ? j["prune-backups"] : j["prune-backups"] ? Object.entries(j["prune-backups"]).map(([k, v]) => `${k}=${v}`).join(",") : undefined,
      }));
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
      const reply = await ctx.pve.request("POST", `/nodes/${job.node}/vzdump`, params, ctx);
      // vzdump answers "OK" without a task when none of the guests is on that node.
      if (reply === "OK") continue;
      const upid = parseReply(upidReply, reply, `POST /nodes/${job.node}/vzdump`);
      ctx.note({ upid });
      tasks.push({ ...job, upid, status: "running" });
    }
    const until = Date.now() + args.wait_seconds * 1000;
    if (args.wait) {
      for (const task of tasks) Object.assign(task, await followTask(ctx, task.upid, Math.max(0, until - Date.now())));
    }
    const done = tasks.every((t) => t.status === "stopped");
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
];
