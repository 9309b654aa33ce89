import { describe, expect, it } from "vitest";
import { useToolStack } from "../support/tool-calls.ts";

describe("backup_job through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 300 });
  const { ok, fails, guest } = env;
  const jobs = () => env.stack.sim.state.backupJobs;
  const job = (id: string) => jobs().find((j) => j.id === id);
  const jobCalls = () => env.stack.sim.mutations.filter((m) => m.path.startsWith("/cluster/backup"));
  const vzdumpCalls = () => env.stack.sim.mutations.filter((m) => m.path.endsWith("/vzdump"));
  const listed = async () => (await ok("backup_info", { action: "jobs" })).s.jobs as Array<{ id: string; [k: string]: unknown }>;
  let created = "";

  it("is a non-destructive write tool a read-only client neither sees nor may call", async () => {
    const { tools } = await env.client.listTools();
    expect(tools.find((t) => t.name === "backup_job")?.annotations).toEqual({ readOnlyHint: false, destructiveHint: false, idempotentHint: false });
    await env.expectHiddenFromReader("backup_job", { action: "delete", id: "backup-5b1e7c3a-91d2" });
    expect(jobCalls()).toEqual([]);
    expect(job("backup-5b1e7c3a-91d2")).toBeDefined();
  });

  it("create: a job with a generated id in the GUI's form; backup_info lists it", async () => {
    const { s } = await ok("backup_job", {
      action: "create", schedule: "sun 01:30", storage: "backup", vmid: [100, 102], mode: "snapshot", compress: "zstd", comment: "web and app",
      prune_backups: "keep-last=7,keep-weekly=4", notes_template: "{{guestname}} weekly", options: { "repeat-missed": true, mailto: "ops@example.com" },
    });
    created = s.id;
    expect(created).toMatch(/^backup-[0-9a-f]{8}-[0-9a-f]{4}$/);
    expect(s).toMatchObject({ action: "create", schedule: "sun 01:30", enabled: true, storage: "backup", mode: "snapshot", compress: "zstd", selection: "100,102",
      comment: "web and app", prune_backups: "keep-last=7,keep-weekly=4", notes_template: "{{guestname}} weekly", next_run: expect.any(Number) });
    expect(new Date(s.next_run * 1000).getUTCDay()).toBe(0);
    expect(job(created)).toMatchObject({ type: "vzdump", enabled: 1, vmid: "100,102", "repeat-missed": 1, mailto: "ops@example.com", "prune-backups": "keep-last=7,keep-weekly=4" });
    expect(jobCalls().at(-1)).toMatchObject({ method: "POST", path: "/cluster/backup", params: { id: created, vmid: "100,102", "repeat-missed": "1" }, status: 200 });
    expect((await listed()).map((j) => j.id)).toEqual(["backup-5b1e7c3a-91d2", "backup-c04d8f26-3e7a", created]);

    // Its own id, a pool for the selection, created disabled.
    const { s: pool } = await ok("backup_job", { action: "create", id: "prod-nightly", schedule: "22:00", pool: "prod", enabled: false });
    expect(pool).toMatchObject({ id: "prod-nightly", selection: "pool prod", enabled: false });
    expect(pool.storage).toBeUndefined();
    expect(job("prod-nightly")).toMatchObject({ pool: "prod", enabled: 0, schedule: "22:00" });
  });

  it("create: PVE's refusals arrive as tool errors with its messages, and nothing is written", async () => {
    const before = structuredClone(jobs());
    const duplicate = await fails("backup_job", { action: "create", id: "prod-nightly", schedule: "01:00", all: true });
    expect(duplicate).toMatchObject({ code: "pve_error", message: expect.stringContaining("Job 'prod-nightly' already exists") });
    const noSchedule = await fails("backup_job", { action: "create", all: true });
    expect(noSchedule.message).toContain("schedule: neither 'starttime' nor 'schedule' were set");
    const noGuests = await fails("backup_job", { action: "create", schedule: "01:00", storage: "backup" });
    expect(noGuests.message).toContain("vmid: property is missing");
    const both = await fails("backup_job", { action: "create", schedule: "01:00", all: true, vmid: [100] });
    expect(both.message).toContain("all: option conflicts with option 'vmid'");
    const pool = await fails("backup_job", { action: "create", schedule: "01:00", pool: "nope" });
    expect(pool.message).toContain("Permission check failed (pool 'nope' does not exist)");
    const badMode = await fails("backup_job", { action: "create", schedule: "01:00", all: true, options: { mode: "hot" } });
    expect(badMode.message).toContain("mode: value 'hot' does not have a value in the enumeration");
    expect((await fails("backup_job", { action: "create", schedule: "01:00", all: true, delete: ["comment"] })).code).toBe("invalid_arguments");
    expect(jobs()).toEqual(before);
  });

  it("update: changes only what is given; a new selection replaces the old one and delete drops settings", async () => {
    const { s } = await ok("backup_job", { action: "update", id: created, schedule: "sat 03:15", enabled: false, all: true, exclude: [9000, 104], delete: ["prune-backups", "comment"] });
    expect(s).toMatchObject({ action: "update", id: created, schedule: "sat 03:15", enabled: false, selection: "all except 9000,104", storage: "backup", notes_template: "{{guestname}} weekly" });
    expect(s.prune_backups).toBeUndefined();
    expect(s.comment).toBeUndefined();
    expect(job(created)).toMatchObject({ all: 1, exclude: "9000,104", enabled: 0, mailto: "ops@example.com" });
    expect(job(created)!.vmid).toBeUndefined();
    expect((await listed()).find((j) => j.id === created)).toMatchObject({ selection: "all except 9000,104", enabled: false, schedule: "sat 03:15" });

    const { s: back } = await ok("backup_job", { action: "update", id: created, vmid: [100, 102], enabled: true, options: { mailto: "dba@example.com" } });
    expect(back).toMatchObject({ selection: "100,102", enabled: true });
    expect(job(created)).toMatchObject({ vmid: "100,102", mailto: "dba@example.com" });
    expect(job(created)!.all).toBeUndefined();
    expect(job(created)!.exclude).toBeUndefined();
  });

  it("update: PVE's refusals and arguments that do not fit the action", async () => {
    const unknown = await fails("backup_job", { action: "update", id: "backup-nope", comment: "x" });
    expect(unknown).toMatchObject({ code: "pve_error", message: expect.stringContaining("no such vzdump job") });
    const badDelete = await fails("backup_job", { action: "update", id: created, delete: ["schedule"] });
    expect(badDelete.message).toContain("delete: unknown option 'schedule'");
    expect((await fails("backup_job", { action: "update", id: created })).message).toContain("no options specified");
    expect((await fails("backup_job", { action: "update", comment: "x" })).code).toBe("invalid_arguments");
    const stray = await fails("backup_job", { action: "run", id: created, storage: "local" });
    expect(stray.code).toBe("invalid_arguments");
    expect(stray.message).toContain("run uses the job's stored settings");
    expect(job(created)!.schedule).toBe("sat 03:15");
  });

  it("run: vzdump with the job's settings on the nodes holding its guests, as the GUI's Run now; the archives appear", async () => {
    const before = env.stack.sim.state.volumes.length;
    const calls = vzdumpCalls().length;
    const { s, progress } = await ok("backup_job", { action: "run", id: created });
    expect(s).toMatchObject({ action: "run", id: created, selection: "100,102", status: "stopped" });
    expect(s.tasks).toEqual([
      { node: "pve1", upid: expect.stringMatching(/^UPID:pve1:.*:vzdump:100:/), status: "stopped", exitstatus: "OK" },
      { node: "pve2", upid: expect.stringMatching(/^UPID:pve2:.*:vzdump:102:/), status: "stopped", exitstatus: "OK" },
    ]);
    expect(progress.length).toBeGreaterThan(0);
    const sent = vzdumpCalls().slice(calls);
    expect(sent.map((m) => m.path)).toEqual(["/nodes/pve1/vzdump", "/nodes/pve2/vzdump"]);
    expect(sent[0].params).toEqual({ all: "0", compress: "zstd", mailto: "dba@example.com", mode: "snapshot", "notes-template": "{{guestname}} weekly", storage: "backup", vmid: "100,102" });
    for (const key of ["schedule", "enabled", "comment", "id", "type", "repeat-missed", "next-run"]) expect(sent[0].params).not.toHaveProperty(key);
    const made = env.stack.sim.state.volumes.slice(before);
    expect(made.map((v) => [v.vmid, v.storage, v.notes])).toEqual([[100, "backup", "web01 weekly"], [102, "backup", "app01 weekly"]]);
    expect(guest(100)!.config.lock).toBeUndefined();
    // Running a job changes nothing about the job.
    expect(job(created)).toMatchObject({ schedule: "sat 03:15", enabled: 1 });
  });

  it("run: a seeded job's prune-backups goes back to PVE as a property string; a pool job starts only where members live; wait=false", async () => {
    const calls = vzdumpCalls().length;
    const { s } = await ok("backup_job", { action: "run", id: "prod-nightly", wait: false });
    expect(s.status).toBe("running");
    expect(s.tasks.map((t: { node: string }) => t.node)).toEqual(["pve1", "pve2"]);
    // pve3 holds no member of pool prod: vzdump answered OK there without a task.
    expect(vzdumpCalls().slice(calls).map((m) => m.path)).toEqual(["/nodes/pve1/vzdump", "/nodes/pve2/vzdump", "/nodes/pve3/vzdump"]);
    for (const t of s.tasks) expect((await ok("task_info", { action: "status", upid: t.upid, wait_seconds: 20 })).s.task).toMatchObject({ status: "stopped", exitstatus: "OK" });

    await ok("backup_job", { action: "update", id: "backup-c04d8f26-3e7a", options: { "prune-backups": "keep-last=2" } });
    expect((await listed()).find((j) => j.id === "backup-c04d8f26-3e7a")!.prune_backups).toBe("keep-last=2");
    const { s: seeded } = await ok("backup_job", { action: "run", id: "backup-c04d8f26-3e7a" });
    expect(seeded.tasks.map((t: { node: string; exitstatus: string }) => [t.node, t.exitstatus])).toEqual([["pve1", "OK"], ["pve2", "OK"]]);
    expect(vzdumpCalls().at(-1)!.params).toMatchObject({ "prune-backups": "keep-last=2", mode: "stop", storage: "local", vmid: "101,102" });
  });

  it("run: a failing backup is a tool error with PVE's message", async () => {
    await ok("backup_job", { action: "create", id: "staging", schedule: "12:00", vmid: [105], storage: "backup" });
    guest(105)!.config.lock = "snapshot";
    try {
      const locked = await fails("backup_job", { action: "run", id: "staging" });
      expect(locked.code).toBe("pve_error");
      expect(locked.message).toContain("Backup of VM 105 failed - VM is locked (snapshot)");
    } finally {
      delete guest(105)!.config.lock;
    }
    await ok("backup_job", { action: "update", id: "staging", storage: "nope" });
    const storage = await fails("backup_job", { action: "run", id: "staging" });
    expect(storage).toMatchObject({ code: "pve_error", message: expect.stringContaining("storage 'nope' does not exist") });
  });

  it("delete: removes the schedule, keeps every backup, and answers with the settings it had", async () => {
    const volumes = env.stack.sim.state.volumes.length;
    const { s } = await ok("backup_job", { action: "delete", id: created });
    expect(s).toMatchObject({ action: "delete", id: created, schedule: "sat 03:15", selection: "100,102", storage: "backup", note: expect.stringContaining("backups stay") });
    expect(s.next_run).toBeUndefined();
    expect(job(created)).toBeUndefined();
    expect((await listed()).map((j) => j.id)).not.toContain(created);
    expect(env.stack.sim.state.volumes.length).toBe(volumes);
    expect(jobCalls().at(-1)).toMatchObject({ method: "DELETE", path: `/cluster/backup/${created}`, status: 200 });
    const again = await fails("backup_job", { action: "delete", id: created });
    expect(again).toMatchObject({ code: "pve_error", message: expect.stringContaining(`No such job '${created}'`) });
    expect((await fails("backup_job", { action: "delete", id: "staging", enabled: false })).code).toBe("invalid_arguments");
    expect(job("staging")).toBeDefined();
  });
});
