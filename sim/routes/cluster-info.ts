/**
 * The cluster log, Ceph status and resource pools, after pve-manager PVE/API2/Cluster.pm (log),
 * PVE/API2/Cluster/Ceph.pm + PVE/Ceph/Tools.pm (check_ceph_inited) and pve-access-control
 * PVE/API2/Pool.pm. The simulated cluster has no Ceph installed, so every Ceph call fails the way
 * PVE fails on such a node.
 */
import type { CallContext, RouteTable } from "../context.ts";
import { die } from "../errors.ts";
import { hasPrivileges } from "../permissions.ts";
import { poolsOf } from "../pools.ts";
import { storageEntry, vmEntry } from "../resources.ts";
import { epoch, findNode } from "../state.ts";

interface LogEntry {
  time: number;
  pri: number;
  tag: string;
  pid: number;
  node: string;
  user: string;
  msg: string;
}

/** Messages pmxcfs collects from every node: logins and the start and end of every task. */
function clusterLog(ctx: CallContext): LogEntry[] {
  const { state, tasks } = ctx.sim;
  const now = epoch();
  const entries: LogEntry[] = [
    { time: now - 7200, pri: 6, tag: "pvedaemon", pid: 1187, node: "pve1", user: "root@pam", msg: "<root@pam> successful auth for user 'root@pam'" },
    { time: now - 5400, pri: 3, tag: "pvedaemon", pid: 1188, node: "pve1", user: "root@pam", msg: "authentication failure; rhost=::ffff:10.0.0.77 user=admin@pam msg=no such user ('admin@pam')" },
    { time: now - 3600, pri: 6, tag: "pvescheduler", pid: 2201, node: "pve2", user: "root@pam", msg: "<root@pam> starting task UPID:pve2:000089AB:0A1B2C3D:00000000:vzdump::root@pam:" },
    { time: now - 3400, pri: 3, tag: "pvescheduler", pid: 2201, node: "pve1", user: "root@pam", msg: "100-0: got unexpected replication job error - missing replicate feature on volume 'local-lvm:vm-100-disk-0'" },
    { time: now - 1800, pri: 5, tag: "corosync", pid: 987, node: "pve3", user: "root@pam", msg: "[KNET  ] link: host: 1 link: 0 is up" },
  ];
  for (const t of tasks.all()) {
    entries.push({ time: t.starttime, pri: 6, tag: "pvedaemon", pid: t.pid, node: t.node, user: t.user, msg: `<${t.user}> starting task ${t.upid}` });
    if (t.status === "stopped") {
      entries.push({ time: t.endtime ?? t.starttime, pri: 6, tag: "pvedaemon", pid: t.pid, node: t.node, user: t.user, msg: `<${t.user}> end task ${t.upid} ${t.exitstatus}` });
    }
  }
  return entries.filter((e) => findNode(state, e.node) !== undefined);
}

/** GET /cluster/log: newest first; without Sys.Syslog on / a caller sees only its own entries. */
function readLog(ctx: CallContext): unknown[] {
  const authid = ctx.authid ?? "";
  const admin = hasPrivileges(ctx.sim.access, authid, "/", ["Sys.Syslog"]);
  const max = ctx.params.max === undefined ? 50 : Number(ctx.params.max);
  return clusterLog(ctx)
    .filter((e) => admin || e.user === authid)
    .sort((a, b) => b.time - a.time)
    .slice(0, max)
    .map((e, i) => ({ uid: 1000 + i, ...e, id: `${1000 + i}:${e.node}` }));
}

/** PVE::Ceph::Tools::check_ceph_inited on a node without the ceph packages. */
function noCeph(): never {
  throw die("binary not installed: /usr/bin/ceph-mon");
}

/** GET /pools: pools with Pool.Audit; members only for one pool (backward compatibility in PVE). */
function listPools(ctx: CallContext): unknown[] {
  const { sim, params, authid } = ctx;
  const visible = poolsOf(sim.state).filter((p) => authid !== undefined && hasPrivileges(sim.access, authid, `/pool/${p.poolid}`, ["Pool.Audit"]));
  if (params.poolid === undefined) return visible.map((p) => ({ poolid: p.poolid, ...(p.comment ? { comment: p.comment } : {}) }));
  const pool = visible.find((p) => p.poolid === params.poolid);
  if (!pool) throw die(`pool '${params.poolid}' does not exist`);
  return [poolDetails(ctx, pool.poolid, params.type as string | undefined)];
}

function poolDetails(ctx: CallContext, poolid: string, type?: string): Record<string, unknown> {
  const { state } = ctx.sim;
  const pool = poolsOf(state).find((p) => p.poolid === poolid);
  if (!pool) throw die(`pool '${poolid}' does not exist`);
  const now = epoch();
  const members: unknown[] = [];
  for (const vmid of pool.vmids) {
    const g = state.guests.get(vmid);
    if (g && (!type || type === g.type)) members.push(vmEntry(state, g, now));
  }
  if (!type || type === "storage") {
    for (const id of pool.storages) {
      const s = state.storages.find((x) => x.id === id);
      if (s) for (const n of state.nodes) members.push(storageEntry(state, s, n));
    }
  }
  return { poolid, ...(pool.comment ? { comment: pool.comment } : {}), members };
}

export const clusterInfoRoutes: RouteTable = {
  "GET /cluster/log": readLog,
  "GET /cluster/ceph/status": noCeph,
  "GET /cluster/ceph/metadata": noCeph,
  "GET /cluster/ceph/flags": noCeph,
  "GET /nodes/{node}/ceph/status": noCeph,
  "GET /pools": listPools,
  "GET /pools/{poolid}": (ctx) => poolDetails(ctx, String(ctx.params.poolid), ctx.params.type as string | undefined),
};
