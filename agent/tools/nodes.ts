import { nodeList, nodeStatus } from "../../shared/tools/nodes.ts";
import { implement } from "./registry.ts";
import { nodeStatusReply, nodesReply, parseReply } from "./replies.ts";

export const nodeTools = [
  implement(nodeList, async (_args, ctx) => {
    const rows = parseReply(nodesReply, await ctx.pve.api(ctx).nodes.$get(), "GET /nodes");
    const nodes = rows
      .map(({ node, status, cpu, maxcpu, mem, maxmem, uptime }) => ({ node, status, cpu, maxcpu, mem, maxmem, uptime }))
      .sort((a, b) => a.node.localeCompare(b.node));
    return { nodes };
  }),
  implement(nodeStatus, async ({ node }, ctx) => {
    const s = parseReply(nodeStatusReply, await ctx.pve.api(ctx).nodes.$(node).status.$get(), `GET /nodes/${node}/status`);
    return {
      node,
      cpu: s.cpu,
      cpus: s.cpuinfo?.cpus,
      cpu_model: s.cpuinfo?.model,
      loadavg: s.loadavg,
      memory: { used: s.memory.used, total: s.memory.total, free: s.memory.free ?? s.memory.total - s.memory.used },
      swap: s.swap ? { used: s.swap.used, total: s.swap.total, free: s.swap.free ?? s.swap.total - s.swap.used } : undefined,
      rootfs: s.rootfs ? { used: s.rootfs.used, total: s.rootfs.total, avail: s.rootfs.avail ?? s.rootfs.free ?? 0 } : undefined,
      uptime: s.uptime,
      kernel: s.kversion,
      pve_version: s.pveversion,
    };
  }),
];
