import { describe, expect, it } from "vitest";
import { poolsOf } from "../../sim/pools.ts";
import { useToolStack } from "../support/tool-calls.ts";

describe("pool through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 100 });
  const { ok, fails } = env;
  const pools = () => poolsOf(env.stack.sim.state);
  const listed = async () => (await ok("cluster_info", { action: "pools" })).s.pools as Array<{ poolid: string; comment?: string }>;
  const poolCalls = () => env.stack.sim.mutations.filter((m) => m.path.startsWith("/pools"));

  it("is a non-destructive write tool a read-only client neither sees nor may call", async () => {
    const { tools } = await env.client.listTools();
    const tool = tools.find((t) => t.name === "pool")!;
    expect(tool.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, idempotentHint: true });
    expect(tool.description!.length).toBeLessThanOrEqual(300);
    await env.expectHiddenFromReader("pool", { action: "delete", poolid: "lab" });
    expect(poolCalls()).toEqual([]);
    expect(pools().map((p) => p.poolid)).toEqual(["lab", "prod"]);
  });

  it("create: a pool and a nested one, listed by cluster_info", async () => {
    const { s } = await ok("pool", { action: "create", poolid: "dev", comment: "Developer sandboxes" });
    expect(s).toEqual({ action: "create", poolid: "dev", comment: "Developer sandboxes", members: 0 });
    expect(poolCalls()[0]).toMatchObject({ method: "POST", path: "/pools", params: { poolid: "dev", comment: "Developer sandboxes" }, status: 200 });
    const { s: nested } = await ok("pool", { action: "create", poolid: "dev/web" });
    expect(nested).toEqual({ action: "create", poolid: "dev/web", members: 0 });
    expect(pools().find((p) => p.poolid === "dev")).toMatchObject({ comment: "Developer sandboxes", vmids: [], storages: [] });
    expect(await listed()).toEqual([
      { poolid: "dev", comment: "Developer sandboxes" },
      { poolid: "dev/web" },
      { poolid: "lab", comment: "Test lab" },
      { poolid: "prod", comment: "Production services" },
    ]);
  });

  it("create: PVE's refusals arrive as tool errors with PVE's message", async () => {
    const refused: Array<[string, string]> = [
      ["dev", "create pool failed: pool 'dev' already exists"],
      ["nope/web", "create pool failed: parent 'nope' of pool 'nope/web' does not exist"],
      ["9lives", "create pool failed: pool name must start with a letter"],
    ];
    for (const [poolid, message] of refused) {
      const failure = await fails("pool", { action: "create", poolid });
      expect(failure.message, poolid).toContain(message);
      expect(failure.code).toBe("pve_error");
    }
    expect(pools().map((p) => p.poolid)).toEqual(["dev", "dev/web", "lab", "prod"]);
  });

  it("update: replaces the comment; the answer counts the guests in it", async () => {
    const { s } = await ok("pool", { action: "update", poolid: "lab", comment: "Test lab, second floor" });
    expect(s).toEqual({ action: "update", poolid: "lab", comment: "Test lab, second floor", members: 2 });
    expect(poolCalls().at(-1)).toMatchObject({ method: "PUT", path: "/pools", params: { poolid: "lab", comment: "Test lab, second floor" } });
    expect((await listed()).find((p) => p.poolid === "lab")).toEqual({ poolid: "lab", comment: "Test lab, second floor" });
    // PVE reads "comment=" as no comment given: clearing is refused before anything is sent.
    const before = poolCalls().length;
    expect((await fails("pool", { action: "update", poolid: "dev", comment: "" })).message).toContain("PVE cannot clear it");
    expect(poolCalls()).toHaveLength(before);

    const missing = await fails("pool", { action: "update", poolid: "ghost", comment: "x" });
    expect(missing.message).toContain("update pools failed: pool 'ghost' does not exist");
    expect(missing.code).toBe("pve_error");
    expect((await fails("pool", { action: "update", poolid: "lab" })).code).toBe("invalid_arguments");
    expect(pools().find((p) => p.poolid === "lab")!.vmids).toEqual([105, 202]);
  });

  it("delete: PVE refuses a pool with guests, storages or child pools, and keeps it", async () => {
    const withGuests = await fails("pool", { action: "delete", poolid: "lab" });
    expect(withGuests.message).toContain("delete pool failed: pool 'lab' is not empty (contains VM 105)");
    expect(withGuests.code).toBe("pve_error");
    const withChild = await fails("pool", { action: "delete", poolid: "dev" });
    expect(withChild.message).toContain("delete pool failed: pool 'dev' is not empty (contains pool 'dev/web')");
    await ok("pve_api_call", { method: "PUT", path: "/pools", params: { poolid: "dev/web", storage: "local" } });
    const withStorage = await fails("pool", { action: "delete", poolid: "dev/web" });
    expect(withStorage.message).toContain("delete pool failed: pool 'dev/web' is not empty (contains storage 'local')");
    const missing = await fails("pool", { action: "delete", poolid: "ghost" });
    expect(missing.message).toContain("delete pool failed: pool 'ghost' does not exist");
    expect((await fails("pool", { action: "delete", poolid: "lab", comment: "x" })).code).toBe("invalid_arguments");
    expect(pools().map((p) => p.poolid)).toEqual(["dev", "dev/web", "lab", "prod"]);
  });

  it("delete: an emptied pool goes, with its ACL entries; the guests stay", async () => {
    const poolAcl = async () => ((await ok("access_info", { action: "acl" })).s.acl as Array<{ path: string }>).filter((e) => e.path === "/pool/lab");
    await ok("pve_api_call", { method: "PUT", path: "/access/acl", params: { path: "/pool/lab", roles: "PVEAuditor", tokens: "readonly@pve!ro" } });
    expect(await poolAcl()).toHaveLength(1);
    await ok("guest_pool", { action: "remove", poolid: "lab", vmids: [105, 202] });
    const { s } = await ok("pool", { action: "delete", poolid: "lab" });
    expect(s).toEqual({ action: "delete", poolid: "lab" });
    expect(poolCalls().at(-1)).toMatchObject({ method: "DELETE", path: "/pools", params: { poolid: "lab" }, status: 200 });
    expect(await poolAcl()).toEqual([]);
    expect(env.guest(105)).toBeDefined();

    await ok("pve_api_call", { method: "PUT", path: "/pools", params: { poolid: "dev/web", storage: "local", delete: true } });
    await ok("pool", { action: "delete", poolid: "dev/web" });
    await ok("pool", { action: "delete", poolid: "dev" });
    expect(pools().map((p) => p.poolid)).toEqual(["prod"]);
    expect((await listed()).map((p) => p.poolid)).toEqual(["prod"]);
  });
});
