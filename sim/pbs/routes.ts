/**
 * The PBS API methods the simulator implements, after proxmox-backup src/api2/admin/datastore.rs,
 * src/api2/node/tasks.rs, src/api2/status.rs and src/api2/version.rs. Handlers throw PbsError
 * with PBS's own status and message; anything else is a 400 with the message, as PBS's
 * formatter does for a plain anyhow error.
 */
import type { AccessModel } from "../permissions.ts";
import { hasPrivileges, privileges, splitTokenId } from "../permissions.ts";
import { truthy } from "../../shared/pve-schema/schema.ts";
import { computePrune, groupKey, snapshotName, type BackupType, type KeepOptions, type PbsDatastore, type PbsModel, type PbsSnapshot } from "./model.ts";
import type { PbsTask, PbsTaskRunner } from "./tasks.ts";

export class PbsError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export interface PbsSim {
  model: PbsModel;
  tasks: PbsTaskRunner;
  access: AccessModel;
  version: { version: string; release: string; repoid: string };
}

export interface PbsCall {
  pbs: PbsSim;
  params: Record<string, unknown>;
  authid: string;
  setTotal(total: number): void;
}

export type PbsHandler = (call: PbsCall) => unknown;

const forbidden = (): PbsError => new PbsError(403, "permission check failed");

function privsOn(call: PbsCall, path: string): Set<string> {
  return new Set(privileges(call.pbs.access, call.authid, path).keys());
}

/** DataStore::lookup_datastore with the operation's maintenance-mode check. */
function datastore(call: PbsCall, write = false): PbsDatastore {
  const store = String(call.params.store);
  const ds = call.pbs.model.datastores.find((d) => d.store === store);
  if (!ds) throw new PbsError(400, `no such datastore '${store}'`);
  if (write && ds.maintenance) {
    const [type, message = ""] = ds.maintenance.split(":");
    throw new PbsError(400, `${type} maintenance mode: ${message}`);
  }
  return ds;
}

function ownerOf(ds: PbsDatastore, type: string, id: string): string {
  const owner = ds.owners.get(`${type}/${id}`);
  if (!owner) throw new PbsError(400, `unable to read owner file "${ds.path}/${type}/${id}/owner" - No such file or directory (os error 2)`);
  return owner;
}

/** check_backup_owner: the owner itself, or the user of an owning token. */
function ownsGroup(authid: string, owner: string): boolean {
  return authid === owner || splitTokenId(owner)?.userid === authid;
}

/** check_ns_privs_full plus owner filtering: which groups of `ds` the caller may see. */
function visibleSnapshots(call: PbsCall, ds: PbsDatastore): PbsSnapshot[] {
  const privs = privsOn(call, `/datastore/${ds.store}`);
  if (!privs.has("Datastore.Audit") && !privs.has("Datastore.Backup")) throw forbidden();
  const all = privs.has("Datastore.Audit");
  return ds.snapshots.filter((s) => all || ownsGroup(call.authid, ds.owners.get(groupKey(s)) ?? ""));
}

function snapshotEntry(ds: PbsDatastore, s: PbsSnapshot): Record<string, unknown> {
  return {
    "backup-type": s.type,
    "backup-id": s.id,
    "backup-time": s.time,
    files: s.files,
    size: s.size,
    owner: ds.owners.get(groupKey(s)),
    protected: s.protected,
    ...(s.verification ? { verification: s.verification } : {}),
    ...(s.comment ? { comment: s.comment } : {}),
  };
}

function listGroups(call: PbsCall): unknown[] {
  const ds = datastore(call);
  const groups = new Map<string, PbsSnapshot[]>();
  for (const s of visibleSnapshots(call, ds)) groups.set(groupKey(s), [...(groups.get(groupKey(s)) ?? []), s]);
  return [...groups.entries()].map(([key, snaps]) => {
    const last = snaps.reduce((a, b) => (a.time > b.time ? a : b));
    const [type, id] = key.split("/");
    return { "backup-type": type, "backup-id": id, "backup-count": snaps.length, "last-backup": last.time, files: last.files.map((f) => f.filename), owner: ds.owners.get(key) };
  });
}

