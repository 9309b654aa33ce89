import { Agent, fetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { computePrune, type PbsSnapshot } from "../../sim/pbs/model.ts";
import { startPbsSimulator, type PbsSimulator } from "../../sim/pbs/simulator.ts";
import { escapeUnit } from "../../sim/pbs/tasks.ts";

let pbs: PbsSimulator;
let dispatcher: Agent;
beforeAll(async () => {
  pbs = await startPbsSimulator({ taskDurationMs: 50 });
  dispatcher = new Agent({ connect: { ca: pbs.certPem } });
});
afterAll(async () => {
  await dispatcher.close();
  await pbs.close();
});

async function call(method: string, path: string, opts: { auth?: string | null; form?: Record<string, string> } = {}) {
  const headers: Record<string, string> = {};
  const auth = opts.auth === undefined ? pbs.token.header : opts.auth;
  if (auth) headers.Authorization = auth;
  if (opts.form) headers["Content-Type"] = "application/x-www-form-urlencoded";
  const res = await fetch(`${pbs.url}/api2/json${path}`, { method, headers, body: opts.form ? new URLSearchParams(opts.form).toString() : undefined, dispatcher });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, contentType: res.headers.get("content-type") };
}

describe("PBS simulator: the envelope, authentication and errors of proxmox-backup-proxy", () => {
  it("answers {data} with a PBSAPIToken, and refuses PVE's token syntax or none", async () => {
    expect((await call("GET", "/version")).json).toEqual({ data: { version: "4.0.15", release: "4.0", repoid: "7e3a2b1c9d8f6e5a" } });
    expect(await call("GET", "/version", { auth: null })).toMatchObject({ status: 401, text: "authentication failed - no authentication credentials provided." });
    expect((await call("GET", "/version", { auth: `PVEAPIToken=${pbs.token.tokenid}=${pbs.token.secret}` })).status).toBe(401);
    expect((await call("GET", "/version", { auth: `PBSAPIToken ${pbs.token.tokenid}:${pbs.token.secret}` })).status).toBe(200);
  });

  it("sends errors as plain text with a JSON content type, parameter errors one per line", async () => {
    const missing = await call("GET", "/nope");
    expect(missing).toMatchObject({ status: 404, text: "Path '/api2/json/nope' not found.", contentType: "application/json;charset=UTF-8" });
    const bad = await call("POST", "/admin/datastore/store1/prune", { form: { "backup-type": "vm", "keep-last": "0", bogus: "1" } });
    expect(bad.status).toBe(400);
    expect(bad.text).toBe(
      "parameter verification errors\n\nparameter 'backup-id': parameter is missing and it is not optional\nparameter 'keep-last': value must have a minimum value of 1\nparameter 'bogus': schema does not allow additional properties.\n",
    );
    expect((await call("GET", "/admin/datastore/store1/gc", { auth: pbs.readonlyToken.header })).status).toBe(200);
    expect(await call("POST", "/admin/datastore/store1/gc", { auth: pbs.readonlyToken.header })).toMatchObject({ status: 403, text: "permission check failed" });
  });

  it("lists only the datastores a token has privileges on", async () => {
    const stores = (await call("GET", "/admin/datastore", { auth: pbs.readonlyToken.header })).json.data;
    expect(stores.map((s: { store: string }) => s.store)).toEqual(["store1", "archive"]);
  });
});

describe("PBS simulator: tasks", () => {
  it("escapes worker ids in UPIDs like systemd", () => {
    expect(escapeUnit("store1:vm/100")).toBe("store1\\x3avm-100");
    expect(escapeUnit("store1:v-1")).toBe("store1\\x3av\\x2d1");
  });

  it("runs garbage collection as a task that frees what pruning left behind", async () => {
    const store = pbs.model.datastores[0];
    await call("POST", "/admin/datastore/store1/prune", { form: { "backup-type": "ct", "backup-id": "200", "keep-last": "2" } });
    const pending = store.gc["pending-bytes"];
    expect(pending).toBeGreaterThan(0);
    const used = store.used;
    const upid = (await call("POST", "/admin/datastore/store1/gc")).json.data as string;
    expect(upid).toMatch(/^UPID:pbs1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:garbage_collection:store1:root@pam!mcp:$/);
    for (let i = 0; i < 100; i++) {
      const status = (await call("GET", `/nodes/localhost/tasks/${encodeURIComponent(upid)}/status`)).json.data;
      if (status.status === "stopped") {
        expect(status).toMatchObject({ exitstatus: "OK", user: "root@pam", tokenid: "mcp", type: "garbage_collection", id: "store1" });
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(store.used).toBe(used - pending);
    const log = (await call("GET", `/nodes/localhost/tasks/${encodeURIComponent(upid)}/log`)).json;
    expect(log.data.at(-1)).toEqual({ n: log.total, t: "TASK OK" });
  });
});

describe("PBS prune selection (pbs-datastore prune.rs)", () => {
  const day = 86400;
  const snap = (time: number, protectedFlag = false): PbsSnapshot => ({ type: "vm", id: "1", time, files: [], size: 0, protected: protectedFlag });
  // Two snapshots a day for 20 days, ending on a Sunday at noon (2025-11-23).
  const end = Date.UTC(2025, 10, 23, 12) / 1000;
  const group = Array.from({ length: 40 }, (_, i) => snap(end - i * day * 0.5));

  it("keep-last keeps the newest N, keep-daily the newest of each of N days", () => {
    const marks = computePrune(group, { "keep-last": 2, "keep-daily": 3 });
    const kept = marks.filter((m) => m.mark === "keep").map((m) => m.snapshot.time);
    // The two newest, then the newest of the next three days not yet covered.
    expect(kept).toEqual([end, end - day / 2, end - day, end - 2 * day, end - 3 * day]);
  });

  it("keep-weekly counts ISO weeks, and protected snapshots are always kept", () => {
    const withProtected = [...group.slice(0, 39), snap(end - 19.5 * day, true)];
    const marks = computePrune(withProtected, { "keep-weekly": 2 });
    expect(marks.filter((m) => m.mark === "keep").map((m) => new Date(m.snapshot.time * 1000).toISOString().slice(0, 10))).toEqual(["2025-11-23", "2025-11-16"]);
    expect(marks.find((m) => m.snapshot.protected)!.mark).toBe("protected");
  });

  it("keeps everything without a keep option", () => {
    expect(computePrune(group, {}).every((m) => m.mark === "keep")).toBe(true);
  });
});
