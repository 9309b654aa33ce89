import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { ToolError } from "../../shared/errors.ts";
import { paginate } from "../../shared/tool.ts";
import { pbsInfo, pbsPrune, pbsVerify } from "../../shared/tools/pbs.ts";
import type { PveClient } from "../pve.ts";
import { implement, type ToolContext } from "./registry.ts";
import { parseReply } from "./replies.ts";
import { compact, flag, isoTime, num } from "./values.ts";

const POLL_MS = 250;

const datastoreRow = z.looseObject({ store: z.string(), comment: z.string().optional(), maintenance: z.string().optional() });
const usageRow = z.looseObject({
  store: z.string(),
  total: num.optional(),
  used: num.optional(),
  avail: num.optional(),
  "estimated-full-date": num.optional(),
  "gc-status": z.looseObject({ "last-run-endtime": num.optional(), "last-run-state": z.string().optional() }).optional(),
});
const groupRow = z.looseObject({ "backup-type": z.string(), "backup-id": z.string(), "backup-count": num, "last-backup": num, owner: z.string().optional() });
const snapshotRow = z.looseObject({
  "backup-type": z.string(),
  "backup-id": z.string(),
  "backup-time": num,
  size: num.optional(),
  protected: flag.optional(),
  verification: z.looseObject({ state: z.string() }).optional(),
  owner: z.string().optional(),
  comment: z.string().optional(),
});
const taskRow = z.looseObject({ upid: z.string(), worker_type: z.string(), worker_id: z.string().optional(), user: z.string(), starttime: num, endtime: num.optional(), status: z.string().optional() });
const taskStatus = z.looseObject({ status: z.enum(["running", "stopped"]), exitstatus: z.string().optional() });
const logRows = z.array(z.looseObject({ n: num, t: z.string() }));
const pruneRow = z.looseObject({ "backup-time": num, keep: flag, protected: flag.optional() });

function server(ctx: ToolContext, name?: string): { client: PveClient; name: string } {
  if (!ctx.pbs) throw new ToolError("internal", "this agent runs without Proxmox Backup Server support");
  const client = ctx.pbs.get(name);
  return { client, name: name ?? ctx.pbs.names()[0] };
}

async function get<T extends z.ZodType>(ctx: ToolContext, client: PveClient, schema: T, path: string, params: Record<string, unknown> = {}): Promise<z.output<T>> {
  return parseReply(schema, await client.request("GET", path, params, ctx), `PBS GET ${path}`);
}

function needStore(store: string | undefined, action: string): string {
  if (!store) throw new ToolError("invalid_arguments", `action ${action} needs store (action datastores lists them)`);
  return store;
}

const taskPath = (upid: string) => `/nodes/localhost/tasks/${encodeURIComponent(upid)}`;

/** Follows a PBS task like followTask follows PVE's, reporting its latest log line as progress. */
async function followPbsTask(ctx: ToolContext, client: PveClient, upid: string, waitMs: number): Promise<{ status: "running" | "stopped"; exitstatus?: string; log: string[] }> {
  const until = Math.min(Date.now() + waitMs, ctx.deadline - 1_000);
  for (let polls = 1; ; polls++) {
    const status = await get(ctx, client, taskStatus, `${taskPath(upid)}/status`);
    const log = (await get(ctx, client, logRows, `${taskPath(upid)}/log`, { start: 0, limit: 5000 })).map((l) => l.t);
    if (status.status === "stopped") return { status: "stopped", exitstatus: status.exitstatus, log };
    if (Date.now() >= until) return { status: "running", log };
    ctx.progress(polls, undefined, log.at(-1) ?? "task running");
    await sleep(POLL_MS, undefined, { signal: ctx.signal }).catch(() => {
      throw new ToolError("cancelled", "call cancelled");
    });
  }
}

/** The snapshots listed after "Failed to verify the following snapshots/groups:" in a verify log. */
function failedSnapshots(log: string[]): string[] {
  const at = log.findIndex((l) => l.startsWith("Failed to verify the following"));
  return at < 0 ? [] : log.slice(at + 1).filter((l) => /^\s/.test(l) && !l.startsWith("TASK")).map((l) => l.trim());
}

