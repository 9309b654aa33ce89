import { z } from "zod";
import { ToolError } from "../../shared/errors.ts";
import { paginate } from "../../shared/tool.ts";
import { storageDeleteVolume, storageDownload, storageInfo } from "../../shared/tools/storage.ts";
import { bool, defined, locate, localNode } from "./guests.ts";
import { implement, type ToolContext } from "./registry.ts";
import { parseReply } from "./replies.ts";
import { startTask } from "./tasks.ts";
import { flag, num } from "./values.ts";

const storageReply = z.looseObject({
  storage: z.string().optional(),
  type: z.string(),
  content: z.string().default(""),
  shared: flag.optional(),
  active: flag.optional(),
  enabled: flag.optional(),
  total: num.optional(),
  used: num.optional(),
  avail: num.optional(),
  used_fraction: num.optional(),
});

export const contentReply = z.array(
  z.looseObject({ volid: z.string(), content: z.string(), format: z.string().optional(), size: num.optional(), ctime: num.optional(), vmid: num.optional(),
    subtype: z.string().optional(), notes: z.string().optional(), protected: flag.optional() }),
);

function storageEntry(s: z.output<typeof storageReply>, id: string) {
  const total = s.total;
  const used = s.used;
  return {
    storage: s.storage ?? id,
    type: s.type,
    content: s.content.split(",").filter(Boolean).sort(),
    shared: s.shared ?? false,
    active: s.active,
    enabled: s.enabled,
    total,
    used,
    avail: s.avail,
    used_fraction: s.used_fraction ?? (total && used !== undefined ? Number((used / total).toFixed(4)) : undefined),
  };
}

/** GET .../storage/{storage}/content on one node. */
export async function storageContent(ctx: ToolContext, node: string, storage: string, filter: { content?: string; vmid?: number } = {}) {
  const path = `/nodes/${node}/storage/${storage}/content`;
  return parseReply(contentReply, await ctx.pve.request("GET", path, defined(filter), ctx), `GET ${path}`);
}

/** The guest whose config holds `volid` as an attached disk, if any. */
async function attachedTo(ctx: ToolContext, volid: string): Promise<{ vmid: number; key: string } | undefined> {
  const owner = /^[^:]+:(?:\d+\/)?(?:vm|base)-(\d+)-/.exec(volid);
  if (!owner) return undefined;
  const vmid = Number(owner[1]);
  const where = await locate(ctx, vmid).catch(() => undefined);
  if (!where) return undefined;
  const conf = parseReply(z.record(z.string(), z.unknown()), await ctx.pve.request("GET", `/nodes/${where.node}/${where.type}/${vmid}/config`, {}, ctx), `config of ${vmid}`);
  const key = Object.keys(conf).find((k) => !/^unused\d+$/.test(k) && typeof conf[k] === "string" && (conf[k] as string).split(",")[0].replace(/^volume=/, "") === volid);
  return key ? { vmid, key } : undefined;
}

export const storageTools = [
  implement(storageInfo, async (args, ctx) => {
    const { action } = args;
    const node = args.node ?? (await localNode(ctx));
    if (action === "list") {
      const rows = parseReply(z.array(storageReply), await ctx.pve.request("GET", `/nodes/${node}/storage`, defined({ content: args.content }), ctx), `GET /nodes/${node}/storage`);
      const storages = rows.map((s) => storageEntry(s, s.storage ?? "")).sort((a, b) => a.storage.localeCompare(b.storage));
      return { action, node, storages };
    }
    if (!args.storage) throw new ToolError("invalid_arguments", `storage_info action=${action} needs storage`);
    if (action === "status") {
      const path = `/nodes/${node}/storage/${args.storage}/status`;
      return { action, node, status: storageEntry(parseReply(storageReply, await ctx.pve.request("GET", path, {}, ctx), `GET ${path}`), args.storage) };
    }
    const rows = await storageContent(ctx, node, args.storage, { content: args.content, vmid: args.vmid });
    const volumes = rows.map((v) => ({ volid: v.volid, content: v.content, format: v.format, size: v.size, ctime: v.ctime, vmid: v.vmid, notes: v.notes, protected: v.protected }));
    const page = paginate(volumes, args.limit, args.cursor);
    return { action, node, volumes: page.items, total: page.total, next_cursor: page.next_cursor };
  }),

  implement(storageDownload, async (args, ctx) => {
    const node = args.node ?? (await localNode(ctx));
    const { storage, content } = args;
    if (Boolean(args.checksum) !== Boolean(args.checksum_algorithm)) throw new ToolError("invalid_arguments", "checksum and checksum_algorithm go together");
    // PVE::Storage::normalize_content_filename, so the answer names the file PVE writes.
    const filename = args.filename.trim().replace(/^.*[/\\]/, "").replace(/[^a-zA-Z0-9_.-]/g, "_");
    const params = defined({ url: args.url, filename, content, checksum: args.checksum, "checksum-algorithm": args.checksum_algorithm,
      "verify-certificates": bool(args.verify_certificates) });
    const outcome = await startTask(ctx, "POST", `/nodes/${node}/storage/${storage}/download-url`, params, args);
    return { node, storage, volid: `${storage}:${content}/${filename}`, ...outcome };
  }),

  implement(storageDeleteVolume, async (args, ctx) => {
    const { volume } = args;
    const storage = volume.split(":")[0];
    const user = await attachedTo(ctx, volume);
    if (user) throw new ToolError("invalid_arguments", `${volume} is attached to guest ${user.vmid} as ${user.key}; remove it with guest_disk action=remove (or detach it first)`);
    const node = args.node ?? (await localNode(ctx));
    const outcome = await startTask(ctx, "DELETE", `/nodes/${node}/storage/${storage}/content/${encodeURIComponent(volume)}`, {}, args);
    return { volume, node, ...outcome };
  }),
];