function listSnapshots(call: PbsCall): unknown[] {
  const ds = datastore(call);
  return visibleSnapshots(call, ds)
    .filter((s) => call.params["backup-type"] === undefined || s.type === call.params["backup-type"])
    .filter((s) => call.params["backup-id"] === undefined || s.id === call.params["backup-id"])
    .map((s) => snapshotEntry(ds, s));
}

function gcStatus(call: PbsCall, ds: PbsDatastore): Record<string, unknown> {
  const next = ds.gcSchedule ? { schedule: ds.gcSchedule, "next-run": Math.floor(Date.now() / 86_400_000 + 1) * 86400 } : {};
  return { store: ds.store, ...ds.gc, ...next };
}

function datastoreUsage(call: PbsCall): unknown[] {
  return call.pbs.model.datastores
    .filter((ds) => privsOn(call, `/datastore/${ds.store}`).size > 0)
    .map((ds) => {
      const days = Math.max(1, Math.round((ds.total - ds.used) / (ds.used / 400)));
      return {
        store: ds.store,
        total: ds.total,
        used: ds.used,
        avail: ds.total - ds.used,
        "mount-status": "nonremovable",
        "backend-type": "filesystem",
        "history-start": Math.floor(Date.now() / 1000) - 30 * 86400,
        "history-delta": 86400,
        "estimated-full-date": Math.floor(Date.now() / 1000) + days * 86400,
        "gc-status": gcStatus(call, ds),
      };
    });
}

/** GC: sweeps the chunks pruning left behind, freeing their space. */
function startGc(call: PbsCall): string {
  const ds = datastore(call, true);
  return call.pbs.tasks.start("garbage_collection", ds.store, call.authid, (log) => {
    log(`starting garbage collection on store ${ds.store}`);
    log("Start GC phase1 (mark used chunks)");
    log("Start GC phase2 (sweep unused chunks)");
    const freed = ds.gc["pending-bytes"];
    ds.used -= freed;
    ds.gc = { ...ds.gc, "removed-bytes": freed, "removed-chunks": ds.gc["pending-chunks"], "pending-bytes": 0, "pending-chunks": 0, "disk-bytes": ds.used, "index-file-count": ds.snapshots.length, "last-run-state": "ok", "last-run-endtime": Math.floor(Date.now() / 1000) };
    log(`Removed garbage: ${(freed / 1024 ** 3).toFixed(3)} GiB`);
  }).upid;
}

function hexTime(time: number): string {
  return time.toString(16).toUpperCase().padStart(8, "0");
}

/** POST verify: a task verifying a snapshot, a group or the whole datastore. */
function startVerify(call: PbsCall): string {
  const ds = datastore(call);
  const { params, authid } = call;
  const type = params["backup-type"] as BackupType | undefined;
  const id = params["backup-id"] as string | undefined;
  const time = params["backup-time"] === undefined ? undefined : Number(params["backup-time"]);
  const privs = privsOn(call, `/datastore/${ds.store}`);
  if (!privs.has("Datastore.Verify") && !privs.has("Datastore.Backup")) throw forbidden();
  let selected: PbsSnapshot[];
  let workerType = "verify";
  let workerId = ds.store;
  if (type && id) {
    const owner = ownerOf(ds, type, id);
    if (!privs.has("Datastore.Verify") && !ownsGroup(authid, owner)) throw new PbsError(400, `backup owner check failed (${authid} != ${owner})`);
    selected = ds.snapshots.filter((s) => s.type === type && s.id === id && (time === undefined || s.time === time));
    if (time !== undefined && !selected.length) throw new PbsError(400, `backup dir '${type}/${id}/${new Date(time * 1000).toISOString().replace(/\.\d{3}Z$/, "Z")}' does not exist`);
    workerType = time === undefined ? "verify_group" : "verify_snapshot";
    workerId = time === undefined ? `${ds.store}:${type}/${id}` : `${ds.store}:${type}/${id}/${hexTime(time)}`;
  } else if (type || id || time !== undefined) {
    throw new PbsError(400, "parameters do not specify a backup group or snapshot");
  } else {
    selected = [...ds.snapshots];
  }
  const ignoreVerified = params["ignore-verified"] === undefined || truthy(params["ignore-verified"]);
  const task: PbsTask = call.pbs.tasks.start(workerType, workerId, authid, (log) => {
    log(workerType === "verify" ? `verify datastore ${ds.store}` : `verify ${workerId}`);
    const failed: string[] = [];
    for (const s of selected) {
      if (ignoreVerified && time === undefined && s.verification?.state === "ok") {
        log(`  SKIPPED: verify ${ds.store}:${snapshotName(s)} (recently verified)`);
        continue;
      }
      log(`  verify ${ds.store}:${snapshotName(s)}`);
      for (const f of s.files) log(`    check ${f.filename}`);
      if (s.corrupt) {
        log(`    verify ${ds.store}:${snapshotName(s)}/${s.files.find((f) => f.filename.endsWith("idx"))?.filename} failed: chunks could not be verified`);
        failed.push(snapshotName(s));
      }
      s.verification = { state: s.corrupt ? "failed" : "ok", upid: task.upid };
    }
    if (failed.length) {
      log("Failed to verify the following snapshots/groups:");
      for (const name of failed) log(`\t${name}`);
      throw new Error("verification failed - please check the log for details");
    }
  });
  return task.upid;
}

