import { z } from "zod";
import { ToolError } from "../../shared/errors.ts";
import { paginate } from "../../shared/tool.ts";
import {
  guestClone, guestCloudinit, guestConfigUpdate, guestConsole, guestCreate, guestDelete, guestDisk, guestInfo, guestList, guestMigrate, guestNetwork,
  guestPool, guestPower, guestStatus, guestStop, guestTemplate, pool,
} from "../../shared/tools/guests.ts";
import { implement, type ToolContext } from "./registry.ts";
import { guestCurrentReply, parseReply, resourcesReply } from "./replies.ts";
import { followTask, startTask, type TaskOutcome, type WaitOptions } from "./tasks.ts";
import { terraformOf } from "./terraform.ts";
import { num } from "./values.ts";

export type GuestType = "qemu" | "lxc";

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

/** The API path of a guest: /nodes/<node>/<qemu|lxc>/<vmid>. */
export const guestPath = (node: string, type: GuestType, vmid: number): string => `/nodes/${node}/${type}/${vmid}`;

/** The next free vmid (GET /cluster/nextid answers a string). */
export async function nextId(ctx: ToolContext): Promise<number> {
  return Number(parseReply(z.coerce.string().regex(/^\d+$/), await ctx.pve.request("GET", "/cluster/nextid", {}, ctx), "GET /cluster/nextid"));
}

/** The node the agent's API endpoint is (the `local` node of /cluster/status), for calls that need some node. */
export async function localNode(ctx: ToolContext): Promise<string> {
  const rows = parseReply(z.array(z.looseObject({ type: z.string(), name: z.string(), local: num.optional() })), await ctx.pve.request("GET", "/cluster/status", {}, ctx), "GET /cluster/status");
  const local = rows.find((r) => r.type === "node" && r.local === 1) ?? rows.find((r) => r.type === "node");
  if (!local) throw new ToolError("pve_error", "PVE's /cluster/status lists no node");
  return local.name;
}

/** Boolean-like strings become PVE's 1/0; everything else passes as text. */
export function pveValues(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, v === "true" ? "1" : v === "false" ? "0" : v]));
}

/** A boolean argument as PVE's 1/0, absent when not given. */
export const bool = (v: boolean | undefined): number | undefined => (v === undefined ? undefined : v ? 1 : 0);

/** Drops undefined values, so only what the caller gave reaches PVE. */
export function defined(params: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
}

const configReply = z.record(z.string(), z.unknown());
const pendingReply = z.array(z.looseObject({ key: z.string(), value: z.unknown().optional(), pending: z.unknown().optional(), delete: num.optional() }));

async function readConfig(ctx: ToolContext, node: string, type: GuestType, vmid: number, current = false): Promise<{ config: Record<string, string>; digest: string }> {
  const raw = parseReply(configReply, await ctx.pve.request("GET", `${guestPath(node, type, vmid)}/config`, current ? { current: 1 } : {}, ctx), `config of ${vmid}`);
  const config: Record<string, string> = {};
  let digest = "";
  for (const [k, v] of Object.entries(raw)) {
    if (k === "digest") digest = String(v);
    else if (v !== null && v !== undefined) config[k] = String(v);
  }
  return { config, digest };
}

async function readPending(ctx: ToolContext, node: string, type: GuestType, vmid: number) {
  const rows = parseReply(pendingReply, await ctx.pve.request("GET", `${guestPath(node, type, vmid)}/pending`, {}, ctx), `pending changes of ${vmid}`);
  const digest = String(rows.find((r) => r.key === "digest")?.value ?? "");
  const changes = rows
    .filter((r) => r.key !== "digest" && (r.pending !== undefined || r.delete))
    .map((r) => ({ key: r.key, value: r.value === undefined ? undefined : String(r.value), pending: r.pending === undefined ? undefined : String(r.pending), delete: r.delete ? true : undefined }));
  return { digest, changes };
}

const rrdReply = z.array(z.looseObject({ time: num, cpu: num.optional(), maxcpu: num.optional(), mem: num.optional(), maxmem: num.optional(), netin: num.optional(),
  netout: num.optional(), diskread: num.optional(), diskwrite: num.optional() }));
