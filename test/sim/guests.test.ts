import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeUpid } from "../../sim/tasks.ts";
import { openSimulator, type SimClient } from "./client.ts";

let c: SimClient;
beforeAll(async () => {
  c = await openSimulator({ taskDurationMs: 200 });
});
afterAll(async () => {
  await c.close();
});

describe("guest reads", () => {
  it("lists a node's VMs with vmstatus fields", async () => {
    const res = await c.call("GET", "/nodes/pve1/qemu");
    const byId = Object.fromEntries(res.json.data.map((g: { vmid: number }) => [g.vmid, g]));
    expect(Object.keys(byId).sort()).toEqual(["100", "101", "105", "9000"]);
    expect(byId[100]).toMatchObject({ name: "web01", status: "running", cpus: 2, maxmem: 4 * 1024 ** 3, maxdisk: 32 * 1024 ** 3, tags: "prod;web" });
    expect(byId[100].uptime).toBeGreaterThan(86400);
    expect(byId[9000].template).toBe(1);
    expect(byId[101]).not.toHaveProperty("pid");
  });

  it("lists containers with type lxc", async () => {
    const res = await c.call("GET", "/nodes/pve2/lxc");
    expect(res.json.data.map((g: { vmid: number }) => g.vmid).sort()).toEqual([201, 203]);
    expect(res.json.data[0].type).toBe("lxc");
  });

  it("returns status/current with HA and QMP status", async () => {
    const res = await c.call("GET", "/nodes/pve1/qemu/100/status/current");
    expect(res.json.data).toMatchObject({ vmid: 100, status: "running", qmpstatus: "running", ha: { managed: 0 }, agent: 1, name: "web01" });
  });

  it("returns the config with typed values and a SHA-1 digest", async () => {
    const res = await c.call("GET", "/nodes/pve1/qemu/100/config");
    const conf = res.json.data;
    expect(conf).toMatchObject({ name: "web01", cores: 2, sockets: 1, memory: "4096", onboot: 1, numa: 0, ostype: "l26" });
    expect(conf.digest).toMatch(/^[0-9a-f]{40}$/);
    const lxc = await c.call("GET", "/nodes/pve1/lxc/200/config");
    expect(lxc.json.data).toMatchObject({ hostname: "dns01", memory: 512, swap: 512, unprivileged: 1, arch: "amd64" });
  });

  it("fails for an unknown vmid with PVE's message and status 500", async () => {
    const res = await c.call("GET", "/nodes/pve1/qemu/999/status/current");
    expect(res.status).toBe(500);
    expect(res.statusText).toBe("Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist");
    expect(res.json).toEqual({ data: null, message: "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n" });
  });

  it("fails for a guest asked on the wrong node, naming that node's config path", async () => {
    const res = await c.call("GET", "/nodes/pve1/qemu/102/config");
    expect(res.json.message).toBe("Configuration file 'nodes/pve1/qemu-server/102.conf' does not exist\n");
    const lxc = await c.call("GET", "/nodes/pve2/lxc/100/status/current");
    expect(lxc.json.message).toBe("Configuration file 'nodes/pve2/lxc/100.conf' does not exist\n");
  });
});

