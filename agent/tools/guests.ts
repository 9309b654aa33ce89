import { ToolError } from "../../shared/errors.ts";
import { paginate } from "../../shared/tool.ts";
import { guestList, guestPower, guestStatus, guestStop } from "../../shared/tools/guests.ts";
import { implement, type ToolContext } from "./registry.ts";
import { guestCurrentReply, parseReply, resourcesReply, upidReply } from "./replies.ts";
import { followTask } from "./tasks.ts";

type GuestType = "qemu" | "lxc";

async function guestResources(ctx: ToolContext) {
  const rows = parseReply(resourcesReply, await ctx.pve.api(ctx).cluster.resources.$get({ type: "vm" }), "GET /cluster/resources");
  return rows
    .filter((r) => (r.type === "qemu" || r.type === "lxc") && r.vmid !== undefined && r.node)
    .map((r) => ({
      vmid: r.vmid as number,
      name: r.name,
      type: r.type as GuestType,
      node: r.node as string,
      status: r.status ?? "unknown",
      template: r.template ?? false,
      cpu: r.cpu,
      maxcpu: r.maxcpu,
      mem: r.mem,
      maxmem: r.maxmem,
      uptime: r.uptime,
      tags: r.tags,
    }));
}

/** Finds a guest's node and type when the caller did not give both; PVE has no per-vmid lookup. */
export async function locate(ctx: ToolContext, vmid: number, node?: string, type?: GuestType): Promise<{ node: string; type: GuestType }> {
  if (node && type) return { node, type };
  const found = (await guestResources(ctx)).find((g) => g.vmid === vmid);
  if (found) return { node: node ?? found.node, type: type ?? found.type };
  if (node) return { node, type: type ?? "qemu" };
  throw new ToolError("pve_error", `no VM or container with vmid ${vmid} exists in the cluster`, { vmid });
}

interface PowerArgs {
  vmid: number;
  action: string;
  node?: string;
  type?: GuestType;
  wait: boolean;
  wait_seconds: number;
}

/** POSTs status/<action> and, when asked, follows the task it starts. */
async function powerAction({ vmid, action, node, type, wait, wait_seconds }: PowerArgs, ctx: ToolContext) {
  const where = await locate(ctx, vmid, node, type);
  if (where.type === "lxc" && action === "reset") throw new ToolError("invalid_arguments", "containers cannot be reset; use reboot or stop");
  const path = `/nodes/${where.node}/${where.type}/${vmid}/status/${action}`;
  const upid = parseReply(upidReply, await ctx.pve.request("POST", path, {}, ctx), `POST ${path}`);
  ctx.note({ upid });
  const outcome = wait ? await followTask(ctx, upid, wait_seconds * 1000) : { upid, status: "running" as const };
  return { vmid, node: where.node, action, ...outcome };
}

export const guestTools = [
  implement(guestList, async ({ node, type, status, limit, cursor }, ctx) => {
    const all = (await guestResources(ctx))
      .filter((g) => (!node || g.node === node) && (!type || g.type === type) && (!status || g.status === status))
      .sort((a, b) => a.vmid - b.vmid);
    const page = paginate(all, limit, cursor);
    return { guests: page.items, total: page.total, next_cursor: page.next_cursor };
  }),
  implement(guestStatus, async ({ vmid, node, type }, ctx) => {
    const where = await locate(ctx, vmid, node, type);
    const api = ctx.pve.api(ctx).nodes.$(where.node);
    const raw = where.type === "qemu" ? await api.qemu.$(vmid).status.current.$get() : await api.lxc.$(vmid).status.current.$get();
    const s = parseReply(guestCurrentReply, raw, `status of ${vmid}`);
    return { vmid, ...where, status: s.status, name: s.name, uptime: s.uptime, cpu: s.cpu, mem: s.mem, maxmem: s.maxmem, lock: s.lock, qmpstatus: s.qmpstatus };
  }),
  implement(guestPower, (args, ctx) => powerAction(args, ctx)),
  implement(guestStop, (args, ctx) => powerAction(args, ctx)),
];
