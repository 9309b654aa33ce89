import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSimulator, type SimClient } from "./client.ts";

let c: SimClient;
beforeAll(async () => {
  c = await openSimulator({ taskDurationMs: 120 });
});
afterAll(async () => {
  await c.close();
});

const enc = encodeURIComponent;
const state = () => c.sim.state;
const guest = (vmid: number) => state().guests.get(vmid)!;

async function run(method: string, path: string, form: Record<string, string> = {}): Promise<{ upid: string; status: Record<string, unknown>; log: string[] }> {
  const query = method === "DELETE" && Object.keys(form).length ? `?${new URLSearchParams(form)}` : "";
  const res = await c.call(method, path + query, method === "DELETE" ? {} : { form });
  expect(res.status, res.text).toBe(200);
  const upid = res.json.data as string;
  const node = upid.split(":")[1];
  const status = await c.waitTask(node, upid);
  const log = (await c.call("GET", `/nodes/${node}/tasks/${enc(upid)}/log?limit=0`)).json.data.map((l: { t: string }) => l.t);
  return { upid, status, log };
}

describe("config", () => {
  it("applies changes to a stopped VM at once and keeps a running VM's non-hotplug changes pending", async () => {
    expect((await c.call("PUT", "/nodes/pve1/qemu/105/config", { form: { cores: "3", name: "staging-renamed" } })).json).toEqual({ data: null });
    expect(guest(105).config).toMatchObject({ cores: "3", name: "staging-renamed" });

    await c.call("PUT", "/nodes/pve1/qemu/100/config", { form: { memory: "6144", description: "web frontend" } });
    expect(guest(100).config.memory).toBe("4096");
    expect(guest(100).config.description).toBe("web frontend");
    const pending = (await c.call("GET", "/nodes/pve1/qemu/100/pending")).json.data;
    expect(pending).toContainEqual({ key: "memory", value: "4096", pending: "6144" });
    const conf = (await c.call("GET", "/nodes/pve1/qemu/100/config")).json.data;
    expect(conf.memory).toBe("6144");
    const current = (await c.call("GET", "/nodes/pve1/qemu/100/config?current=1")).json.data;
    expect(current.memory).toBe("4096");
  });

  it("refuses a stale digest with each guest type's own message", async () => {
    const stale = "0".repeat(40);
    const vm = await c.call("PUT", "/nodes/pve1/qemu/101/config", { form: { cores: "2", digest: stale } });
    expect(vm.json.message).toBe("checksum mismatch (file change by other user?)\n");
    const ct = await c.call("PUT", "/nodes/pve1/lxc/200/config", { form: { cores: "2", digest: stale } });
    expect(ct.json.message).toBe("detected modified configuration - file changed by other user? Try again.\n");
    const digest = (await c.call("GET", "/nodes/pve1/lxc/200/config")).json.data.digest;
    expect((await c.call("PUT", "/nodes/pve1/lxc/200/config", { form: { cores: "2", digest } })).status).toBe(200);
  });

  it("allocates a new disk from <storage>:<GiB>, detaches it to unused0 and removes it", async () => {
    await c.call("PUT", "/nodes/pve1/qemu/105/config", { form: { scsi1: "local-lvm:10,iothread=1" } });
    expect(guest(105).config.scsi1).toBe("local-lvm:vm-105-disk-1,iothread=1,size=10G");
    const images = (await c.call("GET", "/nodes/pve1/storage/local-lvm/content?vmid=105")).json.data.map((v: { volid: string }) => v.volid);
    expect(images).toContain("local-lvm:vm-105-disk-1");
    await c.call("PUT", "/nodes/pve1/qemu/105/config", { form: { delete: "scsi1" } });
    expect(guest(105).config.unused0).toBe("local-lvm:vm-105-disk-1");
    const bad = await c.call("PUT", "/nodes/pve1/qemu/105/config", { form: { scsi2: "local:10" } });
    expect(bad.json.errors).toEqual({ storage: "storage 'local' does not support vm images" });
  });

  it("grows a disk in a resize task and refuses to shrink it", async () => {
    const { status } = await run("PUT", "/nodes/pve1/qemu/105/resize", { disk: "scsi0", size: "+4G" });
    expect(status.exitstatus).toBe("OK");
    expect(guest(105).config.scsi0).toContain("size=24G");
    const shrink = await run("PUT", "/nodes/pve1/qemu/105/resize", { disk: "scsi0", size: "1G" });
    expect(shrink.status.exitstatus).toBe("shrinking disks is not supported");
  });
});

