import { z } from "zod";
import { ToolError, formatZodError } from "../../shared/errors.ts";
import { flag, num, strictFlag } from "./scalars.ts";

/**
 * Shapes of the PVE replies the tools read. Only the fields used are declared; PVE adds fields between
 * versions and those pass through untouched.
 */
export const clusterStatusReply = z.array(
  z.looseObject({
    type: z.enum(["cluster", "node"]),
    name: z.string(),
    quorate: strictFlag.optional(),
    nodes: num.optional(),
    version: num.optional(),
    online: strictFlag.optional(),
    ip: z.string().optional(),
    local: strictFlag.optional(),
    nodeid: num.optional(),
  }),
);

export const nodesReply = z.array(
  z.looseObject({
    node: z.string(),
    status: z.string(),
    cpu: num.optional(),
    maxcpu: num.optional(),
    mem: num.optional(),
    maxmem: num.optional(),
    uptime: num.optional(),
  }),
);

const usage = z.looseObject({ used: num, total: num, free: num.optional(), avail: num.optional() });
export const nodeStatusReply = z.looseObject({
  cpu: num,
  cpuinfo: z.looseObject({ cpus: num.optional(), model: z.string().optional() }).optional(),
  loadavg: z.array(z.coerce.string()),
  memory: usage,
  swap: usage.optional(),
  rootfs: usage.optional(),
  uptime: num,
  kversion: z.string().optional(),
  pveversion: z.string().optional(),
});

/** One row of GET /cluster/resources, for every resource type the tools and the cluster event listener read. */
export const clusterResourceRow = z.looseObject({
  type: z.string(),
  id: z.string(),
  node: z.string().optional(),
  vmid: num.optional(),
  name: z.string().optional(),
  status: z.string().optional(),
  hastate: z.string().optional(),
  template: flag.optional(),
  storage: z.string().optional(),
  shared: flag.optional(),
  pool: z.string().optional(),
  cpu: num.optional(),
  maxcpu: num.optional(),
  mem: num.optional(),
  maxmem: num.optional(),
  disk: num.optional(),
  maxdisk: num.optional(),
  uptime: num.optional(),
  tags: z.string().optional(),
  sdn: z.string().optional(),
  network: z.string().optional(),
  "network-type": z.string().optional(),
});
export type ClusterResource = z.infer<typeof clusterResourceRow>;

export const resourcesReply = z.array(clusterResourceRow);

export const guestCurrentReply = z.looseObject({
  status: z.string(),
  name: z.string().optional(),
  uptime: num.optional(),
  cpu: num.optional(),
  mem: num.optional(),
  maxmem: num.optional(),
  lock: z.string().optional(),
  qmpstatus: z.string().optional(),
});

export const taskStatusReply = z.looseObject({
  status: z.enum(["running", "stopped"]),
  exitstatus: z.string().optional(),
  upid: z.string().optional(),
});

export const taskLogReply = z.array(z.looseObject({ n: num, t: z.string() }));

export const upidReply = z.string().regex(/^UPID:/);

/** Validates a PVE reply; a reply of the wrong shape is an error that says what PVE sent. */
export function parseReply<T extends z.ZodType>(schema: T, data: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new ToolError("pve_error", `unexpected PVE reply for ${what}: ${formatZodError(parsed.error)}`);
  return parsed.data;
}
