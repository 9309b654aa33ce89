import type { AgentTool } from "./registry.ts";
import { clusterTools } from "./cluster.ts";
import { execTools } from "./exec.ts";
import { guestTools } from "./guests.ts";
import { nodeTools } from "./nodes.ts";

/** Every tool this agent implements, keyed by name. */
export function agentTools(): Map<string, AgentTool> {
  const all = [...clusterTools, ...nodeTools, ...guestTools, ...execTools];
  return new Map(all.map((t) => [t.def.name, t]));
}
