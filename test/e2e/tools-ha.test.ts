import { describe, expect, it, vi } from "vitest";
import { haOf } from "../../sim/ha.ts";
import { useToolStack } from "../support/tool-calls.ts";

describe("ha_info through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 100 });
  const { ok, fails } = env;

  it("status: quorum, master, LRMs and services", async () => {
    const { s } = await ok("ha_info", { action: "status" });
    expect(s.quorate).toBe(true);
    expect(s.master).toMatchObject({ node: "pve1", status: expect.stringMatching(/^pve1 \(active, /) });
    expect(s.lrm.map((l: { node: string }) => l.node)).toEqual(["pve1", "pve2", "pve3"]);
    expect(s.services).toContainEqual(expect.objectContaining({ sid: "vm:100", node: "pve1", state: "started", request_state: "started" }));
  });

  it("resources, and the node-affinity rules PVE 9 made of the HA groups", async () => {
    const { s: res } = await ok("ha_info", { action: "resources" });
    expect(res.resources.map((r: { sid: string }) => r.sid)).toEqual(["vm:100", "vm:102", "ct:201"]);
    expect(res.resources[0]).toMatchObject({ type: "vm", state: "started", max_restart: 1, failback: true });
    const { s: groups } = await ok("ha_info", { action: "groups" });
    expect(groups.groups).toEqual([]);
    expect(groups.rules).toEqual([expect.objectContaining({ rule: "prefer-pve1", type: "node-affinity", resources: "vm:100", nodes: "pve1:2,pve2:1", strict: false })]);
    expect(groups.note).toMatch(/node-affinity rules/);
  });

  it("replication: each job with the state of its last run", async () => {
    const { s } = await ok("ha_info", { action: "replication" });
    expect(s.replication.map((j: { id: string }) => j.id)).toEqual(["100-0", "102-0"]);
    expect(s.replication[0]).toMatchObject({ guest: 100, source: "pve1", target: "pve2", state: "failing", fail_count: 3, error: "missing replicate feature on volume 'local-lvm:vm-100-disk-0'" });
    expect(s.replication[1]).toMatchObject({ guest: 102, source: "pve2", target: "pve3", state: "ok" });
    const { s: one } = await ok("ha_info", { action: "replication", vmid: 102 });
    expect(one.replication.map((j: { id: string }) => j.id)).toEqual(["102-0"]);
    expect(haOf(env.stack.sim.state).replication).toHaveLength(2);
  });

  it("shows a dead node's services fenced, and fails like PVE when asked for that node", async () => {
    env.stack.sim.setNodeOnline("pve2", false);
    try {
      const { s } = await ok("ha_info", { action: "status" });
      expect(s.lrm.find((l: { node: string }) => l.node === "pve2").status).toMatch(/old timestamp - dead\?/);
      expect(s.services.find((x: { sid: string }) => x.sid === "vm:102").state).toBe("fence");
      const { message, code } = await fails("ha_info", { action: "replication", node: "pve2" });
      expect(message).toContain("No route to host");
      expect(code).toBe("pve_error");
    } finally {
      env.stack.sim.setNodeOnline("pve2", true);
    }
  });
});

