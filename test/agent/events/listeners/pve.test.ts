import { describe, expect, it } from "vitest";
import { PveClusterListener } from "../../../../agent/events/listeners/pve-cluster.ts";
import { PveTasksListener } from "../../../../agent/events/listeners/pve-tasks.ts";
import type { PveReader } from "../../../../agent/events/listeners/pve.ts";
import { collector, memoryLog } from "../helpers.ts";

/** A PveReader that answers each path from a script the test changes between polls. */
function scripted(replies: Record<string, unknown>): PveReader & { replies: Record<string, unknown>; calls: string[] } {
  const calls: string[] = [];
  return {
    replies,
    calls,
    async get(path) {
      calls.push(path);
      if (!(path in this.replies)) throw new Error(`unexpected GET ${path}`);
      return this.replies[path];
    },
  };
}

const upid = (node: string, start: number, type: string, id: string) => `UPID:${node}:0000${start.toString(16).slice(-4)}:00ABCDEF:${start.toString(16).toUpperCase()}:${type}:${id}:root@pam:`;
const T0 = 1_763_888_400;
const running = (start: number, type: string, id: string, node = "pve1") => ({ upid: upid(node, start, type, id), node, type, id, user: "root@pam", starttime: start, pid: 1234, pstart: 99 });
const done = (start: number, type: string, id: string, status: string, node = "pve1") => ({ ...running(start, type, id, node), endtime: start + 3, status });

describe("PVE tasks listener", () => {
  it("reports started, finished OK and failed tasks once each, and nothing for the baseline", async () => {
    const reader = scripted({ "/cluster/tasks": [done(T0, "aptupdate", "", "OK"), running(T0 + 1, "vzdump", "")] });
    const { emit, events } = collector();
    const tasks = new PveTasksListener({ reader, emit, log: memoryLog().log, interval_ms: 60_000 });
    await tasks.poll();
    expect(events).toHaveLength(0);

    reader.replies["/cluster/tasks"] = [done(T0, "aptupdate", "", "OK"), done(T0 + 1, "vzdump", "", "OK"), running(T0 + 10, "qmstart", "100"), done(T0 + 11, "qmstart", "101", "unable to find configuration file for VM 101")];
    await tasks.poll();
    expect(events.map((e) => [e.title, e.severity])).toEqual([
      ["Task finished OK: backup", "info"],
      ["Task started: VM start 100", "info"],
      ["Task failed: VM start 101: unable to find configuration file for VM 101", "error"],
    ]);
    expect(events[2]).toMatchObject({ source: "pve-task", node: "pve1", metadata: { type: "qmstart", vmid: 101, upid: upid("pve1", T0 + 11, "qmstart", "101"), status: "unable to find configuration file for VM 101" } });
    expect(events[2].time).toEqual(new Date((T0 + 14) * 1000));

    // Incremental: the same list again emits nothing.
    await tasks.poll();
    expect(events).toHaveLength(3);

    reader.replies["/cluster/tasks"] = [done(T0 + 10, "qmstart", "100", "WARNINGS: 1"), done(T0 + 11, "qmstart", "101", "unable to find configuration file for VM 101")];
    await tasks.poll();
    expect(events.slice(3).map((e) => [e.title, e.severity])).toEqual([["Task finished with warnings: VM start 100", "warning"]]);
    expect(tasks.counters()).toMatchObject({ received: 4, emitted: 4, errors: 0 });
  });

  it("keeps the same stable key for a task observed twice, so its event id survives a restart", async () => {
    const reader = scripted({ "/cluster/tasks": [] });
    const a = collector();
    const b = collector();
    for (const c of [a, b]) {
      reader.replies["/cluster/tasks"] = [];
      const tasks = new PveTasksListener({ reader, emit: c.emit, log: memoryLog().log, interval_ms: 60_000 });
      await tasks.poll();
      reader.replies["/cluster/tasks"] = [done(T0, "qmstop", "100", "OK")];
      await tasks.poll();
    }
    expect(a.events[0].stableKey).toBe(b.events[0].stableKey);
  });

  it("skips rows it cannot read and survives a failing poll", async () => {
    const reader = scripted({ "/cluster/tasks": [{ upid: "not-a-upid" }, done(T0, "qmstart", "100", "OK")] });
    const tasks = new PveTasksListener({ reader, emit: () => {}, log: memoryLog().log, interval_ms: 60_000, emit_existing: true });
    await tasks.poll();
    expect(tasks.counters()).toMatchObject({ invalid: 1, emitted: 1 });
    reader.replies = {};
    await expect(tasks.poll()).rejects.toThrow(/unexpected GET/);
  });

  it("polls on its timer and counts errors without stopping", async () => {
    let n = 0;
    const reader: PveReader = {
      async get() {
        n++;
        if (n === 2) throw new Error("PVE down");
        return n === 1 ? [] : [running(T0, "qmstart", "100")];
      },
    };
    const { emit, events } = collector();
    const tasks = new PveTasksListener({ reader, emit, log: memoryLog().log, interval_ms: 20 });
    await tasks.start();
    await new Promise((r) => setTimeout(r, 150));
    await tasks.stop();
    expect(tasks.counters().errors).toBe(1);
    expect(events.map((e) => e.title)).toEqual(["Task started: VM start 100"]);
  });
});

