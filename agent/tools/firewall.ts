import { z } from "zod";
import { ToolError } from "../../shared/errors.ts";
import { firewallInfo, firewallRuleAdd, firewallRuleDelete } from "../../shared/tools/firewall.ts";
import { locate } from "./guests.ts";
import { implement, type ToolContext } from "./registry.ts";
import { parseReply } from "./replies.ts";
import { compact, flag, num } from "./values.ts";

const ruleRow = z.looseObject({
  pos: num,
  type: z.string(),
  action: z.string(),
  enable: flag.optional(),
  macro: z.string().optional(),
  proto: z.string().optional(),
  source: z.string().optional(),
  dest: z.string().optional(),
  dport: z.coerce.string().optional(),
  sport: z.coerce.string().optional(),
  iface: z.string().optional(),
  log: z.string().optional(),
  comment: z.string().optional(),
  digest: z.string().optional(),
});
type RuleRow = z.output<typeof ruleRow>;

interface Where {
  level: "cluster" | "node" | "guest";
  node?: string;
  vmid?: number;
}

/** The API base of the firewall at a level, with the target as the answer names it. */
async function firewallBase(ctx: ToolContext, where: Where): Promise<{ base: string; target: { level: string; node?: string; vmid?: number } }> {
  if (where.level === "cluster") return { base: "/cluster/firewall", target: { level: "cluster" } };
  if (where.level === "node") {
    if (!where.node) throw new ToolError("invalid_arguments", "level node needs node");
    return { base: `/nodes/${where.node}/firewall`, target: { level: "node", node: where.node } };
  }
  if (where.vmid === undefined) throw new ToolError("invalid_arguments", "level guest needs vmid");
  const guest = await locate(ctx, where.vmid, where.node);
  return { base: `/nodes/${guest.node}/${guest.type}/${where.vmid}/firewall`, target: { level: "guest", node: guest.node, vmid: where.vmid } };
}

function ruleEntry(r: RuleRow) {
  const { pos, type, action, macro, proto, source, dest, dport, sport, iface, log, comment } = r;
  // pve-firewall always stores enable; an absent flag reads as enabled.
  return compact({ pos, type, action, enable: r.enable ?? true, macro, proto, source, dest, dport, sport, iface, log, comment });
}

async function readRules(ctx: ToolContext, base: string): Promise<{ rules: RuleRow[]; digest?: string }> {
  const rules = parseReply(z.array(ruleRow), await ctx.pve.request("GET", `${base}/rules`, {}, ctx), `GET ${base}/rules`);
  return { rules, digest: rules[0]?.digest };
}

export const firewallTools = [
  implement(firewallInfo, async ({ action, ...where }, ctx) => {
    const { base, target } = await firewallBase(ctx, where);
    if (action === "options") {
      const options = parseReply(z.record(z.string(), z.unknown()), await ctx.pve.request("GET", `${base}/options`, {}, ctx), `GET ${base}/options`);
      const { digest, ...rest } = options;
      return { ...target, action, options: rest, ...(typeof digest === "string" ? { digest } : {}) };
    }
    const { rules, digest } = await readRules(ctx, base);
    return compact({ ...target, action, rules: rules.map(ruleEntry), digest });
  }),
  implement(firewallRuleAdd, async ({ level, node, vmid, enable, pos, ...rule }, ctx) => {
    const { base, target } = await firewallBase(ctx, { level, node, vmid });
    await ctx.pve.request("POST", `${base}/rules`, compact({ ...rule, enable: enable ? 1 : 0, pos }), ctx);
    const { rules, digest } = await readRules(ctx, base);
    const stored = rules[Math.min(pos ?? 0, rules.length - 1)];
    if (!stored) throw new ToolError("pve_error", `PVE accepted the rule but ${base}/rules is empty`);
    return { ...target, rule: ruleEntry(stored), digest: digest ?? "" };
  }),
  implement(firewallRuleDelete, async ({ level, node, vmid, pos, digest }, ctx) => {
    const { base, target } = await firewallBase(ctx, { level, node, vmid });
    const { rules } = await readRules(ctx, base);
    await ctx.pve.request("DELETE", `${base}/rules/${pos}`, { digest }, ctx);
    const deleted = rules.find((r) => r.pos === pos);
    if (!deleted) throw new ToolError("pve_error", `PVE deleted position ${pos}, which the list read just before did not have`);
    return { ...target, deleted: ruleEntry(deleted), remaining: rules.length - 1 };
  }),
];
