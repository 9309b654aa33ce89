import { z } from "zod";
import { ToolError } from "../../shared/errors.ts";
import { haInfo, haResource } from "../../shared/tools/ha.ts";
import { defined, locate } from "./guests.ts";
import { implement, type ToolContext } from "./registry.ts";
import { parseReply } from "./replies.ts";
import { jobStatusRow, nextSync, stateOf } from "./replication.ts";
import { compact, flag, num, pveGet, refuseStray } from "./values.ts";

const statusRow = z.looseObject({ id: z.string(), type: z.string(), node: z.string().optional(), status: z.string(), sid: z.string().optional(), state: z.string().optional(), crm_state: z.string().optional(), request_state: z.string().optional(), quorate: flag.optional() });
const resourceRow = z.looseObject({ sid: z.string(), type: z.string().optional(), state: z.string().optional(), max_restart: num.optional(), max_relocate: num.optional(), failback: flag.optional(), group: z.string().optional(), comment: z.string().optional() });
const ruleRow = z.looseObject({ rule: z.string(), type: z.string(), resources: z.string(), nodes: z.string().optional(), strict: flag.optional(), disable: flag.optional(), comment: z.string().optional() });
const nodeRow = z.looseObject({ node: z.string(), status: z.string() });
const configReply = resourceRow.extend({ digest: z.string().optional() });
/** PVE 9 answers a move with what moves along and what blocks it; PVE 8 answers null. */
const motionReply = z
  .looseObject({ "comigrated-resources": z.array(z.string()).optional(), "blocking-resources": z.array(z.looseObject({ sid: z.string(), cause: z.string().optional() })).optional() })
  .nullable();

/** Replication state lives on each job's source node: ask every online node. */
async function replicationJobs(ctx: ToolContext, node: string | undefined, vmid: number | undefined) {
  const nodes = node ? [node] : (await pveGet(ctx, z.array(nodeRow), "/nodes")).filter((n) => n.status === "online").map((n) => n.node);
  const perNode = await Promise.all(nodes.map((n) => pveGet(ctx, z.array(jobStatusRow), `/nodes/${n}/replication`, vmid ? { guest: vmid } : {})));
  return perNode.flat().map((j) =>
    compact({
      id: j.id,
      guest: j.guest,
      source: j.source,
      target: j.target,
      schedule: j.schedule,
      state: stateOf(j),
      disabled: j.disable || undefined,
      last_sync: j.last_sync || undefined,
      next_sync: nextSync(j),
      duration: j.duration,
      fail_count: j.fail_count,
      error: j.error,
    }),
  );
}

type HaResourceArgs = z.output<typeof haResource.input>;
const configKeys = ["state", "max_restart", "max_relocate", "group", "comment"] as const;
const allowed: Record<HaResourceArgs["action"], readonly string[]> = { add: configKeys, update: [...configKeys, "digest"], remove: [], migrate: [], relocate: [] };
const sidPrefix = { qemu: "vm", lxc: "ct" } as const;

/** Arguments that mean nothing for the action are refused, so a mistaken call changes nothing. */
function checkArgs(args: HaResourceArgs): void {
  const { action } = args;
  const moving = action === "migrate" || action === "relocate";
  if (moving && !args.node) throw new ToolError("invalid_arguments", `${action} needs node, the target node`);
  if (!moving && args.node) throw new ToolError("invalid_arguments", `node is the target of migrate and relocate; ${action} finds the guest by vmid`);
  refuseStray(args, [...configKeys, "digest"], allowed[action], action);
  if (action === "update" && !configKeys.some((k) => args[k] !== undefined)) throw new ToolError("invalid_arguments", `update needs at least one of ${configKeys.join(", ")}`);
}

/** The guest's HA id: from `type`, else from the HA config (the guest may be gone), else from the guest's type in the cluster. */
async function sidOf(ctx: ToolContext, { action, vmid, type }: HaResourceArgs): Promise<string> {
  if (type) return `${sidPrefix[type]}:${vmid}`;
  if (action !== "add") {
    const configured = (await pveGet(ctx, z.array(resourceRow), "/cluster/ha/resources")).find((r) => Number(r.sid.split(":")[1]) === vmid);
    if (configured) return configured.sid;
  }
  return `${sidPrefix[(await locate(ctx, vmid)).type]}:${vmid}`;
}

