import { describe, expect, it } from "vitest";
import { workerToolDefinitions } from "../../shared/tools/events.ts";
import { PveClient } from "../../agent/pve.ts";
import { accessTools } from "../../agent/tools/access.ts";
import { toolCalls } from "../../agent/tools/privileges.ts";
import { pveCatalog } from "../../shared/pve-schema/pve.ts";
import { toolDefinitions } from "../../shared/tools/index.ts";
import { useToolStack } from "../support/tool-calls.ts";
import { toolContext } from "../support/tool-context.ts";

describe("access_info through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 100 });
  const { ok, fails } = env;

  it("users with their tokens, one user's tokens, the ACL", async () => {
    const { s: users } = await ok("access_info", { action: "users" });
    expect(users.users).toContainEqual({ userid: "root@pam", enable: true, realm_type: "pam", tokens: ["mcp"] });
    expect(users.users).toContainEqual(expect.objectContaining({ userid: "readonly@pve", tokens: ["ro"] }));
    const { s: tokens } = await ok("access_info", { action: "tokens", userid: "readonly@pve" });
    expect(tokens.tokens).toEqual([{ userid: "readonly@pve", tokenid: "ro", privsep: true }]);
    const { s: acl } = await ok("access_info", { action: "acl" });
    expect(acl.acl).toContainEqual({ path: "/", type: "token", ugid: "readonly@pve!ro", roleid: "PVEAuditor", propagate: true });
  });

  it("whoami: the agent's token and, for every tool, whether it holds what PVE checks", async () => {
    const { s } = await ok("access_info", { action: "whoami" });
    const me = s.whoami;
    expect(me.authid).toBe("root@pam!mcp");
    expect(me.permissions.find((p: { path: string }) => p.path === "/").privileges).toContain("Sys.Modify");
    expect(me.warnings).toEqual([]);
    expect(me.summary).toMatch(/holds the privileges every checked tool needs/);
    const statuses = new Set(me.tools.map((t: { status: string }) => t.status));
    expect([...statuses].sort()).toEqual(["not_checked", "ok"]);
    expect(me.tools).toContainEqual(expect.objectContaining({ tool: "node_info", action: "journal", status: "ok", needs: "Sys.Syslog on /nodes/{node}" }));
    expect(me.tools).toContainEqual(expect.objectContaining({ tool: "pbs_info", status: "not_checked" }));
    const { tools } = await env.client.listTools();
    const workerTools = new Set(workerToolDefinitions.map((d) => d.name));
    for (const t of tools.filter((x) => !workerTools.has(x.name))) expect(me.tools.some((row: { tool: string }) => row.tool === t.name), t.name).toBe(true);
  });

  it("says plainly when the token has no privileges: a privilege-separated token without ACL", async () => {
    // Create the token the way users do (pveum user token add: privilege separation on), through the raw API tool.
    await ok("pve_api_call", { method: "POST", path: "/access/users", params: { userid: "bot@pve" } });
    const { s: created } = await ok("pve_api_call", { method: "POST", path: "/access/users/bot@pve/token/mcp", params: {} });
    const secret = created.data.value as string;
    const pve = new PveClient({ url: env.stack.sim.url, token_id: "bot@pve!mcp", token_secret: secret, fingerprint: env.stack.sim.fingerprint, timeout_ms: 10_000 });
    try {
      const whoami = accessTools[0];
      const result = await whoami.run({ action: "whoami" }, toolContext(pve));
      const me = (result.structured as any).whoami;
      expect(me.permissions).toEqual([]);
      expect(me.warnings[0]).toContain("The API token bot@pve!mcp has no privileges at all");
      expect(me.warnings[0]).toContain("privilege separation");
      expect(me.warnings[0]).toContain("pveum acl modify / --tokens 'bot@pve!mcp' --roles PVEAuditor");
      expect(me.tools.find((t: { tool: string }) => t.tool === "guest_list")).toMatchObject({ status: "missing", missing: ["VM.Audit on /vms/{vmid}"] });
    } finally {
      await pve.close();
    }
  });

  it("derives every tool's needs from endpoints that exist in the PVE 9 API schema", () => {
    const catalog = pveCatalog();
    const names = new Set(toolDefinitions.map((d) => d.name));
    for (const [tool, uses] of Object.entries(toolCalls)) {
      expect(names.has(tool), tool).toBe(true);
      for (const call of uses.flatMap((u) => u.calls)) {
        const [method, template] = call.endpoint.split(" ");
        expect(catalog.byTemplate(method as "GET", template), `${tool}: ${call.endpoint}`).toBeDefined();
      }
    }
  });

  it("answers PVE's own errors: an unknown user", async () => {
    const { message, code } = await fails("access_info", { action: "tokens", userid: "ghost@pve" });
    expect(message).toContain("no such user ('ghost@pve')");
    expect(code).toBe("pve_error");
    const missing = await fails("access_info", { action: "tokens" });
    expect(missing.code).toBe("invalid_arguments");
  });
});
