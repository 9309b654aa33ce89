import { z } from "zod";
import { implement } from "../agent/tools/registry.ts";
import { defineTool } from "../shared/tool.ts";

/** A tool that does nothing, so that a relayed call measures the relay and not Proxmox. Benchmark agents only. */
export const benchNoopDef = defineTool({
  name: "bench_noop",
  title: "Benchmark no-op",
  description: "Returns at once without touching Proxmox. Exists only in the benchmark's agent, to time the relay itself.",
  scope: "proxmox:read",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  mutating: false,
  input: z.object({}),
  output: z.object({ ok: z.boolean() }),
});

export const benchNoop = implement(benchNoopDef, async () => ({ ok: true }));
