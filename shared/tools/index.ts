import type { ToolDefinition } from "../tool.ts";
import { accessInfo } from "./access.ts";
import { pveApiCall, pveApiGet } from "./api.ts";
import { clusterInfo, clusterStatus } from "./cluster.ts";
import { diagnose } from "./diagnostics.ts";
import { auditRead, guestExec, hostExec, nodeExec } from "./exec.ts";
import { backupInfo, backupJob, backupRestore, backupRun } from "./backups.ts";
import {
  guestClone, guestCloudinit, guestConfigUpdate, guestConsole, guestCreate, guestDelete, guestDisk, guestInfo, guestList, guestMigrate, guestNetwork,
  guestPool, guestPower, guestStatus, guestStop, guestTemplate, pool,
} from "./guests.ts";
import { firewallInfo, firewallRuleAdd, firewallRuleDelete } from "./firewall.ts";
import { guestAgentFileWrite, guestAgentFs, guestAgentInfo } from "./guest-agent.ts";
import { haInfo, haResource, replicationJob } from "./ha.ts";
import { nodeInfo, nodeList, nodeService, nodeStatus } from "./nodes.ts";
import { pbsInfo, pbsPrune, pbsVerify } from "./pbs.ts";
import { snapshotCreate, snapshotDelete, snapshotRollback } from "./snapshots.ts";
import { storageDeleteVolume, storageDownload, storageInfo } from "./storage.ts";
import { taskInfo, taskStop } from "./tasks.ts";

/** Every tool the agent can offer, in the order clients list them. */
export const toolDefinitions: ToolDefinition[] = [clusterStatus, nodeList, nodeStatus, guestList, guestStatus, guestPower, guestStop,
  guestInfo, guestConfigUpdate, guestCreate, guestClone, guestTemplate, guestDelete, guestMigrate, guestDisk, guestNetwork, guestCloudinit, guestPool, pool, guestConsole,
  snapshotCreate, snapshotRollback, snapshotDelete, backupInfo, backupRun, backupRestore, backupJob, storageInfo, storageDownload, storageDeleteVolume, taskInfo, taskStop,
  hostExec, nodeExec, guestExec, auditRead,
  clusterInfo, nodeInfo, nodeService, haInfo, haResource, replicationJob, firewallInfo, firewallRuleAdd, firewallRuleDelete, accessInfo, guestAgentInfo, guestAgentFileWrite, guestAgentFs,
  pbsInfo, pbsVerify, pbsPrune, diagnose, pveApiGet, pveApiCall];
