import { describe, expect, it } from "vitest";
import { guestAgentOf } from "../../sim/guest-agent.ts";
import { useToolStack } from "../support/tool-calls.ts";

describe("QEMU guest agent tools through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 100 });
  const { ok, fails } = env;

  it("ping, OS, network, filesystems, users and hostname of a running VM", async () => {
    expect((await ok("guest_agent_info", { vmid: 100, action: "ping" })).s).toEqual({ vmid: 100, node: "pve1", action: "ping", ok: true });
    const { s: os } = await ok("guest_agent_info", { vmid: 100, action: "osinfo" });
    expect(os.osinfo).toMatchObject({ id: "debian", "pretty-name": "Debian GNU/Linux 13 (trixie)" });
    const { s: net } = await ok("guest_agent_info", { vmid: 100, action: "network" });
    expect(net.interfaces.find((i: { name: string }) => i.name === "ens18")).toMatchObject({ addresses: expect.arrayContaining(["10.0.0.200/24"]), mac: expect.stringMatching(/^bc:24:11:/) });
    const { s: fs } = await ok("guest_agent_info", { vmid: 100, action: "fsinfo" });
    expect(fs.filesystems[0]).toMatchObject({ mountpoint: "/", type: "ext4", usage: expect.any(Number) });
    const { s: users } = await ok("guest_agent_info", { vmid: 100, action: "users" });
    expect(users.users[0].user).toBe("debian");
    expect((await ok("guest_agent_info", { vmid: 100, action: "hostname" })).s.hostname).toBe("web01");
  });

  it("writes a file and reads it back", async () => {
    const { s: written } = await ok("guest_agent_file_write", { vmid: 100, file: "/etc/motd", content: "managed by MCP\n" });
    expect(written).toEqual({ vmid: 100, node: "pve1", file: "/etc/motd", bytes: 15 });
    const { s } = await ok("guest_agent_info", { vmid: 100, action: "file_read", file: "/etc/motd" });
    expect(s.file).toEqual({ path: "/etc/motd", content: "managed by MCP\n", bytes: 15, truncated: false });
  });

  it("freezes, refuses writes while frozen, thaws and trims", async () => {
    const { s: frozen } = await ok("guest_agent_fs", { vmid: 100, action: "freeze" });
    expect(frozen).toMatchObject({ action: "freeze", filesystems: 2, frozen: true });
    const blocked = await fails("guest_agent_file_write", { vmid: 100, file: "/tmp/x", content: "x" });
    expect(blocked.message).toContain("Command guest-file-open has been disabled: the agent is in frozen state");
    const { s: thawed } = await ok("guest_agent_fs", { vmid: 100, action: "thaw" });
    expect(thawed).toMatchObject({ filesystems: 2, frozen: false });
    const { s: trim } = await ok("guest_agent_fs", { vmid: 100, action: "trim" });
    expect(trim.trimmed[0]).toMatchObject({ path: "/", bytes: expect.any(Number) });
  });

  it("fails like PVE when the agent cannot answer", async () => {
    const cases: Array<[number, string]> = [
      [101, "VM 101 is not running"],
      [105, "No QEMU guest agent configured"],
    ];
    for (const [vmid, message] of cases) {
      const got = await fails("guest_agent_info", { vmid, action: "ping" });
      expect(got.message, String(vmid)).toContain(message);
      expect(got.code).toBe("pve_error");
    }
    guestAgentOf(env.stack.sim.state, 100).down = true;
    try {
      expect((await fails("guest_agent_info", { vmid: 100, action: "osinfo" })).message).toContain("QEMU guest agent is not running");
    } finally {
      guestAgentOf(env.stack.sim.state, 100).down = false;
    }
    const missing = await fails("guest_agent_info", { vmid: 100, action: "file_read", file: "/nope" });
    expect(missing.message).toContain("failed to open file '/nope' (mode: 'r'): No such file or directory");
    const container = await fails("guest_agent_info", { vmid: 200, action: "ping" });
    expect(container).toMatchObject({ code: "invalid_arguments", message: expect.stringContaining("is a container") });
    const unknown = await fails("guest_agent_info", { vmid: 999, action: "ping" });
    expect(unknown.message).toContain("no VM or container with vmid 999");
  });
});