describe("lifecycle", () => {
  it("creates a VM with nextid-style id, disks, MAC and defaults", async () => {
    const { status, log } = await run("POST", "/nodes/pve2/qemu", { vmid: "110", name: "new01", memory: "2048", scsi0: "local-lvm:16", net0: "virtio,bridge=vmbr0", ostype: "l26" });
    expect(status.exitstatus).toBe("OK");
    expect(log).toContain('  Logical volume "vm-110-disk-0" created.');
    const g = guest(110);
    expect(g.node).toBe("pve2");
    expect(g.config.scsi0).toBe("local-lvm:vm-110-disk-0,size=16G");
    expect(g.config.net0).toMatch(/^virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr0$/);
    expect(g.config.boot).toBe("order=scsi0;net0");
    const dup = await c.call("POST", "/nodes/pve1/qemu", { form: { vmid: "110" } });
    expect(dup.json.message).toBe("unable to create VM 110 - VM 110 already exists on node 'pve2'\n");
  });

  it("refuses a linked clone of a non-template and makes one of the template", async () => {
    const refused = await c.call("POST", "/nodes/pve1/qemu/105/clone", { form: { newid: "111", full: "0" } });
    expect(refused.json.message).toBe("Linked clone feature is not supported for 'local-lvm:vm-105-disk-0' (scsi0)\n");
    const toOther = await c.call("POST", "/nodes/pve1/qemu/9000/clone", { form: { newid: "111", target: "pve2" } });
    expect(toOther.json.message).toBe("can't clone VM to node 'pve2' (VM uses local storage)\n");
    const { status, log } = await run("POST", "/nodes/pve1/qemu/9000/clone", { newid: "111", name: "from-tmpl" });
    expect(status.exitstatus).toBe("OK");
    expect(log[0]).toBe("create linked clone of drives of VM 9000 with ID 111");
    expect(guest(111).config).toMatchObject({ name: "from-tmpl", scsi0: "local-lvm:vm-111-disk-0,iothread=1,size=3G", ide2: "local-lvm:vm-111-cloudinit,media=cdrom" });
    expect(guest(111).config.template).toBeUndefined();
  });

  it("converts a VM to a template, renaming its disks to base volumes", async () => {
    const { status } = await run("POST", "/nodes/pve2/qemu/110/template");
    expect(status.exitstatus).toBe("OK");
    expect(guest(110).config).toMatchObject({ template: "1", scsi0: "local-lvm:base-110-disk-0,size=16G" });
    const again = await c.call("POST", "/nodes/pve2/qemu/110/template");
    expect(again.json.message).toBe("you can't convert a template to a template\n");
  });

  it("migrates a running VM online with its local disks, logging progress, and locks it meanwhile", async () => {
    const refused = await c.call("POST", "/nodes/pve2/qemu/102/migrate", { form: { target: "pve3" } });
    expect(refused.json.message).toBe("can't migrate running VM without --online\n");
    const res = await c.call("POST", "/nodes/pve2/qemu/102/migrate", { form: { target: "pve3", online: "1", "with-local-disks": "1" } });
    const upid = res.json.data;
    expect(guest(102).config.lock).toBe("migrate");
    const status = await c.waitTask("pve2", upid);
    expect(status.exitstatus).toBe("OK");
    expect(guest(102)).toMatchObject({ node: "pve3", running: true });
    expect(guest(102).config.lock).toBeUndefined();
  });

  it("fails a live migration with attached local disks and logs why", async () => {
    const { status, log } = await run("POST", "/nodes/pve3/qemu/102/migrate", { target: "pve2", online: "1" });
    expect(status.exitstatus).toBe("migration aborted");
    expect(log.join("\n")).toContain("ERROR: can't migrate local disk 'local-lvm:vm-102-disk-0': can't live migrate attached local disks without with-local-disks option");
    expect(guest(102).node).toBe("pve3");
  });

  it("migrates a running container only in restart mode", async () => {
    const refused = await c.call("POST", "/nodes/pve2/lxc/203/migrate", { form: { target: "pve1" } });
    expect(refused.json.message).toBe("can't migrate running container without --online or --restart\n");
    const online = await run("POST", "/nodes/pve2/lxc/203/migrate", { target: "pve1", online: "1" });
    expect(online.log.join("\n")).toContain("migration aborted (duration 00:00:01): lxc live migration is currently not implemented");
    const { status } = await run("POST", "/nodes/pve2/lxc/203/migrate", { target: "pve1", restart: "1" });
    expect(status.exitstatus).toBe("OK");
    expect(guest(203)).toMatchObject({ node: "pve1", running: true });
  });

  it("refuses to destroy a running VM and destroys a stopped one, leaving its pool", async () => {
    const running = await c.call("DELETE", "/nodes/pve1/qemu/100");
    expect(running.json.message).toBe("VM 100 is running - destroy failed\n");
    const { status } = await run("DELETE", "/nodes/pve1/qemu/111", { purge: "1" });
    expect(status.exitstatus).toBe("OK");
    expect(state().guests.has(111)).toBe(false);
  });

  it("hands out VNC and terminal tickets", async () => {
    const vnc = (await c.call("POST", "/nodes/pve1/qemu/100/vncproxy", { form: { websocket: "1" } })).json.data;
    expect(vnc).toMatchObject({ user: "root@pam!mcp", port: expect.any(Number), upid: expect.stringMatching(/:vncproxy:100:/) });
    expect(vnc.ticket).toMatch(/^[^:]+:PVEVNC:[0-9A-F]{8}::/);
    const term = (await c.call("POST", "/nodes/pve1/lxc/200/termproxy")).json.data;
    expect(term.ticket).toMatch(/^PVEVNC:/);
  });
});

