import { describe, expect, it } from "vitest";
import { useToolStack } from "../support/tool-calls.ts";

describe("cluster_info through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 100 });
  const { ok, fails } = env;

  it("is listed read-only with a flat schema", async () => {
    const { tools } = await env.client.listTools();
    const tool = tools.find((t) => t.name === "cluster_info")!;
    expect(tool.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, idempotentHint: true });
    expect(JSON.stringify(tool.inputSchema)).not.toMatch(/"\$ref"|"oneOf"|"anyOf"/);
    expect(tool.outputSchema).toBeDefined();
  });

  it("resources: every kind with usage, filtered by type and paginated", async () => {
    const { s: all } = await ok("cluster_info", { action: "resources", limit: 500 });
    expect(all.total).toBe(all.resources.length);
    expect(new Set(all.resources.map((r: { type: string }) => r.type))).toEqual(new Set(["qemu", "lxc", "node", "storage", "network"]));
    const { s: storage } = await ok("cluster_info", { action: "resources", type: "storage" });
    const lvm = storage.resources.find((r: { id: string }) => r.id === "storage/pve1/local-lvm");
    expect(lvm.usage).toBeCloseTo(lvm.disk / lvm.maxdisk, 3);
    const { s: first } = await ok("cluster_info", { action: "resources", type: "vm", limit: 4 });
    expect(first.resources).toHaveLength(4);
    expect(first.total).toBe(env.stack.sim.state.guests.size);
    const { s: second } = await ok("cluster_info", { action: "resources", type: "vm", limit: 4, cursor: first.next_cursor });
    expect(second.resources[0].id).not.toBe(first.resources[0].id);
    const web = [...first.resources, ...second.resources].find((r: { id: string }) => r.id === "qemu/100") ?? all.resources.find((r: { id: string }) => r.id === "qemu/100");
    expect(web).toMatchObject({ name: "web01", node: "pve1", status: "running", vmid: 100 });
    expect(web.usage).toBeGreaterThan(0);
  });

  it("log: newest first, with task starts and ends", async () => {
    await ok("guest_power", { vmid: 101, action: "start" });
    const { s } = await ok("cluster_info", { action: "log", max: 10 });
    expect(s.log.length).toBeLessThanOrEqual(10);
    expect(s.log[0].time).toBeGreaterThanOrEqual(s.log.at(-1).time);
    expect(s.log.some((l: { msg: string }) => /end task UPID:pve1:.*:qmstart:101:.* OK$/.test(l.msg))).toBe(true);
  });

  it("nextid, SDN zones and pools", async () => {
    const { s: next } = await ok("cluster_info", { action: "nextid" });
    expect(next.nextid).toBe(103);
    const { s: sdn } = await ok("cluster_info", { action: "sdn_status" });
    expect(sdn.sdn).toContainEqual({ zone: "localnetwork", node: "pve2", status: "ok" });
    const { s: pools } = await ok("cluster_info", { action: "pools" });
    expect(pools.pools.map((p: { poolid: string }) => p.poolid)).toEqual(["lab", "prod"]);
    const { s: lab } = await ok("cluster_info", { action: "pools", poolid: "lab" });
    expect(lab.pools[0].members.map((m: { id: string }) => m.id)).toEqual(["qemu/105", "lxc/202"]);
  });

  it("answers PVE's own errors: Ceph is not installed, an unknown pool", async () => {
    const ceph = await fails("cluster_info", { action: "ceph_status" });
    expect(ceph.message).toContain("binary not installed: /usr/bin/ceph-mon");
    expect(ceph.code).toBe("pve_error");
    const pool = await fails("cluster_info", { action: "pools", poolid: "nope" });
    expect(pool.message).toContain("pool 'nope' does not exist");
    const bad = await fails("cluster_info", { action: "resources", type: "disk" });
    expect(bad.code).toBe("invalid_arguments");
  });
});
