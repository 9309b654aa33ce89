import { snapshotCreate, snapshotDelete, snapshotRollback } from "../../shared/tools/snapshots.ts";
import { bool, defined, guestPath, locate } from "./guests.ts";
import { implement } from "./registry.ts";
import { startTask } from "./tasks.ts";

export const snapshotTools = [
  implement(snapshotCreate, async (args, ctx) => {
    const { vmid, snapname } = args;
    const { node, type } = await locate(ctx, vmid, args.node, args.type);
    const params = defined({ snapname, description: args.description, vmstate: type === "qemu" ? bool(args.vmstate) : undefined });
    return { vmid, node, type, snapname, ...(await startTask(ctx, "POST", `${guestPath(node, type, vmid)}/snapshot`, params, args)) };
  }),
  implement(snapshotRollback, async (args, ctx) => {
    const { vmid, snapname } = args;
    const { node, type } = await locate(ctx, vmid, args.node, args.type);
    const params = defined({ start: bool(args.start) });
    return { vmid, node, type, snapname, ...(await startTask(ctx, "POST", `${guestPath(node, type, vmid)}/snapshot/${encodeURIComponent(snapname)}/rollback`, params, args)) };
  }),
  implement(snapshotDelete, async (args, ctx) => {
    const { vmid, snapname } = args;
    const { node, type } = await locate(ctx, vmid, args.node, args.type);
    const params = defined({ force: bool(args.force) });
    return { vmid, node, type, snapname, ...(await startTask(ctx, "DELETE", `${guestPath(node, type, vmid)}/snapshot/${encodeURIComponent(snapname)}`, params, args)) };
  }),
];