describe("shutdown timeout", () => {
  it("fails a clean shutdown of a guest that ignores ACPI, unless forceStop kills it with a warning", async () => {
    guest(104).ignoresShutdown = true;
    const timeout = await run("POST", "/nodes/pve3/qemu/104/status/shutdown", { timeout: "30" });
    expect(timeout.status.exitstatus).toBe("VM quit/powerdown failed - got timeout");
    expect(guest(104).running).toBe(true);
    const forced = await run("POST", "/nodes/pve3/qemu/104/status/shutdown", { timeout: "30", forceStop: "1" });
    expect(forced.status.exitstatus).toBe("WARNINGS: 1");
    expect(forced.log.slice(-2)).toEqual(["WARN: VM still running - terminating now with SIGTERM", "TASK WARNINGS: 1"]);
    expect(guest(104).running).toBe(false);
  });
});

describe("snapshots", () => {
  it("takes, lists, rolls back and deletes a snapshot", async () => {
    const { status } = await run("POST", "/nodes/pve1/qemu/101/snapshot", { snapname: "before", description: "pre-upgrade" });
    expect(status.exitstatus).toBe("OK");
    const list = (await c.call("GET", "/nodes/pve1/qemu/101/snapshot")).json.data;
    expect(list).toContainEqual(expect.objectContaining({ name: "before", description: "pre-upgrade", vmstate: 0 }));
    expect(list).toContainEqual(expect.objectContaining({ name: "current", parent: "before", description: "You are here!" }));
    const dup = await run("POST", "/nodes/pve1/qemu/101/snapshot", { snapname: "before" });
    expect(dup.status.exitstatus).toBe("snapshot name 'before' already used");
    await c.call("PUT", "/nodes/pve1/qemu/101/config", { form: { cores: "8" } });
    const back = await run("POST", "/nodes/pve1/qemu/101/snapshot/before/rollback");
    expect(back.status.exitstatus).toBe("OK");
    expect(guest(101).config.cores).toBe("4");
    const del = await run("DELETE", "/nodes/pve1/qemu/101/snapshot/before");
    expect(del.status.exitstatus).toBe("OK");
    expect(guest(101).snapshots).toEqual({});
  });
});

