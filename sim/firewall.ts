/**
 * The firewall configuration of the simulated cluster, as pve-firewall keeps it in
 * /etc/pve/firewall/cluster.fw, /etc/pve/nodes/<node>/host.fw and /etc/pve/firewall/<vmid>.fw:
 * ordered rule lists and option sets per level. Kept beside the SimState (one model per state) so
 * the cluster model itself stays small; tests reach it with `firewallOf(sim.state)`.
 */
import { createHash } from "node:crypto";
import type { SimState } from "./state.ts";

/** One rule line, with the keys PVE stores (values as PVE returns them). */
export type FirewallRule = Record<string, string | number>;

export interface FirewallConf {
  options: Record<string, string | number>;
  rules: FirewallRule[];
}

export interface FirewallModel {
  cluster: FirewallConf;
  /** Security groups of cluster.fw, by name; a rule of type 'group' names one as its action. */
  groups: Map<string, FirewallRule[]>;
  hosts: Map<string, FirewallConf>;
  /** By vmid; a guest without a .fw file reads as empty. */
  guests: Map<number, FirewallConf>;
}

const models = new WeakMap<SimState, FirewallModel>();

const adminLan = "10.0.0.0/24";

function seed(state: SimState): FirewallModel {
  const hosts = new Map<string, FirewallConf>(
    state.nodes.map((n) => [n.name, { options: { enable: 1, nosmurfs: 1, tcpflags: 0, log_level_in: "nolog" }, rules: [] }]),
  );
  hosts.get("pve1")?.rules.push({ type: "in", action: "ACCEPT", proto: "tcp", dport: "3128", source: adminLan, enable: 1, comment: "spice proxy" });
  return {
    cluster: {
      options: { enable: 1, policy_in: "DROP", policy_out: "ACCEPT", policy_forward: "ACCEPT", ebtables: 1, log_ratelimit: "enable=1,burst=5,rate=1/second" },
      rules: [
        { type: "in", action: "ACCEPT", macro: "SSH", source: adminLan, enable: 1, comment: "admin LAN" },
        { type: "in", action: "ACCEPT", proto: "tcp", dport: "8006", source: adminLan, enable: 1, comment: "web GUI and API" },
        { type: "in", action: "ACCEPT", proto: "icmp", enable: 1 },
        { type: "group", action: "webservers", enable: 0, comment: "not yet rolled out" },
      ],
    },
    groups: new Map([["webservers", [{ type: "in", action: "ACCEPT", proto: "tcp", dport: "80,443", enable: 1 }]]]),
    hosts,
    guests: new Map<number, FirewallConf>([
      [
        100,
        {
          options: { enable: 1, policy_in: "DROP", policy_out: "ACCEPT", dhcp: 1, macfilter: 1, ipfilter: 0, log_level_in: "nolog" },
          rules: [
            { type: "in", action: "ACCEPT", proto: "tcp", dport: "80,443", enable: 1, comment: "web" },
            { type: "in", action: "ACCEPT", macro: "SSH", source: adminLan, enable: 1 },
          ],
        },
      ],
      [201, { options: { enable: 1, policy_in: "ACCEPT" }, rules: [{ type: "in", action: "DROP", proto: "tcp", dport: "25", enable: 1, comment: "no mail" }] }],
    ]),
  };
}

/** The firewall model of a simulated cluster, seeded on first use. */
export function firewallOf(state: SimState): FirewallModel {
  let model = models.get(state);
  if (!model) {
    model = seed(state);
    models.set(state, model);
  }
  return model;
}

/**
 * PVE::Firewall::copy_list_with_digest: copies without undefined keys, and one SHA-1 over every
 * entry's sorted "key:value" pairs, set as `digest` on each copy.
 */
export function listWithDigest(rules: FirewallRule[]): { list: Array<Record<string, unknown>>; digest: string } {
  const sha = createHash("sha1");
  const list = rules.map((rule) => {
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(rule).sort()) {
      copy[key] = rule[key];
      sha.update(`${key}:${rule[key]}`);
    }
    return copy;
  });
  const digest = sha.digest("hex");
  for (const entry of list) entry.digest = digest;
  return { list, digest };
}

/** PVE::Firewall::copy_opject_with_digest (sic): the options with the digest of their sorted pairs. */
export function optionsWithDigest(options: Record<string, string | number>): Record<string, unknown> {
  const sha = createHash("sha1");
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(options).sort()) {
    out[key] = options[key];
    sha.update(`${key}:${options[key]}`);
  }
  return { ...out, digest: sha.digest("hex") };
}
