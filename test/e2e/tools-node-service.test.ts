import { describe, expect, it } from "vitest";
import { useToolStack } from "../support/tool-calls.ts";

describe("node_service through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 400 });
  const { ok, fails } = env;
  const serviceCalls = () => env.stack.sim.mutations.filter((m) => /^\/nodes\/[^/]+\/services\//.test(m.path));
  const serviceOf = async (node: string, service: string) =>
    (await ok("node_info", { node, action: "services" })).s.services.find((x: { service: string }) => x.service === service);

  it("is a non-destructive write tool", async () => {
    const { tools } = await env.client.listTools();
    expect(tools.find((t) => t.name === "node_service")?.annotations).toEqual({ readOnlyHint: false, destructiveHint: false, idempotentHint: false });
  });

  it("stops and starts a service, following the task with progress; node_info shows the state change", async () => {
    const stopped = await ok("node_service", { node: "pve2", service: "cron", action: "stop" });
    expect(stopped.s).toMatchObject({ node: "pve2", service: "cron", action: "stop", status: "stopped", exitstatus: "OK" });
    expect(stopped.s.upid).toMatch(/^UPID:pve2:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:srvstop:cron:root@pam!mcp:$/);
    expect(stopped.progress.length).toBeGreaterThan(0);
    expect(await serviceOf("pve2", "cron")).toMatchObject({ state: "dead", active_state: "inactive" });
    expect(await serviceOf("pve1", "cron")).toMatchObject({ state: "running" });

    const started = await ok("node_service", { node: "pve2", service: "cron", action: "start" });
    expect(started.s).toMatchObject({ action: "start", status: "stopped", exitstatus: "OK" });
    expect(started.progress.length).toBeGreaterThan(0);
    expect(await serviceOf("pve2", "cron")).toMatchObject({ state: "running", active_state: "active" });
    expect(serviceCalls().map((m) => `${m.method} ${m.path}`)).toEqual(["POST /nodes/pve2/services/cron/stop", "POST /nodes/pve2/services/cron/start"]);
  });

  it("restarts and reloads pveproxy (only stopping it is refused); wait=false returns the running task", async () => {
    const { s } = await ok("node_service", { node: "pve1", service: "pveproxy", action: "restart" });
    expect(s).toMatchObject({ service: "pveproxy", action: "restart", status: "stopped", exitstatus: "OK" });
    const { s: quick } = await ok("node_service", { node: "pve1", service: "pveproxy", action: "reload", wait: false });
    expect(quick).toMatchObject({ action: "reload", status: "running", upid: expect.stringContaining(":srvreload:pveproxy:") });
    const { s: done } = await ok("task_info", { action: "status", upid: quick.upid, wait_seconds: 10 });
    expect(done.task).toMatchObject({ type: "srvreload", id: "pveproxy", status: "stopped", exitstatus: "OK" });
    expect(await serviceOf("pve1", "pveproxy")).toMatchObject({ state: "running" });
  });

  it("refuses to stop the services the cluster and the API depend on, before anything reaches PVE", async () => {
    const before = serviceCalls().length;
    const proxy = await fails("node_service", { node: "pve1", service: "pveproxy", action: "stop" });
    expect(proxy.code).toBe("policy_refused");
    expect(proxy.message).toContain("refused to stop pveproxy on pve1");
    expect(proxy.message).toContain("port 8006");
    expect(proxy.message).toContain("Use action restart");
    const corosync = await fails("node_service", { node: "pve2", service: "corosync", action: "stop", wait: false });
    expect(corosync.code).toBe("policy_refused");
    expect(corosync.message).toContain("quorum is lost");
    for (const service of ["pvedaemon", "pve-cluster"]) expect((await fails("node_service", { node: "pve3", service, action: "stop" })).code).toBe("policy_refused");
    expect(serviceCalls()).toHaveLength(before);
    const { s: tasks } = await ok("task_info", { action: "list", type: "srvstop" });
    expect(tasks.tasks.map((t: { id: string }) => t.id)).toEqual(["cron"]);
    expect(await serviceOf("pve2", "corosync")).toMatchObject({ state: "running" });
  });

  it("rejects an unknown node or service with a clear error, and returns a failed task as PVE's error", async () => {
    const node = await fails("node_service", { node: "pve9", service: "cron", action: "restart" });
    expect(node.code).toBe("pve_error");
    expect(node.message).toContain("hostname lookup 'pve9' failed");
    const service = await fails("node_service", { node: "pve1", service: "nginx", action: "restart" });
    expect(service.code).toBe("invalid_arguments");
    expect(service.message).toMatch(/service: .*"pveproxy"/);
    const masked = await fails("node_service", { node: "pve1", service: "systemd-timesyncd", action: "start" });
    expect(masked.code).toBe("pve_error");
    expect(masked.message).toContain("command 'systemctl start systemd-timesyncd' failed: exit code 1");
    // systemctl's reason is a plain log line, not an ERROR: line; it travels with the error all the same.
    expect(masked.message).toContain("(log: Failed to start systemd-timesyncd.service: Unit systemd-timesyncd.service is masked.)");
  });

  it("is neither listed to nor callable by a read-only client", async () => {
    const before = serviceCalls().length;
    await env.expectHiddenFromReader("node_service", { node: "pve1", service: "cron", action: "stop" });
    expect(serviceCalls()).toHaveLength(before);
  });
});
