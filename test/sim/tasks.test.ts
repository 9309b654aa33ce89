import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSimulator, type SimClient } from "./client.ts";

let c: SimClient;
beforeAll(async () => {
  c = await openSimulator({ taskDurationMs: 400 });
});
afterAll(async () => {
  await c.close();
});

const start = async (path: string): Promise<string> => (await c.call("POST", path)).json.data;
const enc = encodeURIComponent;

describe("tasks", () => {
  it("reads an empty running log as PVE's single 'no content' line", async () => {
    const upid = await start("/nodes/pve1/qemu/105/status/start");
    const log = await c.call("GET", `/nodes/pve1/tasks/${enc(upid)}/log`);
    expect(log.json).toEqual({ data: [{ n: 1, t: "no content" }], total: 1 });
    await c.waitTask("pve1", upid);
  });

  it("lists finished tasks by default and running ones with source=active", async () => {
    const upid = await start("/nodes/pve1/qemu/105/status/shutdown");
    const active = await c.call("GET", "/nodes/pve1/tasks?source=active");
    expect(active.json.data).toEqual([expect.objectContaining({ upid, status: "RUNNING", type: "qmshutdown", id: "105", user: "root@pam", tokenid: "mcp" })]);
    const archive = await c.call("GET", "/nodes/pve1/tasks");
    expect(archive.json.data.map((t: { upid: string }) => t.upid)).not.toContain(upid);
    await c.waitTask("pve1", upid);
    const after = await c.call("GET", "/nodes/pve1/tasks?limit=1");
    expect(after.json.data).toEqual([expect.objectContaining({ upid, status: "OK", endtime: expect.any(Number) })]);
    expect(after.json.total).toBe(2);
  });

  it("filters by type, vmid and errors", async () => {
    const failed = await start("/nodes/pve1/qemu/100/status/start");
    await c.waitTask("pve1", failed);
    const errors = await c.call("GET", "/nodes/pve1/tasks?errors=1");
    expect(errors.json.data.map((t: { upid: string; status: string }) => [t.upid, t.status])).toEqual([[failed, "VM 100 already running"]]);
    const byVmid = await c.call("GET", "/nodes/pve1/tasks?vmid=105&typefilter=qmstart");
    expect(byVmid.json.data).toHaveLength(1);
  });

  it("stops a running task with DELETE, leaving the guest as it was", async () => {
    const upid = await start("/nodes/pve1/qemu/101/status/start");
    const del = await c.call("DELETE", `/nodes/pve1/tasks/${enc(upid)}`);
    expect(del.json).toEqual({ data: null });
    const status = await c.call("GET", `/nodes/pve1/tasks/${enc(upid)}/status`);
    expect(status.json.data).toMatchObject({ status: "stopped", exitstatus: "received interrupt" });
    expect(c.sim.state.guests.get(101)!.running).toBe(false);
  });

  it("lets an auditor read another user's task but not stop it", async () => {
    const upid = await start("/nodes/pve1/lxc/200/status/reboot");
    const ro = { auth: c.sim.readonlyToken.header };
    expect((await c.call("GET", `/nodes/pve1/tasks/${enc(upid)}/status`, ro)).json.data.type).toBe("vzreboot");
    const del = await c.call("DELETE", `/nodes/pve1/tasks/${enc(upid)}`, ro);
    expect([del.status, del.statusText]).toEqual([403, "Permission check failed (/nodes/pve1, Sys.Modify)"]);
    await c.waitTask("pve1", upid);
  });

  it("refuses malformed and foreign UPIDs like PVE", async () => {
    const bad = await c.call("GET", "/nodes/pve1/tasks/nonsense/status");
    expect(bad.json.errors).toEqual({ upid: "unable to parse worker upid" });
    const upid = await start("/nodes/pve2/lxc/201/status/reboot");
    const elsewhere = await c.call("GET", `/nodes/pve1/tasks/${enc(upid)}/status`);
    expect(elsewhere.json.errors).toEqual({ upid: "no such task" });
    const log = await c.call("GET", `/nodes/pve1/tasks/${enc(upid)}/log`);
    expect(log.json.data).toEqual([{ n: 1, t: "unable to open file - No such file or directory" }]);
    await c.waitTask("pve2", upid);
  });
});
