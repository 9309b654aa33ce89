/**
 * scripts/install-agent.sh for real, as root in a Debian 12 chroot (the base of PVE 8), against the PVE
 * simulator and a Node worker on the host's loopback. Two things differ from a PVE host, and the test says
 * which: there is no `pvesh`/`pveum` in the chroot, so the script takes its other path, the PVE API over
 * HTTPS (pinned certificate, an admin token, then a root@pam ticket for the uninstall); and systemd is not
 * PID 1, so the script only enables the unit, and the test starts the agent the way the unit would: its
 * ExecStart, as its User=, with its UMask and /proc, in a clean environment (systemd.test.ts does the same
 * under systemd). Also here: the deploy/ units against systemd-analyze.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/ports.ts";
import { startProcess, type Proc } from "../support/processes.ts";
import { DEPLOY, isRootOnLinux, KIT, REPO, startInstallFixture, type InstallFixture } from "./fixture.ts";
import { openChroot, type Rootfs } from "./rootfs.ts";

/**
 * Left out of the before/after comparison: apt's and dpkg's own bookkeeping and logs, which installing
 * and purging nodejs and sudo change (package lists, status backups, debconf caches, logs), and /tmp.
 */
const BOOKKEEPING = ["/var/lib/apt", "/var/lib/dpkg", "/var/cache/apt", "/var/cache/debconf", "/var/cache/ldconfig", "/var/log", "/tmp"];
/** useradd and userdel keep the previous copy of these as "<file>-"; all the rest of /etc must be byte-identical. */
const SHADOW_BACKUPS = ["/etc/passwd-", "/etc/group-", "/etc/shadow-", "/etc/gshadow-"];

if (!isRootOnLinux) console.warn("install tests skipped: they need root on Linux (chroot, mount, systemd-nspawn)");

