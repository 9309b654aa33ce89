/**
 * What an API method handler sees: the simulator's parts, the node the call executes on (after
 * pveproxy-style proxying) and the validated parameters, like the $param hash of a PVE API method.
 */
import type { Authority } from "./auth.ts";
import type { Catalog, Endpoint } from "../shared/pve-schema/catalog.ts";
import type { AccessModel } from "./permissions.ts";
import type { SimNode, SimState } from "./state.ts";
import type { TaskRunner } from "./tasks.ts";

export interface PveVersion {
  version: string;
  release: string;
  repoid: string;
}

export interface Sim {
  state: SimState;
  tasks: TaskRunner;
  access: AccessModel;
  auth: Authority;
  catalog: Catalog;
  version: PveVersion;
}

export interface CallContext {
  sim: Sim;
  /** The node running the method: the `node` parameter's node for proxied calls, else the local node. */
  node: SimNode;
  /** URI and request parameters after validation; values as sent (strings for form bodies). */
  params: Record<string, unknown>;
  /** The caller's user or token id; undefined for calls that need no login. */
  authid: string | undefined;
  endpoint: Endpoint;
  /** RPCEnvironment::set_result_attrib('total', ...): adds "total" next to "data" in the reply. */
  setTotal(total: number): void;
}

export type Handler = (ctx: CallContext) => unknown;

/** Handlers keyed by "METHOD /path/{template}" exactly as the path appears in the API schema. */
export type RouteTable = Readonly<Record<string, Handler>>;
