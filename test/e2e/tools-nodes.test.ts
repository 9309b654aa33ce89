import { describe, expect, it } from "vitest";
import { useToolStack } from "../support/tool-calls.ts";

describe("node_info through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 100 });
  const { ok, fails } = env;

  it("services with their state", async () => {
    const { s } = await ok("node_info", { node: "pve3", action: "services" });
    expect(s.services.find((x: { service: string }) => x.service === "pveproxy")).toMatchObject({ state: "running", active_state: "active" });
    expect(s.services.find((x: { service: string }) => x.service === "ksmtuned")).toMatchObject({ state: "dead" });
  });

  it("journal: the newest lines, or a time range; syslog: numbered pages filtered by service", async () => {
    const { s: last } = await ok("node_info", { node: "pve2", action: "journal", lines: 5 });
    expect(last.lines).toHaveLength(5);
    expect(last.lines[4]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000 pve2 /);
    const since = new Date(Date.now() - 10 * 60_000).toISOString();
    const { s: ranged } = await ok("node_info", { node: "pve2", action: "journal", since });
    expect(ranged.lines.length).toBeGreaterThanOrEqual(9);
    expect(ranged.lines.length).toBeLessThanOrEqual(11);
    const { s: page } = await ok("node_info", { node: "pve1", action: "syslog", service: "pveproxy", limit: 3 });
    expect(page.lines).toHaveLength(3);
    for (const line of page.lines) expect(line).toMatch(/ pve1 pveproxy\[\d+\]: /);
    expect(page.first_line).toBe(1);
    const { s: next } = await ok("node_info", { node: "pve1", action: "syslog", service: "pveproxy", limit: 3, cursor: page.next_cursor });
    expect(next.first_line).toBe(4);
  });

  it("network, disks with SMART health, one disk's SMART attributes", async () => {
    const { s: net } = await ok("node_info", { node: "pve1", action: "network" });
    expect(net.interfaces.find((i: { iface: string }) => i.iface === "vmbr0")).toMatchObject({ type: "bridge", cidr: "10.0.0.11/24", bridge_ports: "eno1" });
    const { s: disks } = await ok("node_info", { node: "pve3", action: "disks" });
    expect(disks.disks).toContainEqual(expect.objectContaining({ devpath: "/dev/sda", health: "FAILED", type: "hdd" }));
    expect(disks.disks.find((d: { devpath: string }) => d.devpath === "/dev/nvme0n1").wearout).toBe(91);
    const { s: smart } = await ok("node_info", { node: "pve3", action: "smart", disk: "/dev/sda" });
    expect(smart.smart).toMatchObject({ disk: "/dev/sda", health: "FAILED", type: "ata" });
    expect(smart.smart.failing).toEqual(["Raw_Read_Error_Rate", "Reallocated_Sector_Ct"]);
  });

  it("updates, certificates, rrd and version", async () => {
    const { s: updates } = await ok("node_info", { node: "pve2", action: "updates" });
    expect(updates.updates).toContainEqual(expect.objectContaining({ package: "proxmox-kernel-6.17", old_version: "6.17.4-2" }));
    const { s: certs } = await ok("node_info", { node: "pve1", action: "certificates" });
    const ssl = certs.certificates.find((c: { filename: string }) => c.filename === "pve-ssl.pem");
    expect(ssl.fingerprint).toBe(env.stack.sim.fingerprint);
    expect(ssl.expires_in_days).toBeGreaterThan(0);
    const { s: rrd } = await ok("node_info", { node: "pve1", action: "rrd", timeframe: "day", cf: "MAX" });
    expect(rrd.rrd).toHaveLength(70);
    expect(rrd.rrd[1].time - rrd.rrd[0].time).toBe(1800);
    const { s: version } = await ok("node_info", { node: "pve2", action: "version" });
    expect(version.version).toEqual({ version: "9.1.7", release: "9.1", repoid: "16b139a017452f16" });
  });

  it("answers PVE's own errors: an unknown disk, an unknown node, an unreachable node", async () => {
    const disk = await fails("node_info", { node: "pve1", action: "smart", disk: "/dev/sdz" });
    expect(disk.message).toContain("no such block device '/dev/sdz'");
    expect(disk.code).toBe("pve_error");
    const node = await fails("node_info", { node: "pve9", action: "services" });
    expect(node.message).toContain("hostname lookup 'pve9' failed");
    env.stack.sim.setNodeOnline("pve3", false);
    try {
      const offline = await fails("node_info", { node: "pve3", action: "version" });
      expect(offline.message).toContain("No route to host");
    } finally {
      env.stack.sim.setNodeOnline("pve3", true);
    }
    const bad = await fails("node_info", { node: "pve1", action: "journal", since: "yesterday" });
    expect(bad.code).toBe("invalid_arguments");
  });
});
