/**
 * Every API method the simulator implements. Other methods of the PVE schema still get their
 * parameters validated and permission checks, then answer 501 "... not simulated".
 */
import type { RouteTable } from "../context.ts";
import { accessRoutes } from "./access.ts";
import { clusterRoutes } from "./cluster.ts";
import { guestRoutes } from "./guests.ts";
import { nodeRoutes } from "./nodes.ts";
import { taskRoutes } from "./tasks.ts";

export const routes: RouteTable = { ...accessRoutes, ...clusterRoutes, ...nodeRoutes, ...guestRoutes, ...taskRoutes };
