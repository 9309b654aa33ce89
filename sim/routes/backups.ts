/**
 * Backups: POST /nodes/{node}/vzdump (after pve-manager PVE/API2/VZDump.pm and PVE/VZDump.pm), the
 * backup jobs of /cluster/backup with their create, update and delete (PVE/API2/Backup.pm).
 */
import { randomUUID } from "node:crypto";
import { decodeJob, progressLines } from "../backups.ts";
import type { CallContext, RouteTable } from "../context.ts";
import { die, paramError, permError } from "../errors.ts";
import { splitList } from "../../shared/pve-schema/formats.ts";
import { lockError } from "../guest-config.ts";
import { checkPrivileges } from "../permissions.ts";
import { poolsOf } from "../pools.ts";
import { truthy } from "../../shared/pve-schema/schema.ts";
import { epoch, type SimGuest } from "../state.ts";
import { backupVolid, guestDiskBytes, isDiskKey, volumeOf, volumePath } from "../storage-content.ts";
import { TaskFailure } from "../tasks.ts";
import { forkWorker } from "../workers.ts";

const GiB = 1024 ** 3;

/** PVE::VZDump::Common::command_line: how the job was called, for the first log line. */
function commandLine(params: Record<string, unknown>): string {
  const args = Object.entries(params)
    .filter(([k]) => k !== "vmid")
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `--${k} ${v}`);
  const ids = params.vmid === undefined ? [] : splitList(String(params.vmid));
  return ["vzdump", ...ids, ...args].join(" ");
}

function notesFrom(template: string | undefined, g: SimGuest, node: string, cluster: string): string | undefined {
  if (!template) return undefined;
  const name = g.type === "qemu" ? g.config.name ?? `VM ${g.vmid}` : g.config.hostname ?? `CT${g.vmid}`;
  return template.replace(/\{\{(guestname|cluster|node|vmid)\}\}/g, (_, v: string) => ({ guestname: name, cluster, node, vmid: String(g.vmid) })[v] ?? "");
}

/** The guests a job selects, by node (get_included_guests); unknown ids belong to no node (""). */
function includedGuests(ctx: CallContext): Map<string, number[]> {
  const { params, sim } = ctx;
  const guests = sim.state.guests;
  let ids: number[];
  if (params.pool !== undefined) ids = poolsOf(sim.state).find((p) => p.poolid === String(params.pool))?.vmids ?? [];
  else if (params.vmid !== undefined) ids = splitList(String(params.vmid)).map(Number);
  else if (truthy(params.all)) {
    const exclude = new Set(splitList(String(params.exclude ?? "")).map(Number));
    ids = [...guests.keys()].filter((id) => !exclude.has(id));
  } else ids = [];
  const byNode = new Map<string, number[]>();
  for (const id of [...new Set(ids)].sort((a, b) => a - b)) {
    const node = guests.get(id)?.node ?? "";
    byNode.set(node, [...(byNode.get(node) ?? []), id]);
  }
  return byNode;
}

/**
 * PVE::VZDump::verify_vzdump_parameters, for vzdump calls and job definitions alike: the selection
 * options that exclude each other, `exclude` implying `all`, and (with checkMissing) some selection.
 */
function verifyParameters(p: Record<string, unknown>, checkMissing: boolean): void {
  if (truthy(p.all) && truthy(p.vmid)) throw paramError({ all: "option conflicts with option 'vmid'" });
  if (truthy(p.exclude) && truthy(p.vmid)) throw paramError({ exclude: "option conflicts with option 'vmid'" });
  if (truthy(p.pool) && truthy(p.vmid)) throw paramError({ pool: "option conflicts with option 'vmid'" });
  if (p.exclude !== undefined && !truthy(p.pool)) p.all = 1;
  if (checkMissing && !(truthy(p.all) || truthy(p.stop) || truthy(p.pool)) && !truthy(p.vmid)) throw paramError({ vmid: "property is missing" });
}

