import { clusterStatus } from "../../shared/tools/cluster.ts";
import { implement } from "./registry.ts";
import { clusterStatusReply, parseReply } from "./replies.ts";

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
];
