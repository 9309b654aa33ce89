import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPbsSimulator, type PbsSimulator } from "../../sim/pbs/simulator.ts";
import type { StackOptions } from "../support/stack.ts";
import { useToolStack } from "../support/tool-calls.ts";

describe("Proxmox Backup Server tools through the worker and the tunnel", () => {
  let pbs: PbsSimulator;
  const opts: StackOptions = { runtime: "node", taskDurationMs: 100 };
  beforeAll(async () => {
    pbs = await startPbsSimulator({ taskDurationMs: 100 });
    const entry = (name: string, token: { tokenid: string; secret: string }) => ({ name, url: pbs.url, token_id: token.tokenid, token_secret: token.secret, fingerprint: pbs.fingerprint });
    opts.agentConfig = { pbs: [entry("pbs1", pbs.token), entry("pbs-audit", pbs.readonlyToken)] };
  });
  afterAll(async () => pbs?.close());
  const env = useToolStack(opts);
  const { ok, fails } = env;

  it("datastores with usage, maintenance and last GC", async () => {
    const { s } = await ok("pbs_info", { action: "datastores" });
    expect(s.pbs).toBe("pbs1");
    expect(s.datastores[0]).toMatchObject({ store: "store1", gc_state: "ok", usage: expect.any(Number), estimated_full: expect.stringMatching(/^\d{4}-/) });
    expect(s.datastores[1]).toMatchObject({ store: "archive", maintenance: "type=read-only,message=migrating to new disks" });
  });

  it("groups, snapshots (paginated, newest first), GC status and tasks", async () => {
    const { s: groups } = await ok("pbs_info", { action: "groups", store: "store1" });
    expect(groups.groups.map((g: { "backup-id": string }) => g["backup-id"])).toEqual(["200", "201", "pve1", "100", "101", "102"]);
    expect(groups.groups.find((g: { "backup-id": string }) => g["backup-id"] === "100").count).toBe(18);
    const { s: snaps } = await ok("pbs_info", { action: "snapshots", store: "store1", "backup-type": "vm", "backup-id": "102", limit: 3 });
    expect(snaps.total).toBe(7);
    expect(snaps.snapshots).toHaveLength(3);
    expect(snaps.snapshots[0]).toMatchObject({ "backup-type": "vm", "backup-id": "102", verification: "failed", protected: false });
    expect(snaps.next_cursor).toBe("3");
    const { s: gc } = await ok("pbs_info", { action: "gc_status", store: "store1" });
    expect(gc.gc).toMatchObject({ store: "store1", "last-run-state": "ok", schedule: "daily" });
    const { s: tasks } = await ok("pbs_info", { action: "tasks", errors: true });
    expect(tasks.tasks).toEqual([expect.objectContaining({ type: "verificationjob", status: "verification failed - please check the log for details" })]);
  });

  it("verifies a group: the corrupt snapshot is reported, not raised", async () => {
    const { s: bad } = await ok("pbs_verify", { store: "store1", "backup-type": "vm", "backup-id": "102", "ignore-verified": false });
    expect(bad).toMatchObject({ pbs: "pbs1", store: "store1", status: "stopped", ok: false, exitstatus: "verification failed - please check the log for details" });
    expect(bad.failed).toEqual([expect.stringMatching(/^vm\/102\/\d{4}-\d\d-\d\dT/)]);
    expect(bad.upid).toMatch(/^UPID:pbs1:.*:verify_group:store1\\x3avm-102:root@pam!mcp:$/);
    const { s: good } = await ok("pbs_verify", { store: "store1", "backup-type": "vm", "backup-id": "101", "ignore-verified": false });
    expect(good).toMatchObject({ status: "stopped", ok: true, exitstatus: "OK", failed: [] });
  });

  it("prunes: a dry run by default, then for real, never touching protected snapshots", async () => {
    const keep = { store: "store1", "backup-type": "vm", "backup-id": "100", "keep-last": 3, "keep-weekly": 2 };
    const { s: dry } = await ok("pbs_prune", keep);
    expect(dry["dry-run"]).toBe(true);
    expect(dry.keep.length + dry.remove.length).toBe(18);
    expect(dry.protected).toHaveLength(1);
    expect(dry.keep).toContain(dry.protected[0]);
    expect(pbs.model.datastores[0].snapshots.filter((s) => s.id === "100")).toHaveLength(18);
    const { s: real } = await ok("pbs_prune", { ...keep, "dry-run": false });
    expect(real.remove).toEqual(dry.remove);
    expect(pbs.model.datastores[0].snapshots.filter((s) => s.id === "100")).toHaveLength(dry.keep.length);
  });

  it("diagnose checks each configured PBS", async () => {
    const { s } = await ok("diagnose", {});
    expect(s.checks.filter((c: { check: string }) => c.check.startsWith("pbs:"))).toEqual([
      { check: "pbs:pbs1", status: "ok", detail: expect.stringContaining("Proxmox Backup Server 4.0.15") },
      { check: "pbs:pbs-audit", status: "ok", detail: expect.stringContaining("audit@pbs!ro") },
    ]);
  });

  it("answers PBS's own errors: missing privilege, maintenance mode, unknown datastore, no keep option", async () => {
    const denied = await fails("pbs_prune", { pbs: "pbs-audit", store: "store1", "backup-type": "vm", "backup-id": "101", "keep-last": 1, "dry-run": false });
    expect(denied).toMatchObject({ code: "pve_error", message: expect.stringContaining("permission check failed") });
    const readOnly = await fails("pbs_prune", { store: "archive", "backup-type": "vm", "backup-id": "100", "keep-last": 1, "dry-run": false });
    expect(readOnly.message).toContain("read-only maintenance mode: migrating to new disks");
    const unknown = await fails("pbs_info", { action: "gc_status", store: "nope" });
    expect(unknown.message).toContain("no such datastore 'nope'");
    const group = await fails("pbs_verify", { store: "store1", "backup-type": "vm", "backup-id": "999" });
    expect(group.message).toContain('unable to read owner file "/mnt/datastore/store1/vm/999/owner"');
    const nothing = await fails("pbs_prune", { store: "store1", "backup-type": "vm", "backup-id": "101" });
    expect(nothing.code).toBe("invalid_arguments");
    const which = await fails("pbs_info", { pbs: "other", action: "datastores" });
    expect(which.message).toContain("no Proxmox Backup Server named 'other' is configured; known: pbs1, pbs-audit");
  });
});