describe("power actions", () => {
  it("starts a VM: UPID, running task, stopped OK, then the guest runs", async () => {
    const res = await c.call("POST", "/nodes/pve1/qemu/101/status/start", { headers: { "X-Call-Id": "call-101" } });
    expect(res.status).toBe(200);
    const upid = res.json.data as string;
    expect(upid).toMatch(/^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmstart:101:root@pam!mcp:$/);
    expect(decodeUpid(upid)).toMatchObject({ node: "pve1", type: "qmstart", id: "101", user: "root@pam!mcp" });

    const running = await c.call("GET", `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`);
    expect(running.json.data).toMatchObject({ status: "running", type: "qmstart", id: "101", user: "root@pam", tokenid: "mcp", upid });
    expect(running.json.data).not.toHaveProperty("exitstatus");
    expect((await c.call("GET", "/nodes/pve1/qemu/101/status/current")).json.data.status).toBe("stopped");

    const done = await c.waitTask("pve1", upid);
    expect(done).toMatchObject({ status: "stopped", exitstatus: "OK" });
    const log = await c.call("GET", `/nodes/pve1/tasks/${encodeURIComponent(upid)}/log`);
    expect(log.json).toEqual({ data: [{ n: 1, t: "TASK OK" }], total: 1 });

    const status = await c.call("GET", "/nodes/pve1/qemu/101/status/current");
    expect(status.json.data).toMatchObject({ status: "running", qmpstatus: "running" });
    expect(status.json.data.uptime).toBeLessThan(5);

    const mutation = c.sim.mutations.find((m) => m.upid === upid);
    expect(mutation).toMatchObject({ method: "POST", path: "/nodes/pve1/qemu/101/status/start", callId: "call-101", status: 200 });
  });

  it("fails the task when the VM already runs, like qm start does", async () => {
    const res = await c.call("POST", "/nodes/pve1/qemu/100/status/start");
    expect(res.status).toBe(200);
    const done = await c.waitTask("pve1", res.json.data);
    expect(done.exitstatus).toBe("VM 100 already running");
    const log = await c.call("GET", `/nodes/pve1/tasks/${encodeURIComponent(res.json.data)}/log`);
    expect(log.json.data).toEqual([{ n: 1, t: "TASK ERROR: VM 100 already running" }]);
  });

  it("fails the call when the container already runs, like pct start does", async () => {
    const res = await c.call("POST", "/nodes/pve1/lxc/200/status/start");
    expect([res.status, res.statusText]).toEqual([500, "CT 200 already running"]);
    expect(res.json).toEqual({ data: null, message: "CT 200 already running\n" });
  });

  it("fails the start task of an unknown VM with the config path", async () => {
    const res = await c.call("POST", "/nodes/pve1/qemu/999/status/start");
    const done = await c.waitTask("pve1", res.json.data);
    expect(done.exitstatus).toBe("Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist");
  });

  it("refuses to start a template", async () => {
    const res = await c.call("POST", "/nodes/pve1/qemu/9000/status/start");
    expect((await c.waitTask("pve1", res.json.data)).exitstatus).toBe("you can't start a vm if it's a template");
  });

  it("shuts down a container on another node through the proxy", async () => {
    const res = await c.call("POST", "/nodes/pve2/lxc/203/status/shutdown", { form: { timeout: "30" } });
    expect(res.json.data).toMatch(/^UPID:pve2:.*:vzshutdown:203:root@pam!mcp:$/);
    expect((await c.waitTask("pve2", res.json.data)).exitstatus).toBe("OK");
    expect(c.sim.state.guests.get(203)!.running).toBe(false);
    const again = await c.call("POST", "/nodes/pve2/lxc/203/status/shutdown");
    expect(again.json.message).toBe("CT 203 not running\n");
  });

  it("pauses and resumes a VM", async () => {
    const pause = await c.call("POST", "/nodes/pve2/qemu/102/status/suspend");
    expect(pause.json.data).toMatch(/:qmpause:102:/);
    await c.waitTask("pve2", pause.json.data);
    expect((await c.call("GET", "/nodes/pve2/qemu/102/status/current")).json.data).toMatchObject({ status: "running", qmpstatus: "paused" });
    const shutdown = await c.call("POST", "/nodes/pve2/qemu/102/status/shutdown");
    expect(shutdown.json.message).toBe("VM is paused - cannot shutdown\n");
    const resume = await c.call("POST", "/nodes/pve2/qemu/102/status/resume");
    await c.waitTask("pve2", resume.json.data);
    expect((await c.call("GET", "/nodes/pve2/qemu/102/status/current")).json.data.qmpstatus).toBe("running");
  });

  it("answers reboot of a stopped or unknown VM synchronously", async () => {
    expect((await c.call("POST", "/nodes/pve1/qemu/105/status/reboot")).json.message).toBe("VM 105 not running\n");
    expect((await c.call("POST", "/nodes/pve1/qemu/998/status/reboot")).json.message).toBe("unable to find configuration file for VM 998 on node 'pve1'\n");
  });

  it("has no reset for containers", async () => {
    const res = await c.call("POST", "/nodes/pve1/lxc/200/status/reset");
    expect([res.status, res.statusText]).toEqual([501, "Method 'POST /nodes/pve1/lxc/200/status/reset' not implemented"]);
  });
});