const snapshotReply = z.array(z.looseObject({ name: z.string(), parent: z.string().optional(), snaptime: num.optional(), description: z.string().optional(), vmstate: num.optional() }));

const isDiskKey = (type: GuestType, key: string): boolean =>
  /^unused\d+$/.test(key) || (type === "lxc" ? key === "rootfs" || /^mp\d+$/.test(key) : /^(ide|sata|scsi|virtio)\d+$/.test(key) || key === "efidisk0" || key === "tpmstate0");

interface PowerArgs extends WaitOptions {
  vmid: number;
  action: string;
  node?: string;
  type?: GuestType;
}

/** POSTs status/<action> and, when asked, follows the task it starts. */
async function powerAction({ vmid, action, node, type, wait, wait_seconds }: PowerArgs, ctx: ToolContext) {
  const where = await locate(ctx, vmid, node, type);
  if (where.type === "lxc" && action === "reset") throw new ToolError("invalid_arguments", "containers cannot be reset; use reboot or stop");
  const outcome = await startTask(ctx, "POST", `${guestPath(where.node, where.type, vmid)}/status/${action}`, {}, { wait, wait_seconds });
  return { vmid, node: where.node, action, ...outcome };
}

/** Finds the UPID of a task PVE forked without returning it (LXC template), newest first. */
async function latestTask(ctx: ToolContext, node: string, vmid: number, typefilter: string): Promise<string> {
  const rows = parseReply(z.array(z.looseObject({ upid: z.string(), starttime: num })),
    await ctx.pve.request("GET", `/nodes/${node}/tasks`, { vmid, typefilter, source: "all", limit: 1 }, ctx), `GET /nodes/${node}/tasks`);
  const upid = rows[0]?.upid;
  if (!upid) throw new ToolError("pve_error", `PVE started no ${typefilter} task for ${vmid}`);
  return upid;
}

const volumeOf = (value: string): string => value.split(",")[0];

/** The unusedN key that holds `volid` in a config, if any. */
function unusedKeyOf(config: Record<string, string>, volid: string): string | undefined {
  return Object.keys(config).find((k) => /^unused\d+$/.test(k) && volumeOf(config[k]) === volid);
}

/** Disk add: "<storage>:<GiB>" (+ mp= for a container mount point) and extra options. */
function newDiskValue(type: GuestType, disk: string, size: string | undefined, storage: string | undefined, mp: string | undefined, options: string | undefined): string {
  if (!storage) throw new ToolError("invalid_arguments", "guest_disk action=add needs storage");
  const m = /^(\d+)G?$/.exec(size ?? "");
  if (!m) throw new ToolError("invalid_arguments", "guest_disk action=add needs size in whole GiB, e.g. '32'");
  if (type === "lxc" && /^mp\d+$/.test(disk) && !mp) throw new ToolError("invalid_arguments", "a container mount point needs mp, the path inside the container (e.g. /srv/data)");
  return [`${storage}:${m[1]}`, ...(type === "lxc" && mp ? [`mp=${mp}`] : []), ...(options ? [options] : [])].join(",");
}

type DiskResult = { value?: string; unused?: string; pending?: boolean } & Partial<TaskOutcome>;

