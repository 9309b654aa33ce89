import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSimulator, type SimClient } from "./client.ts";

let c: SimClient;
beforeAll(async () => {
  c = await openSimulator();
});
afterAll(async () => {
  await c.close();
});

describe("access writes: a user, a role, a privilege-separated token and their ACLs", () => {
  it("refuses role ids in PVE's reserved 'PVE' namespace, and unknown privileges", async () => {
    const reserved = await c.call("POST", "/access/roles", { form: { roleid: "PVEMCPOperator", privs: "VM.Audit" } });
    expect(reserved.status).toBe(400);
    expect(reserved.json.errors.roleid).toMatch(/'PVE' namespace/);
    const bogus = await c.call("POST", "/access/roles", { form: { roleid: "McpBogus", privs: "VM.Audit,VM.Fly" } });
    expect(bogus.status).toBe(400);
    expect(bogus.json.errors.privs).toMatch(/VM.Fly/);
  });

  it("a token with privsep holds only what both it and its user were granted", async () => {
    expect((await c.call("POST", "/access/roles", { form: { roleid: "McpOps", privs: "VM.Audit,Sys.Audit,VM.PowerMgmt" } })).status).toBe(200);
    expect((await c.call("GET", "/access/roles/McpOps")).json.data).toEqual({ "VM.Audit": 1, "Sys.Audit": 1, "VM.PowerMgmt": 1 });
    expect((await c.call("POST", "/access/users", { form: { userid: "ops@pve", comment: "test" } })).status).toBe(200);
    const again = await c.call("POST", "/access/users", { form: { userid: "ops@pve" } });
    expect([again.status, again.statusText]).toEqual([500, "create user failed: user 'ops@pve' already exists"]);

    const token = await c.call("POST", "/access/users/ops@pve/token/agent", { form: { privsep: "1" } });
    expect(token.status).toBe(200);
    expect(token.json.data).toMatchObject({ "full-tokenid": "ops@pve!agent", info: { privsep: 1 } });
    const auth = `PVEAPIToken=ops@pve!agent=${token.json.data.value}`;

    // No ACL yet: the token authenticates but sees nothing.
    expect((await c.call("GET", "/nodes/pve1/status", { auth })).status).toBe(403);
    expect((await c.call("PUT", "/access/acl", { form: { path: "/", roles: "McpOps", tokens: "ops@pve!agent" } })).status).toBe(200);
    expect((await c.call("GET", "/nodes/pve1/status", { auth })).status).toBe(403);
    expect((await c.call("PUT", "/access/acl", { form: { path: "/", roles: "McpOps", users: "ops@pve" } })).status).toBe(200);
    expect((await c.call("GET", "/nodes/pve1/status", { auth })).status).toBe(200);

    const acl = (await c.call("GET", "/access/acl")).json.data.filter((e: { ugid: string }) => e.ugid.startsWith("ops@pve"));
    expect(acl).toHaveLength(2);
    expect(acl).toEqual(
      expect.arrayContaining([
        { path: "/", type: "user", ugid: "ops@pve", roleid: "McpOps", propagate: 1 },
        { path: "/", type: "token", ugid: "ops@pve!agent", roleid: "McpOps", propagate: 1 },
      ]),
    );
  });

  it("removes ACL entries, the token, the user and the role; the token stops working", async () => {
    const second = await c.call("POST", "/access/users/ops@pve/token/second", { form: {} });
    const auth = `PVEAPIToken=ops@pve!second=${second.json.data.value}`;
    expect((await c.call("PUT", "/access/acl", { form: { path: "/", roles: "McpOps", users: "ops@pve", delete: "1" } })).status).toBe(200);
    expect((await c.call("DELETE", "/access/users/ops@pve/token/agent")).status).toBe(200);
    expect((await c.call("GET", "/access/users/ops@pve/token")).json.data).toEqual([{ tokenid: "second", privsep: 1, expire: 0 }]);
    expect((await c.call("DELETE", "/access/users/ops@pve")).status).toBe(200);
    expect((await c.call("GET", "/version", { auth })).status).toBe(401);
    expect((await c.call("DELETE", "/access/roles/McpOps")).status).toBe(200);
    expect((await c.call("GET", "/access/acl")).json.data.some((e: { ugid: string }) => e.ugid.startsWith("ops@pve"))).toBe(false);
    const roles = (await c.call("GET", "/access/roles")).json.data.map((r: { roleid: string }) => r.roleid);
    expect(roles).toEqual(["Administrator", "NoAccess", "PVEAuditor"]);
  });

  it("keeps the built-in roles", async () => {
    const res = await c.call("DELETE", "/access/roles/Administrator");
    expect([res.status, res.statusText]).toEqual([500, "auto-generated role 'Administrator' cannot be deleted"]);
  });
});