const keepKeys = ["keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly"] as const;

/** POST prune: the group's snapshots marked keep or remove; without dry-run the removed ones are gone. */
function prune(call: PbsCall): unknown[] {
  const { params, authid } = call;
  const dryRun = truthy(params["dry-run"]);
  const ds = datastore(call, !dryRun);
  const type = String(params["backup-type"]);
  const id = String(params["backup-id"]);
  const privs = privsOn(call, `/datastore/${ds.store}`);
  if (!privs.has("Datastore.Modify") && !privs.has("Datastore.Prune")) throw forbidden();
  const owner = ownerOf(ds, type, id);
  if (!privs.has("Datastore.Modify") && !ownsGroup(authid, owner)) throw new PbsError(400, `backup owner check failed (${authid} != ${owner})`);
  const keep: KeepOptions = {};
  for (const key of keepKeys) if (params[key] !== undefined) keep[key] = Number(params[key]);
  const marks = computePrune(ds.snapshots.filter((s) => s.type === type && s.id === id), keep);
  if (!dryRun) {
    const removed = new Set(marks.filter((m) => m.mark === "remove").map((m) => m.snapshot));
    ds.snapshots = ds.snapshots.filter((s) => !removed.has(s));
    for (const s of removed) {
      ds.gc["pending-bytes"] += Math.round(s.size * 0.06);
      ds.gc["pending-chunks"] += Math.round((s.size * 0.06) / (4 * 1024 ** 2));
    }
  }
  return marks.map(({ snapshot: s, mark }) => ({ "backup-type": s.type, "backup-id": s.id, "backup-time": s.time, keep: mark !== "remove", protected: s.protected }));
}

function checkNode(call: PbsCall): void {
  const node = String(call.params.node);
  if (node !== "localhost" && node !== call.pbs.model.node) throw new PbsError(400, `no such node '${node}'`);
}

/** Users see their own tasks; others' need Sys.Audit on /system/tasks. */
function mayReadTask(call: PbsCall, task: PbsTask): boolean {
  return task.authid === call.authid || hasPrivileges(call.pbs.access, call.authid, "/system/tasks", ["Sys.Audit"]);
}

function taskOrFail(call: PbsCall): PbsTask {
  checkNode(call);
  const upid = String(call.params.upid);
  const task = call.pbs.tasks.find(upid);
  if (!task) throw new PbsError(400, `unable to open task log "/var/log/proxmox-backup/tasks/${upid}" - No such file or directory (os error 2)`);
  if (!mayReadTask(call, task)) throw forbidden();
  return task;
}

