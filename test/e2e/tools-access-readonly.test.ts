import { describe, expect, it } from "vitest";
import { useToolStack } from "../support/tool-calls.ts";

describe("cluster, node, HA, firewall, access, guest-agent and raw API tools with a read-only PVE token (PVEAuditor)", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 100, pveToken: "readonly" });
  const { ok, fails } = env;

  it("reads that PVEAuditor covers work", async () => {
    await ok("cluster_info", { action: "resources" });
    await ok("node_info", { node: "pve1", action: "services" });
    await ok("ha_info", { action: "status" });
    await ok("firewall_info", { action: "rules", level: "cluster" });
    await ok("guest_agent_info", { vmid: 100, action: "osinfo" });
    await ok("pve_api_get", { path: "/nodes/pve1/status" });
  });

  it("PVE filters what the token may not see: the cluster log and the ACL come back empty", async () => {
    expect((await ok("cluster_info", { action: "log" })).s.log).toEqual([]);
    expect((await ok("access_info", { action: "acl" })).s.acl).toEqual([]);
  });

  it("everything else is refused with PVE's permission error, naming path and privilege", async () => {
    const checks: Array<[string, Record<string, unknown>, string]> = [
      ["node_info", { node: "pve1", action: "journal" }, "Permission check failed (/nodes/pve1, Sys.Syslog)"],
      ["node_info", { node: "pve2", action: "updates" }, "Permission check failed (/nodes/pve2, Sys.Modify)"],
      ["firewall_rule_add", { level: "cluster", type: "in", action: "ACCEPT", macro: "SSH" }, "Permission check failed (/, Sys.Modify)"],
      ["ha_resource", { action: "add", vmid: 105 }, "Permission check failed (/, Sys.Console)"],
      ["firewall_rule_delete", { level: "guest", vmid: 100, pos: 0, digest: "0".repeat(40) }, "Permission check failed (/vms/100, VM.Config.Network)"],
      ["guest_agent_info", { vmid: 100, action: "file_read", file: "/etc/hostname" }, "Permission check failed (/vms/100, VM.GuestAgent.FileRead|VM.GuestAgent.Unrestricted)"],
      ["guest_agent_fs", { vmid: 100, action: "freeze" }, "Permission check failed (/vms/100, VM.GuestAgent.FileSystemMgmt|VM.GuestAgent.Unrestricted)"],
      ["pve_api_call", { method: "POST", path: "/nodes/pve1/qemu/101/status/start" }, "Permission check failed (/vms/101, VM.PowerMgmt)"],
    ];
    for (const [tool, args, message] of checks) {
      const got = await fails(tool, args);
      expect(got.message, tool).toContain(message);
      expect(got.code, tool).toBe("pve_error");
    }
    expect(env.stack.sim.mutations.filter((m) => m.status === 200)).toEqual([]);
  });

  it("whoami and diagnose say which tools the token cannot use, and why", async () => {
    const { s } = await ok("access_info", { action: "whoami" });
    const me = s.whoami;
    expect(me.authid).toBe("readonly@pve!ro");
    expect(me.permissions).toContainEqual({ path: "/", privileges: expect.arrayContaining(["Sys.Audit", "VM.Audit"]) });
    expect(me.warnings).toEqual([]);
    const row = (tool: string, action?: string) => me.tools.find((t: { tool: string; action?: string }) => t.tool === tool && t.action === action);
    expect(row("node_info", "journal")).toMatchObject({ status: "missing", missing: ["Sys.Syslog on /nodes/{node}"] });
    expect(row("firewall_rule_add", "cluster")).toMatchObject({ status: "missing", missing: ["Sys.Modify on /"] });
    expect(row("guest_agent_info", "osinfo")).toMatchObject({ status: "ok" });
    expect(row("guest_power")).toMatchObject({ status: "missing", missing: ["VM.PowerMgmt on /vms/{vmid}"] });
    expect(row("ha_resource")).toMatchObject({ status: "missing", missing: ["Sys.Console on /"] });
    expect(me.summary).toMatch(/are missing privileges/);
    const { s: diag } = await ok("diagnose", {});
    const privileges = diag.checks.find((c: { check: string }) => c.check === "privileges");
    expect(privileges).toMatchObject({ status: "warning", detail: expect.stringMatching(/\d+ are missing privileges \(see tools\[\]\.missing\)\. Refused: guest_power, guest_stop/) });
    expect(diag.ok).toBe(true);
  });
});
