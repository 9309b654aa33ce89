import type { AgentTool } from "./registry.ts";
import { clusterTools } from "./cluster.ts";
import { execTools } from "./exec.ts";
import { backupTools } from "./backups.ts";
import { guestTools } from "./guests.ts";
import { nodeTools } from "./nodes.ts";
import { snapshotTools } from "./snapshots.ts";
import { storageTools } from "./storage.ts";
import { taskTools } from "./tasks.ts";

/** Every tool this agent implements, keyed by name. */
export function agentTools(): Map<string, AgentTool> {
  const all = [...clusterTools, ...nodeTools, ...guestTools, ...snapshotTools, ...backupTools, ...storageTools, ...taskTools, ...execTools];
  return new Map(all.map((t) => [t.def.name, t]));
}
