/**
 * /access handlers: login tickets, permission dumps, users, API tokens and ACLs, after
 * pve-access-control PVE/API2/AccessControl.pm (create_ticket, permissions), PVE/API2/User.pm
 * and PVE/API2/ACL.pm.
 */
import type { CallContext, RouteTable } from "../context.ts";
import { PveError } from "../errors.ts";
import { splitList } from "../../shared/pve-schema/formats.ts";
import { truthy } from "../../shared/pve-schema/schema.ts";
import { checkPrivileges, computeCap, effectivePermissions, hasPrivileges, normalizePath, privileges, splitTokenId, type UserInfo } from "../permissions.ts";

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

const realmType = (userid: string): string => userid.slice(userid.lastIndexOf("@") + 1);

function tokenList(info: UserInfo): Array<Record<string, unknown>> {
  return Object.entries(info.tokens)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([tokenid, t]) => ({ tokenid, privsep: t.privsep ? 1 : 0, expire: 0 }));
}

/** GET /access/users: users the caller may audit (User.Modify or Sys.Audit on /access/groups), and always itself. */
function listUsers({ sim, params, authid }: CallContext): unknown[] {
  const caller = authid ?? "";
  const self = splitTokenId(caller)?.userid ?? caller;
  const auditor = hasPrivileges(sim.access, caller, "/access/groups", ["User.Modify", "Sys.Audit"], true);
  return Object.entries(sim.access.users)
    .filter(([userid]) => auditor || userid === self)
    .filter(([, u]) => params.enabled === undefined || u.enabled === truthy(params.enabled))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([userid, u]) => ({
      userid,
      enable: u.enabled ? 1 : 0,
      expire: 0,
      "realm-type": realmType(userid),
      ...(truthy(params.full) ? { tokens: tokenList(u) } : {}),
    }));
}

function userTokens({ sim, params }: CallContext): unknown[] {
  const user = sim.access.users[String(params.userid)];
  if (!user) throw new PveError(500, `no such user ('${params.userid}')\n`);
  return tokenList(user);
}

/** GET /access/acl: only entries on paths where the caller may modify permissions. */
function listAcl({ sim, authid }: CallContext): unknown[] {
  return sim.access.acl
    .filter((e) => authid !== undefined && hasPrivileges(sim.access, authid, e.path, ["Permissions.Modify"]))
    .map((e) => ({ path: e.path, type: e.authid.includes("!") ? "token" : "user", ugid: e.authid, roleid: e.role, propagate: e.propagate ? 1 : 0 }));
}

export const accessRoutes: RouteTable = {
  "POST /access/ticket": createTicket,
  // A dummy in PVE too: it lets formatters render a login page.
  "GET /access/ticket": () => null,
  "GET /access/permissions": permissions,
  "GET /access/users": listUsers,
  "GET /access/users/{userid}/token": userTokens,
  "GET /access/acl": listAcl,
};
