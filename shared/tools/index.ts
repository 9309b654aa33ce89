import type { ToolDefinition } from "../tool.ts";
import { clusterStatus } from "./cluster.ts";
import { auditRead, guestExec, hostExec, nodeExec } from "./exec.ts";
import { backupInfo, backupRestore, backupRun } from "./backups.ts";
import {
  guestClone, guestCloudinit, guestConfigUpdate, guestConsole, guestCreate, guestDelete, guestDisk, guestInfo, guestList, guestMigrate, guestNetwork,
  guestPool, guestPower, guestStatus, guestStop, guestTemplate,
} from "./guests.ts";
import { nodeList, nodeStatus } from "./nodes.ts";
import { snapshotCreate, snapshotDelete, snapshotRollback } from "./snapshots.ts";
import { storageDeleteVolume, storageDownload, storageInfo } from "./storage.ts";
import { taskInfo, taskStop } from "./tasks.ts";

/** Every tool the agent can offer, in the order clients list them. */
export const toolDefinitions: ToolDefinition[] = [clusterStatus, nodeList, nodeStatus, guestList, guestStatus, guestPower, guestStop,
  guestInfo, guestConfigUpdate, guestCreate, guestClone, guestTemplate, guestDelete, guestMigrate, guestDisk, guestNetwork, guestCloudinit, guestPool, guestConsole,
  snapshotCreate, snapshotRollback, snapshotDelete, backupInfo, backupRun, backupRestore, storageInfo, storageDownload, storageDeleteVolume, taskInfo, taskStop,
  hostExec, nodeExec, guestExec, auditRead];
