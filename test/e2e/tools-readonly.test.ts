import { describe, expect, it } from "vitest";
import { useToolStack } from "../support/tool-calls.ts";

describe("guest, snapshot, backup, storage and task tools with a read-only PVE token (PVEAuditor)", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 200, pveToken: "readonly" });
  const { ok, fails } = env;

  it("reads work", async () => {
    await ok("guest_info", { vmid: 100, action: "config" });
    await ok("backup_info", { action: "list", storage: "backup" });
    await ok("storage_info", { action: "list" });
    await ok("task_info", { action: "list" });
  });

  it("every change is refused with PVE's permission error, and nothing changes", async () => {
    const checks: Array<[string, Record<string, unknown>, RegExp]> = [
      ["guest_config_update", { vmid: 100, set: { cores: 4 } }, /Permission check failed/],
      ["snapshot_create", { vmid: 100, snapname: "ro-test" }, /Permission check failed \(\/vms\/100, VM\.Snapshot\)/],
      ["backup_run", { vmid: [100], storage: "backup" }, /Permission check failed \(\/storage\/backup, Datastore\.AllocateSpace\)/],
      ["guest_migrate", { vmid: 101, target: "pve2" }, /Permission check failed \(\/vms\/101, VM\.Migrate\)/],
      ["storage_delete_volume", { volume: "local:iso/debian-12.8.0-amd64-netinst.iso", node: "pve1" }, /Permission check failed \(\/storage\/local, Datastore\.Allocate\)/],
      ["guest_pool", { action: "add", poolid: "lab", vmids: [101] }, /Permission check failed \(\/pool\/lab, Pool\.Allocate\)/],
    ];
    for (const [tool, args, message] of checks) {
      const { message: got, code } = await fails(tool, args);
      expect(got, tool).toMatch(message);
      expect(code, tool).toBe("pve_error");
    }
    expect(env.stack.sim.mutations.filter((m) => m.status === 200)).toEqual([]);
  });
});
