import { describe, expect, it } from "vitest";
import { useToolStack } from "../support/tool-calls.ts";

describe("task tools through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 1500 });
  const { ok, fails, guest } = env;

  it("returns the UPID at once with wait=false, then task_info status waits for the end with progress", async () => {
    const { s } = await ok("guest_power", { vmid: 101, action: "start", wait: false });
    expect(s.status).toBe("running");
    expect(guest(101)!.running).toBe(false);
    const { s: now } = await ok("task_info", { action: "status", upid: s.upid });
    expect(now.task).toMatchObject({ upid: s.upid, node: "pve1", type: "qmstart", id: "101", user: "root@pam!mcp", status: "running" });
    const { s: done, progress } = await ok("task_info", { action: "status", upid: s.upid, wait_seconds: 10 });
    expect(done.task).toMatchObject({ status: "stopped", exitstatus: "OK" });
    expect(progress.length).toBeGreaterThan(0);
    expect(guest(101)!.running).toBe(true);
  });

  it("answers status 'running' with the UPID when wait_seconds ends first", async () => {
    const { s } = await ok("guest_power", { vmid: 105, action: "start", wait_seconds: 1 });
    expect(s).toMatchObject({ status: "running", upid: expect.stringMatching(/^UPID:pve1:/) });
    expect(s.exitstatus).toBeUndefined();
    await ok("task_info", { action: "status", upid: s.upid, wait_seconds: 10 });
  });

  it("a failed task is a tool error with the task's text, and task_info lists it with errors=true", async () => {
    const failed = await fails("guest_power", { vmid: 100, action: "start" });
    expect(failed.message).toContain("failed: VM 100 already running");
    const { s } = await ok("task_info", { action: "list", errors: true });
    expect(s.tasks).toEqual([expect.objectContaining({ node: "pve1", type: "qmstart", id: "100", status: "VM 100 already running", endtime: expect.any(Number) })]);
    const { s: byVm } = await ok("task_info", { action: "list", vmid: 101, type: "qmstart" });
    expect(byVm.tasks).toHaveLength(1);
    const { s: all } = await ok("task_info", { action: "list", limit: 2 });
    expect(all.total).toBe(3);
    expect(all.next_cursor).toBe("2");
  });

  it("task_info log reads lines from `start`, `limit` at a time", async () => {
    const { s } = await ok("backup_run", { vmid: [201], storage: "backup" });
    const upid = s.tasks[0].upid;
    const { s: first } = await ok("task_info", { action: "log", upid, limit: 3 });
    expect(first.lines).toEqual([{ n: 1, t: expect.stringMatching(/^INFO: starting new backup job: vzdump 201 /) }, expect.anything(), expect.anything()]);
    expect(first.next_start).toBe(3);
    const { s: rest } = await ok("task_info", { action: "log", upid, start: 3, limit: 500 });
    expect(rest.lines.at(-1)).toEqual({ n: expect.any(Number), t: "TASK OK" });
    expect(rest.next_start).toBeUndefined();
    const { s: remote } = await ok("task_info", { action: "list", node: "pve2", type: "vzdump" });
    expect(remote.tasks.map((t: { upid: string }) => t.upid)).toEqual([upid]);
  });

  it("task_stop: aborts a running backup, which releases the guest's lock", async () => {
    const { s } = await ok("backup_run", { vmid: [200], storage: "backup", wait: false });
    const upid = s.tasks[0].upid;
    expect(guest(200)!.config.lock).toBe("backup");
    const { s: stopped } = await ok("task_stop", { upid });
    expect(stopped).toMatchObject({ upid, node: "pve1", status: "stopped", exitstatus: "received interrupt" });
    expect(guest(200)!.config.lock).toBeUndefined();
    const { s: running } = await ok("task_info", { action: "list", running: true });
    expect(running.tasks).toEqual([]);
  });

  it("PVE's own error for a malformed or unknown UPID", async () => {
    const bad = await fails("task_info", { action: "status", upid: "UPID:pve1:garbage" });
    expect(bad.message).toContain("upid: unable to parse worker upid");
    const gone = await fails("task_stop", { upid: "UPID:pve2:00001234:00005678:6B000000:qmstart:101:root@pam:" });
    expect(gone.message).toContain("upid: no such task");
  });
});
