import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openSimulator, type SimClient } from "./client.ts";

let c: SimClient;
beforeAll(async () => {
  c = await openSimulator();
});
afterAll(async () => {
  await c.close();
});

describe("cluster views", () => {
  it("reports a quorate three-node cluster named sim", async () => {
    const data = (await c.call("GET", "/cluster/status")).json.data;
    expect(data[0]).toEqual({ type: "cluster", id: "cluster", nodes: 3, version: 3, name: "sim", quorate: 1 });
    expect(data.slice(1).map((n: { name: string; online: number; local: number }) => [n.name, n.online, n.local])).toEqual([
      ["pve1", 1, 1],
      ["pve2", 1, 0],
      ["pve3", 1, 0],
    ]);
  });

  it("lists guests, nodes, storages and network zones in cluster resources", async () => {
    const data = (await c.call("GET", "/cluster/resources")).json.data as Array<Record<string, any>>;
    const types = new Set(data.map((r) => r.type));
    expect([...types].sort()).toEqual(["lxc", "network", "node", "qemu", "storage"]);
    expect(data.filter((r) => r.type === "qemu" || r.type === "lxc")).toHaveLength(10);
    const web = data.find((r) => r.id === "qemu/100")!;
    expect(web).toMatchObject({ vmid: 100, node: "pve1", status: "running", name: "web01", template: 0, maxcpu: 2, tags: "prod;web" });
    expect(data.find((r) => r.id === "storage/pve2/backup")).toMatchObject({ plugintype: "nfs", shared: 1, content: "backup", status: "available" });
  });

  it("filters cluster resources by type", async () => {
    const nodes = (await c.call("GET", "/cluster/resources?type=node")).json.data as Array<Record<string, any>>;
    expect(nodes.map((n) => n.id)).toEqual(["node/pve1", "node/pve2", "node/pve3"]);
    expect(nodes[0]).toMatchObject({ status: "online", maxcpu: 32, "cgroup-mode": 2 });
    const storages = (await c.call("GET", "/cluster/resources?type=storage")).json.data;
    expect(storages).toHaveLength(9);
  });

  it("lists node status with memory, cpu info and the PVE version", async () => {
    const data = (await c.call("GET", "/nodes/pve2/status")).json.data;
    expect(data.pveversion).toBe("pve-manager/9.1.7/16b139a017452f16");
    expect(data.cpuinfo).toMatchObject({ cpus: 32, sockets: 1, cores: 16 });
    expect(data.memory.total).toBe(128 * 1024 ** 3);
    expect(data.memory.used).toBeGreaterThan(3 * 1024 ** 3);
    expect(data.loadavg).toHaveLength(3);
  });

  it("lists the node's storages with usage", async () => {
    const data = (await c.call("GET", "/nodes/pve1/storage")).json.data as Array<Record<string, any>>;
    expect(data.map((s) => s.storage)).toEqual(["backup", "local", "local-lvm"]);
    const lvm = data[2];
    expect(lvm).toMatchObject({ type: "lvmthin", content: "images,rootdir", active: 1, enabled: 1, shared: 0 });
    expect(lvm.used + lvm.avail).toBe(lvm.total);
    const status = await c.call("GET", "/nodes/pve1/storage/local/status");
    expect(status.json.data).toMatchObject({ type: "dir", content: "backup,iso,vztmpl" });
    const missing = await c.call("GET", "/nodes/pve1/storage/nope/status");
    expect(missing.json.errors).toEqual({ storage: "No such storage." });
  });

  it("gives the first free vmid as a string, and refuses a taken one", async () => {
    expect((await c.call("GET", "/cluster/nextid")).json.data).toBe("103");
    const taken = await c.call("GET", "/cluster/nextid?vmid=100");
    expect(taken.json.errors).toEqual({ vmid: "VM 100 already exists" });
  });

  it("answers for a node outside the cluster like a failed proxy lookup", async () => {
    const res = await c.call("GET", "/nodes/pve9/status");
    expect([res.status, res.statusText]).toEqual([500, "hostname lookup 'pve9' failed - failed to get address info for: pve9: Name or service not known"]);
  });
});

describe("an offline node", () => {
  afterEach(() => c.sim.setNodeOnline("pve3", true));

  it("fails proxied calls with 595 and an empty body", async () => {
    c.sim.setNodeOnline("pve3", false);
    const res = await c.call("GET", "/nodes/pve3/qemu");
    expect([res.status, res.statusText, res.text, res.contentType]).toEqual([595, "No route to host", "", null]);
    const start = await c.call("POST", "/nodes/pve3/lxc/202/status/start");
    expect(start.status).toBe(595);
    expect(c.sim.state.guests.get(202)!.running).toBe(false);
  });

  it("shows offline in /nodes and /cluster/status, and its guests as unknown", async () => {
    c.sim.setNodeOnline("pve3", false);
    const nodes = (await c.call("GET", "/nodes")).json.data as Array<Record<string, any>>;
    const pve3 = nodes.find((n) => n.node === "pve3")!;
    expect(pve3.status).toBe("offline");
    expect(pve3).not.toHaveProperty("cpu");
    const status = (await c.call("GET", "/cluster/status")).json.data;
    expect(status.find((e: { name?: string }) => e.name === "pve3").online).toBe(0);
    expect(status[0].quorate).toBe(1);
    const resources = (await c.call("GET", "/cluster/resources?type=vm")).json.data as Array<Record<string, any>>;
    expect(resources.find((r) => r.vmid === 104)).toEqual({ id: "qemu/104", vmid: 104, node: "pve3", type: "qemu", status: "unknown" });
  });

  it("works again once the node is back", async () => {
    c.sim.setNodeOnline("pve3", false);
    c.sim.setNodeOnline("pve3", true);
    const res = await c.call("GET", "/nodes/pve3/qemu");
    expect(res.status).toBe(200);
    expect(res.json.data.map((g: { vmid: number }) => g.vmid)).toEqual([104]);
  });

  it("loses quorum when two of three nodes are down, so starts are refused", async () => {
    c.sim.setNodeOnline("pve2", false);
    c.sim.setNodeOnline("pve3", false);
    try {
      expect((await c.call("GET", "/cluster/status")).json.data[0].quorate).toBe(0);
      const res = await c.call("POST", "/nodes/pve1/qemu/105/status/start");
      expect(res.json.message).toBe("cluster not ready - no quorum?\n");
    } finally {
      c.sim.setNodeOnline("pve2", true);
    }
  });

  it("cannot take the answering node offline", () => {
    expect(() => c.sim.setNodeOnline("pve1", false)).toThrow(/answers the API itself/);
    expect(() => c.sim.setNodeOnline("pve7", false)).toThrow(/unknown node 'pve7'/);
  });
});
