import { z } from "zod";
import { haInfo } from "../../shared/tools/ha.ts";
import { implement, type ToolContext } from "./registry.ts";
import { compact, flag, num, pveGet } from "./values.ts";

const statusRow = z.looseObject({ id: z.string(), type: z.string(), node: z.string().optional(), status: z.string(), sid: z.string().optional(), state: z.string().optional(), crm_state: z.string().optional(), request_state: z.string().optional(), quorate: flag.optional() });
const resourceRow = z.looseObject({ sid: z.string(), type: z.string().optional(), state: z.string().optional(), max_restart: num.optional(), max_relocate: num.optional(), failback: flag.optional(), group: z.string().optional(), comment: z.string().optional() });
const ruleRow = z.looseObject({ rule: z.string(), type: z.string(), resources: z.string(), nodes: z.string().optional(), strict: flag.optional(), disable: flag.optional(), comment: z.string().optional() });
const jobRow = z.looseObject({ id: z.string(), guest: num, source: z.string().optional(), target: z.string(), schedule: z.string().optional(), last_sync: num.optional(), next_sync: num.optional(), duration: num.optional(), fail_count: num.optional(), error: z.string().optional() });
const nodeRow = z.looseObject({ node: z.string(), status: z.string() });


/** Replication state lives on each job's source node: ask every online node. */
async function replicationJobs(ctx: ToolContext, node: string | undefined, vmid: number | undefined) {
  const nodes = node ? [node] : (await pveGet(ctx, z.array(nodeRow), "/nodes")).filter((n) => n.status === "online").map((n) => n.node);
  const perNode = await Promise.all(nodes.map((n) => pveGet(ctx, z.array(jobRow), `/nodes/${n}/replication`, vmid ? { guest: vmid } : {})));
  return perNode.flat().map((j) =>
    compact({
      id: j.id,
      guest: j.guest,
      source: j.source,
      target: j.target,
      schedule: j.schedule,
      state: (j.fail_count ?? 0) > 0 || j.error ? ("failing" as const) : j.last_sync ? ("ok" as const) : ("never_run" as const),
      last_sync: j.last_sync || undefined,
      next_sync: j.next_sync,
      duration: j.duration,
      fail_count: j.fail_count,
      error: j.error,
    }),
  );
}

export const haTools = [
  implement(haInfo, async ({ action, node, vmid }, ctx) => {
    switch (action) {
      case "status": {
        const rows = await pveGet(ctx, z.array(statusRow), "/cluster/ha/status/current");
        const quorum = rows.find((r) => r.type === "quorum");
        const master = rows.find((r) => r.type === "master");
        return compact({
          action,
          quorate: quorum?.quorate,
          master: master ? { node: master.node ?? "", status: master.status } : undefined,
          lrm: rows.filter((r) => r.type === "lrm").map((r) => ({ node: r.node ?? "", status: r.status })),
          services: rows.filter((r) => r.type === "service").map((r) => compact({ sid: r.sid ?? r.id.replace(/^service:/, ""), node: r.node ?? "", state: r.state ?? r.crm_state ?? "unknown", request_state: r.request_state, status: r.status })),
          note: rows.some((r) => r.type === "service") ? undefined : "No guest is under HA.",
        });
      }
      case "resources": {
        const rows = await pveGet(ctx, z.array(resourceRow), "/cluster/ha/resources");
        return { action, resources: rows.map((r) => compact({ sid: r.sid, type: r.type ?? r.sid.split(":")[0], state: r.state ?? "started", max_restart: r.max_restart, max_relocate: r.max_relocate, failback: r.failback, group: r.group, comment: r.comment })) };
      }
      case "groups": {
        const [groups, rules] = await Promise.all([pveGet(ctx, z.array(z.record(z.string(), z.unknown())), "/cluster/ha/groups"), pveGet(ctx, z.array(ruleRow), "/cluster/ha/rules")]);
        return compact({
          action,
          groups,
          rules: rules.map((r) => compact({ rule: r.rule, type: r.type, resources: r.resources, nodes: r.nodes, strict: r.strict, disabled: r.disable, comment: r.comment })),
          note: groups.length ? undefined : "No HA groups: PVE 9 migrates HA groups to node-affinity rules (listed under rules).",
        });
      }
      case "replication": {
        const jobs = await replicationJobs(ctx, node, vmid);
        return { action, replication: jobs.sort((a, b) => a.id.localeCompare(b.id, "en", { numeric: true })), ...(jobs.length ? {} : { note: "No replication jobs (replication needs ZFS storage on both nodes)." }) };
      }
    }
  }),
];
