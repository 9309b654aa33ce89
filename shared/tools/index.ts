import type { ToolDefinition } from "../tool.ts";
import { clusterStatus } from "./cluster.ts";
import { auditRead, guestExec, hostExec, nodeExec } from "./exec.ts";
import { guestList, guestPower, guestStatus, guestStop } from "./guests.ts";
import { nodeList, nodeStatus } from "./nodes.ts";

/** Every tool the agent can offer, in the order clients list them. */
export const toolDefinitions: ToolDefinition[] = [clusterStatus, nodeList, nodeStatus, guestList, guestStatus, guestPower, guestStop, hostExec, nodeExec, guestExec, auditRead];
