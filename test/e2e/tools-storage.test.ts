import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { useToolStack } from "../support/tool-calls.ts";

describe("storage tools through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 1200 });
  const { ok, fails } = env;

  it("storage_info: storages with usage, content by type and one storage's status", async () => {
    const { s } = await ok("storage_info", { action: "list", node: "pve1" });
    expect(s.storages.map((x: { storage: string }) => x.storage)).toEqual(["backup", "local", "local-lvm"]);
    expect(s.storages[2]).toMatchObject({ storage: "local-lvm", type: "lvmthin", content: ["images", "rootdir"], shared: false, active: true, total: expect.any(Number) });
    expect(s.storages[2].used_fraction).toBeGreaterThan(0);
    const { s: iso } = await ok("storage_info", { action: "list", content: "iso" });
    expect(iso).toMatchObject({ node: "pve1", storages: [expect.objectContaining({ storage: "local" })] });
    const { s: isos } = await ok("storage_info", { action: "content", storage: "local", content: "iso" });
    expect(isos.volumes.map((v: { volid: string }) => v.volid)).toEqual(["local:iso/debian-12.8.0-amd64-netinst.iso", "local:iso/ubuntu-24.04.1-live-server-amd64.iso"]);
    const { s: disks } = await ok("storage_info", { action: "content", node: "pve1", storage: "local-lvm", vmid: 101 });
    expect(disks.volumes).toEqual([
      expect.objectContaining({ volid: "local-lvm:vm-101-disk-0", content: "images", size: 64 * 1024 ** 3, vmid: 101 }),
      expect.objectContaining({ volid: "local-lvm:vm-101-disk-1", content: "images", size: 200 * 1024 ** 3 }),
    ]);
    const { s: st } = await ok("storage_info", { action: "status", node: "pve2", storage: "backup" });
    expect(st.status).toMatchObject({ storage: "backup", type: "nfs", shared: true, content: ["backup"] });
    const missing = await fails("storage_info", { action: "content", storage: "nope" });
    expect(missing.message).toContain("storage 'nope' does not exist");
  });

  it("storage_download: downloads with progress and a verified checksum; PVE refuses a bad checksum, extension or storage", async () => {
    const url = "https://cloud.example.org/images/debian-12-genericcloud-amd64.img";
    const checksum = createHash("sha512").update(url).digest("hex");
    const { s, progress } = await ok("storage_download", { node: "pve2", url, filename: "debian-12-genericcloud-amd64.img", content: "iso", checksum, checksum_algorithm: "sha512" });
    expect(s).toMatchObject({ node: "pve2", storage: "local", volid: "local:iso/debian-12-genericcloud-amd64.img", status: "stopped", exitstatus: "OK" });
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.some((m) => m.includes("downloading") || /\d+%/.test(m))).toBe(true);
    expect(env.stack.sim.state.volumes.find((v) => v.volid === s.volid)).toMatchObject({ node: "pve2", content: "iso" });
    const wrong = await fails("storage_download", { node: "pve2", url: `${url}?v=2`, filename: "other.iso", content: "iso", checksum: "00", checksum_algorithm: "sha256" });
    expect(wrong.message).toMatch(/checksum mismatch: got '[0-9a-f]{64}' != expect '00'/);
    const ext = await fails("storage_download", { url, filename: "image.qcow2", content: "iso" });
    expect(ext.message).toContain("filename: wrong file extension");
    const lvm = await fails("storage_download", { url, filename: "x.iso", content: "iso", storage: "local-lvm" });
    expect(lvm.message).toContain("can't upload to storage type 'lvmthin', not a file based storage!");
    const offline = await fails("storage_download", { url: "https://mirror.invalid/x.tar.zst", filename: "x.tar.zst", content: "vztmpl" });
    expect(offline.message).toContain("download failed: command 'wget");
  });

  it("storage_delete_volume: deletes a file, refuses attached disks and protected backups", async () => {
    const { s } = await ok("storage_delete_volume", { volume: "local:iso/debian-12-genericcloud-amd64.img", node: "pve2" });
    expect(s).toMatchObject({ volume: "local:iso/debian-12-genericcloud-amd64.img", node: "pve2", exitstatus: "OK" });
    expect(env.stack.sim.state.volumes.some((v) => v.volid === s.volume)).toBe(false);
    const attached = await fails("storage_delete_volume", { volume: "local-lvm:vm-100-disk-0" });
    expect(attached.code).toBe("invalid_arguments");
    expect(attached.message).toContain("attached to guest 100 as scsi0");
    const prot = env.stack.sim.state.volumes.find((v) => v.protected)!;
    const refused = await fails("storage_delete_volume", { volume: prot.volid });
    expect(refused.message).toContain("cannot remove protected archive '/mnt/pve/backup/dump/");
    const oldBackup = env.stack.sim.state.volumes.find((v) => v.storage === "backup" && v.vmid === 201)!;
    await ok("storage_delete_volume", { volume: oldBackup.volid });
    expect(env.stack.sim.state.volumes.includes(oldBackup)).toBe(false);
  });
});
