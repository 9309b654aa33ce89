import { describe, expect, it } from "vitest";
import { useToolStack } from "../support/tool-calls.ts";

describe("backup tools through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 1500 });
  const { ok, fails, guest } = env;

  const volumes = () => env.stack.sim.state.volumes;

  it("backup_info: archives newest first, filtered by vmid, and the scheduled jobs", async () => {
    const { s } = await ok("backup_info", { action: "list", storage: "backup", vmid: 100 });
    expect(s.backups.length).toBe(3);
    expect(s.backups[0]).toMatchObject({ storage: "backup", vmid: 100, type: "qemu", format: "vma.zst", notes: "web01" });
    expect(s.backups[0].ctime).toBeGreaterThan(s.backups[1].ctime);
    expect(s.backups[0].volid).toMatch(/^backup:backup\/vzdump-qemu-100-\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d\.vma\.zst$/);
    const { s: all } = await ok("backup_info", { action: "list", node: "pve1", limit: 5 });
    expect(all.total).toBe(19);
    expect(all.backups).toHaveLength(5);
    expect(all.next_cursor).toBe("5");
    const { s: jobs } = await ok("backup_info", { action: "jobs" });
    expect(jobs.jobs).toEqual([
      expect.objectContaining({ id: "backup-5b1e7c3a-91d2", enabled: true, schedule: "02:00", storage: "backup", selection: "all except 9000", next_run: expect.any(Number) }),
      expect.objectContaining({ enabled: false, selection: "101,102", mode: "stop" }),
    ]);
  });

  it("backup_run: backs up a running VM with progress; the archive exists on the backup storage", async () => {
    const before = volumes().length;
    const { s, progress } = await ok("backup_run", { vmid: [100], storage: "backup", notes_template: "{{guestname}} manual" });
    expect(s.status).toBe("stopped");
    expect(s.tasks).toEqual([expect.objectContaining({ node: "pve1", vmids: [100], status: "stopped", exitstatus: "OK" })]);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.some((m) => /INFO: +\d+% \(/.test(m) || /Starting Backup of VM 100/.test(m))).toBe(true);
    expect(s.backups).toHaveLength(1);
    expect(s.backups[0]).toMatchObject({ storage: "backup", vmid: 100, type: "qemu", notes: "web01 manual" });
    expect(volumes().length).toBe(before + 1);
    expect(volumes().some((v) => v.volid === s.backups[0].volid)).toBe(true);
    expect(guest(100)!.config.lock).toBeUndefined();
  });

  it("backup_run: guests on two nodes make two vzdump tasks", async () => {
    const { s } = await ok("backup_run", { vmid: [200, 203], storage: "backup", mode: "suspend", compress: "gzip" });
    expect(s.tasks.map((t: { node: string }) => t.node).sort()).toEqual(["pve1", "pve2"]);
    expect(s.backups.map((b: { volid: string }) => b.volid).sort()).toEqual([expect.stringMatching(/vzdump-lxc-200-.*\.tar\.gz$/), expect.stringMatching(/vzdump-lxc-203-.*\.tar\.gz$/)]);
    const calls = env.stack.sim.mutations.filter((m) => m.path.endsWith("/vzdump")).slice(-2);
    expect(calls.map((m) => [m.path, m.params.vmid]).sort()).toEqual([["/nodes/pve1/vzdump", "200"], ["/nodes/pve2/vzdump", "203"]]);
  });

  it("backup_run: a locked guest and an unknown vmid fail with PVE's messages", async () => {
    guest(105)!.config.lock = "snapshot";
    try {
      const locked = await fails("backup_run", { vmid: [105], storage: "backup" });
      expect(locked.message).toContain("job errors");
      expect(locked.message).toContain("Backup of VM 105 failed - VM is locked (snapshot)");
    } finally {
      delete guest(105)!.config.lock;
    }
    const unknown = await fails("backup_run", { vmid: [999], storage: "backup" });
    expect(unknown.message).toContain("Backup of VM 999 failed - unable to find VM '999'");
    const noStorage = await fails("backup_run", { vmid: [105], storage: "nope" });
    expect(noStorage.message).toContain("storage 'nope' does not exist");
  });

  it("backup_restore: refuses an existing guest without force, then restores to a new vmid and over a stopped guest", async () => {
    const archive = volumes().find((v) => v.vmid === 100 && v.storage === "backup")!.volid;
    const exists = await fails("backup_restore", { archive, vmid: 100 });
    expect(exists.message).toContain("unable to restore VM 100 - VM 100 already exists on node 'pve1'");
    const running = await fails("backup_restore", { archive, vmid: 100, force: true });
    expect(running.message).toContain("unable to restore VM 100 - vm is running");
    const { s, progress } = await ok("backup_restore", { archive, vmid: 130, unique: true, storage: "local-lvm" });
    expect(s).toMatchObject({ vmid: 130, node: "pve1", type: "qemu", archive, status: "stopped", exitstatus: "OK" });
    expect(progress.length).toBeGreaterThan(0);
    expect(guest(130)!.config).toMatchObject({ name: "web01", scsi0: "local-lvm:vm-130-disk-0,iothread=1,size=32G" });
    expect(guest(130)!.config.net0).not.toBe(guest(100)!.config.net0);

    const ctArchive = volumes().find((v) => v.vmid === 200 && v.storage === "backup")!.volid;
    const { s: ct } = await ok("backup_restore", { archive: ctArchive, vmid: 230, node: "pve2", storage: "local-lvm" });
    expect(ct).toMatchObject({ type: "lxc", node: "pve2", exitstatus: "OK" });
    expect(guest(230)).toMatchObject({ node: "pve2", config: { hostname: "dns01" } });

    const dbArchive = volumes().find((v) => v.vmid === 101 && v.storage === "backup")!.volid;
    guest(101)!.config.cores = "16";
    const { s: over } = await ok("backup_restore", { archive: dbArchive, vmid: 101, force: true });
    expect(over.exitstatus).toBe("OK");
    expect(guest(101)!.config.cores).toBe("4");
    const bad = await fails("backup_restore", { archive: "backup:backup/nothing-here.vma.zst", vmid: 131 });
    expect(bad.code).toBe("invalid_arguments");
  });
});