/** POST /nodes/{node}/vzdump: one 'vzdump' worker backing up this node's selected guests in turn. */
function vzdump(ctx: CallContext): string {
  const { params, sim, node } = ctx;
  const state = sim.state;
  if (params.stdout !== undefined && truthy(params.stdout)) throw paramError({ stdout: "option is only allowed on the command line interface." });
  verifyParameters(params, true);
  const all = truthy(params.all);
  const byNode = includedGuests(ctx);
  const local = [...(byNode.get(node.name) ?? []), ...(byNode.get("") ?? [])];
  const skipped = [...byNode.entries()].filter(([n]) => n !== node.name && n !== "").flatMap(([, ids]) => ids).sort((a, b) => a - b);
  // "silent exit if specified VMs run on other nodes"
  if (!local.length && !all) return "OK";
  const storeid = String(params.storage ?? "local");
  checkPrivileges(sim.access, ctx.authid ?? "", `/storage/${storeid}`, ["Datastore.AllocateSpace"]);
  const storage = state.storages.find((s) => s.id === storeid);
  if (!storage) throw die(`storage '${storeid}' does not exist`);

  const mode = String(params.mode ?? "snapshot");
  const compress = String(params.compress ?? "0");
  const started = epoch();
  const info = (msg: string): string => `INFO: ${msg}`;
  const log: string[] = [info(`starting new backup job: ${commandLine(params)}`)];
  if (skipped.length) log.push(info(`skip external VMs: ${skipped.join(", ")}`));
  const planned: Array<{ vmid: number; g?: SimGuest; error?: string; volid?: string; format?: string }> = [];
  for (const vmid of local) {
    const g = state.guests.get(vmid);
    if (!g) {
      planned.push({ vmid, error: `unable to find VM '${vmid}'` });
      continue;
    }
    const locked = lockError(g);
    if (locked || !storage.content.includes("backup")) {
      planned.push({ vmid, g, error: locked ?? `can't use storage '${storeid}' for backups - wrong content type` });
      continue;
    }
    const { volid, format } = backupVolid(storeid, g.type, vmid, started, compress);
    planned.push({ vmid, g, volid, format });
  }
  const steps = Math.max(2, Math.min(6, Math.round(8 / Math.max(1, planned.length))));
  for (const p of planned) {
    if (!p.g) continue;
    const g = p.g;
    const label = g.type === "qemu" ? "qemu" : "lxc";
    log.push(info(`Starting Backup of VM ${p.vmid} (${label})`), info(`Backup started at ${new Date(started * 1000).toISOString().replace("T", " ").slice(0, 19)}`),
      info(`status = ${g.running ? "running" : "stopped"}`));
    if (p.error) continue;
    if (g.type === "qemu") {
      log.push(info(`VM Name: ${g.config.name ?? ""}`));
      for (const [k, v] of Object.entries(g.config)) {
        if (isDiskKey("qemu", k) && !/^unused/.test(k) && !/media=cdrom/.test(v)) log.push(info(`include disk '${k}' '${volumeOf(v)}' ${/size=([^,]+)/.exec(v)?.[1] ?? ""}`));
      }
    } else {
      log.push(info(`CT Name: ${g.config.hostname ?? ""}`), info(`including mount point rootfs ('/') in backup`));
    }
    const effectiveMode = g.running ? mode : "stop";
    log.push(info(`backup mode: ${effectiveMode}`), info("ionice priority: 7"));
    if (effectiveMode === "stop" && g.running) log.push(info("stopping virtual guest"));
    log.push(info(`creating vzdump archive '${volumePath(storage, p.volid!.slice(storeid.length + 1))}'`));
    if (g.type === "qemu") log.push(info(`started backup task '${randomUUID()}'`));
    log.push(...progressLines(g, steps));
  }

  const upid = forkWorker(ctx, "vzdump", local.length === 1 ? String(local[0]) : "", () => {
    const lines: string[] = [];
    let errors = 0;
    for (const p of planned) {
      if (p.error) {
        errors++;
        lines.push(`ERROR: Backup of VM ${p.vmid} failed - ${p.error}`);
        continue;
      }
      const g = p.g!;
      const disks = Math.max(guestDiskBytes(g.config), GiB);
      const size = Math.round(disks * 0.21);
      state.volumes.push({
        volid: p.volid!, storage: storeid, ...(storage.shared ? {} : { node: node.name }), content: "backup", format: p.format!, size, ctime: started,
        vmid: p.vmid, subtype: g.type, config: { ...g.config }, notes: notesFrom(params["notes-template"] as string | undefined, g, node.name, state.clusterName),
        ...(truthy(params.protected) ? { protected: true } : {}),
      });
      lines.push(info(`backup is sparse: ${(disks * 0.55 / GiB).toFixed(2)} GiB (55%) total zero data`), info(`transferred ${(disks / GiB).toFixed(2)} GiB in 12 seconds (${(disks / GiB / 12).toFixed(1)} GiB/s)`),
        info(`archive file size: ${(size / 1e9).toFixed(2)}GB`));
      if (params["notes-template"]) lines.push(info("adding notes to backup"));
      if (truthy(params.protected)) lines.push(info("marking backup as protected"));
      lines.push(info(`Finished Backup of VM ${p.vmid} (00:00:12)`), info(`Backup finished at ${new Date().toISOString().replace("T", " ").slice(0, 19)}`));
    }
    lines.push(info(errors ? "Backup job finished with errors" : "Backup job finished successfully"));
    if (errors) throw new TaskFailure("job errors", lines);
    return lines;
  }, { log, locks: planned.filter((p) => p.g && !p.error).map((p) => ({ guest: p.g!, lock: "backup" })) });
  return upid;
}