async function diskAction(args: z.output<typeof guestDisk.input>, ctx: ToolContext, node: string, type: GuestType): Promise<DiskResult> {
  const { vmid, disk, action } = args;
  const base = guestPath(node, type, vmid);
  const before = await readConfig(ctx, node, type, vmid);
  const after = async (): Promise<DiskResult> => {
    const [{ config }, pending] = await Promise.all([readConfig(ctx, node, type, vmid, true), readPending(ctx, node, type, vmid)]);
    return { value: config[disk], pending: pending.changes.some((c) => c.key === disk) };
  };
  const existing = before.config[disk];
  if (action === "add") {
    if (existing) throw new ToolError("invalid_arguments", `${disk} is already in use (${existing}); choose a free key, or use resize, move or remove`);
    const value = newDiskValue(type, disk, args.size, args.storage, args.mp, args.options);
    await ctx.pve.request("PUT", `${base}/config`, defined({ [disk]: value, digest: args.digest }), ctx);
    return after();
  }
  if (!existing) throw new ToolError("pve_error", `disk '${disk}' does not exist`);
  if (action === "resize") {
    if (!args.size) throw new ToolError("invalid_arguments", "guest_disk action=resize needs size, e.g. '50G' or '+10G'");
    const size = /^\+?\d+(\.\d+)?$/.test(args.size) ? `${args.size}G` : args.size;
    const outcome = await startTask(ctx, "PUT", `${base}/resize`, defined({ disk, size, digest: args.digest }), args);
    return { ...(await after()), ...outcome };
  }
  if (action === "move") {
    if (!args.storage) throw new ToolError("invalid_arguments", "guest_disk action=move needs storage");
    const params = defined({ [type === "qemu" ? "disk" : "volume"]: disk, storage: args.storage, delete: bool(args.delete_source), digest: args.digest });
    const outcome = await startTask(ctx, "POST", `${base}/${type === "qemu" ? "move_disk" : "move_volume"}`, params, args);
    const result = { ...(await after()), ...outcome };
    if (outcome.status === "stopped" && !args.delete_source) {
      const { config } = await readConfig(ctx, node, type, vmid, true);
      result.unused = unusedKeyOf(config, volumeOf(existing));
    }
    return result;
  }
  // remove: detach (the volume becomes unusedN), then, unless kept, delete the unused volume, which frees it.
  const volid = volumeOf(existing);
  const cdrom = /media=cdrom/.test(existing);
  if (type === "qemu" && !args.keep_volume && !cdrom) {
    await ctx.pve.request("PUT", `${base}/unlink`, { idlist: disk, force: 1 }, ctx);
    return { pending: (await readPending(ctx, node, type, vmid)).changes.some((c) => c.key === disk) };
  }
  await ctx.pve.request("PUT", `${base}/config`, defined({ delete: disk, digest: args.digest }), ctx);
  if (cdrom || /^unused\d+$/.test(disk)) return {};
  const { config } = await readConfig(ctx, node, type, vmid, true);
  const unused = unusedKeyOf(config, volid);
  if (!unused) return { pending: true };
  if (args.keep_volume) return { unused };
  await ctx.pve.request("PUT", `${base}/config`, { delete: unused }, ctx);
  return {};
}

const netFields = ["bridge", "tag", "firewall", "rate", "mtu", "link_down", "name", "ip", "gw", "ip6", "gw6"] as const;

/** Builds a NIC's property string: the current one with the given fields replaced. */
function netValue(type: GuestType, net: string, current: string | undefined, args: z.output<typeof guestNetwork.input>): string {
  const parts = (current ?? "").split(",").filter(Boolean);
  const kv = new Map<string, string>();
  let model = "virtio";
  let mac: string | undefined;
  parts.forEach((part, index) => {
    const i = part.indexOf("=");
    const [k, v] = i < 0 ? [part, ""] : [part.slice(0, i), part.slice(i + 1)];
    // A VM NIC starts with "<model>=<MAC>" (print_net); a container NIC keeps its MAC in hwaddr.
    if (type === "qemu" && index === 0 && k !== "bridge") {
      model = k;
      mac = v || undefined;
    } else if (k === (type === "qemu" ? "macaddr" : "hwaddr")) mac = v;
    else kv.set(k, v);
  });
  if (args.model) model = args.model;
  if (args.macaddr) mac = args.macaddr.toUpperCase();
  const given: Record<string, string | number | boolean | undefined> = { ...Object.fromEntries(netFields.map((f) => [f, args[f]])) };
  if (type === "qemu") for (const f of ["name", "ip", "gw", "ip6", "gw6"]) if (given[f] !== undefined) throw new ToolError("invalid_arguments", `${f} is a container NIC field; a VM gets its address from cloud-init (guest_cloudinit ipconfig) or its OS`);
  if (type === "lxc" && (args.model || args.link_down !== undefined)) throw new ToolError("invalid_arguments", "model and link_down are VM NIC fields");
  for (const [k, v] of Object.entries(given)) {
    if (v === undefined) continue;
    kv.set(k, typeof v === "boolean" ? (v ? "1" : "0") : String(v));
  }
  if (!kv.has("bridge")) kv.set("bridge", "vmbr0");
  if (type === "lxc" && !kv.has("name")) kv.set("name", `eth${net.slice(3)}`);
  const rest = [...kv.entries()].map(([k, v]) => `${k}=${v}`);
  if (type === "qemu") return [mac ? `${model}=${mac}` : model, ...rest].join(",");
  return [...rest, ...(mac ? [`hwaddr=${mac}`] : [])].join(",");
}