const nodeRes = (node: string, status = "online") => ({ id: `node/${node}`, type: "node", node, status });
const vm = (vmid: number, node: string, status: string, extra: Record<string, unknown> = {}) => ({ id: `qemu/${vmid}`, type: "qemu", vmid, node, status, name: `vm${vmid}`, ...extra });
const ct = (vmid: number, node: string, status: string) => ({ id: `lxc/${vmid}`, type: "lxc", vmid, node, status, name: `ct${vmid}` });
const store = (node: string, storage: string, disk: number, maxdisk: number, shared = 0) => ({ id: `storage/${node}/${storage}`, type: "storage", node, storage, disk, maxdisk, shared, status: "available" });
const status = (quorate: number, online: Record<string, number>) => [
  { type: "cluster", id: "cluster", name: "homelab", quorate, nodes: Object.keys(online).length, version: 5 },
  ...Object.entries(online).map(([name, on], i) => ({ type: "node", id: `node/${name}`, name, online: on, nodeid: i + 1, local: i === 0 ? 1 : 0 })),
];

describe("PVE cluster listener", () => {
  function setup() {
    const reader = scripted({
      "/cluster/resources": [nodeRes("pve1"), nodeRes("pve2"), vm(100, "pve1", "running", { hastate: "started" }), vm(101, "pve1", "running"), ct(200, "pve2", "running"), store("pve1", "local", 50, 100), store("pve1", "ceph", 10, 100, 1), store("pve2", "ceph", 10, 100, 1)],
      "/cluster/status": status(1, { pve1: 1, pve2: 1 }),
    });
    const { emit, events } = collector();
    const seen: number[] = [];
    const cluster = new PveClusterListener({ reader, emit, log: memoryLog().log, interval_ms: 60_000, storage_threshold_pct: 90, onResources: (rows) => seen.push(rows.length) });
    return { reader, events, cluster, seen };
  }

  it("takes the first poll as the baseline and reports nothing", async () => {
    const { cluster, events, seen } = setup();
    await cluster.poll();
    expect(events).toEqual([]);
    expect(seen).toEqual([8]);
  });

  it("reports guests stopped, started, created, deleted, migrated and HA changes", async () => {
    const { reader, cluster, events } = setup();
    await cluster.poll();
    reader.replies["/cluster/resources"] = [
      nodeRes("pve1"), nodeRes("pve2"),
      vm(100, "pve2", "running", { hastate: "error" }),
      vm(101, "pve1", "stopped"),
      vm(102, "pve1", "stopped"),
      store("pve1", "local", 50, 100),
    ];
    await cluster.poll();
    const byType = Object.fromEntries(events.map((e) => [e.metadata?.type, e]));
    expect(Object.keys(byType).sort()).toEqual(["guest-created", "guest-deleted", "guest-migrated", "guest-stopped", "ha-state"]);
    expect(byType["guest-stopped"]).toMatchObject({ source: "pve-cluster", node: "pve1", severity: "notice", title: "VM 101 (vm101) stopped", metadata: { vmid: 101, previous_status: "running" } });
    expect(byType["guest-migrated"]).toMatchObject({ node: "pve2", title: "VM 100 (vm100) migrated from pve1 to pve2", metadata: { from_node: "pve1", to_node: "pve2" } });
    expect(byType["ha-state"]).toMatchObject({ severity: "error", metadata: { hastate: "error", previous_hastate: "started" } });
    expect(byType["guest-deleted"]).toMatchObject({ title: "CT 200 (ct200) deleted", metadata: { vmid: 200, guest_type: "lxc" } });
    expect(byType["guest-created"]?.metadata).toMatchObject({ vmid: 102 });
    events.length = 0;
    reader.replies["/cluster/resources"] = [nodeRes("pve1"), nodeRes("pve2"), vm(100, "pve2", "running", { hastate: "error" }), vm(101, "pve1", "running"), vm(102, "pve1", "stopped")];
    await cluster.poll();
    expect(events.map((e) => e.title)).toEqual(["VM 101 (vm101) started"]);
  });

  it("reports a node going offline and back, and quorum lost and regained", async () => {
    const { reader, cluster, events } = setup();
    await cluster.poll();
    reader.replies["/cluster/status"] = status(0, { pve1: 1, pve2: 0 });
    await cluster.poll();
    expect(events.map((e) => [e.metadata?.type, e.severity, e.node])).toEqual([
      ["node-offline", "error", "pve2"],
      ["quorum-lost", "critical", undefined],
    ]);
    reader.replies["/cluster/status"] = status(1, { pve1: 1, pve2: 1 });
    await cluster.poll();
    expect(events.slice(2).map((e) => e.metadata?.type)).toEqual(["node-online", "quorum-regained"]);
  });

  it("warns once per storage crossing, re-arms below the mark, and counts shared storage once", async () => {
    const { reader, cluster, events } = setup();
    const resources = (local: number, ceph: number) => [nodeRes("pve1"), nodeRes("pve2"), store("pve1", "local", local, 100), store("pve1", "ceph", ceph, 100, 1), store("pve2", "ceph", ceph, 100, 1)];
    reader.replies["/cluster/resources"] = resources(50, 95);
    await cluster.poll();
    expect(events.map((e) => e.title)).toEqual(["Storage ceph is 95% full"]);
    expect(events[0]).toMatchObject({ severity: "warning", node: undefined, metadata: { type: "storage-usage", shared: true, pct: 95 } });
    reader.replies["/cluster/resources"] = resources(91, 97);
    await cluster.poll();
    reader.replies["/cluster/resources"] = resources(92, 88);
    await cluster.poll();
    expect(events.map((e) => e.title)).toEqual(["Storage ceph is 95% full", "Storage local is 91% full"]);
    reader.replies["/cluster/resources"] = resources(92, 84);
    await cluster.poll();
    reader.replies["/cluster/resources"] = resources(92, 90);
    await cluster.poll();
    expect(events.slice(2).map((e) => e.title)).toEqual(["Storage ceph back to 84%", "Storage ceph is 90% full"]);
    expect(events[1]).toMatchObject({ node: "pve1", message: "Storage local on pve1 is 91% full (threshold 90%)" });
  });
});