/** PVE's API queues a move to any node name; the HA manager then drops it unless the node is an online cluster member. */
async function checkTarget(ctx: ToolContext, target: string): Promise<void> {
  const nodes = await pveGet(ctx, z.array(nodeRow), "/nodes");
  const found = nodes.find((n) => n.node === target);
  if (!found) throw new ToolError("invalid_arguments", `no such cluster node '${target}' (nodes: ${nodes.map((n) => n.node).join(", ")})`);
  if (found.status !== "online") throw new ToolError("invalid_arguments", `node '${target}' is ${found.status}: the HA manager only moves guests to online nodes`);
}

/** The CRM's entry for one HA service, if it has one. */
async function serviceOf(ctx: ToolContext, sid: string) {
  const rows = await pveGet(ctx, z.array(statusRow), "/cluster/ha/status/current");
  const row = rows.find((r) => r.type === "service" && (r.sid ?? r.id.replace(/^service:/, "")) === sid);
  return row && compact({ node: row.node, state: row.state ?? row.crm_state, request_state: row.request_state });
}

async function moveGuest(ctx: ToolContext, action: "migrate" | "relocate", sid: string, target: string) {
  await checkTarget(ctx, target);
  const before = await serviceOf(ctx, sid);
  const reply = parseReply(motionReply, await ctx.pve.request("POST", `/cluster/ha/resources/${sid}/${action}`, { node: target }, ctx), `POST ${action} of ${sid}`);
  const after = await serviceOf(ctx, sid);
  const note = before?.node === target
    ? `${sid} is already on ${target}: the HA manager ignores the request.`
    : `The HA manager ${action === "migrate" ? "migrates" : "relocates"} ${sid} to ${target} in the background; ha_info status shows state ${action} until it is done.`;
  return compact({
    action,
    sid,
    managed: true,
    ...after,
    requested_node: target,
    comigrated: reply?.["comigrated-resources"]?.length ? reply["comigrated-resources"] : undefined,
    blocking: reply?.["blocking-resources"]?.length ? reply["blocking-resources"].map((b) => (b.cause ? `${b.sid} (${b.cause})` : b.sid)) : undefined,
    note,
  });
}

/** add, update, remove: change resources.cfg, then answer with the config and the CRM's view of the service. */
async function configure(ctx: ToolContext, args: HaResourceArgs, sid: string) {
  const { action } = args;
  const fields = { state: args.state, max_restart: args.max_restart, max_relocate: args.max_relocate, group: args.group, comment: args.comment };
  if (action === "add") await ctx.pve.request("POST", "/cluster/ha/resources", defined({ sid, ...fields }), ctx);
  else if (action === "update") await ctx.pve.request("PUT", `/cluster/ha/resources/${sid}`, defined({ ...fields, digest: args.digest }), ctx);
  else {
    await ctx.pve.request("DELETE", `/cluster/ha/resources/${sid}`, {}, ctx);
    return { action, sid, managed: false, note: `HA no longer manages ${sid}; the guest stays where and as it is.` };
  }
  const [config, service] = await Promise.all([pveGet(ctx, configReply, `/cluster/ha/resources/${sid}`), serviceOf(ctx, sid)]);
  return compact({
    action,
    sid,
    managed: true,
    ...service,
    request_state: config.state ?? "started",
    max_restart: config.max_restart,
    max_relocate: config.max_relocate,
    group: config.group,
    comment: config.comment,
    digest: config.digest,
  });
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
  implement(haResource, async (args, ctx) => {
    checkArgs(args);
    const sid = await sidOf(ctx, args);
    if (args.action === "migrate" || args.action === "relocate") return moveGuest(ctx, args.action, sid, args.node!);
    return configure(ctx, args, sid);
  }),
];
