import { describe, expect, it } from "vitest";
import { useToolStack } from "../support/tool-calls.ts";

describe("snapshot tools through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 400 });
  const { ok, fails, guest } = env;

  it("snapshot_create: takes a snapshot that guest_info lists; PVE refuses a name in use", async () => {
    const { s, progress } = await ok("snapshot_create", { vmid: 101, snapname: "before-upgrade", description: "pre 12.8" });
    expect(s).toMatchObject({ vmid: 101, node: "pve1", type: "qemu", snapname: "before-upgrade", status: "stopped", exitstatus: "OK" });
    expect(progress.length).toBeGreaterThan(0);
    expect(guest(101)!.snapshots?.["before-upgrade"]).toMatchObject({ description: "pre 12.8", vmstate: false });
    const { s: info } = await ok("guest_info", { vmid: 101, action: "snapshots" });
    expect(info.snapshots).toEqual([
      { name: "before-upgrade", snaptime: expect.any(Number), description: "pre 12.8", vmstate: false },
      { name: "current", parent: "before-upgrade", current: true, description: "You are here!" },
    ]);
    const dup = await fails("snapshot_create", { vmid: 101, snapname: "before-upgrade" });
    expect(dup.message).toContain("snapshot name 'before-upgrade' already used");
    const reserved = await fails("snapshot_create", { vmid: 101, snapname: "current" });
    expect(reserved.message).toContain("unable to use snapshot name 'current' (reserved name)");
  });

  it("snapshot_create: saves the RAM of a running VM and snapshots containers; a locked guest fails with PVE's message", async () => {
    const { s } = await ok("snapshot_create", { vmid: 100, snapname: "live", vmstate: true });
    expect(s.exitstatus).toBe("OK");
    expect(guest(100)!.snapshots?.live.vmstate).toBe(true);
    const { s: ct } = await ok("snapshot_create", { vmid: 200, snapname: "ct-snap" });
    expect(ct).toMatchObject({ type: "lxc", exitstatus: "OK" });
    guest(105)!.config.lock = "backup";
    try {
      const locked = await fails("snapshot_create", { vmid: 105, snapname: "x1" });
      expect(locked.message).toContain("VM is locked (backup)");
    } finally {
      delete guest(105)!.config.lock;
    }
  });

  it("snapshot_rollback: restores the snapshot's config, and a RAM snapshot resumes the VM", async () => {
    await ok("guest_config_update", { vmid: 101, set: { cores: 8, name: "db01-new" } });
    const { s, progress } = await ok("snapshot_rollback", { vmid: 101, snapname: "before-upgrade" });
    expect(s.exitstatus).toBe("OK");
    expect(progress.length).toBeGreaterThan(0);
    expect(guest(101)!.config).toMatchObject({ cores: "4", name: "db01", parent: "before-upgrade" });
    await ok("guest_stop", { vmid: 100 });
    await ok("snapshot_rollback", { vmid: 100, snapname: "live" });
    expect(guest(100)!.running).toBe(true);
    const missing = await fails("snapshot_rollback", { vmid: 101, snapname: "nope" });
    expect(missing.message).toContain("snapshot 'nope' does not exist");
  });

  it("snapshot_delete: removes snapshots; an unknown vmid is PVE's error", async () => {
    const { s } = await ok("snapshot_delete", { vmid: 101, snapname: "before-upgrade" });
    expect(s).toMatchObject({ snapname: "before-upgrade", exitstatus: "OK" });
    expect(guest(101)!.snapshots).toEqual({});
    expect(guest(101)!.config.parent).toBeUndefined();
    await ok("snapshot_delete", { vmid: 200, snapname: "ct-snap" });
    const unknown = await fails("snapshot_delete", { vmid: 999, node: "pve2", type: "lxc", snapname: "x1" });
    expect(unknown.message).toContain("Configuration file 'nodes/pve2/lxc/999.conf' does not exist");
    const deletes = env.stack.sim.mutations.filter((m) => m.method === "DELETE" && /\/snapshot\//.test(m.path));
    expect(deletes.map((m) => m.path)).toEqual(["/nodes/pve1/qemu/101/snapshot/before-upgrade", "/nodes/pve1/lxc/200/snapshot/ct-snap", "/nodes/pve2/lxc/999/snapshot/x1"]);
  });
});
