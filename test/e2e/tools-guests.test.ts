import { beforeAll, describe, expect, it } from "vitest";
import { useToolStack } from "../support/tool-calls.ts";

const destructive = new Set(["guest_stop", "guest_template", "guest_delete", "guest_disk", "snapshot_rollback", "snapshot_delete", "backup_restore", "storage_delete_volume", "task_stop"]);
const mine = ["guest_info", "guest_config_update", "guest_create", "guest_clone", "guest_template", "guest_delete", "guest_migrate", "guest_disk", "guest_network",
  "guest_cloudinit", "guest_pool", "guest_console", "snapshot_create", "snapshot_rollback", "snapshot_delete", "backup_info", "backup_run", "backup_restore",
  "storage_info", "storage_download", "storage_delete_volume", "task_info", "task_stop"];

describe("guest tools through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 1500 });
  const { ok, fails, guest } = env;

  beforeAll(() => {
    // A shared storage for images, so disks can move and clones can go to another node.
    env.stack.sim.state.storages.push({ id: "nfs-images", type: "nfs", content: ["images", "rootdir"], shared: true, total: 2 * 1024 ** 4, baseUsed: 0,
      options: { server: "10.0.0.50", export: "/srv/images", path: "/mnt/pve/nfs-images" } });
  });

  it("lists every tool with exact annotations, flat input schemas and short descriptions", async () => {
    const { tools } = await env.client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const name of mine) {
      const tool = byName.get(name);
      expect(tool, name).toBeDefined();
      expect(tool!.annotations?.destructiveHint, name).toBe(destructive.has(name));
      expect(tool!.annotations?.readOnlyHint, name).toBe(name.endsWith("_info"));
      expect(JSON.stringify(tool!.inputSchema), name).not.toMatch(/"\$ref"|"oneOf"|"anyOf"/);
      expect(tool!.description!.length, name).toBeLessThan(2048);
      expect(tool!.outputSchema, name).toBeDefined();
      if (destructive.has(name)) expect(tool!.description, name).toMatch(/DESTRUCTIVE/);
    }
  });

  it("guest_info: config with digest, rrd, snapshots and a Terraform export", async () => {
    const { s: conf } = await ok("guest_info", { vmid: 100, action: "config" });
    expect(conf).toMatchObject({ vmid: 100, node: "pve1", type: "qemu", config: { name: "web01", cores: "2", scsi0: "local-lvm:vm-100-disk-0,iothread=1,size=32G" } });
    expect(conf.digest).toMatch(/^[0-9a-f]{40}$/);
    const { s: rrd } = await ok("guest_info", { vmid: 200, action: "rrd", timeframe: "day", cf: "MAX" });
    expect(rrd.rrd).toHaveLength(70);
    expect(rrd.rrd[69]).toMatchObject({ time: expect.any(Number), cpu: expect.any(Number), maxmem: 512 * 1024 ** 2 });
    const { s: snaps } = await ok("guest_info", { vmid: 101, action: "snapshots" });
    expect(snaps.snapshots).toEqual([{ name: "current", current: true, description: "You are here!" }]);
    const { s: tf } = await ok("guest_info", { vmid: 100, action: "terraform" });
    expect(tf.terraform).toContain('resource "proxmox_virtual_environment_vm" "web01" {');
    expect(tf.terraform).toContain('node_name = "pve1"');
    expect(tf.terraform).toMatch(/disk \{\n\s+datastore_id = "local-lvm"\n\s+interface = "scsi0"\n\s+size = 32/);
    expect(tf.terraform).toContain('import {\n  to = proxmox_virtual_environment_vm.web01\n  id = "pve1/100"\n}');
    const { s: ct } = await ok("guest_info", { vmid: 201, action: "terraform" });
    expect(ct.terraform).toContain('resource "proxmox_virtual_environment_container" "proxy01"');
    expect(ct.terraform).toContain('id = "pve2/201"');
  });

  it("guest_info: PVE's own error for an unknown vmid on a given node", async () => {
    const { message, code } = await fails("guest_info", { vmid: 999, node: "pve1", type: "qemu", action: "config" });
    expect(message).toContain("Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist");
    expect(code).toBe("pve_error");
  });

  it("guest_config_update: hot-plugs what it can, keeps the rest pending, and detects a concurrent change", async () => {
    const { s: before } = await ok("guest_info", { vmid: 100, action: "config" });
    const { s } = await ok("guest_config_update", { vmid: 100, set: { memory: 6144, description: "frontend", onboot: true }, digest: before.digest });
    expect(s).toMatchObject({ vmid: 100, node: "pve1", type: "qemu", changed: ["memory", "description", "onboot"], pending: ["memory"] });
    expect(s.digest).not.toBe(before.digest);
    expect(guest(100)!.config).toMatchObject({ description: "frontend", onboot: "1", memory: "4096" });
    expect(guest(100)!.pending).toEqual({ memory: "6144" });
    const { s: pending } = await ok("guest_info", { vmid: 100, action: "pending" });
    expect(pending.pending).toEqual([{ key: "memory", value: "4096", pending: "6144" }]);

    const stale = await fails("guest_config_update", { vmid: 100, set: { cores: 4 }, digest: before.digest });
    expect(stale.message).toContain("checksum mismatch (file change by other user?)");
    const ct = await fails("guest_config_update", { vmid: 200, set: { cores: 2 }, digest: before.digest });
    expect(ct.message).toContain("detected modified configuration - file changed by other user? Try again.");
    const bad = await fails("guest_config_update", { vmid: 101, set: { cores: "many" } });
    expect(bad.message).toContain("Parameter verification failed.");
    expect(bad.message).toContain("cores: type check ('integer') failed - got 'many'");
    const disk = await fails("guest_config_update", { vmid: 101, delete: ["scsi1"] });
    expect(disk.code).toBe("invalid_arguments");
  });

  it("refuses changes to a locked guest with PVE's message", async () => {
    guest(105)!.config.lock = "backup";
    try {
      const { message } = await fails("guest_config_update", { vmid: 105, set: { cores: 4 } });
      expect(message).toContain("VM is locked (backup)");
    } finally {
      delete guest(105)!.config.lock;
    }
  });

  it("guest_power: starts a guest with progress and the final status", async () => {
    const { s, progress } = await ok("guest_power", { vmid: 105, action: "start" });
    expect(s).toMatchObject({ vmid: 105, status: "stopped", exitstatus: "OK" });
    expect(progress.length).toBeGreaterThan(0);
    expect(guest(105)!.running).toBe(true);
    await ok("guest_stop", { vmid: 105 });
  });

  it("guest_create: a VM with the next free vmid and a container from a template", async () => {
    const { s, progress } = await ok("guest_create", { type: "qemu", node: "pve2", params: { name: "api01", memory: 2048, scsi0: "local-lvm:16", net0: "virtio,bridge=vmbr0" } });
    expect(s).toMatchObject({ vmid: 103, node: "pve2", type: "qemu", status: "stopped", exitstatus: "OK" });
    expect(progress.length).toBeGreaterThan(0);
    expect(guest(103)).toMatchObject({ node: "pve2", config: { name: "api01", scsi0: "local-lvm:vm-103-disk-0,size=16G" } });
    const { s: ct } = await ok("guest_create", { type: "lxc", node: "pve1", vmid: 210, storage: "local-lvm",
      params: { ostemplate: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", hostname: "cache01", memory: 1024, net0: "name=eth0,bridge=vmbr0,ip=dhcp" } });
    expect(ct).toMatchObject({ vmid: 210, type: "lxc", exitstatus: "OK" });
    expect(guest(210)!.config).toMatchObject({ hostname: "cache01", ostype: "debian", rootfs: "local-lvm:vm-210-disk-0,size=4G" });
    const dup = await fails("guest_create", { type: "qemu", node: "pve1", vmid: 100, params: {} });
    expect(dup.message).toContain("unable to create VM 100 - VM 100 already exists on node 'pve1'");
  });

  it("guest_clone: a linked clone of the template with progress; PVE refuses a linked clone of a plain VM", async () => {
    const { s, progress } = await ok("guest_clone", { vmid: 9000, newid: 120, name: "app02" });
    expect(s).toMatchObject({ vmid: 9000, newid: 120, node: "pve1", target: "pve1", status: "stopped", exitstatus: "OK" });
    expect(progress.some((m) => /clone of drive/.test(m))).toBe(true);
    expect(guest(120)!.config).toMatchObject({ name: "app02", scsi0: "local-lvm:vm-120-disk-0,iothread=1,size=3G" });
    const linked = await fails("guest_clone", { vmid: 101, newid: 121, full: false });
    expect(linked.message).toContain("Linked clone feature is not supported for 'local-lvm:vm-101-disk-0' (scsi0)");
    const { s: far } = await ok("guest_clone", { vmid: 9000, newid: 122, target: "pve3", full: true, storage: "nfs-images" });
    expect(far.target).toBe("pve3");
    expect(guest(122)).toMatchObject({ node: "pve3", config: { scsi0: "nfs-images:vm-122-disk-0,iothread=1,size=3G" } });
  });

  it("guest_cloudinit: sets user, keys and address and regenerates the drive", async () => {
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF0rkzY6tr1a9b7cPsx+KQfn0EqC2m7Xz7eZcXH3vQ3w admin@example";
    const { s } = await ok("guest_cloudinit", { vmid: 120, ciuser: "ops", sshkeys: key, ipconfig: { ipconfig0: "ip=10.0.0.60/24,gw=10.0.0.1" }, nameserver: "10.0.0.53" });
    expect(s).toMatchObject({ vmid: 120, drive: "ide2", regenerated: true, pending: [] });
    expect(s.set.sort()).toEqual(["ciuser", "ipconfig0", "nameserver", "sshkeys"]);
    expect(guest(120)!.config).toMatchObject({ ciuser: "ops", ipconfig0: "ip=10.0.0.60/24,gw=10.0.0.1" });
    expect(decodeURIComponent(guest(120)!.config.sshkeys)).toBe(`${key}\n`);
    const ct = await fails("guest_cloudinit", { vmid: 200, ciuser: "x" });
    expect(ct.code).toBe("invalid_arguments");
  });

  it("guest_migrate: a running VM moves online with progress; a running container needs restart mode", async () => {
    const { s, progress } = await ok("guest_migrate", { vmid: 102, target: "pve3", online: true, with_local_disks: true });
    expect(s).toMatchObject({ vmid: 102, node: "pve2", target: "pve3", status: "stopped", exitstatus: "OK" });
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.some((m) => /migration|drive-scsi0|starting/.test(m))).toBe(true);
    expect(guest(102)).toMatchObject({ node: "pve3", running: true });
    const refused = await fails("guest_migrate", { vmid: 201, target: "pve1" });
    expect(refused.message).toContain("can't migrate running container without --online or --restart");
    const live = await fails("guest_migrate", { vmid: 201, target: "pve1", online: true });
    expect(live.message).toContain("migration aborted");
    expect(live.message).toContain("lxc live migration is currently not implemented");
    const { s: ct } = await ok("guest_migrate", { vmid: 201, target: "pve1", restart: true });
    expect(ct.exitstatus).toBe("OK");
    expect(guest(201)).toMatchObject({ node: "pve1", running: true });
  });

  it("guest_disk: adds, grows, moves and removes a disk", async () => {
    const { s: added } = await ok("guest_disk", { vmid: 103, action: "add", disk: "scsi1", size: "20", storage: "local-lvm", options: "iothread=1" });
    expect(added).toMatchObject({ action: "add", disk: "scsi1", value: "local-lvm:vm-103-disk-1,iothread=1,size=20G", pending: false });
    const { s: grown } = await ok("guest_disk", { vmid: 103, action: "resize", disk: "scsi1", size: "+10G" });
    expect(grown).toMatchObject({ value: "local-lvm:vm-103-disk-1,iothread=1,size=30G", status: "stopped", exitstatus: "OK" });
    const shrink = await fails("guest_disk", { vmid: 103, action: "resize", disk: "scsi1", size: "5G" });
    expect(shrink.message).toContain("shrinking disks is not supported");
    const { s: moved } = await ok("guest_disk", { vmid: 103, action: "move", disk: "scsi1", storage: "nfs-images" });
    // The new volume takes the first free name on the target storage.
    expect(moved).toMatchObject({ value: "nfs-images:vm-103-disk-0,iothread=1,size=30G", unused: "unused0", exitstatus: "OK" });
    expect(guest(103)!.config.unused0).toBe("local-lvm:vm-103-disk-1");
    const wrongStorage = await fails("guest_disk", { vmid: 103, action: "move", disk: "scsi0", storage: "local" });
    expect(wrongStorage.message).toContain("storage 'local' does not support vm images");
    const { s: kept } = await ok("guest_disk", { vmid: 103, action: "remove", disk: "scsi1", keep_volume: true });
    expect(kept).toMatchObject({ unused: "unused1" });
    expect(guest(103)!.config.unused1).toBe("nfs-images:vm-103-disk-0");
    await ok("guest_disk", { vmid: 103, action: "remove", disk: "unused1" });
    await ok("guest_disk", { vmid: 103, action: "remove", disk: "unused0" });
    expect(Object.keys(guest(103)!.config).filter((k) => /^(scsi1|unused\d)$/.test(k))).toEqual([]);
    const { s: mp } = await ok("guest_disk", { vmid: 210, action: "add", disk: "mp0", size: "8", storage: "local-lvm", mp: "/srv/cache" });
    expect(mp.value).toBe("local-lvm:vm-210-disk-1,mp=/srv/cache,size=8G");
  });

  it("guest_network: adds, updates and removes a NIC, keeping the MAC", async () => {
    const { s: added } = await ok("guest_network", { vmid: 101, action: "add", net: "net1", bridge: "vmbr1", tag: 20, firewall: true });
    expect(added.value).toMatch(/^virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr1,tag=20,firewall=1$/);
    const mac = added.value.split(",")[0].split("=")[1];
    const { s: updated } = await ok("guest_network", { vmid: 101, action: "update", net: "net1", tag: 30, model: "e1000" });
    expect(updated.value).toBe(`e1000=${mac},bridge=vmbr1,tag=30,firewall=1`);
    const dup = await fails("guest_network", { vmid: 101, action: "add", net: "net1" });
    expect(dup.code).toBe("invalid_arguments");
    await ok("guest_network", { vmid: 101, action: "remove", net: "net1" });
    expect(guest(101)!.config.net1).toBeUndefined();
    const { s: ct } = await ok("guest_network", { vmid: 210, action: "add", net: "net1", bridge: "vmbr0", ip: "10.0.1.5/24", gw: "10.0.1.1" });
    // pve-container prints name first, then the other keys sorted.
    expect(ct.value).toMatch(/^name=eth1,bridge=vmbr0,gw=10\.0\.1\.1,hwaddr=BC:24:11:[0-9A-F:]{8},ip=10\.0\.1\.5\/24,type=veth$/);
  });

  it("guest_pool: adds guests to a pool and removes them", async () => {
    const { s } = await ok("guest_pool", { action: "add", poolid: "lab", vmids: [103, 120] });
    expect(s.members).toEqual(expect.arrayContaining([103, 120]));
    const taken = await fails("guest_pool", { action: "add", poolid: "lab", vmids: [100] });
    expect(taken.message).toContain("VM 100 belongs already to pool 'prod' and 'allow-move' is not set");
    const { s: removed } = await ok("guest_pool", { action: "remove", poolid: "lab", vmids: [120] });
    expect(removed.members).not.toContain(120);
  });

  it("guest_console: VNC and terminal tickets", async () => {
    const { s: vnc } = await ok("guest_console", { vmid: 100 });
    expect(vnc).toMatchObject({ kind: "vnc", port: expect.any(Number), upid: expect.stringMatching(/:vncproxy:100:/) });
    expect(vnc.websocket).toMatch(/^\/api2\/json\/nodes\/pve1\/qemu\/100\/vncwebsocket\?port=\d+&vncticket=/);
    expect(vnc.password).toBeTruthy();
    const { s: term } = await ok("guest_console", { vmid: 200, kind: "term" });
    expect(term.ticket).toMatch(/^PVEVNC:/);
    const stopped = await fails("guest_console", { vmid: 202, kind: "term" });
    expect(stopped.message).toContain("CT 202 not running");
  });

  it("guest_template: converts a stopped VM, and PVE refuses a running one", async () => {
    const { s } = await ok("guest_template", { vmid: 103 });
    expect(s).toMatchObject({ vmid: 103, exitstatus: "OK" });
    expect(guest(103)!.config).toMatchObject({ template: "1", scsi0: "local-lvm:base-103-disk-0,size=16G" });
    const running = await fails("guest_template", { vmid: 100 });
    expect(running.message).toContain("you can't convert a VM to template if VM is running");
    const { s: ct } = await ok("guest_template", { vmid: 202 });
    expect(ct.upid).toMatch(/:vztemplate:202:/);
    expect(guest(202)!.config.template).toBe("1");
  });

  it("guest_delete: refuses a running guest like PVE and destroys a stopped one", async () => {
    const running = await fails("guest_delete", { vmid: 100 });
    expect(running.message).toContain("VM 100 is running - destroy failed");
    const ct = await fails("guest_delete", { vmid: 200 });
    expect(ct.message).toContain("unable to destroy CT 200 - container is running");
    const { s } = await ok("guest_delete", { vmid: 122 });
    expect(s).toMatchObject({ vmid: 122, node: "pve3", exitstatus: "OK" });
    expect(guest(122)).toBeUndefined();
    const deletes = env.stack.sim.mutations.filter((m) => m.method === "DELETE" && m.path === "/nodes/pve3/qemu/122");
    expect(deletes).toHaveLength(1);
    expect(deletes[0].params).toMatchObject({ purge: "1" });
  });
});