describe.skipIf(!isRootOnLinux)("install-agent.sh in a Debian 12 chroot", () => {
  let root: Rootfs;
  let f: InstallFixture;
  let agent: Proc | undefined;
  let baseline: string[];
  let etcBefore: Record<string, string>;
  let accessBefore: unknown;

  /**
   * Starts the agent as the installed unit would: its ExecStart as its User=, with UMask=0077, systemd's
   * environment, and the /proc that ProtectProc=/ProcSubset= give it (the last setting of the unit and its
   * drop-ins wins), mounted in a mount and PID namespace of its own. The rest of the sandbox is systemd's
   * alone (test/install/systemd.test.ts runs it under systemd).
   */
  const startLikeTheUnit = async () => {
    const unitFile = "/etc/systemd/system/pve-mcp-agent.service";
    const dropins = ["exec.conf", "root.conf"].map((d) => `${unitFile}.d/${d}`).filter((d) => root.fingerprint(d) !== "absent");
    const text = [unitFile, ...dropins].map((u) => readFileSync(root.path(u), "utf8")).join("\n");
    const value = (key: string) => [...text.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].pop()?.[1];
    const user = value("User")!;
    const procOptions = [value("ProcSubset") === "pid" && "subset=pid", value("ProtectProc") === "invisible" && "hidepid=invisible"].filter(Boolean).join(",") || "defaults";
    const env = {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin",
      HOME: "/var/lib/pve-mcp",
      USER: user,
      LOGNAME: user,
      STATE_DIRECTORY: "/var/lib/pve-mcp",
      LOGS_DIRECTORY: "/var/log/pve-mcp",
      CONFIGURATION_DIRECTORY: "/etc/pve-mcp",
    };
    const proc = startProcess("unshare", [
      ...["--mount", "--pid", "--fork", "--propagation", "private"],
      ...["sh", "-c", `mount -t proc -o ${procOptions} proc "$0/proc" && exec "$@"`, root.dir],
      ...["env", "-i", ...Object.entries(env).map(([k, v]) => `${k}=${v}`)],
      ...["chroot", `--userspec=${user}:${value("Group") ?? user}`, root.dir],
      ...["/bin/sh", "-c", 'umask 0077 && exec "$@"', "sh", ...value("ExecStart")!.split(/\s+/)],
    ]);
    try {
      await waitFor(async () => (await f.agentStatus())?.connected, "agent connected", 30_000);
    } catch (err) {
      await proc.kill();
      throw new Error(`${(err as Error).message}\n${proc.output().slice(-3000)}`);
    }
    return proc;
  };

  beforeAll(async () => {
    root = await openChroot();
    f = await startInstallFixture(root, "pve-chroot");
    baseline = root.list(BOOKKEEPING);
    etcBefore = root.fingerprints("/etc");
    accessBefore = await f.accessState();
  }, 1_200_000);

  afterAll(async () => {
    await agent?.kill();
    await f?.close();
    await root?.close();
  }, 120_000);

  it("refuses, naming what is missing, and changes nothing: not root; no curl, openssl, systemd", async () => {
    const args = f.installArgs(["--code", "pmc_UNUSED"]);
    // /root is 0700: nobody runs a copy.
    copyFileSync(root.path(`${KIT}/install-agent.sh`), root.path("/tmp/install-agent.sh"));
    const asNobody = await root.run(["bash", "/tmp/install-agent.sh", ...args], { user: "nobody:nogroup" });
    rmSync(root.path("/tmp/install-agent.sh"));
    expect([asNobody.status, asNobody.output]).toEqual([1, expect.stringContaining("run this as root")]);
    const hidden = ["/usr/bin/curl", "/usr/bin/openssl", "/usr/bin/systemctl"];
    for (const h of hidden) renameSync(root.path(h), root.path(`${h}.hidden`));
    try {
      const res = await root.run(["bash", `${KIT}/install-agent.sh`, ...args]);
      expect(res.status).toBe(1);
      expect(res.output).toContain("missing: curl (apt-get install curl); openssl (apt-get install openssl); systemd (systemctl not found");
    } finally {
      for (const h of hidden) renameSync(root.path(`${h}.hidden`), root.path(h));
    }
    expect(root.list(BOOKKEEPING)).toEqual(baseline);
  });

  it("installs: Debian's Node 18 from apt, a system user, the PVE user, role, privsep token and ACLs through the API, enrollment, 0600 config", async () => {
    const output = await f.install(f.installArgs(["--code", await f.mintCode()]));
    expect(output).toContain("PVE access through the API");
    expect(output).toContain("systemd is not running here");

    expect((await root.run(["node", "--version"])).output).toMatch(/^v18\./);
    const pveMcp = f.uidOf("pve-mcp");
    expect(pveMcp).toBeGreaterThan(0);
    for (const file of ["/etc/pve-mcp/agent.json", "/etc/pve-mcp/agent.key"]) {
      const st = statSync(root.path(file));
      expect([file, (st.mode & 0o777).toString(8), st.uid]).toEqual([file, "600", pveMcp]);
    }
    expect(statSync(root.path("/var/lib/pve-mcp")).uid).toBe(pveMcp);
    expect(readFileSync(root.path("/etc/pve-mcp/agent.key"), "utf8")).toContain("BEGIN PRIVATE KEY");
    expect(f.config()).toMatchObject({
      worker_url: `${f.worker.url.replace("http", "ws")}/agent`,
      agent_id: f.agentId,
      private_key: "/etc/pve-mcp/agent.key",
      pve: { url: f.sim.url, token_id: "pve-mcp@pve!agent", fingerprint: f.sim.fingerprint },
      state_dir: "/var/lib/pve-mcp",
      exec: { enabled: false },
    });
    expect(readFileSync(root.path("/etc/systemd/system/pve-mcp-agent.service"), "utf8")).toBe(readFileSync(join(DEPLOY, "pve-mcp-agent.service"), "utf8"));
    expect(readlinkSync(root.path("/etc/systemd/system/multi-user.target.wants/pve-mcp-agent.service"))).toBe("/etc/systemd/system/pve-mcp-agent.service");
    expect(root.fingerprint("/etc/sudoers.d/pve-mcp")).toBe("absent");

    const access = await f.accessState();
    expect(access.users.find((u) => u.userid === "pve-mcp@pve").tokens).toEqual([{ tokenid: "agent", privsep: 1, expire: 0 }]);
    expect(access.acl.filter((e) => e.ugid.startsWith("pve-mcp@pve"))).toEqual(
      expect.arrayContaining([
        { path: "/", type: "user", ugid: "pve-mcp@pve", roleid: "MCPOperator", propagate: 1 },
        { path: "/", type: "token", ugid: "pve-mcp@pve!agent", roleid: "MCPOperator", propagate: 1 },
      ]),
    );
    const role = access.roles.find((r) => r.roleid === "MCPOperator");
    expect(role.privs.split(",")).toEqual(expect.arrayContaining(["VM.Audit", "Sys.Audit", "VM.PowerMgmt", "VM.Snapshot", "VM.Backup"]));
    // PVE 9 has no VM.Monitor any more: the script drops what this PVE does not know.
    expect(role.privs).not.toContain("VM.Monitor");
    expect(role.privs).not.toMatch(/Sys.Modify|Permissions.Modify|VM.Allocate|User.Modify/);
  }, 900_000);

  it("the agent, started as the unit starts it, connects and serves a tool call with the privsep token", async () => {
    agent = await startLikeTheUnit();
    const client = await f.client(["proxmox:read"]);
    const result = (await client.callTool({ name: "node_list", arguments: {} })) as unknown as { structuredContent: { nodes: unknown[] } };
    expect(result.structuredContent.nodes).toHaveLength(3);
    await client.close();
    await agent.kill("SIGTERM");
    agent = undefined;
  }, 120_000);

  it("a second run changes nothing; one with a new bundle replaces only the bundle (config, key and token kept)", async () => {
    const before = f.managed();
    const access = await f.accessState();
    expect(await f.install(f.installArgs())).toContain("Nothing changed");
    expect(f.managed()).toEqual(before);
    expect(await f.accessState()).toEqual(access);

    const bundle = root.path(`${KIT}/pve-mcp-agent.cjs`);
    writeFileSync(bundle, `${readFileSync(bundle, "utf8")}\n// next build\n`);
    await f.install(f.installArgs());
    const after = f.managed();
    expect(Object.keys(before).filter((m) => before[m] !== after[m])).toEqual(["/usr/local/lib/pve-mcp/pve-mcp-agent.cjs"]);
    expect(await f.accessState()).toEqual(access);
  }, 300_000);

  /** What the admin tier must have set up; run while a stand-in qm exists. */
  const adminTierChecks = async () => {
    expect(f.config().exec).toEqual({ enabled: true });
    expect(root.fingerprint("/etc/sudoers.d/pve-mcp")).toMatch(/ 440 0:0$/);
    expect((await root.run(["visudo", "-c"])).status).toBe(0);
    // sudo's own verdict for the agent's user: PVE tools yes, a shell or an arbitrary apt-get no.
    const may = async (cmd: string[]) => (await root.run(["sudo", "-n", "-l", ...cmd], { user: "pve-mcp" })).status;
    expect(await may(["/usr/sbin/qm", "list"])).toBe(0);
    expect(await may(["/usr/bin/journalctl", "-u", "pveproxy"])).toBe(0);
    expect(await may(["/usr/bin/apt-get", "update"])).toBe(0);
    expect(await may(["/usr/bin/apt-get", "-o", "APT::Update::Pre-Invoke::=/bin/sh", "update"])).not.toBe(0);
    expect(await may(["/bin/sh"])).not.toBe(0);

    // End to end: host_exec through the worker, in the agent that runs as pve-mcp, reaching root with sudo.
    agent = await startLikeTheUnit();
    const client = await f.client(["host:exec"]);
    const run = async (command: string) => ((await client.callTool({ name: "host_exec", arguments: { command } })) as unknown as { structuredContent: { stdout: string; exit_code: number } }).structuredContent;
    expect(await run("id -un")).toMatchObject({ stdout: "pve-mcp\n", exit_code: 0 });
    expect(await run("sudo -n /usr/sbin/qm list")).toMatchObject({ stdout: "qm list as uid 0\n", exit_code: 0 });
    expect(await run("sudo -n /usr/bin/id -u")).toMatchObject({ exit_code: 1 });
    await client.close();
    await agent.kill("SIGTERM");
    agent = undefined;
    expect(readFileSync(root.path("/etc/systemd/system/pve-mcp-agent.service.d/exec.conf"), "utf8")).toBe(readFileSync(join(DEPLOY, "pve-mcp-agent-exec.conf"), "utf8"));
    expect(root.fingerprint("/etc/systemd/system/pve-mcp-agent.service.d/root.conf")).toBe("absent");
    expect(readFileSync(root.path("/etc/pve-mcp/install.env"), "utf8")).toMatch(/^PACKAGES=nodejs sudo$/m);

    const access = await f.accessState();
    expect(access.acl.filter((e) => e.ugid.startsWith("pve-mcp@pve")).map((e) => e.roleid)).toEqual(["Administrator", "Administrator"]);
    expect(access.roles.map((r) => r.roleid)).not.toContain("MCPOperator");
  };

  it("--tier admin: host commands on, sudo installed, sudoers checked by visudo and effective, the exec drop-in, Administrator on /", async () => {
    await f.install(f.installArgs(["--tier", "admin"]));
    // A stand-in for PVE's qm that says who runs it (removed again below: the chroot must end as it began).
    const qm = root.path("/usr/sbin/qm");
    writeFileSync(qm, "#!/bin/sh\necho \"qm $* as uid $(id -u)\"\n");
    chmodSync(qm, 0o755);
    try {
      await adminTierChecks();
    } finally {
      rmSync(qm);
    }
  }, 600_000);

  it("the installed unit and its drop-in pass systemd-analyze verify", () => {
    // From the host (systemd-analyze --root does not find units by path); it reads the drop-in next to the unit.
    const res = spawnSync("systemd-analyze", ["verify", root.path("/etc/systemd/system/pve-mcp-agent.service")], { encoding: "utf8", cwd: tmpdir() });
    expect(`${res.stdout}${res.stderr}`.trim()).toBe("");
    expect(res.status).toBe(0);
  });

  it("--uninstall (with a root@pam ticket this time) leaves nothing behind, here or in PVE", async () => {
    const output = await f.install(["--uninstall", "--yes"], { PVE_ROOT_PASSWORD: f.sim.password.password });
    expect(output).toContain("root@pam ticket");
    expect(root.list(BOOKKEEPING)).toEqual(baseline);
    const etcAfter = root.fingerprints("/etc");
    expect(Object.keys(etcAfter).filter((e) => etcAfter[e] !== etcBefore[e] && !SHADOW_BACKUPS.includes(e))).toEqual([]);
    expect((await root.run(["dpkg", "-s", "nodejs"])).status).not.toBe(0);
    expect((await root.run(["dpkg", "-s", "sudo"])).status).not.toBe(0);
    expect(readFileSync(root.path("/etc/passwd"), "utf8")).not.toContain("pve-mcp");
    expect(readFileSync(root.path("/etc/group"), "utf8")).not.toContain("pve-mcp");
    expect(await f.accessState()).toEqual(accessBefore);
  }, 600_000);
});