describe("ha_resource through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 100 });
  const { ok, fails, guest } = env;
  const ha = () => haOf(env.stack.sim.state);
  const service = async (sid: string) => (await ok("ha_info", { action: "status" })).s.services.find((x: { sid: string }) => x.sid === sid);
  const haCalls = () => env.stack.sim.mutations.filter((m) => m.path.startsWith("/cluster/ha/"));

  it("is a write tool a read-only client neither sees nor may call", async () => {
    const { tools } = await env.client.listTools();
    expect(tools.find((t) => t.name === "ha_resource")?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, idempotentHint: false });
    await env.expectHiddenFromReader("ha_resource", { action: "remove", vmid: 100 });
    expect(haCalls()).toEqual([]);
    expect(ha().resources.map((r) => r.sid)).toContain("vm:100");
  });

  it("add: puts a guest under HA, and the HA manager starts it", async () => {
    expect(guest(101)!.running).toBe(false);
    const { s } = await ok("ha_resource", { action: "add", vmid: 101, max_restart: 2, comment: "database" });
    expect(s).toMatchObject({ action: "add", sid: "vm:101", managed: true, node: "pve1", request_state: "started", max_restart: 2, comment: "database" });
    expect(s.digest).toMatch(/^[0-9a-f]{40}$/);
    expect(ha().resources).toContainEqual({ sid: "vm:101", max_restart: 2, comment: "database" });
    await vi.waitFor(() => expect(guest(101)!.running).toBe(true));
    expect(await service("vm:101")).toMatchObject({ node: "pve1", state: "started", request_state: "started" });
    // Without a type, a container's sid comes from the guest's type in the cluster.
    const { s: ct } = await ok("ha_resource", { action: "add", vmid: 200, state: "ignored" });
    expect(ct).toMatchObject({ sid: "ct:200", request_state: "ignored" });
    const { s: listed } = await ok("ha_info", { action: "resources" });
    expect(listed.resources.map((r: { sid: string }) => r.sid)).toEqual(expect.arrayContaining(["vm:101", "ct:200"]));
  });

  it("add: PVE's refusals arrive as tool errors with PVE's message", async () => {
    const before = ha().resources.length;
    const duplicate = await fails("ha_resource", { action: "add", vmid: 100 });
    expect(duplicate.message).toContain("create resource failed: resource ID 'vm:100' already defined");
    expect(duplicate.code).toBe("pve_error");
    expect((await fails("ha_resource", { action: "add", vmid: 999, type: "qemu" })).message).toContain("resource 'vm:999' does not exist in cluster");
    expect((await fails("ha_resource", { action: "add", vmid: 202, type: "qemu" })).message).toContain("resource 'vm:202' - guest with ID 202 is not a VM");
    expect((await fails("ha_resource", { action: "add", vmid: 105, group: "prefer-pve1" })).message).toContain("invalid parameter 'group': ha groups have been migrated to rules");
    expect((await fails("ha_resource", { action: "add", vmid: 999 })).message).toContain("no VM or container with vmid 999");
    expect(ha().resources.length).toBe(before);
  });

  it("update: changes the requested state (the guest is shut down) and detects a concurrent change", async () => {
    const { s: first } = await ok("ha_resource", { action: "update", vmid: 101, comment: "db primary" });
    const { s } = await ok("ha_resource", { action: "update", vmid: 101, state: "stopped", max_relocate: 0, digest: first.digest });
    expect(s).toMatchObject({ action: "update", sid: "vm:101", request_state: "stopped", max_restart: 2, max_relocate: 0, comment: "db primary" });
    expect(ha().resources.find((r) => r.sid === "vm:101")).toMatchObject({ state: "stopped", max_relocate: 0 });
    await vi.waitFor(() => expect(guest(101)!.running).toBe(false));
    expect(await service("vm:101")).toMatchObject({ state: "stopped", request_state: "stopped" });

    const stale = await fails("ha_resource", { action: "update", vmid: 101, comment: "x", digest: first.digest });
    expect(stale.message).toContain("update resources config failed: detected modified configuration - file changed by other user? Try again.");
    const unknown = await fails("ha_resource", { action: "update", vmid: 105, type: "qemu", comment: "x" });
    expect(unknown.message).toContain("update resources config failed: no such resource 'vm:105'");
    expect(unknown.code).toBe("pve_error");
    expect((await fails("ha_resource", { action: "update", vmid: 101 })).code).toBe("invalid_arguments");
    expect((await fails("ha_resource", { action: "remove", vmid: 101, state: "stopped" })).code).toBe("invalid_arguments");
  });

  it("migrate: the HA manager moves a running VM live; the answer has the request and the service state", async () => {
    const { s } = await ok("ha_resource", { action: "migrate", vmid: 100, node: "pve2" });
    expect(s).toMatchObject({ action: "migrate", sid: "vm:100", managed: true, requested_node: "pve2", node: "pve1", state: "migrate" });
    expect(s.note).toContain("in the background");
    expect(haCalls().at(-1)).toMatchObject({ method: "POST", path: "/cluster/ha/resources/vm:100/migrate", params: { node: "pve2" }, status: 200 });
    await vi.waitFor(() => expect(guest(100)).toMatchObject({ node: "pve2", running: true }));
    await vi.waitFor(async () => expect(await service("vm:100")).toMatchObject({ node: "pve2", state: "started" }));
    // The LRM of the source node ran the migration as its own task.
    const { s: tasks } = await ok("task_info", { action: "list", node: "pve1", vmid: 100, type: "qmigrate" });
    expect(tasks.tasks[0]).toMatchObject({ node: "pve1", user: "root@pam", status: "OK" });
  });

  it("relocate: a running container is stopped, moved and started on the target", async () => {
    const startedAt = guest(201)!.startedAt;
    const { s } = await ok("ha_resource", { action: "relocate", vmid: 201, node: "pve1" });
    expect(s).toMatchObject({ action: "relocate", sid: "ct:201", requested_node: "pve1", node: "pve2", state: "relocate" });
    await vi.waitFor(() => expect(guest(201)).toMatchObject({ node: "pve1", running: true }));
    expect(guest(201)!.startedAt).not.toBe(startedAt);
    await vi.waitFor(async () => expect(await service("ct:201")).toMatchObject({ node: "pve1", state: "started" }));
  });

  it("migrate and relocate: an unknown or unmanaged target is refused, as PVE's CRM would drop it", async () => {
    const before = haCalls().length;
    const unknown = await fails("ha_resource", { action: "migrate", vmid: 102, node: "pve9" });
    expect(unknown.code).toBe("invalid_arguments");
    expect(unknown.message).toContain("no such cluster node 'pve9'");
    expect(haCalls().length).toBe(before);
    // PVE's API itself queues the command; the CRM drops it and the guest stays.
    const { s: raw } = await ok("pve_api_call", { method: "POST", path: "/cluster/ha/resources/vm:102/migrate", params: { node: "pve9" } });
    expect(raw.data).toEqual({ sid: "vm:102", "requested-node": "pve9" });
    expect(guest(102)!.node).toBe("pve2");
    expect((await service("vm:102")).state).toBe("started");
    const unmanaged = await fails("ha_resource", { action: "relocate", vmid: 105, node: "pve2" });
    expect(unmanaged.message).toContain("resource 'vm:105' is not HA managed");
    expect(unmanaged.code).toBe("pve_error");
    expect((await fails("ha_resource", { action: "migrate", vmid: 102 })).code).toBe("invalid_arguments");
  });

  it("remove: ends HA management, leaves the guest as it is and drops it from the rules", async () => {
    const { s } = await ok("ha_resource", { action: "remove", vmid: 100 });
    expect(s).toEqual({ action: "remove", sid: "vm:100", managed: false, note: expect.stringContaining("the guest stays") });
    expect(ha().resources.map((r) => r.sid)).not.toContain("vm:100");
    expect(ha().rules.map((r) => r.rule)).not.toContain("prefer-pve1");
    expect(guest(100)).toMatchObject({ node: "pve2", running: true });
    expect(await service("vm:100")).toBeUndefined();
    const again = await fails("ha_resource", { action: "remove", vmid: 100 });
    expect(again.message).toContain("cannot delete service 'vm:100', not HA managed!");
    expect(again.code).toBe("pve_error");
  });
});