describe("backups", () => {
  it("backs up a guest to the backup storage under a 'backup' lock and restores it only with force", async () => {
    const res = await c.call("POST", "/nodes/pve1/vzdump", { form: { vmid: "200", storage: "backup", mode: "snapshot", compress: "zstd" } });
    const upid = res.json.data as string;
    expect(upid).toMatch(/:vzdump:200:/);
    expect(guest(200).config.lock).toBe("backup");
    const locked = await c.call("PUT", "/nodes/pve1/lxc/200/config", { form: { cores: "1" } });
    expect(locked.json.message).toBe("CT is locked (backup)\n");
    const status = await c.waitTask("pve1", upid);
    expect(status.exitstatus).toBe("OK");
    const backups = (await c.call("GET", "/nodes/pve1/storage/backup/content?content=backup&vmid=200")).json.data;
    const newest = backups.at(-1);
    expect(newest.volid).toMatch(/^backup:backup\/vzdump-lxc-200-\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d\.tar\.zst$/);

    const qemu = (await c.call("GET", "/nodes/pve1/storage/backup/content?content=backup&vmid=100")).json.data[0].volid;
    const exists = await c.call("POST", "/nodes/pve1/qemu", { form: { vmid: "100", archive: qemu } });
    expect(exists.json.message).toBe("unable to restore VM 100 - VM 100 already exists on node 'pve1'\n");
    const running = await run("POST", "/nodes/pve1/qemu", { vmid: "100", archive: qemu, force: "1" });
    expect(running.status.exitstatus).toBe("unable to restore VM 100 - vm is running");
    const restored = await run("POST", "/nodes/pve1/qemu", { vmid: "120", archive: qemu, storage: "local-lvm" });
    expect(restored.status.exitstatus).toBe("OK");
    expect(guest(120).config).toMatchObject({ name: "web01", scsi0: "local-lvm:vm-120-disk-0,iothread=1,size=32G" });
  });

  it("reports a locked guest as a job error, and skips guests of other nodes", async () => {
    guest(101).config.lock = "snapshot";
    const { status, log } = await run("POST", "/nodes/pve1/vzdump", { vmid: "101,102", storage: "backup" });
    delete guest(101).config.lock;
    expect(status.exitstatus).toBe("job errors");
    expect(log).toContain("INFO: skip external VMs: 102");
    expect(log).toContain("ERROR: Backup of VM 101 failed - VM is locked (snapshot)");
  });

  it("lists the backup jobs with their next run", async () => {
    const jobs = (await c.call("GET", "/cluster/backup")).json.data;
    expect(jobs[0]).toMatchObject({ id: expect.stringMatching(/^backup-/), type: "vzdump", storage: "backup", all: 1, "next-run": expect.any(Number) });
    const missing = await c.call("GET", "/cluster/backup/backup-nope");
    expect(missing.json.errors).toEqual({ id: "No such job 'backup-nope'" });
  });
});

