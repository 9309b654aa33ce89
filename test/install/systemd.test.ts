/**
 * scripts/install-agent.sh in a Debian 12 container booted with systemd-nspawn, systemd as PID 1: the
 * script's own systemd path (enable --now, restart on upgrade, the wait for the worker) and the agent under
 * the unit's real sandbox, on Debian's Node 18. The PVE side is still the simulator through the API (there is
 * no pvesh in the container either). The chroot test (install.test.ts) covers the file-level details; this one
 * what only a running systemd can show.
 */
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRootOnLinux, startInstallFixture, type InstallFixture } from "./fixture.ts";
import { bootContainer, type Rootfs } from "./rootfs.ts";

describe.skipIf(!isRootOnLinux)("install-agent.sh on a Debian 12 host running systemd (systemd-nspawn)", () => {
  let root: Rootfs;
  let f: InstallFixture;
  let accessBefore: unknown;

  const sh = async (command: string) => {
    const res = await root.run(["sh", "-c", command]);
    return res.output.trim();
  };
  const mainPid = () => sh("systemctl show -p MainPID --value pve-mcp-agent.service");
  /**
   * The main process's credentials and confinement, as the kernel reports them. nspawn puts a few seccomp
   * filters on the whole container, so what the unit adds is the count above the container's PID 1.
   */
  const confinement = async () => {
    const field = (status: string, name: string) => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(status)?.[1];
    const agent = await sh(`cat /proc/${await mainPid()}/status`);
    const init = await sh("cat /proc/1/status");
    return {
      uid: field(agent, "Uid")?.split(/\s+/)[0],
      NoNewPrivs: field(agent, "NoNewPrivs"),
      CapBnd: field(agent, "CapBnd"),
      ownSeccompFilters: Number(field(agent, "Seccomp_filters")) - Number(field(init, "Seccomp_filters")),
    };
  };

  beforeAll(async () => {
    root = await bootContainer();
    f = await startInstallFixture(root, "pve-systemd");
    accessBefore = await f.accessState();
  }, 1_200_000);

  afterAll(async () => {
    await f?.close();
    await root?.close();
  }, 120_000);

  it("installs, starts the unit and waits until the worker reports the agent connected; the agent runs sandboxed", async () => {
    const output = await f.install(f.installArgs(["--code", await f.mintCode()]));
    expect(output).toContain("started pve-mcp-agent.service");
    expect(output).toContain("Agent 'pve-systemd' is connected");
    expect(await sh("systemctl is-active pve-mcp-agent.service; systemctl is-enabled pve-mcp-agent.service")).toBe("active\nenabled");
    expect((await f.agentStatus())?.connected).toBe(true);
    expect(await confinement()).toMatchObject({ uid: String(f.uidOf("pve-mcp")), NoNewPrivs: "1", CapBnd: "0000000000000000" });
    expect((await confinement()).ownSeccompFilters).toBeGreaterThan(0);
    // The online figure agrees with the offline one recorded in docs/install.md.
    expect(await sh("systemd-analyze security --no-pager pve-mcp-agent.service | tail -1")).toMatch(/exposure level for pve-mcp-agent\.service: 1\.4 OK/);

    const client = await f.client(["proxmox:read"]);
    const result = (await client.callTool({ name: "node_list", arguments: {} })) as unknown as { structuredContent: { nodes: unknown[] } };
    expect(result.structuredContent.nodes).toHaveLength(3);
    await client.close();
  }, 900_000);

  it("a re-run without changes leaves the service alone; a new bundle restarts it", async () => {
    const pid = await mainPid();
    expect(await f.install(f.installArgs())).toContain("Nothing changed");
    expect(await mainPid()).toBe(pid);
    await root.run(["sh", "-c", `echo '// next build' >> /root/pve-mcp/pve-mcp-agent.cjs`]);
    expect(await f.install(f.installArgs())).toContain("Agent 'pve-systemd' is connected");
    expect(await mainPid()).not.toBe(pid);
  }, 300_000);

  it("--tier admin: the exec drop-in lifts NoNewPrivileges and the seccomp filter, and host_exec reaches root through sudo", async () => {
    await f.install(f.installArgs(["--tier", "admin"]));
    expect(await confinement()).toMatchObject({ uid: String(f.uidOf("pve-mcp")), NoNewPrivs: "0", ownSeccompFilters: 0 });
    const qm = root.path("/usr/sbin/qm");
    writeFileSync(qm, '#!/bin/sh\necho "qm $* as uid $(id -u)"\n');
    chmodSync(qm, 0o755);
    try {
      const client = await f.client(["host:exec"]);
      const run = async (command: string) => ((await client.callTool({ name: "host_exec", arguments: { command } })) as unknown as { structuredContent: { stdout: string; exit_code: number } }).structuredContent;
      expect(await run("sudo -n /usr/sbin/qm list")).toMatchObject({ stdout: "qm list as uid 0\n", exit_code: 0 });
      expect(await run("sudo -n /usr/bin/id -u")).toMatchObject({ exit_code: 1 });
      await client.close();
    } finally {
      rmSync(qm);
    }
  }, 600_000);

  it("--uninstall stops and removes the unit; the worker sees the agent go; PVE is as before", async () => {
    const output = await f.install(["--uninstall", "--yes"], { PVE_ROOT_PASSWORD: f.sim.password.password });
    expect(output).toContain("Removed.");
    expect(await sh("systemctl is-active pve-mcp-agent.service; systemctl cat pve-mcp-agent.service 2>&1 | head -1")).toMatch(/^inactive\nNo files found for pve-mcp-agent\.service/);
    expect((await f.agentStatus())?.connected).toBe(false);
    expect(await sh("id pve-mcp 2>&1; dpkg -s nodejs sudo 2>&1 | grep -c '^Status: install ok'")).toMatch(/no such user\n0$/);
    expect(await f.accessState()).toEqual(accessBefore);
  }, 600_000);
});
