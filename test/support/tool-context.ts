import type { PveClient } from "../../agent/pve.ts";
import type { ToolContext } from "../../agent/tools/registry.ts";
import { createLogger } from "../../shared/log.ts";

/** A handler context outside the agent, for running one tool in-process against another PVE client (another token, pin or port). */
export function toolContext(pve: PveClient): ToolContext {
  return {
    callId: "in-process",
    principal: { sub: "test", scopes: ["proxmox:read"] },
    signal: new AbortController().signal,
    deadline: Date.now() + 30_000,
    pve,
    log: createLogger("test", "error", () => undefined),
    progress: () => undefined,
    note: () => undefined,
  };
}