describe("storage content", () => {
  it("downloads an ISO with a verified checksum into the node's local storage", async () => {
    const url = "https://cdimage.example.org/alpine-virt-3.20.3-x86_64.iso";
    const checksum = createHash("sha256").update(url).digest("hex");
    const { status, log } = await run("POST", "/nodes/pve2/storage/local/download-url", { url, filename: "alpine-virt-3.20.3-x86_64.iso", content: "iso", checksum, "checksum-algorithm": "sha256" });
    expect(status.exitstatus).toBe("OK");
    expect(log).toContain("calculating checksum...OK, checksum verified");
    const isos = (await c.call("GET", "/nodes/pve2/storage/local/content?content=iso")).json.data.map((v: { volid: string }) => v.volid);
    expect(isos).toEqual(["local:iso/alpine-virt-3.20.3-x86_64.iso"]);
    const again = await run("POST", "/nodes/pve2/storage/local/download-url", { url, filename: "alpine-virt-3.20.3-x86_64.iso", content: "iso" });
    expect(again.status.exitstatus).toBe("refusing to override existing file '/var/lib/vz/template/iso/alpine-virt-3.20.3-x86_64.iso'");
    const ext = await c.call("POST", "/nodes/pve2/storage/local/download-url", { form: { url, filename: "alpine.txt", content: "iso" } });
    expect(ext.json.errors).toEqual({ filename: "wrong file extension" });
  });

  it("deletes a volume in an imgdel task and refuses a protected backup", async () => {
    const { status } = await run("DELETE", `/nodes/pve2/storage/local/content/${enc("local:iso/alpine-virt-3.20.3-x86_64.iso")}`);
    expect(status.exitstatus).toBe("OK");
    const prot = state().volumes.find((v) => v.protected)!;
    const refused = await run("DELETE", `/nodes/pve1/storage/backup/content/${enc(prot.volid)}`);
    expect(refused.status.exitstatus).toMatch(/^cannot remove protected archive '\/mnt\/pve\/backup\/dump\/vzdump-qemu-100-/);
  });
});

describe("pools", () => {
  it("adds and removes pool members with PVE's messages", async () => {
    expect((await c.call("PUT", "/pools", { form: { poolid: "lab", vms: "203" } })).status).toBe(200);
    const again = await c.call("PUT", "/pools", { form: { poolid: "lab", vms: "203" } });
    expect(again.json.message).toBe("update pools failed: VM 203 is already a pool member\n");
    const moved = await c.call("PUT", "/pools", { form: { poolid: "lab", vms: "100" } });
    expect(moved.json.message).toBe("update pools failed: VM 100 belongs already to pool 'prod' and 'allow-move' is not set\n");
    expect((await c.call("PUT", "/pools", { form: { poolid: "lab", vms: "203", delete: "1" } })).status).toBe(200);
    const gone = await c.call("PUT", "/pools", { form: { poolid: "nope", vms: "203" } });
    expect(gone.json.message).toBe("update pools failed: pool 'nope' does not exist\n");
  });
});

describe("permissions", () => {
  it("refuses the read-only token with PVE's 403, including the checks the handlers make themselves", async () => {
    const auth = c.sim.readonlyToken.header;
    const config = await c.call("PUT", "/nodes/pve1/qemu/105/config", { form: { cores: "2" }, auth });
    expect(config.status).toBe(403);
    expect(config.json.message).toMatch(/^Permission check failed/);
    const dump = await c.call("POST", "/nodes/pve1/vzdump", { form: { vmid: "105", storage: "backup" }, auth });
    expect([dump.status, dump.json.message]).toEqual([403, "Permission check failed (/storage/backup, Datastore.AllocateSpace)\n"]);
    const vol = state().volumes.find((v) => v.content === "iso")!;
    const del = await c.call("DELETE", `/nodes/${vol.node}/storage/local/content/${enc(vol.volid)}`, { auth });
    expect([del.status, del.json.message]).toEqual([403, "Permission check failed (/storage/local, Datastore.Allocate)\n"]);
    const list = await c.call("GET", "/nodes/pve1/storage/backup/content", { auth });
    expect(list.status).toBe(200);
  });
});
