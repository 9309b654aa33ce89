/**
 * Every API method the simulator implements. Other methods of the PVE schema still get their
 * parameters validated and permission checks, then answer 501 "... not simulated".
 */
import type { RouteTable } from "../context.ts";
import { accessRoutes } from "./access.ts";
import { accessWriteRoutes } from "./access-write.ts";
import { clusterRoutes } from "./cluster.ts";
import { clusterInfoRoutes } from "./cluster-info.ts";
import { clusterTaskRoutes } from "./cluster-tasks.ts";
import { guestAgentExecRoutes } from "./guest-agent-exec.ts";
import { firewallRoutes } from "./firewall.ts";
import { guestAgentRoutes } from "./guest-agent.ts";
import { backupRoutes } from "./backups.ts";
import { guestConfigRoutes } from "./guest-config.ts";
import { guestLifecycleRoutes } from "./guest-lifecycle.ts";
import { guestRoutes } from "./guests.ts";
import { haRoutes } from "./ha.ts";
import { nodeSystemRoutes } from "./node-system.ts";
import { nodeRoutes } from "./nodes.ts";
import { poolRoutes } from "./pools.ts";
import { snapshotRoutes } from "./snapshots.ts";
import { storageContentRoutes } from "./storage-content.ts";
import { taskRoutes } from "./tasks.ts";

export const routes: RouteTable = { ...accessRoutes, ...accessWriteRoutes, ...clusterRoutes, ...clusterTaskRoutes, ...guestAgentExecRoutes, ...nodeRoutes, ...guestRoutes, ...taskRoutes, ...clusterInfoRoutes, ...nodeSystemRoutes, ...haRoutes, ...firewallRoutes, ...guestAgentRoutes,
  ...guestConfigRoutes, ...guestLifecycleRoutes, ...snapshotRoutes, ...storageContentRoutes, ...backupRoutes, ...poolRoutes };