const poolReply = z.array(z.looseObject({ poolid: z.string(), comment: z.string().optional(), members: z.array(z.looseObject({ type: z.string(), vmid: num.optional() })).optional() }));
const consoleReply = z.looseObject({ user: z.string(), ticket: z.string(), port: num, upid: z.string(), password: z.string().optional() });

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

  implement(guestInfo, async (args, ctx) => {
    const { vmid, action } = args;
    const { node, type } = await locate(ctx, vmid, args.node, args.type);
    const base = guestPath(node, type, vmid);
    const head = { vmid, node, type, action };
    if (action === "config") return { ...head, ...(await readConfig(ctx, node, type, vmid, args.current)) };
    if (action === "pending") {
      const { digest, changes } = await readPending(ctx, node, type, vmid);
      return { ...head, digest, pending: changes };
    }
    if (action === "rrd") {
      const rows = parseReply(rrdReply, await ctx.pve.request("GET", `${base}/rrddata`, { timeframe: args.timeframe, cf: args.cf }, ctx), `rrddata of ${vmid}`);
      return { ...head, rrd: rows.map(({ time, cpu, maxcpu, mem, maxmem, netin, netout, diskread, diskwrite }) => ({ time, cpu, maxcpu, mem, maxmem, netin, netout, diskread, diskwrite })) };
    }
    if (action === "snapshots") {
      const rows = parseReply(snapshotReply, await ctx.pve.request("GET", `${base}/snapshot`, {}, ctx), `snapshots of ${vmid}`);
      const snapshots = rows
        .map((s) => ({ name: s.name, parent: s.parent, snaptime: s.snaptime, description: s.description || undefined,
          vmstate: s.vmstate === undefined ? undefined : Boolean(s.vmstate), current: s.name === "current" ? true : undefined }))
        .sort((a, b) => (a.current ? 1 : b.current ? -1 : (a.snaptime ?? 0) - (b.snaptime ?? 0)));
      return { ...head, snapshots };
    }
    const [{ config }, status] = await Promise.all([readConfig(ctx, node, type, vmid, true),
      ctx.pve.request("GET", `${base}/status/current`, {}, ctx).then((r) => parseReply(guestCurrentReply, r, `status of ${vmid}`))]);
    return { ...head, terraform: terraformOf(type, node, vmid, config, status.status === "running") };
  }),

  implement(guestConfigUpdate, async (args, ctx) => {
    const { vmid } = args;
    const { node, type } = await locate(ctx, vmid, args.node, args.type);
    const set = pveValues(args.set ?? {});
    const del = args.delete ?? [];
    if (!Object.keys(set).length && !del.length) throw new ToolError("invalid_arguments", "nothing to change: give set and/or delete");
    const disks = del.filter((k) => isDiskKey(type, k));
    if (disks.length) throw new ToolError("invalid_arguments", `deleting ${disks.join(", ")} would detach or destroy disks; use guest_disk action=remove`);
    await ctx.pve.request("PUT", `${guestPath(node, type, vmid)}/config`, defined({ ...set, delete: del.length ? del.join(",") : undefined, digest: args.digest }), ctx);
    const pending = await readPending(ctx, node, type, vmid);
    return { vmid, node, type, changed: [...Object.keys(set), ...del], pending: pending.changes.map((c) => c.key), digest: pending.digest };
  }),

  implement(guestCreate, async (args, ctx) => {
    const vmid = args.vmid ?? (await nextId(ctx));
    const params = defined({ ...pveValues(args.params), vmid, storage: args.storage, pool: args.pool, start: bool(args.start) });
    const outcome = await startTask(ctx, "POST", `/nodes/${args.node}/${args.type}`, params, args);
    return { vmid, node: args.node, type: args.type, ...outcome };
  }),

  implement(guestClone, async (args, ctx) => {
    const { vmid } = args;
    const { node, type } = await locate(ctx, vmid, args.node, args.type);
    const newid = args.newid ?? (await nextId(ctx));
    const params = defined({ newid, target: args.target, full: bool(args.full), storage: args.storage, snapname: args.snapname, pool: args.pool,
      description: args.description, [type === "qemu" ? "name" : "hostname"]: args.name });
    const outcome = await startTask(ctx, "POST", `${guestPath(node, type, vmid)}/clone`, params, args);
    return { vmid, node, type, newid, target: args.target ?? node, ...outcome };
  }),

  implement(guestTemplate, async (args, ctx) => {
    const { vmid } = args;
    const { node, type } = await locate(ctx, vmid, args.node, args.type);
    const path = `${guestPath(node, type, vmid)}/template`;
    if (type === "qemu") return { vmid, node, type, ...(await startTask(ctx, "POST", path, {}, args)) };
    // pve-container forks the 'vztemplate' worker but answers null; find the task to follow it.
    await ctx.pve.request("POST", path, {}, ctx);
    const upid = await latestTask(ctx, node, vmid, "vztemplate");
    ctx.note({ upid });
    const outcome = args.wait ? await followTask(ctx, upid, args.wait_seconds * 1000) : { upid, status: "running" as const };
    return { vmid, node, type, ...outcome };
  }),

  implement(guestDelete, async (args, ctx) => {
    const { vmid } = args;
    const { node, type } = await locate(ctx, vmid, args.node, args.type);
    const params = defined({ purge: bool(args.purge), "destroy-unreferenced-disks": bool(args.destroy_unreferenced_disks) });
    return { vmid, node, type, ...(await startTask(ctx, "DELETE", guestPath(node, type, vmid), params, args)) };
  }),

  implement(guestMigrate, async (args, ctx) => {
    const { vmid, target } = args;
    const { node, type } = await locate(ctx, vmid, args.node, args.type);
    if (type === "lxc" && args.with_local_disks) throw new ToolError("invalid_arguments", "with_local_disks is for VMs; containers copy local volumes when they migrate");
    if (type === "qemu" && args.restart) throw new ToolError("invalid_arguments", "restart is for containers; a running VM migrates with online=true");
    const params = defined({ target, online: bool(args.online), restart: bool(args.restart), "with-local-disks": bool(args.with_local_disks),
      [type === "qemu" ? "targetstorage" : "target-storage"]: args.target_storage });
    return { vmid, node, type, target, ...(await startTask(ctx, "POST", `${guestPath(node, type, vmid)}/migrate`, params, args)) };
  }),

  implement(guestDisk, async (args, ctx) => {
    const { vmid, action, disk } = args;
    const { node, type } = await locate(ctx, vmid, args.node, args.type);
    if (type === "lxc" ? !/^(rootfs|mp\d+|unused\d+)$/.test(disk) : /^(rootfs|mp\d+)$/.test(disk)) {
      throw new ToolError("invalid_arguments", type === "lxc" ? "container disks are rootfs, mp0, mp1, ... (and unusedN)" : "VM disks are scsiN, virtioN, sataN, ideN, efidisk0, tpmstate0 (and unusedN)");
    }
    const result = await diskAction(args, ctx, node, type);
    return { vmid, node, type, action, disk, ...result };
  }),

  implement(guestNetwork, async (args, ctx) => {
    const { vmid, action, net } = args;
    const { node, type } = await locate(ctx, vmid, args.node, args.type);
    const base = guestPath(node, type, vmid);
    const { config } = await readConfig(ctx, node, type, vmid);
    const current = config[net];
    if (action === "add" && current) throw new ToolError("invalid_arguments", `${net} already exists (${current}); use action=update or another netN`);
    if (action !== "add" && !current) throw new ToolError("pve_error", `${net} does not exist on ${type === "qemu" ? "VM" : "CT"} ${vmid}`);
    const params = action === "remove" ? { delete: net } : { [net]: netValue(type, net, action === "update" ? current : undefined, args) };
    await ctx.pve.request("PUT", `${base}/config`, defined({ ...params, digest: args.digest }), ctx);
    const [{ config: after }, pending] = await Promise.all([readConfig(ctx, node, type, vmid), readPending(ctx, node, type, vmid)]);
    return { vmid, node, type, action, net, value: after[net], pending: pending.changes.some((c) => c.key === net) };
  }),

  implement(guestCloudinit, async (args, ctx) => {
    const { vmid } = args;
    const { node, type } = await locate(ctx, vmid, args.node, undefined);
    if (type !== "qemu") throw new ToolError("invalid_arguments", `${vmid} is a container: containers have no cloud-init; set hostname with guest_config_update and addresses with guest_network`);
    const base = guestPath(node, type, vmid);
    const set = defined({
      ciuser: args.ciuser, cipassword: args.cipassword, nameserver: args.nameserver, searchdomain: args.searchdomain, ciupgrade: bool(args.ciupgrade),
      // PVE takes the keys URI-encoded (format 'urlencoded'); encodeURIComponent leaves only characters that format allows.
      sshkeys: args.sshkeys === undefined ? undefined : encodeURIComponent(args.sshkeys.trim() + "\n"),
      ...(args.ipconfig ?? {}),
    });
    if (Object.keys(set).length) await ctx.pve.request("PUT", `${base}/config`, set, ctx);
    const { config } = await readConfig(ctx, node, type, vmid);
    const drive = Object.keys(config).find((k) => /^(ide|sata|scsi|virtio)\d+$/.test(k) && /cloudinit/.test(config[k]));
    const regenerated = Boolean(drive && args.regenerate);
    if (regenerated) await ctx.pve.request("PUT", `${base}/cloudinit`, {}, ctx);
    const items = parseReply(pendingReply, await ctx.pve.request("GET", `${base}/cloudinit`, {}, ctx), `cloud-init of ${vmid}`);
    const pending = items.filter((i) => i.pending !== undefined || i.delete).map((i) => i.key);
    return { vmid, node, type, set: Object.keys(set), drive, regenerated, pending };
  }),

  implement(guestPool, async (args, ctx) => {
    const { poolid, action, vmids } = args;
    await ctx.pve.request("PUT", "/pools", defined({ poolid, vms: vmids.join(","), delete: action === "remove" ? 1 : undefined, "allow-move": bool(args.allow_move) }), ctx);
    const pools = parseReply(poolReply, await ctx.pve.request("GET", "/pools", { poolid }, ctx), `GET /pools?poolid=${poolid}`);
    const members = (pools[0]?.members ?? []).filter((m) => (m.type === "qemu" || m.type === "lxc") && m.vmid !== undefined).map((m) => m.vmid as number).sort((a, b) => a - b);
    return { poolid, action, vmids, members };
  }),

  implement(pool, async ({ action, poolid, comment }, ctx) => {
    if (action === "delete") {
      if (comment !== undefined) throw new ToolError("invalid_arguments", "comment does not apply to delete");
      await ctx.pve.request("DELETE", "/pools", { poolid }, ctx);
      return { action, poolid };
    }
    // PVE reads an empty form value as no value, so a pool comment cannot be cleared, only replaced.
    if (action === "update" && !comment) throw new ToolError("invalid_arguments", "update replaces the comment: pass a non-empty comment (PVE cannot clear it)");
    await ctx.pve.request(action === "create" ? "POST" : "PUT", "/pools", defined({ poolid, comment }), ctx);
    const [found] = parseReply(poolReply, await ctx.pve.request("GET", "/pools", { poolid }, ctx), `GET /pools?poolid=${poolid}`);
    return { action, poolid, comment: found?.comment || undefined, members: found?.members?.filter((m) => m.type === "qemu" || m.type === "lxc").length ?? 0 };
  }),

  implement(guestConsole, async (args, ctx) => {
    const { vmid, kind } = args;
    const { node, type } = await locate(ctx, vmid, args.node, args.type);
    const base = guestPath(node, type, vmid);
    const reply = parseReply(consoleReply, await ctx.pve.request("POST", `${base}/${kind === "vnc" ? "vncproxy" : "termproxy"}`, kind === "vnc" ? { websocket: 1 } : {}, ctx), `${kind} proxy of ${vmid}`);
    ctx.note({ upid: reply.upid });
    const websocket = `/api2/json${base}/vncwebsocket?port=${reply.port}&vncticket=${encodeURIComponent(reply.ticket)}`;
    return { vmid, node, type, kind, user: reply.user, port: reply.port, ticket: reply.ticket, password: reply.password, upid: reply.upid, websocket };
  }),
];
