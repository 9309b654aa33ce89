/**
 * /access writes and role reads: creating and deleting users, API tokens, roles and ACL entries, after
 * pve-access-control PVE/API2/User.pm (create_user, delete_user, generate_token, remove_token),
 * PVE/API2/Role.pm and PVE/API2/ACL.pm (update_acl). What the agent installer does through the API
 * when `pveum`/`pvesh` are not there. Groups, realms, TFA and passwords are not simulated.
 */
import { randomUUID } from "node:crypto";
import type { CallContext, RouteTable, Sim } from "../context.ts";
import { die, paramError } from "../errors.ts";
import { splitList } from "../../shared/pve-schema/formats.ts";
import { truthy } from "../../shared/pve-schema/schema.ts";
import { normalizePath, roles as builtinRoles, splitTokenId, type UserInfo } from "../permissions.ts";

/** The role table; the first custom role copies PVE's built-in ones into the model. */
function roleTable(sim: Sim): Record<string, readonly string[]> {
  return (sim.access.roles ??= { ...builtinRoles });
}

/** PVE::AccessControl::role_is_special: the built-in roles cannot be changed or deleted. */
const isSpecial = (role: string): boolean => role in builtinRoles;

/** lock_user_config: a failed change dies with "<what> failed: <reason>". */
function failed(what: string, reason: string): never {
  throw die(`${what} failed: ${reason}\n`);
}

function existingUser(sim: Sim, userid: string, what: string): UserInfo {
  return sim.access.users[userid] ?? failed(what, `no such user ('${userid}')`);
}

/** An ACL entry of a token that no longer exists is dropped when user.cfg is next parsed. */
function dropOrphanTokenAcls(sim: Sim): void {
  sim.access.acl = sim.access.acl.filter((e) => {
    const token = splitTokenId(e.authid);
    return !token || sim.access.users[token.userid]?.tokens[token.token] !== undefined;
  });
}

function createUser({ sim, params }: CallContext): null {
  const userid = String(params.userid);
  if (sim.access.users[userid]) failed("create user", `user '${userid}' already exists`);
  sim.access.users[userid] = { enabled: params.enable === undefined || truthy(params.enable), tokens: {} };
  return null;
}

function deleteUser({ sim, params }: CallContext): null {
  const userid = String(params.userid);
  // A simulator guard, not PVE's: without root@pam the simulator's own root token and password stop working.
  if (userid === "root@pam") failed("delete user", "the simulator keeps root@pam");
  existingUser(sim, userid, "delete user");
  delete sim.access.users[userid];
  // delete_user_acl removes the user's own entries; its tokens' entries go with the tokens.
  sim.access.acl = sim.access.acl.filter((e) => e.authid !== userid);
  dropOrphanTokenAcls(sim);
  return null;
}

/** POST /access/users/{userid}/token/{tokenid}: the secret is returned once and never again. */
function generateToken({ sim, params }: CallContext): Record<string, unknown> {
  const userid = String(params.userid);
  const tokenid = String(params.tokenid);
  const user = sim.access.users[userid] ?? failed("generating token", `no such user ('${userid}')`);
  if (user.tokens[tokenid]) throw paramError({ tokenid: "Token already exists." });
  const privsep = params.privsep === undefined || truthy(params.privsep);
  const secret = randomUUID();
  user.tokens[tokenid] = { secret, privsep };
  const info: Record<string, unknown> = { privsep: privsep ? 1 : 0 };
  if (params.expire !== undefined) info.expire = Number(params.expire);
  if (params.comment) info.comment = String(params.comment);
  return { info, value: secret, "full-tokenid": `${userid}!${tokenid}` };
}

function removeToken({ sim, params }: CallContext): null {
  const userid = String(params.userid);
  const tokenid = String(params.tokenid);
  const user = existingUser(sim, userid, "deleting token");
  if (!user.tokens[tokenid]) failed("deleting token", `no such token '${tokenid}' for user '${userid}'`);
  delete user.tokens[tokenid];
  dropOrphanTokenAcls(sim);
  return null;
}

function readToken({ sim, params }: CallContext): Record<string, unknown> {
  const user = sim.access.users[String(params.userid)];
  const token = user?.tokens[String(params.tokenid)];
  if (!token) throw die(`no such token '${params.tokenid}' for user '${params.userid}'\n`);
  return { privsep: token.privsep ? 1 : 0, expire: 0 };
}

