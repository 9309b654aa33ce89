import { z } from "zod";
import { defineTool } from "../tool.ts";

const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true } as const;

export const clusterStatus = defineTool({
  name: "cluster_status",
  privileges: ["Sys.Audit"],
  title: "Cluster status and quorum",
  description:
    "Shows the cluster name, whether it is quorate, and every node with its online state and address. " +
    "Use first to see what the Proxmox installation looks like. A standalone host shows one node and no cluster.",
  scope: "proxmox:read",
  annotations: readOnly,
  mutating: false,
  input: z.object({}),
  output: z.object({
    cluster: z
      .object({ name: z.string(), quorate: z.boolean(), nodes: z.number().int(), version: z.number().int().optional() })
      .optional()
      .describe("Absent on a standalone host."),
    nodes: z.array(
      z.object({
        name: z.string(),
        online: z.boolean(),
        ip: z.string().optional(),
        local: z.boolean().optional(),
        nodeid: z.number().int().optional(),
      }),
    ),
  }),
});
