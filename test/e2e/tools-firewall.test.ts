import { describe, expect, it } from "vitest";
import { firewallOf } from "../../sim/firewall.ts";
import { useToolStack } from "../support/tool-calls.ts";

describe("firewall tools through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 100 });
  const { ok, fails } = env;

  it("are annotated exactly", async () => {
    const { tools } = await env.client.listTools();
    const annotations = (name: string) => tools.find((t) => t.name === name)?.annotations;
    expect(annotations("firewall_info")).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(annotations("firewall_rule_add")).toMatchObject({ readOnlyHint: false, destructiveHint: false, idempotentHint: false });
    expect(annotations("firewall_rule_delete")).toMatchObject({ readOnlyHint: false, destructiveHint: true });
  });

  it("firewall_info: rules and options at cluster, node and guest level", async () => {
    const { s: cluster } = await ok("firewall_info", { action: "rules", level: "cluster" });
    expect(cluster.rules[0]).toEqual({ pos: 0, type: "in", action: "ACCEPT", enable: true, macro: "SSH", source: "10.0.0.0/24", comment: "admin LAN" });
    expect(cluster.digest).toMatch(/^[0-9a-f]{40}$/);
    const { s: options } = await ok("firewall_info", { action: "options", level: "cluster" });
    expect(options.options).toMatchObject({ enable: 1, policy_in: "DROP" });
    const { s: node } = await ok("firewall_info", { action: "rules", level: "node", node: "pve1" });
    expect(node.rules).toEqual([expect.objectContaining({ dport: "3128", proto: "tcp" })]);
    const { s: guest } = await ok("firewall_info", { action: "rules", level: "guest", vmid: 201 });
    expect(guest).toMatchObject({ level: "guest", node: "pve2", vmid: 201, rules: [expect.objectContaining({ action: "DROP", dport: "25" })] });
    const { s: vmOptions } = await ok("firewall_info", { action: "options", level: "guest", vmid: 100 });
    expect(vmOptions.options).toMatchObject({ enable: 1, policy_in: "DROP", macfilter: 1 });
  });

  it("adds a rule at a position and deletes it with the list's digest", async () => {
    const { s: added } = await ok("firewall_rule_add", { level: "guest", vmid: 100, type: "in", action: "ACCEPT", proto: "tcp", dport: "8080", source: "10.0.0.0/24", comment: "metrics", pos: 1 });
    expect(added.rule).toEqual({ pos: 1, type: "in", action: "ACCEPT", enable: true, proto: "tcp", dport: "8080", source: "10.0.0.0/24", comment: "metrics" });
    expect(firewallOf(env.stack.sim.state).guests.get(100)!.rules).toHaveLength(3);
    const { s: deleted } = await ok("firewall_rule_delete", { level: "guest", vmid: 100, pos: 1, digest: added.digest });
    expect(deleted.deleted).toMatchObject({ dport: "8080", comment: "metrics" });
    expect(deleted.remaining).toBe(2);
    expect(firewallOf(env.stack.sim.state).guests.get(100)!.rules.map((r) => r.comment)).toEqual(["web", undefined]);
  });

  it("answers PVE's own errors: a stale digest, a bad port, a port without protocol", async () => {
    const { s } = await ok("firewall_info", { action: "rules", level: "cluster" });
    await ok("firewall_rule_add", { level: "cluster", type: "in", action: "DROP", source: "10.9.9.9", comment: "someone else" });
    const stale = await fails("firewall_rule_delete", { level: "cluster", pos: 0, digest: s.digest });
    expect(stale.message).toContain("detected modified configuration - file changed by other user? Try again.");
    expect(stale.code).toBe("pve_error");
    const port = await fails("firewall_rule_add", { level: "node", node: "pve2", type: "in", action: "ACCEPT", proto: "tcp", dport: "99999" });
    expect(port.message).toContain("dport: invalid format - invalid port '99999'");
    const proto = await fails("firewall_rule_add", { level: "cluster", type: "in", action: "ACCEPT", dport: "22" });
    expect(proto.message).toContain("proto: missing property - 'dport' requires this property");
    const unknown = await fails("firewall_info", { action: "rules", level: "guest", vmid: 999 });
    expect(unknown.message).toContain("no VM or container with vmid 999");
  });
});