function listRoles({ sim }: CallContext): unknown[] {
  return Object.entries(roleTable(sim))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([roleid, privs]) => ({ roleid, privs: [...privs].sort().join(","), special: isSpecial(roleid) ? 1 : 0 }));
}

function readRole({ sim, params }: CallContext): Record<string, number> {
  const privs = roleTable(sim)[String(params.roleid)];
  if (!privs) throw die(`role '${params.roleid}' does not exist\n`);
  return Object.fromEntries(privs.map((p) => [p, 1]));
}

const privList = (value: unknown): string[] => (value === undefined ? [] : splitList(String(value)));

function createRole({ sim, params }: CallContext): null {
  const role = String(params.roleid);
  if (/^PVE/i.test(role)) throw paramError({ roleid: "cannot use role ID starting with the (case-insensitive) 'PVE' namespace" });
  const table = roleTable(sim);
  if (table[role]) failed("create role", `role '${role}' already exists`);
  table[role] = [...new Set(privList(params.privs))];
  return null;
}

function updateRole({ sim, params }: CallContext): null {
  const role = String(params.roleid);
  if (isSpecial(role)) throw die(`auto-generated role '${role}' cannot be modified\n`);
  const table = roleTable(sim);
  if (!table[role]) failed("update role", `role '${role}' does not exist`);
  const base = truthy(params.append) ? table[role] : [];
  table[role] = [...new Set([...base, ...privList(params.privs)])];
  return null;
}

/** DELETE /access/roles/{roleid}; like PVE ("fixme: delete role from acl?") the ACL entries stay. */
function deleteRole({ sim, params }: CallContext): null {
  const role = String(params.roleid);
  if (isSpecial(role)) throw die(`auto-generated role '${role}' cannot be deleted\n`);
  const table = roleTable(sim);
  if (!table[role]) failed("delete role", `role '${role}' does not exist`);
  delete table[role];
  return null;
}

/** Paths PVE::AccessControl::check_path accepts, reduced to the simulated cluster's top levels. */
const aclPath = /^\/(access(\/(groups|realm)(\/[^/]+)?)?|nodes(\/[^/]+)?|pool(\/[^/]+)*|sdn(\/.*)?|storage(\/[^/]+)?|vms(\/\d+)?|mapping(\/.*)?)?$/;

/** PUT /access/acl: adds (or with `delete` removes) each role for each user and token on one path. */
function updateAcl({ sim, params }: CallContext): null {
  const users = privList(params.users);
  const tokens = privList(params.tokens);
  if (!users.length && !tokens.length && params.groups === undefined) {
    const msg = "either 'users', 'groups' or 'tokens' is required.";
    throw paramError({ users: msg, groups: msg, tokens: msg });
  }
  const path = normalizePath(String(params.path));
  const remove = truthy(params.delete);
  if (!path || (!remove && !aclPath.test(path))) throw paramError({ path: `invalid ACL path '${params.path}'` });
  if (params.groups !== undefined) failed("ACL update", `group '${splitList(String(params.groups))[0]}' does not exist`);
  const propagate = params.propagate === undefined || truthy(params.propagate);
  const table = roleTable(sim);
  for (const role of privList(params.roles)) {
    if (!table[role]) failed("ACL update", `role '${role}' does not exist`);
    for (const userid of users) if (!sim.access.users[userid]) failed("ACL update", `user '${userid}' does not exist`);
    for (const tokenid of tokens) {
      const t = splitTokenId(tokenid);
      if (!t || !sim.access.users[t.userid]?.tokens[t.token]) failed("ACL update", `no such token '${t?.token ?? tokenid}' for user '${t?.userid ?? ""}'`);
    }
    for (const authid of [...users, ...tokens]) {
      sim.access.acl = sim.access.acl.filter((e) => !(e.path === path && e.authid === authid && e.role === role));
      if (!remove) sim.access.acl.push({ path, authid, role, propagate });
    }
  }
  return null;
}

export const accessWriteRoutes: RouteTable = {
  "POST /access/users": createUser,
  "DELETE /access/users/{userid}": deleteUser,
  "GET /access/users/{userid}/token/{tokenid}": readToken,
  "POST /access/users/{userid}/token/{tokenid}": generateToken,
  "DELETE /access/users/{userid}/token/{tokenid}": removeToken,
  "GET /access/roles": listRoles,
  "GET /access/roles/{roleid}": readRole,
  "POST /access/roles": createRole,
  "PUT /access/roles/{roleid}": updateRole,
  "DELETE /access/roles/{roleid}": deleteRole,
  "PUT /access/acl": updateAcl,
};
