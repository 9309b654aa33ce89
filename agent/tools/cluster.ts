import { z } from "zod";
import { paginate } from "../../shared/tool.ts";
import { clusterInfo, clusterStatus } from "../../shared/tools/cluster.ts";
import { implement, type ToolContext } from "./registry.ts";
import { clusterResourceRow, clusterStatusReply, parseReply, resourcesReply, type ClusterResource } from "./replies.ts";
import { compact, num } from "./values.ts";

const logRow = z.looseObject({ time: num, node: z.string(), tag: z.string(), user: z.string().optional(), pri: num, msg: z.string() });
const poolRow = z.looseObject({ poolid: z.string(), comment: z.string().optional(), members: z.array(clusterResourceRow).optional() });

/** A resource with the fraction used that matters for its kind: disk for storage, memory otherwise. */
function resourceEntry(r: ClusterResource) {
  const { id, type, node, status, name, vmid, storage, pool, cpu, maxcpu, mem, maxmem, disk, maxdisk, uptime, tags } = r;
  const usage = type === "storage" ? (maxdisk ? (disk ?? 0) / maxdisk : undefined) : maxmem ? (mem ?? 0) / maxmem : undefined;
  return compact({ id, type, node, status, name, vmid, storage, pool, cpu, maxcpu, mem, maxmem, disk, maxdisk, usage: usage === undefined ? undefined : Number(usage.toFixed(4)), uptime, tags });
}

async function resources(ctx: ToolContext, type?: string): Promise<ClusterResource[]> {
  return parseReply(resourcesReply, await ctx.pve.request("GET", "/cluster/resources", type ? { type } : {}, ctx), "GET /cluster/resources");
}

export const clusterTools = [
  implement(clusterStatus, async (_args, ctx) => {
    const rows = parseReply(clusterStatusReply, await ctx.pve.api(ctx).cluster.status.$get(), "GET /cluster/status");
    const cluster = rows.find((r) => r.type === "cluster");
    return {
      ...(cluster
        ? { cluster: { name: cluster.name, quorate: cluster.quorate ?? false, nodes: cluster.nodes ?? 0, version: cluster.version } }
        : {}),
      nodes: rows
        .filter((r) => r.type === "node")
        .map((r) => ({ name: r.name, online: r.online ?? false, ip: r.ip, local: r.local, nodeid: r.nodeid })),
    };
  }),
  implement(clusterInfo, async ({ action, type, max, poolid, limit, cursor }, ctx) => {
    switch (action) {
      case "resources": {
        const rows = (await resources(ctx, type)).map(resourceEntry).sort((a, b) => a.id.localeCompare(b.id, "en", { numeric: true }));
        const page = paginate(rows, limit, cursor);
        return { action, resources: page.items, total: page.total, next_cursor: page.next_cursor };
      }
      case "log": {
        const rows = parseReply(z.array(logRow), await ctx.pve.request("GET", "/cluster/log", { max }, ctx), "GET /cluster/log");
        return { action, log: rows.map(({ time, node, tag, user, pri, msg }) => compact({ time, node, tag, user, pri, msg })) };
      }
      case "nextid":
        return { action, nextid: parseReply(num, await ctx.pve.request("GET", "/cluster/nextid", {}, ctx), "GET /cluster/nextid") };
      case "ceph_status":
        return { action, ceph: parseReply(z.record(z.string(), z.unknown()), await ctx.pve.request("GET", "/cluster/ceph/status", {}, ctx), "GET /cluster/ceph/status") };
      case "sdn_status": {
        // PVE 9 reports SDN zones as "network" resources of network-type zone; PVE 8 as "sdn" resources.
        const zones = (await resources(ctx))
          .filter((r) => r.type === "sdn" || (r.type === "network" && r["network-type"] === "zone"))
          .map((r) => ({ zone: r.sdn ?? r.network ?? r.id, node: r.node ?? "", status: r.status ?? "unknown" }));
        return { action, sdn: zones };
      }
      case "pools": {
        const rows = parseReply(z.array(poolRow), await ctx.pve.request("GET", "/pools", poolid ? { poolid } : {}, ctx), "GET /pools");
        const page = paginate(rows, limit, cursor);
        const pools = page.items.map((p) => compact({ poolid: p.poolid, comment: p.comment, members: p.members?.map(resourceEntry) }));
        return { action, pools, total: page.total, next_cursor: page.next_cursor };
      }
    }
  }),
];
