import { afterAll, describe, expect, it } from "vitest";
import { PveClient } from "../../agent/pve.ts";
import { diagnosticTools } from "../../agent/tools/diagnostics.ts";
import { storageUsage } from "../../sim/stats.ts";
import { freePort } from "../support/ports.ts";
import { useToolStack } from "../support/tool-calls.ts";
import { toolContext } from "../support/tool-context.ts";

type Check = { check: string; status: string; detail: string; fix?: string };
const byName = (checks: Check[], name: string): Check => checks.find((c) => c.check === name)!;

describe("diagnose through the worker and the tunnel", () => {
  const env = useToolStack({ runtime: "node", taskDurationMs: 100 });
  const { ok } = env;
  const clients: PveClient[] = [];
  afterAll(async () => Promise.all(clients.map((c) => c.close())));

  /** Runs diagnose in-process with an agent config that differs from the stack's (wrong pin, secret, port). */
  async function diagnoseWith(cfg: Partial<ConstructorParameters<typeof PveClient>[0]>): Promise<{ ok: boolean; summary: string; checks: Check[] }> {
    const sim = env.stack.sim;
    const pve = new PveClient({ url: sim.url, token_id: sim.token.tokenid, token_secret: sim.token.secret, fingerprint: sim.fingerprint, timeout_ms: 5_000, ...cfg });
    clients.push(pve);
    return (await diagnosticTools[0].run({}, toolContext(pve))).structured as any;
  }

  it("passes every check on a healthy cluster", async () => {
    const { s } = await ok("diagnose", {});
    expect(s.ok).toBe(true);
    expect(s.checks.map((c: Check) => [c.check, c.status])).toEqual([
      ["reachability", "ok"],
      ["tls", "ok"],
      ["authentication", "ok"],
      ["privileges", "ok"],
      ["quorum", "ok"],
      ["nodes", "ok"],
      ["storage", "ok"],
    ]);
    expect(s.summary).toBe("All 7 checks passed.");
  });

  it("explains lost quorum, offline nodes and a nearly full storage, each with a fix", async () => {
    const { sim } = env.stack;
    const lvm = sim.state.storages.find((s) => s.id === "local-lvm")!;
    const before = lvm.baseUsed;
    lvm.baseUsed += Math.round(lvm.total * 0.93) - storageUsage(sim.state, lvm, "pve1").used;
    sim.setNodeOnline("pve2", false);
    sim.setNodeOnline("pve3", false);
    try {
      const { s } = await ok("diagnose", {});
      expect(s.ok).toBe(false);
      const quorum = byName(s.checks, "quorum");
      expect(quorum).toMatchObject({ status: "failed", detail: expect.stringContaining("lost quorum: only 1 of 3 nodes are online") });
      expect(quorum.fix).toContain("pvecm status");
      expect(byName(s.checks, "nodes")).toMatchObject({ status: "warning", detail: expect.stringContaining("Offline: pve2, pve3") });
      const storage = byName(s.checks, "storage");
      expect(storage).toMatchObject({ status: "warning", detail: "local-lvm on pve1 is 93 % full." });
      expect(storage.fix).toContain("Free space");
      expect(s.summary).toContain("Problem (quorum)");
    } finally {
      sim.setNodeOnline("pve2", true);
      sim.setNodeOnline("pve3", true);
      lvm.baseUsed = before;
    }
  });

  it("tells a wrong pin, a wrong secret and a closed port apart", async () => {
    const pin = await diagnoseWith({ fingerprint: Array(32).fill("AB").join(":") });
    expect(byName(pin.checks, "reachability").status).toBe("ok");
    expect(byName(pin.checks, "tls")).toMatchObject({ status: "failed", detail: expect.stringContaining("is not the pinned one") });
    expect(byName(pin.checks, "tls").fix).toContain("pvenode cert info");
    expect(byName(pin.checks, "authentication").status).toBe("skipped");

    const secret = await diagnoseWith({ token_secret: "00000000-0000-0000-0000-000000000000" });
    expect(byName(secret.checks, "tls").status).toBe("ok");
    expect(byName(secret.checks, "authentication")).toMatchObject({ status: "failed", detail: expect.stringContaining("refused the API token root@pam!mcp: Authentication failed!") });

    const closed = await diagnoseWith({ url: `https://127.0.0.1:${await freePort()}` });
    expect(byName(closed.checks, "reachability")).toMatchObject({ status: "failed", detail: expect.stringMatching(/^Nothing accepts connections on 127\.0\.0\.1:\d+\.$/) });
    expect(byName(closed.checks, "reachability").fix).toContain("pveproxy");
    expect(closed.ok).toBe(false);
  });
});