describe.skipIf(process.platform !== "linux")("deploy/ units", () => {
  const analyze = (args: string[]) => spawnSync("systemd-analyze", args, { encoding: "utf8", cwd: tmpdir() });
  /** Runs `check` on a unit (and drop-ins) in a scratch directory: systemd-analyze reads drop-ins next to a unit file. */
  const withUnit = (name: string, text: string, dropins: Record<string, string>, check: (path: string) => void) => {
    const unitDir = mkdtempSync(join(tmpdir(), "unit-"));
    try {
      writeFileSync(join(unitDir, name), text);
      if (Object.keys(dropins).length) mkdirSync(join(unitDir, `${name}.d`));
      for (const [file, source] of Object.entries(dropins)) copyFileSync(join(DEPLOY, source), join(unitDir, `${name}.d`, file));
      check(join(unitDir, name));
    } finally {
      rmSync(unitDir, { recursive: true, force: true });
    }
  };
  const exposure = (path: string) => /Overall exposure level for \S+: (\d+\.\d) (\w+)/.exec(analyze(["security", "--offline=true", path]).stdout)?.slice(1);
  const verify = (path: string) => {
    const res = analyze(["verify", path]);
    return `${res.stdout}${res.stderr}`.trim() || res.status;
  };
  const agentUnit = readFileSync(join(DEPLOY, "pve-mcp-agent.service"), "utf8");

  it("pve-mcp-agent.service passes systemd-analyze verify; its security exposure is 1.4 (OK)", () => {
    expect(verify(join(DEPLOY, "pve-mcp-agent.service"))).toBe(0);
    expect(exposure(join(DEPLOY, "pve-mcp-agent.service"))).toEqual(["1.4", "OK"]);
  });

  it("with the admin tier's drop-ins the sandbox is gone (sudo and the host commands need that), and the score says so", () => {
    withUnit("pve-mcp-agent.service", agentUnit, { "exec.conf": "pve-mcp-agent-exec.conf" }, (path) => {
      expect(verify(path)).toBe(0);
      expect(analyze(["security", "--offline=true", path]).stdout).toMatch(/✗ NoNewPrivileges=/);
      expect(exposure(path)).toEqual(["9.2", "UNSAFE"]);
    });
    withUnit("pve-mcp-agent.service", agentUnit, { "exec.conf": "pve-mcp-agent-exec.conf", "root.conf": "pve-mcp-agent-root.conf" }, (path) => {
      expect(verify(path)).toBe(0);
      expect(exposure(path)).toEqual(["9.6", "UNSAFE"]);
    });
  });

  it("pve-mcp-worker.service passes systemd-analyze verify (pointed at this checkout); its exposure is 1.2 (OK)", () => {
    withUnit("pve-mcp-worker.service", readFileSync(join(DEPLOY, "pve-mcp-worker.service"), "utf8").replaceAll("/opt/pve-mcp", REPO), {}, (path) => {
      expect(verify(path)).toBe(0);
      expect(exposure(path)).toEqual(["1.2", "OK"]);
    });
  });
});
