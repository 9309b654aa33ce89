/**
 * Firewall rules and options at cluster, node and guest level, after pve-firewall
 * src/PVE/API2/Firewall/{Rules,Cluster,Host,VM}.pm and PVE::Firewall::verify_rule. As in PVE, a
 * guest's firewall file exists independently of its config, so an unknown vmid reads as empty.
 */
import type { CallContext, Handler, RouteTable } from "../context.ts";
import { die, paramError } from "../errors.ts";
import { splitList } from "../../shared/pve-schema/formats.ts";
import { firewallOf, listWithDigest, optionsWithDigest, type FirewallConf, type FirewallRule } from "../firewall.ts";

type Level = "cluster" | "host" | "qemu" | "lxc";

/** Rule keys PVE copies from the request (PVE::Firewall::copy_rule_data). */
const ruleKeys = ["type", "action", "macro", "iface", "source", "dest", "proto", "dport", "sport", "comment", "log", "icmp-type", "enable"];
const integerKeys = new Set(["enable"]);

/** A few of the shorewall-style macros pve-firewall ships ($pve_fw_macros). */
const macros = new Set(["SSH", "HTTP", "HTTPS", "DNS", "Ping", "SMTP", "SMTPS", "IMAP", "IMAPS", "NTP", "SNMP", "Ceph", "Web", "MySQL", "PostgreSQL", "RDP", "VNC", "DHCPfwd", "BGP", "Samba", "NFS"]);
const protocolsWithPorts = new Set(["tcp", "udp", "udplite", "sctp", "dccp", "6", "17"]);

function confOf(ctx: CallContext, level: Level): FirewallConf {
  const model = firewallOf(ctx.sim.state);
  if (level === "cluster") return model.cluster;
  if (level === "host") {
    let conf = model.hosts.get(ctx.node.name);
    if (!conf) model.hosts.set(ctx.node.name, (conf = { options: {}, rules: [] }));
    return conf;
  }
  const vmid = Number(ctx.params.vmid);
  let conf = model.guests.get(vmid);
  if (!conf) model.guests.set(vmid, (conf = { options: {}, rules: [] }));
  return conf;
}

/** PVE::Tools::assert_if_modified */
function assertUnmodified(digest: string, given: unknown): void {
  if (given !== undefined && given !== null && given !== "" && given !== digest) {
    throw die("detected modified configuration - file changed by other user? Try again.");
  }
}

function ipVersion(rule: FirewallRule): number | undefined {
  const addresses = [rule.source, rule.dest].filter((a): a is string => typeof a === "string" && !a.startsWith("+"));
  if (addresses.some((a) => a.includes(":"))) return 6;
  if (addresses.some((a) => /^\d/.test(a))) return 4;
  return undefined;
}

/** PVE::Firewall::verify_rule, the checks that do not need the ipset and alias tables. */
function verifyRule(ctx: CallContext, rule: FirewallRule): void {
  const errors: Record<string, string> = {};
  const action = String(rule.action);
  if (rule.type === "group") {
    if (!firewallOf(ctx.sim.state).groups.has(action)) errors.action = `security group '${action}' does not exist`;
  } else if (!/^(ACCEPT|DROP|REJECT)$/.test(action)) {
    errors.action = `unknown action '${action}'`;
  }
  if (rule.macro !== undefined && !macros.has(String(rule.macro))) errors.macro = `unknown macro '${rule.macro}'`;
  for (const key of ["dport", "sport"] as const) {
    if (rule[key] === undefined || rule.macro !== undefined) continue;
    const proto = rule.proto === undefined ? undefined : String(rule.proto);
    if (!proto) errors.proto = `missing property - '${key}' requires this property`;
    else if (!protocolsWithPorts.has(proto)) errors[key] = `protocol '${proto}' does not support ports`;
  }
  if (Object.keys(errors).length) throw paramError(errors);
}

function listRules(level: Level): Handler {
  return (ctx) => listWithDigest(confOf(ctx, level).rules).list.map((rule, pos) => ({ ...rule, pos }));
}