export const pbsTools = [
  implement(pbsInfo, async (args, ctx) => {
    const { client, name } = server(ctx, args.pbs);
    const { action, limit, cursor } = args;
    const head = { pbs: name, action };
    switch (action) {
      case "datastores": {
        const [stores, usage] = await Promise.all([get(ctx, client, z.array(datastoreRow), "/admin/datastore"), get(ctx, client, z.array(usageRow), "/status/datastore-usage")]);
        const datastores = stores.map((d) => {
          const u = usage.find((x) => x.store === d.store);
          const gc = u?.["gc-status"];
          return compact({
            store: d.store,
            comment: d.comment,
            maintenance: d.maintenance,
            total: u?.total,
            used: u?.used,
            avail: u?.avail,
            usage: u?.total ? Number(((u.used ?? 0) / u.total).toFixed(4)) : undefined,
            estimated_full: u?.["estimated-full-date"] ? isoTime(u["estimated-full-date"]) : undefined,
            gc_last_run: gc?.["last-run-endtime"] ? isoTime(gc["last-run-endtime"]) : undefined,
            gc_state: gc?.["last-run-state"],
          });
        });
        return { ...head, datastores };
      }
      case "groups": {
        const store = needStore(args.store, action);
        const rows = await get(ctx, client, z.array(groupRow), `/admin/datastore/${store}/groups`);
        const groups = rows
          .filter((g) => !args["backup-type"] || g["backup-type"] === args["backup-type"])
          .map((g) => compact({ "backup-type": g["backup-type"], "backup-id": g["backup-id"], count: g["backup-count"], last_backup: isoTime(g["last-backup"]), owner: g.owner }))
          .sort((a, b) => `${a["backup-type"]}/${a["backup-id"]}`.localeCompare(`${b["backup-type"]}/${b["backup-id"]}`, "en", { numeric: true }));
        const page = paginate(groups, limit, cursor);
        return { ...head, groups: page.items, total: page.total, next_cursor: page.next_cursor };
      }
      case "snapshots": {
        const store = needStore(args.store, action);
        const rows = await get(ctx, client, z.array(snapshotRow), `/admin/datastore/${store}/snapshots`, compact({ "backup-type": args["backup-type"], "backup-id": args["backup-id"] }));
        const snapshots = rows
          .sort((a, b) => b["backup-time"] - a["backup-time"])
          .map((s) =>
            compact({ "backup-type": s["backup-type"], "backup-id": s["backup-id"], "backup-time": s["backup-time"], time: isoTime(s["backup-time"]), size: s.size, protected: s.protected ?? false, verification: s.verification?.state, owner: s.owner, comment: s.comment }),
          );
        const page = paginate(snapshots, limit, cursor);
        return { ...head, snapshots: page.items, total: page.total, next_cursor: page.next_cursor };
      }
      case "gc_status": {
        const store = needStore(args.store, action);
        return { ...head, gc: await get(ctx, client, z.record(z.string(), z.unknown()), `/admin/datastore/${store}/gc`) };
      }
      case "tasks": {
        const start = cursor ? Number.parseInt(cursor, 10) || 0 : 0;
        const raw = await get(ctx, client, z.array(taskRow), "/nodes/localhost/tasks", compact({ start, limit, store: args.store, errors: args.errors ? 1 : undefined }));
        const tasks = raw.map((t) => compact({ upid: t.upid, type: t.worker_type, id: t.worker_id, user: t.user, start: isoTime(t.starttime), end: t.endtime ? isoTime(t.endtime) : undefined, status: t.status ?? "running" }));
        return { ...head, tasks, ...(tasks.length === limit ? { next_cursor: String(start + limit) } : {}) };
      }
    }
  }),
  implement(pbsVerify, async (args, ctx) => {
    const { client, name } = server(ctx, args.pbs);
    const { store, wait, wait_seconds } = args;
    const params = compact({ "backup-type": args["backup-type"], "backup-id": args["backup-id"], "backup-time": args["backup-time"], "ignore-verified": args["ignore-verified"] ? 1 : 0 });
    const upid = parseReply(z.string().regex(/^UPID:/), await client.request("POST", `/admin/datastore/${store}/verify`, params, ctx), `PBS POST /admin/datastore/${store}/verify`);
    ctx.note({ upid });
    if (!wait) return { pbs: name, store, upid, status: "running" as const };
    const outcome = await followPbsTask(ctx, client, upid, wait_seconds * 1000);
    if (outcome.status === "running") return { pbs: name, store, upid, status: "running" as const };
    const failed = failedSnapshots(outcome.log);
    return { pbs: name, store, upid, status: "stopped" as const, exitstatus: outcome.exitstatus, ok: outcome.exitstatus === "OK", failed };
  }),
  implement(pbsPrune, async (args, ctx) => {
    const { client, name } = server(ctx, args.pbs);
    const keys = ["keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly"] as const;
    const keep = Object.fromEntries(keys.filter((k) => args[k] !== undefined).map((k) => [k, args[k]]));
    if (!Object.keys(keep).length) throw new ToolError("invalid_arguments", "give at least one keep-* option (keep-last, keep-daily, ...): without one PBS keeps every snapshot");
    const dryRun = args["dry-run"];
    const path = `/admin/datastore/${args.store}/prune`;
    const params = { "backup-type": args["backup-type"], "backup-id": args["backup-id"], ...keep, "dry-run": dryRun ? 1 : 0 };
    const rows = parseReply(z.array(pruneRow), await client.request("POST", path, params, ctx), `PBS POST ${path}`);
    const sorted = rows.sort((a, b) => b["backup-time"] - a["backup-time"]);
    const times = (pick: (r: (typeof rows)[number]) => boolean) => sorted.filter(pick).map((r) => isoTime(r["backup-time"]));
    return {
      pbs: name,
      store: args.store,
      group: `${args["backup-type"]}/${args["backup-id"]}`,
      "dry-run": dryRun,
      keep: times((r) => r.keep),
      remove: times((r) => !r.keep),
      protected: times((r) => Boolean(r.protected)),
    };
  }),
];
