import { z } from "zod";
import { defineTool, pageInput, pageOutput } from "../tool.ts";
import { taskOutcome } from "./tasks.ts";

const path = z
  .string()
  .regex(/^\/[^?#\s]*$/, "expected an API path like /nodes/pve1/status (below /api2/json, without query string)")
  .describe("API path below /api2/json, with real values: /nodes/pve1/qemu/100/config.");
const params = z.record(z.string(), z.unknown()).optional().describe("Parameters by PVE name; numbers, booleans, strings, or arrays for repeated keys.");

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
    "Escape hatch for reads no other tool covers: GET on any path of the PVE 9 API. The path and parameters are checked against " +
    "PVE's API schema before anything is sent, and refused with the schema's own words (unknown path, no GET there, bad parameter). " +
    "Array replies are paginated with limit/cursor. Prefer the dedicated *_info tools: their answers are smaller and explained.",
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
    "DESTRUCTIVE escape hatch: POST, PUT or DELETE on any path of the PVE 9 API, for changes no other tool covers. The call is checked " +
    "against PVE's API schema before it is sent (unknown path, wrong method, bad or missing parameter are refused with the schema's words). " +
    "When PVE answers with a task (UPID), it is followed like other tools do (wait, wait_seconds). Prefer a dedicated tool when one exists: " +
    "they check more and their confirmations name the target.",
  scope: "proxmox:write",
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  mutating: true,
  input: z.object({
    method: z.enum(["POST", "PUT", "DELETE"]),
    path,
    params,
    wait: z.boolean().default(true).describe("If PVE starts a task, follow it until it ends (default true)."),
    wait_seconds: z.number().int().min(1).max(50).default(45),
  }),
  output: z.object({ ...reply, upid: taskOutcome.upid.optional(), status: taskOutcome.status.optional(), exitstatus: taskOutcome.exitstatus }),
});
