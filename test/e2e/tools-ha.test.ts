import { describe, expect, it } from "vitest";
import { haOf } from "../../sim/ha.ts";
import { useToolStack } from "../support/tool-calls.ts";

describe("ha_info through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 100 });
  const { ok, fails } = env;

  it("status: quorum, master, LRMs and services", async () => {
    const { s } = await ok("ha_info", { action: "status" });
    expect(s.quorate).toBe(true);
    expect(s.master).toMatchObject({ node: "pve1", status: expect.stringMatching(/^pve1 \(active, /) });
    expect(s.lrm.map((l: { node: string }) => l.node)).toEqual(["pve1", "pve2", "pve3"]);
    expect(s.services).toContainEqual(expect.objectContaining({ sid: "vm:100", node: "pve1", state: "started", request_state: "started" }));
  });

  it("resources, and the node-affinity rules PVE 9 made of the HA groups", async () => {
    const { s: res } = await ok("ha_info", { action: "resources" });
    expect(res.resources.map((r: { sid: string }) => r.sid)).toEqual(["vm:100", "vm:102", "ct:201"]);
    expect(res.resources[0]).toMatchObject({ type: "vm", state: "started", max_restart: 1, failback: true });
    const { s: groups } = await ok("ha_info", { action: "groups" });
    expect(groups.groups).toEqual([]);
    expect(groups.rules).toEqual([expect.objectContaining({ rule: "prefer-pve1", type: "node-affinity", resources: "vm:100", nodes: "pve1:2,pve2:1", strict: false })]);
    expect(groups.note).toMatch(/node-affinity rules/);
  });

  it("replication: each job with the state of its last run", async () => {
    const { s } = await ok("ha_info", { action: "replication" });
    expect(s.replication.map((j: { id: string }) => j.id)).toEqual(["100-0", "102-0"]);
    expect(s.replication[0]).toMatchObject({ guest: 100, source: "pve1", target: "pve2", state: "failing", fail_count: 3, error: "missing replicate feature on volume 'local-lvm:vm-100-disk-0'" });
    expect(s.replication[1]).toMatchObject({ guest: 102, source: "pve2", target: "pve3", state: "ok" });
    const { s: one } = await ok("ha_info", { action: "replication", vmid: 102 });
    expect(one.replication.map((j: { id: string }) => j.id)).toEqual(["102-0"]);
    expect(haOf(env.stack.sim.state).replication).toHaveLength(2);
  });

  it("shows a dead node's services fenced, and fails like PVE when asked for that node", async () => {
    env.stack.sim.setNodeOnline("pve2", false);
    try {
      const { s } = await ok("ha_info", { action: "status" });
      expect(s.lrm.find((l: { node: string }) => l.node === "pve2").status).toMatch(/old timestamp - dead\?/);
      expect(s.services.find((x: { sid: string }) => x.sid === "vm:102").state).toBe("fence");
      const { message, code } = await fails("ha_info", { action: "replication", node: "pve2" });
      expect(message).toContain("No route to host");
      expect(code).toBe("pve_error");
    } finally {
      env.stack.sim.setNodeOnline("pve2", true);
    }
  });
});
