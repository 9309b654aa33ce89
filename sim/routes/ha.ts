/**
 * /cluster/ha/* and the replication calls, after pve-ha-manager src/PVE/API2/HA/{Resources,Rules,
 * Groups,Status}.pm and pve-manager PVE/API2/ReplicationConfig.pm + PVE/API2/Replication.pm.
 */
import { createHash } from "node:crypto";
import type { CallContext, Handler, RouteTable } from "../context.ts";
import { die, paramError, permError } from "../errors.ts";
import { enforceState, haOf, queueMove, replicatableVolumes, runSoon, sidVmid, type HaResource, type HaState, type ReplicationJob } from "../ha.ts";
import { checkPrivileges, hasPrivileges } from "../permissions.ts";
import { truthy } from "../../shared/pve-schema/schema.ts";
import { epoch, findNode, isQuorate, type SimState } from "../state.ts";

/** SectionConfig digest: the SHA-1 of the file text. */
function digestOf(value: unknown): string {
  return createHash("sha1").update(JSON.stringify(value)).digest("hex");
}

/** Perl's scalar localtime(), in UTC: "Sun Nov 23 09:00:00 2025". */
function perlLocaltime(epochSec: number): string {
  const d = new Date(epochSec * 1000);
  const [wd, mon] = [["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][d.getUTCDay()], d.toUTCString().split(" ")[2]];
  const time = d.toISOString().slice(11, 19);
  return `${wd} ${mon} ${String(d.getUTCDate()).padStart(2, " ")} ${time} ${d.getUTCFullYear()}`;
}

function listResources({ sim, params }: CallContext): unknown[] {
  const model = haOf(sim.state);
  const digest = digestOf(model.resources);
  return model.resources
    .map((r) => ({ ...r, type: r.sid.split(":")[0], digest }))
    .filter((r) => params.type === undefined || r.type === params.type);
}

/** PVE::HA::Config::parse_sid: "vm:100", "ct:201", or a bare vmid, which takes its guest's type. */
function parseSid(state: SimState, raw: string): { sid: string; type: string; name: string } {
  if (/^\d+$/.test(raw)) {
    const g = state.guests.get(Number(raw));
    if (!g) throw die(`unable to detect SID from VMID - VM/CT ${raw} does not exist`);
    const type = g.type === "qemu" ? "vm" : "ct";
    return { sid: `${type}:${raw}`, type, name: raw };
  }
  const m = /^(\S+):(\S+)$/.exec(raw);
  if (!m) throw die(`unable to parse service id '${raw}'`);
  return { sid: raw, type: m[1], name: m[2] };
}

function readResource({ sim, params }: CallContext): unknown {
  const { sid } = parseSid(sim.state, String(params.sid));
  const resources = haOf(sim.state).resources;
  const found = resources.find((r) => r.sid === sid);
  if (!found) throw die(`no such resource '${sid}'`);
  return { ...found, type: found.sid.split(":")[0], digest: digestOf(resources) };
}

const options = ["state", "max_restart", "max_relocate", "failback", "group", "comment"] as const;

/** The options of a create or update call, typed as resources.cfg keeps them ('enabled' is the old name of 'started'). */
function optionsOf(params: Record<string, unknown>): Partial<HaResource> {
  const out: Partial<HaResource> = {};
  if (params.state !== undefined) out.state = (params.state === "enabled" ? "started" : params.state) as HaState;
  for (const key of ["max_restart", "max_relocate"] as const) if (params[key] !== undefined) out[key] = Number(params[key]);
  if (params.failback !== undefined) out.failback = truthy(params.failback) ? 1 : 0;
  if (params.group !== undefined) out.group = String(params.group);
  if (params.comment !== undefined) out.comment = String(params.comment);
  return out;
}

/** PVE 9 refuses HA groups once it migrated them to rules (as the simulated cluster has). */
function checkGroup(ctx: CallContext): void {
  const group = ctx.params.group;
  if (group === undefined) return;
  const groups = haOf(ctx.sim.state).groups;
  if (!groups.length) throw die("invalid parameter 'group': ha groups have been migrated to rules");
  if (ctx.endpoint.method === "PUT" && !groups.some((g) => g.group === group)) throw die(`HA group '${String(group)}' does not exist`);
}

/** POST /cluster/ha/resources, after PVE::API2::HA::Resources->create and the VM/CT plugins' exists(). */
function createResource(ctx: CallContext): null {
  const { sim, params } = ctx;
  const state = sim.state;
  if (!isQuorate(state)) throw die("cluster not ready - no quorum?");
  const { sid, type, name } = parseSid(state, String(params.sid));
  if (params.type !== undefined && params.type !== type) throw die("types does not match");
  checkGroup(ctx);
  if (type !== "vm" && type !== "ct") throw die(`unknown section type '${type}'`);
  if (!/^[1-9][0-9]+$/.test(name)) throw die("invalid VMID");
  const g = state.guests.get(Number(name));
  if (!g) throw die(`resource '${sid}' does not exist in cluster`);
  if (type === "vm" && g.type !== "qemu") throw die(`resource '${sid}' - guest with ID ${name} is not a VM`);
  if (type === "ct" && g.type !== "lxc") throw die(`resource '${sid}' - guest with ID ${name} is not a container`);
  const model = haOf(state);
  if (model.resources.some((r) => r.sid === sid)) throw die(`create resource failed: resource ID '${sid}' already defined`);
  model.resources.push({ sid, ...optionsOf(params) });
  enforceState(sim, sid);
  return null;
}

/** PUT /cluster/ha/resources/{sid}: PVE::HA::Config::update_resources_config under the HA domain lock. */
function updateResource(ctx: CallContext): null {
  const { sim, params } = ctx;
  const { sid } = parseSid(sim.state, String(params.sid));
  checkGroup(ctx);
  const model = haOf(sim.state);
  const failed = (why: string) => die(`update resources config failed: ${why}`);
  if (params.digest !== undefined && params.digest !== digestOf(model.resources)) throw failed("detected modified configuration - file changed by other user? Try again.");
  const found = model.resources.find((r) => r.sid === sid);
  if (!found) throw failed(`no such resource '${sid}'`);
  const deleted = params.delete === undefined ? [] : String(params.delete).split(/[,;\s]+/).filter(Boolean);
  const unknown = deleted.find((k) => !(options as readonly string[]).includes(k));
  if (unknown) throw failed(`no such option '${unknown}'`);
  Object.assign(found, optionsOf(params));
  for (const key of deleted) delete found[key as (typeof options)[number]];
  enforceState(sim, sid);
  return null;
}

/** DELETE /cluster/ha/resources/{sid}: the guest is left as it is; with purge (the default) rules drop it too. */
function deleteResource({ sim, params }: CallContext): null {
  const { sid } = parseSid(sim.state, String(params.sid));
  const model = haOf(sim.state);
  if (!model.resources.some((r) => r.sid === sid)) throw die(`cannot delete service '${sid}', not HA managed!`);
  model.resources = model.resources.filter((r) => r.sid !== sid);
  if (params.purge === undefined || truthy(params.purge)) {
    for (const rule of model.rules) rule.resources = rule.resources.split(",").filter((r) => r !== sid).join(",");
    model.rules = model.rules.filter((r) => r.resources !== "");
  }
  return null;
}

/** POST .../migrate and .../relocate: queue a CRM command; PVE does not check the node, the CRM drops a bad one. */
const move = (cmd: "migrate" | "relocate"): Handler => ({ sim, params }) => {
  const { sid } = parseSid(sim.state, String(params.sid));
  const managed = haOf(sim.state).resources.find((r) => r.sid === sid);
  if (!managed || managed.state === "ignored") throw die(`resource '${sid}' is not HA managed`);
  const node = String(params.node);
  queueMove(sim, sid, cmd, node);
  return { sid, "requested-node": node };
};

function listRules({ sim, params }: CallContext): unknown[] {
  const model = haOf(sim.state);
  const digest = digestOf(model.rules);
  return model.rules
    .filter((r) => params.type === undefined || r.type === params.type)
    .filter((r) => params.resource === undefined || r.resources.split(",").includes(String(params.resource)))
    .map((r, order) => ({ ...r, order: order + 1, digest }));
}

/** The CRM's view: quorum, master, one LRM per node and one entry per service. */
function currentStatus({ sim }: CallContext): unknown[] {
  const { state } = sim;
  const model = haOf(state);
  const now = epoch();
  const local = state.localNode;
  const quorate = isQuorate(state);
  const out: Array<Record<string, unknown>> = [
    { id: "quorum", type: "quorum", node: local, status: quorate ? "OK" : `No quorum on node '${local}'!`, quorate: quorate ? 1 : 0 },
  ];
  const heartbeat = (node: string) => (findNode(state, node)?.online ? now - 3 : now - 900);
  const masterBeat = heartbeat(model.master);
  const liveness = (ts: number) => (now - ts > 60 ? "old timestamp - dead?" : "active");
  out.push({ id: "master", type: "master", node: model.master, status: `${model.master} (${liveness(masterBeat)}, ${perlLocaltime(masterBeat)})`, timestamp: masterBeat });
  const serviceNode = (sid: string) => state.guests.get(sidVmid(sid))?.node ?? "---";
  const requested = (r: HaResource) => r.state ?? "started";
  for (const node of state.nodes) {
    const ts = heartbeat(node.name);
    const active = model.resources.some((r) => serviceNode(r.sid) === node.name);
    const status = liveness(ts) === "active" ? (active ? "active" : "idle") : liveness(ts);
    out.push({ id: `lrm:${node.name}`, type: "lrm", node: node.name, status: `${node.name} (${status}, ${perlLocaltime(ts)})`, timestamp: ts });
  }
  for (const r of [...model.resources].sort((a, b) => (a.sid < b.sid ? -1 : 1))) {
    const node = serviceNode(r.sid);
    const online = findNode(state, node)?.online ?? false;
    const crmState = model.moving.get(r.sid)?.state ?? (!online && requested(r) === "started" ? "fence" : requested(r) === "disabled" ? "stopped" : requested(r));
    out.push({
      id: `service:${r.sid}`,
      type: "service",
      sid: r.sid,
      node,
      state: crmState,
      crm_state: crmState,
      request_state: requested(r),
      status: `${r.sid} (${node}, ${crmState})`,
      max_restart: r.max_restart ?? 1,
      max_relocate: r.max_relocate ?? 1,
      failback: r.failback ?? 1,
    });
  }
  return out;
}

/** Replication jobs the caller may see (VM.Audit on the guest), as in the replication.cfg index. */
function visibleJobs(ctx: CallContext): ReplicationJob[] {
  return haOf(ctx.sim.state).replication.filter((j) => canAudit(ctx, j));
}

function canAudit(ctx: CallContext, j: ReplicationJob): boolean {
  return ctx.authid !== undefined && hasPrivileges(ctx.sim.access, ctx.authid, `/vms/${j.guest}`, ["VM.Audit"]);
}

function jobConfig(ctx: CallContext, j: ReplicationJob): Record<string, unknown> {
  const g = ctx.sim.state.guests.get(j.guest);
  const options = { schedule: j.schedule, rate: j.rate, comment: j.comment, disable: j.disable ? 1 : undefined, remove_job: j.removeJob };
  return { id: j.id, type: "local", guest: j.guest, jobnum: j.jobnum, target: j.target, ...(g ? { source: g.node } : {}), ...defined(options) };
}

/** Options as replication.cfg holds them: only those that are set. */
function defined(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}

/** The next event of a "*\/N" schedule after `after` (PVE::CalendarEvent::compute_next_event); other schedules as every 15 minutes. */
function nextEvent(schedule: string | undefined, after: number): number {
  const interval = Number(/^\*\/(\d+)$/.exec(schedule ?? "*/15")?.[1] ?? 15) * 60;
  return after - (after % interval) + interval;
}

/** PVE::ReplicationState::job_status: the config plus the state of the last run and the next one. */
function jobStatus(ctx: CallContext, j: ReplicationJob): Record<string, unknown> {
  const { state } = ctx.sim;
  const g = state.guests.get(j.guest);
  const fc = j.failCount;
  const targetUp = findNode(state, j.target)?.online ?? false;
  const next = j.removeJob ? 1 : fc ? (targetUp ? j.lastTry + 60 * (fc <= 3 ? 5 * fc : 30) : 0) : nextEvent(j.schedule, j.lastTry);
  return {
    ...jobConfig(ctx, j),
    vmtype: g?.type ?? "qemu",
    last_sync: j.lastSync,
    last_try: j.lastTry,
    next_sync: next,
    fail_count: fc,
    ...(j.lastTry ? { duration: j.duration } : {}),
    ...(j.error ? { error: j.error } : {}),
    ...(j.pid ? { pid: j.pid } : {}),
  };
}

/** job_status(1) on a node: the jobs of the guests that run there, disabled ones included. */
function nodeJobs(ctx: CallContext): ReplicationJob[] {
  return haOf(ctx.sim.state).replication
    .filter((j) => ctx.sim.state.guests.get(j.guest)?.node === ctx.node.name)
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

function nodeReplication(ctx: CallContext): unknown[] {
  return nodeJobs(ctx)
    .filter((j) => ctx.params.guest === undefined || j.guest === Number(ctx.params.guest))
    .filter((j) => canAudit(ctx, j))
    .map((j) => jobStatus(ctx, j));
}

/** A job by id from `jobs`, then the caller's VM.Audit on its guest (raise_perm_exc), as read and job_status do. */
function readableJob(ctx: CallContext, jobs: ReplicationJob[]): ReplicationJob {
  const job = jobs.find((j) => j.id === ctx.params.id);
  if (!job) throw die(`no such replication job '${ctx.params.id}'`);
  if (!canAudit(ctx, job)) throw permError();
  return job;
}

/** PVE::ReplicationConfig::parse_replication_job_id, then the VM.Replicate check every write makes first. */
function writableJobId(ctx: CallContext): { id: string; guest: number; jobnum: number } {
  const id = String(ctx.params.id);
  const [guest, jobnum] = id.split("-").map(Number);
  checkPrivileges(ctx.sim.access, ctx.authid ?? "", `/vms/${guest}`, ["VM.Replicate"]);
  return { id, guest, jobnum };
}

/** POST /cluster/replication: PVE::API2::ReplicationConfig->create. */
function createJob(ctx: CallContext): null {
  const { sim, params } = ctx;
  const { state } = sim;
  const { id, guest, jobnum } = writableJobId(ctx);
  const g = state.guests.get(guest);
  if (!g) throw die(`Guest '${guest}' does not exist.`);
  const target = String(params.target);
  if (!findNode(state, target)) throw die(`Target '${target}' does not exist.`);
  if (params.source !== undefined && params.source !== g.node) throw die(`Source '${params.source}' does not match current node of guest '${guest}' (${g.node})`);
  if (target === g.node) throw die("Source and target must not be identical");
  try {
    if (!replicatableVolumes(state, g).length) throw new Error("No replicatable volumes found");
  } catch (err) {
    throw die((err as Error).message);
  }
  const model = haOf(state);
  if (model.replication.some((j) => j.id === id)) throw die(`replication job '${id}' already exists`);
  // PVE::ReplicationConfig::write_config: one job per guest and target.
  if (model.replication.some((j) => j.guest === guest && j.target === target)) throw die(`replication job for guest '${guest}' to target 'local/${target}' already exists`);
  const job: ReplicationJob = { id, guest, jobnum, target, lastSync: 0, lastTry: 0, duration: 0, failCount: 0 };
  Object.assign(job, jobOptions(params));
  model.replication.push(job);
  runSoon(state, id);
  return null;
}

/** The optional options of the 'local' plugin and where the model keeps them (source follows the guest here). */
const deletable: Record<string, keyof ReplicationJob | undefined> = { schedule: "schedule", rate: "rate", comment: "comment", disable: "disable", remove_job: "removeJob", source: undefined };

/** The options of a create or update call, typed as the model keeps them. */
function jobOptions(params: Record<string, unknown>): Partial<ReplicationJob> {
  const out: Partial<ReplicationJob> = {};
  if (params.schedule !== undefined) out.schedule = String(params.schedule);
  if (params.rate !== undefined) out.rate = Number(params.rate);
  if (params.comment !== undefined) out.comment = String(params.comment);
  if (params.disable !== undefined) out.disable = truthy(params.disable);
  if (params.remove_job !== undefined) out.removeJob = params.remove_job as "local" | "full";
  return out;
}

/** PUT /cluster/replication/{id}: options set, then the ones in `delete` removed. */
function updateJob(ctx: CallContext): null {
  const { sim, params } = ctx;
  const { id } = writableJobId(ctx);
  const model = haOf(sim.state);
  if (params.digest !== undefined && params.digest !== digestOf(model.replication)) throw die("detected modified configuration - file changed by other user? Try again.");
  const job = model.replication.find((j) => j.id === id);
  if (!job) throw die(`no such job '${id}'`);
  const wasDisabled = job.disable;
  Object.assign(job, jobOptions(params));
  for (const key of params.delete === undefined ? [] : String(params.delete).split(/[,;\s]+/).filter(Boolean)) {
    if (key === "target") throw die(`unable to delete required option '${key}'`);
    if (!(key in deletable)) throw die(`no such option '${key}'`);
    const field = deletable[key];
    if (field) delete job[field];
  }
  if (wasDisabled && !job.disable && (job.removeJob || !job.lastTry)) runSoon(sim.state, id);
  return null;
}

/** DELETE /cluster/replication/{id}: marks the job; its next run removes it (force: drops the entry, no cleanup). */
function deleteJob(ctx: CallContext): null {
  const { sim, params } = ctx;
  const { id } = writableJobId(ctx);
  const model = haOf(sim.state);
  if (truthy(params.force)) {
    if (truthy(params.keep)) throw paramError({ keep: "conflicts with parameter 'force'" });
    model.replication = model.replication.filter((j) => j.id !== id);
    return null;
  }
  const job = model.replication.find((j) => j.id === id);
  if (!job) throw die(`no such job '${id}'`);
  job.removeJob = truthy(params.keep) ? "local" : "full";
  runSoon(sim.state, id);
  return null;
}

/** POST .../schedule_now: PVE::ReplicationState::schedule_job_now sets last_try to 0 on the node that runs the guest. */
function scheduleNow(ctx: CallContext): null {
  const { id } = writableJobId(ctx);
  const job = haOf(ctx.sim.state).replication.find((j) => j.id === id);
  if (!job) throw die(`no such replication job '${id}'`);
  if (ctx.sim.state.guests.get(job.guest)?.node !== ctx.node.name) return null;
  job.lastTry = 0;
  runSoon(ctx.sim.state, id);
  return null;
}

const index = (names: string[], key = "name"): Handler => () => names.map((name) => ({ [key]: name }));

export const haRoutes: RouteTable = {
  "GET /cluster/ha": index(["status", "resources", "groups", "rules"], "id"),
  "GET /cluster/ha/resources": listResources,
  "GET /cluster/ha/resources/{sid}": readResource,
  "POST /cluster/ha/resources": createResource,
  "PUT /cluster/ha/resources/{sid}": updateResource,
  "DELETE /cluster/ha/resources/{sid}": deleteResource,
  "POST /cluster/ha/resources/{sid}/migrate": move("migrate"),
  "POST /cluster/ha/resources/{sid}/relocate": move("relocate"),
  "GET /cluster/ha/groups": ({ sim }) => haOf(sim.state).groups,
  "GET /cluster/ha/rules": listRules,
  "GET /cluster/ha/status": index(["current", "manager_status"]),
  "GET /cluster/ha/status/current": currentStatus,
  "GET /cluster/replication": (ctx) => visibleJobs(ctx).map((j) => jobConfig(ctx, j)),
  "POST /cluster/replication": createJob,
  "GET /cluster/replication/{id}": (ctx) => ({ ...jobConfig(ctx, readableJob(ctx, haOf(ctx.sim.state).replication)), digest: digestOf(haOf(ctx.sim.state).replication) }),
  "PUT /cluster/replication/{id}": updateJob,
  "DELETE /cluster/replication/{id}": deleteJob,
  "GET /nodes/{node}/replication": nodeReplication,
  "GET /nodes/{node}/replication/{id}/status": (ctx) => jobStatus(ctx, readableJob(ctx, nodeJobs(ctx))),
  "POST /nodes/{node}/replication/{id}/schedule_now": scheduleNow,
};
