import type { z } from "zod";
import { ToolError, formatZodError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import type { Principal, ToolResult } from "../../shared/protocol.ts";
import type { ToolDefinition } from "../../shared/tool.ts";
import type { ExecRuntime } from "../exec/runtime.ts";
import type { PbsClients } from "../pbs.ts";
import type { PveClient } from "../pve.ts";

/** What a handler gets besides its arguments. */
export interface ToolContext {
  callId: string;
  principal: Principal;
  signal: AbortSignal;
  /** Epoch ms (agent clock) after which nobody waits for the answer. */
  deadline: number;
  pve: PveClient;
  log: Logger;
  /** Host commands, when enabled in the agent config. */
  exec?: ExecRuntime;
  /** Proxmox Backup Servers of the agent config (pbs_* tools); absent in contexts without them. */
  pbs?: PbsClients;
  progress(progress: number, total?: number, message?: string): void;
  /** Records a fact about a mutating call (e.g. the PVE task it started) in the call journal. */
  note(facts: Record<string, unknown>): void;
}

export interface AgentTool {
  def: ToolDefinition;
  run(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult>;
}

type Handler<D extends ToolDefinition> = (args: z.output<D["input"]>, ctx: ToolContext) => Promise<z.input<D["output"]>>;

/**
 * Binds a handler to its definition: arguments are validated (unknown keys are dropped, since clients
 * such as n8n add their own), and the result is checked against the output schema the client was promised.
 */
export function implement<D extends ToolDefinition>(def: D, handler: Handler<D>, render?: (out: z.output<D["output"]>) => string): AgentTool {
  return {
    def,
    async run(rawArgs, ctx) {
      const args = def.input.safeParse(rawArgs);
      if (!args.success) throw new ToolError("invalid_arguments", `invalid arguments for ${def.name}: ${formatZodError(args.error)}`);
      const out = def.output.safeParse(await handler(args.data as z.output<D["input"]>, ctx));
      if (!out.success) throw new ToolError("internal", `${def.name} produced an unexpected result: ${formatZodError(out.error)}`);
      const structured = out.data as Record<string, unknown>;
      return { text: render ? render(out.data as z.output<D["output"]>) : JSON.stringify(structured), structured };
    },
  };
}