/** Next run of a simple calendar event ("02:00", "sat 04:30"), in UTC like the nodes. */
function nextRun(schedule: string, now: number): number | undefined {
  const m = /^(?:(mon|tue|wed|thu|fri|sat|sun)\s+)?(\d{1,2}):(\d{2})$/.exec(schedule.trim());
  if (!m) return undefined;
  const days = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
  for (let d = 0; d <= 7; d++) {
    const day = new Date((now + d * 86400) * 1000);
    const t = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), Number(m[2]), Number(m[3])) / 1000;
    if (t <= now) continue;
    if (m[1] && days[new Date(t * 1000).getUTCDay()] !== m[1]) continue;
    return t;
  }
  return undefined;
}

function listJobs(ctx: CallContext): unknown[] {
  const now = epoch();
  return ctx.sim.state.backupJobs.map((job) => {
    const next = nextRun(job.schedule, now);
    return { ...decodeJob(job), ...(next !== undefined ? { "next-run": next } : {}) };
  });
}

function readJob(ctx: CallContext): unknown {
  const job = ctx.sim.state.backupJobs.find((j) => j.id === ctx.params.id);
  if (!job) throw paramError({ id: `No such job '${ctx.params.id}'` });
  return decodeJob(job);
}

const ALL_DAYS = "mon,tue,wed,thu,fri,sat,sun";

/** The job options of a create or update call, typed as jobs.cfg keeps them (booleans 1/0). */
function jobOptions(ctx: CallContext): Record<string, string | number> {
  const schema = (ctx.endpoint.parameters.properties ?? {}) as Record<string, { type?: string }>;
  const out: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(ctx.params)) {
    if (key === "id" || key === "delete" || value === undefined) continue;
    const type = schema[key]?.type;
    out[key] = type === "boolean" ? (truthy(value) ? 1 : 0) : type === "integer" ? Number(value) : String(value);
  }
  return out;
}

/** $schedule_param_check: the deprecated starttime and dow become a schedule. */
function scheduleCheck(opts: Record<string, string | number>, required: boolean): void {
  if (opts.schedule !== undefined) {
    if (opts.starttime !== undefined) throw paramError({ starttime: "'starttime' and 'schedule' cannot both be set" });
  } else if (opts.starttime === undefined) {
    if (required) throw paramError({ schedule: "neither 'starttime' nor 'schedule' were set" });
  } else {
    const dow = opts.dow === undefined ? undefined : splitList(String(opts.dow)).join(",");
    opts.schedule = !dow || dow === ALL_DAYS ? String(opts.starttime) : `${dow} ${opts.starttime}`;
  }
  delete opts.starttime;
  delete opts.dow;
}

/** assert_param_permission_common/_create/_update: what only root@pam may set, and the storage a job writes to. */
function checkJobPermissions(ctx: CallContext, opts: Record<string, unknown>, storage: string | undefined): void {
  const authid = ctx.authid ?? "";
  if (authid === "root@pam") return;
  for (const key of ["tmpdir", "dumpdir", "script", "job-id"]) if (opts[key] !== undefined) throw paramError({ [key]: "Only root may set this option." });
  if (storage !== undefined) checkPrivileges(ctx.sim.access, authid, `/storage/${storage}`, ["Datastore.Allocate"]);
}