function getRule(level: Level): Handler {
  return (ctx) => {
    const { list } = listWithDigest(confOf(ctx, level).rules);
    const pos = Number(ctx.params.pos);
    if (pos >= list.length) throw die(`no rule at position ${pos}`);
    return { ...list[pos], pos };
  };
}

function createRule(level: Level): Handler {
  return (ctx) => {
    const conf = confOf(ctx, level);
    const rule: FirewallRule = {};
    for (const key of ruleKeys) {
      const value = ctx.params[key];
      if (value !== undefined && value !== null && value !== "") rule[key] = integerKeys.has(key) ? Number(value) : String(value);
    }
    verifyRule(ctx, rule);
    rule.enable ??= 0;
    const version = ipVersion(rule);
    if (version !== undefined) rule.ipversion = version;
    const pos = ctx.params.pos === undefined ? undefined : Number(ctx.params.pos);
    if (pos === undefined) conf.rules.unshift(rule);
    else conf.rules.splice(Math.min(pos, conf.rules.length), 0, rule);
    return null;
  };
}

function deleteRule(level: Level): Handler {
  return (ctx) => {
    const conf = confOf(ctx, level);
    assertUnmodified(listWithDigest(conf.rules).digest, ctx.params.digest);
    const pos = Number(ctx.params.pos);
    if (pos >= conf.rules.length) throw die(`no rule at position ${pos}`);
    conf.rules.splice(pos, 1);
    return null;
  };
}

function getOptions(level: Level): Handler {
  return (ctx) => optionsWithDigest(confOf(ctx, level).options);
}

/** PUT options: set the given keys, remove those in `delete`, after the digest check. */
function setOptions(level: Level): Handler {
  return (ctx) => {
    const conf = confOf(ctx, level);
    assertUnmodified(String(optionsWithDigest(conf.options).digest), ctx.params.digest);
    const skip = new Set(["node", "vmid", "digest", "delete"]);
    for (const key of splitList(String(ctx.params.delete ?? ""))) delete conf.options[key];
    for (const [key, value] of Object.entries(ctx.params)) {
      if (skip.has(key) || value === undefined) continue;
      conf.options[key] = /^\d+$/.test(String(value)) ? Number(value) : String(value);
    }
    return null;
  };
}

function levelRoutes(prefix: string, level: Level): RouteTable {
  return {
    [`GET ${prefix}/rules`]: listRules(level),
    [`POST ${prefix}/rules`]: createRule(level),
    [`GET ${prefix}/rules/{pos}`]: getRule(level),
    [`DELETE ${prefix}/rules/{pos}`]: deleteRule(level),
    [`GET ${prefix}/options`]: getOptions(level),
    [`PUT ${prefix}/options`]: setOptions(level),
  };
}

const index = (names: string[]): Handler => () => names.map((name) => ({ name }));

export const firewallRoutes: RouteTable = {
  "GET /cluster/firewall": index(["aliases", "groups", "ipset", "macros", "options", "refs", "rules"]),
  "GET /nodes/{node}/firewall": index(["log", "options", "rules"]),
  "GET /nodes/{node}/qemu/{vmid}/firewall": index(["aliases", "ipset", "log", "options", "refs", "rules"]),
  "GET /nodes/{node}/lxc/{vmid}/firewall": index(["aliases", "ipset", "log", "options", "refs", "rules"]),
  "GET /cluster/firewall/groups": ({ sim }) =>
    [...firewallOf(sim.state).groups.entries()].map(([group, rules]) => ({ group, digest: listWithDigest(rules).digest })),
  ...levelRoutes("/cluster/firewall", "cluster"),
  ...levelRoutes("/nodes/{node}/firewall", "host"),
  ...levelRoutes("/nodes/{node}/qemu/{vmid}/firewall", "qemu"),
  ...levelRoutes("/nodes/{node}/lxc/{vmid}/firewall", "lxc"),
};
