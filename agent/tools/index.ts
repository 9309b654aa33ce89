import type { AgentTool } from "./registry.ts";
import { accessTools } from "./access.ts";
import { apiTools } from "./api.ts";
import { clusterTools } from "./cluster.ts";
import { diagnosticTools } from "./diagnostics.ts";
import { execTools } from "./exec.ts";
import { backupTools } from "./backups.ts";
import { firewallTools } from "./firewall.ts";
import { guestAgentTools } from "./guest-agent.ts";
import { guestTools } from "./guests.ts";
import { haTools } from "./ha.ts";
import { nodeTools } from "./nodes.ts";
import { pbsTools } from "./pbs.ts";
import { replicationTools } from "./replication.ts";
import { snapshotTools } from "./snapshots.ts";
import { storageTools } from "./storage.ts";
import { taskTools } from "./tasks.ts";

/** Every tool this agent implements, keyed by name. */
export function agentTools(): Map<string, AgentTool> {
  const all = [...clusterTools, ...nodeTools, ...guestTools, ...snapshotTools, ...backupTools, ...storageTools, ...taskTools, ...execTools,
    ...haTools, ...replicationTools, ...firewallTools, ...accessTools, ...guestAgentTools, ...pbsTools, ...diagnosticTools, ...apiTools];
  return new Map(all.map((t) => [t.def.name, t]));
}
