/**
 * /cluster/ha/* and the replication calls, after pve-ha-manager src/PVE/API2/HA/{Resources,Rules,
 * Groups,Status}.pm and pve-manager PVE/API2/ReplicationConfig.pm + PVE/API2/Replication.pm.
 */
import { createHash } from "node:crypto";
import type { CallContext, Handler, RouteTable } from "../context.ts";
import { die } from "../errors.ts";
import { enforceState, haOf, queueMove, sidVmid, type HaResource, type HaState, type ReplicationJob } from "../ha.ts";
import { hasPrivileges } from "../permissions.ts";
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
  return haOf(ctx.sim.state).replication.filter(
    (j) => ctx.authid !== undefined && hasPrivileges(ctx.sim.access, ctx.authid, `/vms/${j.guest}`, ["VM.Audit"]),
  );
}

function jobConfig(ctx: CallContext, j: ReplicationJob): Record<string, unknown> {
  const g = ctx.sim.state.guests.get(j.guest);
  return { id: j.id, type: "local", guest: j.guest, jobnum: j.jobnum, target: j.target, schedule: j.schedule, ...(g ? { source: g.node } : {}), ...(j.comment ? { comment: j.comment } : {}) };
}

/** PVE::ReplicationState::job_status: the config plus the state of the last run and the next one. */
function jobStatus(ctx: CallContext, j: ReplicationJob): Record<string, unknown> {
  const g = ctx.sim.state.guests.get(j.guest);
  const interval = Number(/^\*\/(\d+)$/.exec(j.schedule)?.[1] ?? 15) * 60;
  const base = j.failCount ? j.lastTry + Math.min(1800, 300 * 2 ** (j.failCount - 1)) : j.lastSync + interval;
  return {
    ...jobConfig(ctx, j),
    vmtype: g?.type ?? "qemu",
    last_sync: j.lastSync,
    last_try: j.lastTry,
    next_sync: base,
    duration: j.duration,
    fail_count: j.failCount,
    ...(j.error ? { error: j.error } : {}),
  };
}

function nodeReplication(ctx: CallContext): unknown[] {
  return visibleJobs(ctx)
    .filter((j) => ctx.sim.state.guests.get(j.guest)?.node === ctx.node.name)
    .filter((j) => ctx.params.guest === undefined || j.guest === Number(ctx.params.guest))
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((j) => jobStatus(ctx, j));
}

function findJob(ctx: CallContext): ReplicationJob {
  const job = visibleJobs(ctx).find((j) => j.id === ctx.params.id);
  if (!job) throw die(`replication job '${ctx.params.id}' does not exist`);
  return job;
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
  "GET /cluster/replication/{id}": (ctx) => ({ ...jobConfig(ctx, findJob(ctx)), digest: digestOf(haOf(ctx.sim.state).replication) }),
  "GET /nodes/{node}/replication": nodeReplication,
  "GET /nodes/{node}/replication/{id}/status": (ctx) => jobStatus(ctx, findJob(ctx)),
};
