/**
 * /cluster/ha/* and the replication calls, after pve-ha-manager src/PVE/API2/HA/{Resources,Rules,
 * Groups,Status}.pm and pve-manager PVE/API2/ReplicationConfig.pm + PVE/API2/Replication.pm.
 */
import { createHash } from "node:crypto";
import type { CallContext, Handler, RouteTable } from "../context.ts";
import { die } from "../errors.ts";
import { haOf, sidVmid, type ReplicationJob } from "../ha.ts";
import { hasPrivileges } from "../permissions.ts";
import { epoch, findNode, isQuorate } from "../state.ts";

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

function readResource({ sim, params }: CallContext): unknown {
  const sid = String(params.sid);
  const resources = haOf(sim.state).resources;
  // PVE::HA::Config::parse_sid: "vm:100", "ct:201", or a bare vmid of either type.
  if (!/^((vm|ct):)?\d+$/.test(sid)) throw die(`unable to parse service id '${sid}'`);
  const found = resources.find((r) => r.sid === sid || (/^\d+$/.test(sid) && sidVmid(r.sid) === Number(sid)));
  if (!found) throw die(`no such resource '${sid}'`);
  return { ...found, type: found.sid.split(":")[0], digest: digestOf(resources) };
}

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
  for (const node of state.nodes) {
    const ts = heartbeat(node.name);
    const active = model.resources.some((r) => serviceNode(r.sid) === node.name);
    const status = liveness(ts) === "active" ? (active ? "active" : "idle") : liveness(ts);
    out.push({ id: `lrm:${node.name}`, type: "lrm", node: node.name, status: `${node.name} (${status}, ${perlLocaltime(ts)})`, timestamp: ts });
  }
  for (const r of [...model.resources].sort((a, b) => (a.sid < b.sid ? -1 : 1))) {
    const node = serviceNode(r.sid);
    const online = findNode(state, node)?.online ?? false;
    const crmState = !online && r.state === "started" ? "fence" : r.state === "disabled" ? "stopped" : r.state;
    out.push({
      id: `service:${r.sid}`,
      type: "service",
      sid: r.sid,
      node,
      state: crmState,
      crm_state: crmState,
      request_state: r.state,
      status: `${r.sid} (${node}, ${crmState})`,
      max_restart: r.max_restart,
      max_relocate: r.max_relocate,
      failback: r.failback,
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
  "GET /cluster/ha/groups": ({ sim }) => haOf(sim.state).groups,
  "GET /cluster/ha/rules": listRules,
  "GET /cluster/ha/status": index(["current", "manager_status"]),
  "GET /cluster/ha/status/current": currentStatus,
  "GET /cluster/replication": (ctx) => visibleJobs(ctx).map((j) => jobConfig(ctx, j)),
  "GET /cluster/replication/{id}": (ctx) => ({ ...jobConfig(ctx, findJob(ctx)), digest: digestOf(haOf(ctx.sim.state).replication) }),
  "GET /nodes/{node}/replication": nodeReplication,
  "GET /nodes/{node}/replication/{id}/status": (ctx) => jobStatus(ctx, findJob(ctx)),
};
