/**
 * GET /cluster/tasks, after pve-manager PVE/API2/Cluster.pm: the cluster-wide list of recent tasks
 * (pmxcfs "tasklist"), newest first; a running task has no endtime and no status yet.
 */
import type { CallContext, RouteTable } from "../context.ts";
import { hasPrivileges } from "../permissions.ts";

function clusterTasks({ sim, authid }: CallContext): unknown[] {
  const visible = (node: string) => authid !== undefined && hasPrivileges(sim.access, authid, `/nodes/${node}`, ["Sys.Audit"]);
  return [...sim.tasks.all()]
    .filter((t) => visible(t.node))
    .reverse()
    .map(({ upid, node, pid, pstart, starttime, type, id, user, status, endtime, exitstatus }) =>
      status === "running" ? { upid, node, pid, pstart, starttime, type, id, user } : { upid, node, pid, pstart, starttime, type, id, user, endtime, status: exitstatus, saved: "1" },
    );
}

export const clusterTaskRoutes: RouteTable = {
  "GET /cluster/tasks": clusterTasks,
};
