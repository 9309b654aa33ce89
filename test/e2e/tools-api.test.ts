import { describe, expect, it } from "vitest";
import { firewallOf } from "../../sim/firewall.ts";
import { useToolStack } from "../support/tool-calls.ts";

describe("raw PVE API tools through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 300 });
  const { ok, fails } = env;
  const mutations = () => env.stack.sim.mutations.length;

  it("are annotated: pve_api_get read-only, pve_api_call destructive and write-scoped", async () => {
    const { tools } = await env.client.listTools();
    expect(tools.find((t) => t.name === "pve_api_get")!.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(tools.find((t) => t.name === "pve_api_call")!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
  });

  it("pve_api_get reads any path, pages array replies and names the template it matched", async () => {
    const { s } = await ok("pve_api_get", { path: "/nodes/pve2/status" });
    expect(s).toMatchObject({ method: "GET", path: "/nodes/pve2/status", endpoint: "/nodes/{node}/status", data: { pveversion: "pve-manager/9.1.7/16b139a017452f16" } });
    const { s: page } = await ok("pve_api_get", { path: "/cluster/resources", params: { type: "vm" }, limit: 3 });
    expect(page.data).toHaveLength(3);
    expect(page.total).toBe(env.stack.sim.state.guests.size);
    expect(page.next_cursor).toBe("3");
    const { s: rest } = await ok("pve_api_get", { path: "/cluster/resources", params: { type: "vm" }, limit: 100, cursor: page.next_cursor });
    expect(rest.data).toHaveLength(page.total - 3);
    expect(rest.next_cursor).toBeUndefined();
  });

  it("pve_api_call sends a change and follows the task it starts", async () => {
    const { s } = await ok("pve_api_call", { method: "POST", path: "/nodes/pve1/qemu/101/status/start" });
    expect(s).toMatchObject({ endpoint: "/nodes/{node}/qemu/{vmid}/status/start", status: "stopped", exitstatus: "OK", upid: expect.stringMatching(/^UPID:pve1:.*:qmstart:101:root@pam!mcp:$/) });
    expect(env.guest(101)!.running).toBe(true);
    const { s: fw } = await ok("pve_api_call", { method: "PUT", path: "/nodes/pve1/qemu/100/firewall/options", params: { enable: false } });
    expect(fw.data).toBeNull();
    expect(firewallOf(env.stack.sim.state).guests.get(100)!.options.enable).toBe(0);
  });

  it("refuses an unknown path, a wrong method and a bad parameter before sending anything", async () => {
    const before = mutations();
    const unknown = await fails("pve_api_get", { path: "/nodes/pve1/qemu/100/bogus" });
    expect(unknown).toEqual({ code: "invalid_arguments", message: expect.stringContaining("no path /nodes/pve1/qemu/100/bogus in the PVE 9 API; the nearest existing path is /nodes/{node}/qemu/{vmid} (DELETE, GET)") });
    const method = await fails("pve_api_call", { method: "DELETE", path: "/version" });
    expect(method.message).toContain("DELETE is not defined for /version (/version) in the PVE 9 API; it allows GET: use pve_api_get");
    const getOnPost = await fails("pve_api_get", { path: "/nodes/pve1/qemu/101/status/stop" });
    expect(getOnPost.message).toContain("it allows POST: use pve_api_call");
    const param = await fails("pve_api_call", { method: "POST", path: "/nodes/pve1/qemu/101/status/stop", params: { timeout: -5, bogus: 1 } });
    expect(param.message).toContain("PVE's API schema refuses the parameters of POST /nodes/{node}/qemu/{vmid}/status/stop");
    expect(param.message).toContain("timeout: value must have a minimum value of 0");
    expect(param.message).toContain("bogus: property is not defined in schema and the schema does not allow additional properties");
    const vmid = await fails("pve_api_get", { path: "/nodes/pve1/qemu/abc/config" });
    expect(vmid.message).toContain("vmid: type check ('integer') failed - got 'abc'");
    const nested = await fails("pve_api_call", { method: "PUT", path: "/nodes/pve1/qemu/100/config", params: { net0: { bridge: "vmbr0" } } });
    expect(nested.message).toContain("net0: an object cannot be sent as a PVE parameter");
    expect(mutations()).toBe(before);
  });

  it("needs proxmox:write for pve_api_call: a read-only client is refused", async () => {
    const reader = await env.stack.client(["proxmox:read"]);
    try {
      const { tools } = await reader.listTools();
      expect(tools.map((t) => t.name)).toContain("pve_api_get");
      expect(tools.map((t) => t.name)).not.toContain("pve_api_call");
      const before = mutations();
      const r = (await reader.callTool({ name: "pve_api_call", arguments: { method: "POST", path: "/nodes/pve1/qemu/105/status/start" } })) as any;
      expect(r.isError).toBe(true);
      expect(r._meta.code).toBe("missing_scope");
      expect(r.content[0].text).toContain("proxmox:write");
      expect(mutations()).toBe(before);
    } finally {
      await reader.close();
    }
  });

  it("passes PVE's own failures through: a task that fails", async () => {
    const { message, code } = await fails("pve_api_call", { method: "POST", path: "/nodes/pve1/qemu/9000/status/start" });
    expect(message).toContain("you can't start a vm if it's a template");
    expect(code).toBe("pve_error");
  });
});
