import { z } from "zod";
import { defineTool, pageInput, pageOutput } from "../tool.ts";
import { taskOutcome } from "./tasks.ts";

const path = z
  .string()
  .regex(/^\/[^?#\s]*$/, "expected an API path like /nodes/pve1/status (below /api2/json, without query string)")
  .describe("Below /api2/json, e.g. /nodes/pve1/qemu/100/config.");
const params = z.record(z.string(), z.unknown()).optional().describe("By PVE name; arrays for repeated keys.");

const reply = {
  method: z.string(),
  path: z.string(),
  endpoint: z.string().describe("The API schema's path template the call matched, e.g. /nodes/{node}/qemu/{vmid}/config."),
  data: z.unknown().describe("PVE's `data`, unchanged (an array reply is paginated)."),
};

export const pveApiGet = defineTool({
  name: "pve_api_get",
  title: "Read any PVE API path",
  description:
    "Escape hatch: GET any PVE 9 API path no other tool covers; path and params are checked against PVE's API schema first. " +
    "Prefer the *_info tools (smaller, explained answers).",
  scope: "proxmox:read",
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  mutating: false,
  input: z.object({ path, params, ...pageInput }),
  output: z.object({ ...reply, total: pageOutput.total.optional(), next_cursor: pageOutput.next_cursor }),
});

export const pveApiCall = defineTool({
  name: "pve_api_call",
  title: "Change anything through the PVE API",
  description:
    "DESTRUCTIVE escape hatch: POST, PUT or DELETE on any PVE 9 API path no other tool covers; checked against PVE's API " +
    "schema first, a started task is followed. Prefer a dedicated tool: it checks more.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  mutating: true,
  input: z.object({
    method: z.enum(["POST", "PUT", "DELETE"]),
    path,
    params,
    wait: z.boolean().default(true).describe("If PVE starts a task, follow it."),
    wait_seconds: z.number().int().min(1).max(50).default(45),
  }),
  output: z.object({ ...reply, upid: taskOutcome.upid.optional(), status: taskOutcome.status.optional(), exitstatus: taskOutcome.exitstatus }),
});
