/**
 * /access handlers: login tickets and permission dumps, after pve-access-control
 * PVE/API2/AccessControl.pm (create_ticket, permissions).
 */
import type { CallContext, RouteTable } from "../context.ts";
import { PveError } from "../errors.ts";
import { checkPrivileges, computeCap, effectivePermissions, hasPrivileges, normalizePath, privileges, splitTokenId } from "../permissions.ts";
import { splitList } from "../../shared/pve-schema/formats.ts";

/** POST /access/ticket, including the path/privs variant that only verifies a login. */
function createTicket({ sim, params }: CallContext): Record<string, unknown> {
  const username = params.realm !== undefined ? `${params.username}@${params.realm}` : String(params.username);
  const reply = sim.auth.login(username, String(params.password));
  if (params.path !== undefined && params.privs !== undefined) {
    const path = normalizePath(String(params.path));
    if (!path || !hasPrivileges(sim.access, username, path, splitList(String(params.privs)))) {
      throw new PveError(401, "authentication failure\n");
    }
    return { username };
  }
  const out: Record<string, unknown> = { ...reply, cap: computeCap(sim.access, username) };
  if (hasPrivileges(sim.access, username, "/", ["Sys.Audit"])) out.clustername = sim.state.clusterName;
  return out;
}

/** GET /access/permissions: a user or token may dump its own permissions, others need Sys.Audit on /access. */
function permissions({ sim, params, authid }: CallContext): Record<string, unknown> {
  const caller = authid ?? "";
  const target = params.userid === undefined ? caller : String(params.userid);
  const owner = splitTokenId(target)?.userid;
  if (target !== caller && owner !== caller) checkPrivileges(sim.access, caller, "/access", ["Sys.Audit"]);
  if (params.path !== undefined) {
    const path = String(params.path);
    return { [path]: Object.fromEntries(privileges(sim.access, target, path)) };
  }
  return effectivePermissions(sim.access, target);
}

export const accessRoutes: RouteTable = {
  "POST /access/ticket": createTicket,
  // A dummy in PVE too: it lets formatters render a login page.
  "GET /access/ticket": () => null,
  "GET /access/permissions": permissions,
};
