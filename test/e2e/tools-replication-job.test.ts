import { describe, expect, it, vi } from "vitest";
import { haOf } from "../../sim/ha.ts";
import { useToolStack } from "../support/tool-calls.ts";

describe("replication_job through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 100 });
  const { ok, fails } = env;
  const jobs = () => haOf(env.stack.sim.state).replication;
  const job = (id: string) => jobs().find((j) => j.id === id);
  const listed = async (vmid: number) => ((await ok("ha_info", { action: "replication", vmid })).s.replication ?? []) as Array<Record<string, any>>;
  const calls = () => env.stack.sim.mutations.filter((m) => m.path.includes("/replication"));
  const offline = async (node: string, body: () => Promise<void>) => {
    env.stack.sim.setNodeOnline(node, false);
    try {
      await body();
    } finally {
      env.stack.sim.setNodeOnline(node, true);
    }
  };

  it("is a destructive write tool that says what delete loses, and a read-only client neither sees nor may call it", async () => {
    const { tools } = await env.client.listTools();
    const tool = tools.find((t) => t.name === "replication_job")!;
    expect(tool.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, idempotentHint: false });
    expect(tool.description).toMatch(/DESTRUCTIVE: delete also removes the replicated volumes on the target unless keep/);
    expect(tool.description!.length).toBeLessThanOrEqual(300);
    await env.expectHiddenFromReader("replication_job", { action: "delete", id: "102-0" });
    expect(calls()).toEqual([]);
    expect(jobs().map((j) => j.id)).toEqual(["102-0", "100-0"]);
  });

  it("create: a job for a guest's disks, listed by ha_info; pvescheduler runs its first sync", async () => {
    const { s } = await ok("replication_job", { action: "create", id: "203-0", target: "pve3", schedule: "*/30", rate: 50, comment: "monitoring standby" });
    expect(s).toMatchObject({ action: "create", id: "203-0", guest: 203, source: "pve2", target: "pve3", schedule: "*/30", rate: 50, comment: "monitoring standby" });
    expect(s.note).toContain("first sync within a minute");
    // Due at once: PVE's next_sync for it is a time in 1970, which the answer leaves out.
    expect(s.next_sync).toBeUndefined();
    expect(calls()[0]).toMatchObject({ method: "POST", path: "/cluster/replication", params: { id: "203-0", type: "local", target: "pve3", schedule: "*/30", rate: "50" }, status: 200 });
    expect(job("203-0")).toMatchObject({ guest: 203, jobnum: 0, target: "pve3", schedule: "*/30", rate: 50, comment: "monitoring standby" });
    await vi.waitFor(async () => expect((await listed(203))[0]).toMatchObject({ id: "203-0", source: "pve2", target: "pve3", schedule: "*/30", state: "ok", fail_count: 0 }));
    expect(job("203-0")!.lastSync).toBeGreaterThan(0);
  });

  it("create: PVE's refusals arrive as tool errors with PVE's message, and nothing is created", async () => {
    const refused: Array<[Record<string, unknown>, string]> = [
      [{ id: "100-1", target: "pve3" }, "missing replicate feature on volume 'local-lvm:vm-100-disk-0'"],
      [{ id: "102-1", target: "pve3" }, "replication job for guest '102' to target 'local/pve3' already exists"],
      [{ id: "102-0", target: "pve1" }, "replication job '102-0' already exists"],
      [{ id: "104-0", target: "pve3" }, "Source and target must not be identical"],
      [{ id: "999-0", target: "pve2" }, "Guest '999' does not exist."],
      [{ id: "105-0", target: "pve9" }, "Target 'pve9' does not exist."],
    ];
    for (const [args, message] of refused) {
      const failure = await fails("replication_job", { action: "create", ...args });
      expect(failure.message).toContain(message);
      expect(failure.code).toBe("pve_error");
    }
    expect((await fails("replication_job", { action: "create", id: "105-0" })).code).toBe("invalid_arguments");
    expect((await fails("replication_job", { action: "create", id: "105", target: "pve2" })).message).toContain("expected <vmid>-<n>");
    expect((await fails("replication_job", { action: "create", id: "105-0", target: "pve2", keep: true })).code).toBe("invalid_arguments");
    expect(jobs().map((j) => j.id)).toEqual(["102-0", "100-0", "203-0"]);
  });

  it("update: schedule, comment and disable; ha_info lists the job disabled, and run refuses it", async () => {
    const { s } = await ok("replication_job", { action: "update", id: "203-0", schedule: "*/5", comment: "", disable: true });
    expect(s).toMatchObject({ action: "update", id: "203-0", schedule: "*/5", rate: 50, disabled: true, state: "ok" });
    expect(s.comment).toBeUndefined();
    expect(calls().at(-1)).toMatchObject({ method: "PUT", path: "/cluster/replication/203-0", params: { schedule: "*/5", disable: "1", delete: "comment" } });
    expect(job("203-0")).toMatchObject({ schedule: "*/5", disable: true });
    expect(job("203-0")!.comment).toBeUndefined();
    expect((await listed(203))[0]).toMatchObject({ id: "203-0", schedule: "*/5", disabled: true });

    const refused = await fails("replication_job", { action: "run", id: "203-0" });
    expect(refused.code).toBe("invalid_arguments");
    expect(refused.message).toContain("disabled");

    const { s: enabled } = await ok("replication_job", { action: "update", id: "203-0", rate: 0, disable: false });
    expect(enabled.disabled).toBeUndefined();
    expect(enabled.rate).toBeUndefined();
    expect(job("203-0")!.disable).toBeUndefined();
    expect(job("203-0")!.rate).toBeUndefined();

    const unknown = await fails("replication_job", { action: "update", id: "102-7", comment: "x" });
    expect(unknown.message).toContain("no such job '102-7'");
    expect(unknown.code).toBe("pve_error");
    expect((await fails("replication_job", { action: "update", id: "203-0" })).code).toBe("invalid_arguments");
    expect((await fails("replication_job", { action: "update", id: "203-0", target: "pve1" })).code).toBe("invalid_arguments");
  });

  it("run: schedules the job on the guest's node and waits for pvescheduler's sync; last_sync advances", async () => {
    const before = job("102-0")!.lastSync;
    const { s, progress } = await ok("replication_job", { action: "run", id: "102-0" });
    expect(s).toMatchObject({ action: "run", id: "102-0", guest: 102, source: "pve2", target: "pve3", state: "ok", fail_count: 0 });
    expect(s.last_sync).toBeGreaterThan(before);
    expect(progress.length).toBeGreaterThan(0);
    expect(calls().at(-1)).toMatchObject({ method: "POST", path: "/nodes/pve2/replication/102-0/schedule_now", status: 200 });
    expect(job("102-0")!.lastSync).toBe(s.last_sync);
    expect((await listed(102))[0]).toMatchObject({ id: "102-0", state: "ok", last_sync: s.last_sync });

    // Without waiting, the answer says the run is scheduled; ha_info shows it end.
    const { s: quick } = await ok("replication_job", { action: "run", id: "203-0", wait_seconds: 0 });
    expect(quick).toMatchObject({ action: "run", id: "203-0", state: "scheduled" });
    expect(quick.note).toContain("starts it within a minute");
    await vi.waitFor(async () => expect((await listed(203))[0]).toMatchObject({ state: "ok", last_sync: expect.any(Number) }));
  });

  it("run: a failed sync is a tool error with PVE's message, and the job is listed failing", async () => {
    const failed = await fails("replication_job", { action: "run", id: "100-0" });
    expect(failed.code).toBe("pve_error");
    expect(failed.message).toContain("replication job 100-0 failed: missing replicate feature on volume 'local-lvm:vm-100-disk-0'");
    expect(job("100-0")).toMatchObject({ failCount: 4, lastSync: 0 });

    await offline("pve3", async () => {
      const unreachable = await fails("replication_job", { action: "run", id: "203-0" });
      expect(unreachable.message).toMatch(/replication job 203-0 failed: command '\/usr\/bin\/ssh .*HostKeyAlias=pve3.* -- pvesr prepare-local-job 203-0 local-lvm:vm-203-disk-0 .*' failed: exit code 255/);
    });
    expect((await listed(203))[0]).toMatchObject({ state: "failing", fail_count: 1 });
    // The next run, with the target back, succeeds and clears the error.
    const { s } = await ok("replication_job", { action: "run", id: "203-0" });
    expect(s).toMatchObject({ state: "ok", fail_count: 0 });
    expect(s.error).toBeUndefined();
  });

  it("delete: pvescheduler removes the job and the replicated volumes on the target", async () => {
    const { s } = await ok("replication_job", { action: "delete", id: "203-0" });
    expect(s).toMatchObject({ action: "delete", id: "203-0", guest: 203, target: "pve3", state: "removed" });
    expect(s.note).toContain("the replicated volumes on pve3 are deleted");
    expect(calls().find((m) => m.method === "DELETE")).toMatchObject({ path: "/cluster/replication/203-0", params: {}, status: 200 });
    expect(job("203-0")).toBeUndefined();
    expect(await listed(203)).toEqual([]);
    const again = await fails("replication_job", { action: "delete", id: "203-0" });
    expect(again.message).toContain("no such replication job '203-0'");
  });

  it("delete: keep leaves the replica, force drops only the entry, both together are refused by PVE", async () => {
    await ok("replication_job", { action: "create", id: "102-1", target: "pve1", disable: true });
    expect(job("102-1")).toMatchObject({ disable: true, lastSync: 0 });
    const conflict = await fails("replication_job", { action: "delete", id: "102-1", keep: true, force: true });
    expect(conflict.code).toBe("pve_error");
    expect(conflict.message).toContain("keep: conflicts with parameter 'force'");
    expect(job("102-1")).toBeDefined();

    // A disabled job is enabled again, since pvescheduler would never carry out its removal.
    const { s: kept } = await ok("replication_job", { action: "delete", id: "102-1", keep: true });
    expect(kept).toMatchObject({ id: "102-1", target: "pve1", state: "removed" });
    expect(kept.disabled).toBeUndefined();
    expect(kept.note).toContain("enabled again");
    expect(kept.note).toContain("the replica on pve1 stays");
    expect(calls().filter((m) => m.path === "/cluster/replication/102-1" && m.method !== "GET").map((m) => [m.method, m.params])).toEqual([
      ["DELETE", { keep: "1", force: "1" }],
      ["DELETE", { keep: "1" }],
      ["PUT", { delete: "disable" }],
    ]);
    expect(job("102-1")).toBeUndefined();

    await ok("replication_job", { action: "create", id: "201-0", target: "pve1" });
    const { s: forced } = await ok("replication_job", { action: "delete", id: "201-0", force: true });
    expect(forced).toMatchObject({ id: "201-0", state: "removed" });
    expect(forced.note).toContain("without cleanup");
    expect(job("201-0")).toBeUndefined();
  });

  it("delete: with the target down the removal fails and the job stays listed for removal", async () => {
    await offline("pve3", async () => {
      const { s } = await ok("replication_job", { action: "delete", id: "102-0" });
      expect(s).toMatchObject({ id: "102-0", state: "removing", fail_count: 1 });
      expect(s.note).toContain("the removal failed and pvescheduler retries it: command '/usr/bin/ssh");
      expect(job("102-0")).toMatchObject({ removeJob: "full", failCount: 1 });
      expect((await listed(102))[0]).toMatchObject({ id: "102-0", state: "removing" });
    });
    const removing = await fails("replication_job", { action: "run", id: "102-0" });
    expect(removing.message).toContain("marked for removal");
  });
});
