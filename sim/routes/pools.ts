/**
 * Resource pools, after pve-manager PVE/API2/Pool.pm: create_pool, update_pool (comment and membership) and
 * delete_pool (nested pools since PVE 8.1: "parent/child"; the /pools/{poolid} forms are the deprecated ones).
 * PVE::AccessControl::lock_user_config prefixes what dies inside it with the action that failed.
 */
import type { CallContext, RouteTable } from "../context.ts";
import { die } from "../errors.ts";
import { poolsOf } from "../pools.ts";
import { splitList } from "../../shared/pve-schema/formats.ts";
import { truthy } from "../../shared/pve-schema/schema.ts";

function createPool({ sim, params }: CallContext): null {
  const pools = poolsOf(sim.state);
  const poolid = String(params.poolid);
  const failed = (why: string) => die(`create pool failed: ${why}`);
  if (pools.some((p) => p.poolid === poolid)) throw failed(`pool '${poolid}' already exists`);
  const nested = /^(.*)\/([^/]+)$/.exec(poolid);
  if (nested && !pools.some((p) => p.poolid === nested[1])) throw failed(`parent '${nested[1]}' of pool '${poolid}' does not exist`);
  if (!/^[A-Za-z]/.test(nested ? nested[2] : poolid)) throw failed("pool name must start with a letter");
  pools.push({ poolid, ...(params.comment ? { comment: String(params.comment) } : {}), vmids: [], storages: [] });
  // user.cfg keeps pools in a hash; GET /pools lists them sorted.
  pools.sort((a, b) => (a.poolid < b.poolid ? -1 : 1));
  return null;
}

/** PUT /pools: adds guests (and storages) to a pool, or removes them with delete=1. */
function updatePool(ctx: CallContext): null {
  const { params, sim } = ctx;
  const poolid = String(params.poolid);
  const pools = poolsOf(sim.state);
  const wrap = (msg: string): never => {
    throw die(`update pools failed: ${msg}`);
  };
  const pool = pools.find((p) => p.poolid === poolid);
  if (!pool) return wrap(`pool '${poolid}' does not exist`);
  if (params.comment !== undefined) pool.comment = String(params.comment);
  const remove = truthy(params.delete);
  for (const vmid of params.vms === undefined ? [] : splitList(String(params.vms)).map(Number)) {
    if (remove) {
      if (!pool.vmids.includes(vmid)) wrap(`VM ${vmid} is not a pool member`);
      pool.vmids = pool.vmids.filter((v) => v !== vmid);
      continue;
    }
    if (pool.vmids.includes(vmid)) wrap(`VM ${vmid} is already a pool member`);
    const other = pools.find((p) => p !== pool && p.vmids.includes(vmid));
    if (other) {
      if (!truthy(params["allow-move"])) wrap(`VM ${vmid} belongs already to pool '${other.poolid}' and 'allow-move' is not set`);
      other.vmids = other.vmids.filter((v) => v !== vmid);
    }
    pool.vmids.push(vmid);
  }
  for (const storeid of params.storage === undefined ? [] : splitList(String(params.storage))) {
    if (remove) {
      if (!pool.storages.includes(storeid)) wrap(`Storage '${storeid}' is not a pool member`);
      pool.storages = pool.storages.filter((s) => s !== storeid);
    } else {
      if (pool.storages.includes(storeid)) wrap(`Storage '${storeid}' is already a pool member`);
      pool.storages.push(storeid);
    }
  }
  return null;
}

/** Only an empty pool goes (members whose guest or storage is gone do not count), and its ACL entries with it. */
function deletePool({ sim, params }: CallContext): null {
  const { state } = sim;
  const pools = poolsOf(state);
  const poolid = String(params.poolid);
  const failed = (why: string) => die(`delete pool failed: ${why}`);
  const pool = pools.find((p) => p.poolid === poolid);
  if (!pool) throw failed(`pool '${poolid}' does not exist`);
  const child = pools.map((p) => p.poolid).find((id) => id.startsWith(`${poolid}/`) && !id.slice(poolid.length + 1).includes("/"));
  if (child) throw failed(`pool '${poolid}' is not empty (contains pool '${child}')`);
  // Perl's sort keys: vmids in string order.
  const vmid = pool.vmids.map(String).sort().find((v) => state.guests.has(Number(v)));
  if (vmid) throw failed(`pool '${poolid}' is not empty (contains VM ${vmid})`);
  const storage = [...pool.storages].sort().find((id) => state.storages.some((s) => s.id === id));
  if (storage) throw failed(`pool '${poolid}' is not empty (contains storage '${storage}')`);
  pools.splice(pools.indexOf(pool), 1);
  sim.access.acl = sim.access.acl.filter((e) => e.path !== `/pool/${poolid}`);
  return null;
}

export const poolRoutes: RouteTable = {
  "POST /pools": createPool,
  "PUT /pools": updatePool,
  "PUT /pools/{poolid}": updatePool,
  "DELETE /pools": deletePool,
  "DELETE /pools/{poolid}": deletePool,
};