function listTasks(call: PbsCall): unknown[] {
  checkNode(call);
  const { params } = call;
  const store = params.store === undefined ? undefined : String(params.store);
  const start = Number(params.start ?? 0);
  const limit = Number(params.limit ?? 50);
  const matching = call.pbs.tasks
    .all()
    .filter((t) => mayReadTask(call, t))
    .filter((t) => !store || t.workerId === store || t.workerId.startsWith(`${store}:`))
    .filter((t) => !truthy(params.running) || t.status === "running")
    .filter((t) => !truthy(params.errors) || (t.status === "stopped" && t.exitstatus !== "OK"))
    .filter((t) => params.typefilter === undefined || t.workerType.includes(String(params.typefilter)))
    .filter((t) => params.since === undefined || t.starttime >= Number(params.since))
    .filter((t) => params.until === undefined || t.starttime <= Number(params.until));
  call.setTotal(matching.length);
  return matching.slice(start, start + limit).map((t) => ({
    upid: t.upid,
    node: t.node,
    pid: t.pid,
    pstart: t.pstart,
    starttime: t.starttime,
    worker_type: t.workerType,
    worker_id: t.workerId,
    user: t.authid,
    ...(t.status === "stopped" ? { endtime: t.endtime, status: t.exitstatus } : {}),
  }));
}

function taskStatus(call: PbsCall): Record<string, unknown> {
  const t = taskOrFail(call);
  const token = splitTokenId(t.authid);
  return {
    upid: t.upid,
    node: t.node,
    pid: t.pid,
    pstart: t.pstart,
    starttime: t.starttime,
    type: t.workerType,
    id: t.workerId,
    user: token?.userid ?? t.authid,
    ...(token ? { tokenid: token.token } : {}),
    status: t.status,
    ...(t.status === "stopped" ? { exitstatus: t.exitstatus, endtime: t.endtime } : {}),
  };
}

function taskLog(call: PbsCall): unknown[] {
  const t = taskOrFail(call);
  const start = Number(call.params.start ?? 0);
  const limit = Number(call.params.limit ?? 50);
  call.setTotal(t.log.length);
  return t.log.slice(start, start + limit).map((line, i) => ({ n: start + i + 1, t: line }));
}

export const pbsRoutes: Readonly<Record<string, PbsHandler>> = {
  "GET /version": ({ pbs }) => ({ ...pbs.version }),
  "GET /admin/datastore": (call) =>
    call.pbs.model.datastores
      .filter((ds) => privsOn(call, `/datastore/${ds.store}`).size > 0)
      .map((ds) => ({ store: ds.store, comment: ds.comment, "mount-status": "nonremovable", "backend-type": "filesystem", ...(ds.maintenance ? { maintenance: `type=${ds.maintenance.replace(":", ",message=")}` } : {}) })),
  "GET /admin/datastore/{store}/status": (call) => {
    const ds = datastore(call);
    const groups = new Set(visibleSnapshots(call, ds).map(groupKey));
    const counts: Record<string, { groups: number; snapshots: number }> = {};
    for (const type of ["vm", "ct", "host"]) {
      const snaps = ds.snapshots.filter((s) => s.type === type);
      counts[type] = { groups: [...groups].filter((g) => g.startsWith(`${type}/`)).length, snapshots: snaps.length };
    }
    return { total: ds.total, used: ds.used, avail: ds.total - ds.used, "backend-type": "filesystem", counts, "gc-status": gcStatus(call, ds) };
  },
  "GET /status/datastore-usage": datastoreUsage,
  "GET /admin/datastore/{store}/groups": listGroups,
  "GET /admin/datastore/{store}/snapshots": listSnapshots,
  "GET /admin/datastore/{store}/gc": (call) => gcStatus(call, datastore(call)),
  "POST /admin/datastore/{store}/gc": startGc,
  "POST /admin/datastore/{store}/verify": startVerify,
  "POST /admin/datastore/{store}/prune": prune,
  "GET /nodes/{node}/tasks": listTasks,
  "GET /nodes/{node}/tasks/{upid}/status": taskStatus,
  "GET /nodes/{node}/tasks/{upid}/log": taskLog,
};