/** A pool selection: the pool must exist and the caller may back up its guests. */
function checkPool(ctx: CallContext, pool: unknown): void {
  if (pool === undefined) return;
  if (!poolsOf(ctx.sim.state).some((p) => p.poolid === String(pool))) throw permError(`pool '${pool}' does not exist`);
  checkPrivileges(ctx.sim.access, ctx.authid ?? "", `/pool/${pool}`, ["VM.Backup"]);
}

/** POST /cluster/backup (PVE::API2::Backup create_job). Without an id PVE makes up a UUID and does not say which. */
function createJob(ctx: CallContext): null {
  const opts = jobOptions(ctx);
  checkJobPermissions(ctx, opts, opts.dumpdir === undefined ? String(opts.storage ?? "local") : undefined);
  checkPool(ctx, opts.pool);
  scheduleCheck(opts, true);
  if (opts.enabled === undefined) opts.enabled = 1;
  const id = ctx.params.id === undefined ? randomUUID() : String(ctx.params.id);
  const jobs = ctx.sim.state.backupJobs;
  if (jobs.some((j) => j.id === id)) throw die(`Job '${id}' already exists`);
  verifyParameters(opts, true);
  jobs.push({ ...opts, id, type: "vzdump", schedule: String(opts.schedule), enabled: Number(opts.enabled) });
  return null;
}

/** PUT /cluster/backup/{id} (update_job): set and delete options; a new selection replaces the old one. */
function updateJob(ctx: CallContext): null {
  const id = String(ctx.params.id);
  const opts = jobOptions(ctx);
  const deleted = ctx.params.delete === undefined ? [] : splitList(String(ctx.params.delete));
  checkJobPermissions(ctx, opts, opts.storage === undefined ? (deleted.includes("storage") ? "local" : undefined) : String(opts.storage));
  checkPool(ctx, opts.pool);
  scheduleCheck(opts, false);
  if (!Object.keys(opts).length && !deleted.length) throw die("no options specified");
  verifyParameters(opts, false);
  const job = ctx.sim.state.backupJobs.find((j) => j.id === id);
  if (!job) throw die("no such vzdump job");
  if (job.dumpdir !== undefined && ctx.authid !== "root@pam") throw die("only root@pam may edit jobs with a 'dumpdir' option.");
  checkJobPermissions(ctx, {}, String(job.storage ?? "local"));
  const vzdumpOptions = ctx.sim.catalog.byTemplate("POST", "/nodes/{node}/vzdump")?.parameters.properties as Record<string, unknown>;
  for (const key of deleted) {
    const isOption = Object.hasOwn(vzdumpOptions, key) && key !== "job-id" && key !== "stdout";
    if (!isOption && key !== "comment" && key !== "repeat-missed") throw paramError({ delete: `unknown option '${key}'` });
    delete job[key];
  }
  Object.assign(job, opts);
  if (job.exclude !== undefined && job.pool === undefined) job.all = 1;
  const drop = (...keys: string[]) => keys.forEach((k) => delete job[k]);
  if (opts.vmid !== undefined) drop("all", "exclude", "pool");
  else if (truthy(opts.all)) drop("vmid", "pool");
  else if (truthy(job.pool)) drop("vmid", "all", "exclude");
  verifyParameters(job, true);
  return null;
}

/** DELETE /cluster/backup/{id}: the job goes; its backups stay on their storages. */
function deleteJob(ctx: CallContext): null {
  const id = String(ctx.params.id);
  const jobs = ctx.sim.state.backupJobs;
  if (!jobs.some((j) => j.id === id)) throw paramError({ id: `No such job '${id}'` });
  ctx.sim.state.backupJobs = jobs.filter((j) => j.id !== id);
  return null;
}

export const backupRoutes: RouteTable = {
  "POST /nodes/{node}/vzdump": vzdump,
  "GET /cluster/backup": listJobs,
  "POST /cluster/backup": createJob,
  "GET /cluster/backup/{id}": readJob,
  "PUT /cluster/backup/{id}": updateJob,
  "DELETE /cluster/backup/{id}": deleteJob,
};

