/**
 * Users, API tokens, ACLs and the permission checks of PVE::RPCEnvironment (pve-access-control
 * src/PVE/RPCEnvironment.pm): check_api2_permissions, exec_api2_perm_check, permissions(),
 * compute_api_permission and get_effective_permissions, reduced to what the simulated cluster needs
 * (no groups, no pools).
 */
import type { PermissionSpec } from "../shared/pve-schema/catalog.ts";
import { allPrivileges } from "../shared/pve-schema/privileges.ts";
import { permError } from "./errors.ts";

export { allPrivileges };
export type { PermissionSpec };

/** Built-in roles used by the seeded ACLs (create_roles in src/PVE/AccessControl.pm). */
export const roles: Record<string, readonly string[]> = {
  Administrator: allPrivileges,
  NoAccess: [],
  PVEAuditor: ["VM.Audit", "VM.GuestAgent.Audit", "Sys.Audit", "Datastore.Audit", "SDN.Audit", "Pool.Audit", "Mapping.Audit"],
};

export interface TokenInfo {
  secret: string;
  /** Privilege separation: when false the token has exactly its user's privileges. */
  privsep: boolean;
}

export interface UserInfo {
  enabled: boolean;
  password?: string;
  tokens: Record<string, TokenInfo>;
}

/** One line of /etc/pve/user.cfg's acl section; `authid` is a user or a token id. */
export interface AclEntry {
  path: string;
  authid: string;
  role: string;
  propagate: boolean;
}

export interface AccessModel {
  users: Record<string, UserInfo>;
  acl: AclEntry[];
  /** Role definitions when they are not PVE's (the PBS simulator has its own). */
  roles?: Record<string, readonly string[]>;
  /** What root@pam holds everywhere; PVE's privileges unless set. */
  superuserPrivileges?: readonly string[];
}

/** Privilege name to propagate flag, as RPCEnvironment::permissions returns them. */
export type PrivilegeMap = Map<string, number>;

const realmRe = "[A-Za-z][A-Za-z0-9.\\-_]+";
const tokenIdRe = new RegExp(`^(([^\\s:/]+)@(${realmRe}))!(${realmRe})$`);

/** PVE::AccessControl::split_tokenid */
export function splitTokenId(authid: string): { userid: string; token: string } | undefined {
  const m = tokenIdRe.exec(authid);
  return m ? { userid: m[1], token: m[4] } : undefined;
}

/** PVE::AccessControl::normalize_path */
export function normalizePath(path: string): string | undefined {
  if (!path) return undefined;
  let p = path.replace(/\/+/g, "/").replace(/\/$/, "") || "/";
  if (!p.startsWith("/")) p = `/${p}`;
  return /^[\p{L}\p{N}._\-/]+$/u.test(p) ? p : undefined;
}

function rolesOf(model: AccessModel, authid: string, path: string): Map<string, boolean> {
  const parts = path === "/" ? [""] : path.split("/");
  let current = new Map<string, boolean>();
  let prefix = "";
  for (const [i, part] of parts.entries()) {
    prefix = i === 0 ? "/" : `${prefix === "/" ? "" : prefix}/${part}`;
    const last = i === parts.length - 1;
    const entries = model.acl.filter((e) => e.path === prefix && e.authid === authid && (last || e.propagate));
    if (entries.length) current = new Map(entries.map((e) => [e.role, e.propagate]));
  }
  return current;
}

function privilegesFromRoles(assigned: Map<string, boolean>, table: Record<string, readonly string[]>): PrivilegeMap {
  const privs: PrivilegeMap = new Map();
  for (const [role, propagate] of assigned) {
    for (const priv of table[role] ?? []) privs.set(priv, Math.max(privs.get(priv) ?? 0, propagate ? 1 : 0));
  }
  return privs;
}

/** RPCEnvironment::permissions: the privileges `authid` holds on `path`. */
export function privileges(model: AccessModel, authid: string, path: string | undefined): PrivilegeMap {
  if (authid === "root@pam") return new Map((model.superuserPrivileges ?? allPrivileges).map((p) => [p, 1]));
  if (path === undefined) return new Map();
  const token = splitTokenId(authid);
  if (token) {
    const info = model.users[token.userid]?.tokens[token.token];
    if (!info) return new Map();
    const userPrivs = privileges(model, token.userid, path);
    if (!info.privsep) return userPrivs;
    const own = privilegesFromRoles(rolesOf(model, authid, path), model.roles ?? roles);
    return new Map([...own].filter(([priv]) => userPrivs.has(priv)));
  }
  if (!model.users[authid]?.enabled) return new Map();
  return privilegesFromRoles(rolesOf(model, authid, path), model.roles ?? roles);
}

/** RPCEnvironment::check / check_any in non-throwing form. */
export function hasPrivileges(model: AccessModel, authid: string, path: string, privs: readonly string[], any = false): boolean {
  const held = privileges(model, authid, path);
  return any ? privs.some((p) => held.has(p)) : privs.every((p) => held.has(p));
}

/** RPCEnvironment::check_full: throws 403 naming the first missing privilege (or all, for `any`). */
export function checkPrivileges(model: AccessModel, authid: string, path: string | undefined, privs: readonly string[], any = false): void {
  const held = privileges(model, authid, path);
  if (any) {
    if (!privs.some((p) => held.has(p))) throw permError(`${path ?? ""}, ${privs.join("|")}`);
    return;
  }
  const missing = privs.find((p) => !held.has(p));
  if (missing) throw permError(`${path ?? ""}, ${missing}`);
}

/** PVE::Tools::template_replace: "{vmid}" becomes the parameter, or "-" when it is empty. */
function templateReplace(template: string, params: Record<string, unknown>): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const v = params[name];
    return v === undefined || v === null || v === "" || v === "0" || v === 0 ? "-" : String(v);
  });
}

/** RPCEnvironment::exec_api2_perm_check; returns false only when `noerr` is set. */
function execCheck(model: AccessModel, check: unknown[], authid: string, params: Record<string, unknown>, noerr: boolean): boolean {
  const [test, ...rest] = check;
  if (test === "and") {
    for (const sub of rest) execCheck(model, sub as unknown[], authid, params, false);
    return true;
  }
  if (test === "or") {
    if (rest.some((sub) => execCheck(model, sub as unknown[], authid, params, true))) return true;
    if (noerr) return false;
    throw permError();
  }
  if (test === "perm") {
    const [template, privs, ...opts] = rest as [string, string[], ...unknown[]];
    const options = Object.fromEntries(Array.from({ length: opts.length / 2 }, (_, i) => [opts[2 * i], opts[2 * i + 1]]));
    const required = options.require_param as string | undefined;
    if (required !== undefined && (params[required] === undefined || params[required] === null)) {
      if (noerr) return false;
      throw permError();
    }
    const path = normalizePath(templateReplace(template, params));
    if (noerr) return path !== undefined && hasPrivileges(model, authid, path, privs, Boolean(options.any));
    checkPrivileges(model, authid, path, privs, Boolean(options.any));
    return true;
  }
  // 'userid-group', 'userid-param' and 'perm-modify' guard user and ACL management, which the
  // simulator does not implement; approximate them as "needs Permissions.Modify on /".
  if (hasPrivileges(model, authid, "/", ["Permissions.Modify"])) return true;
  if (noerr) return false;
  throw permError();
}


/** RPCEnvironment::check_api2_permissions; `authid` is undefined for calls that need no login. */
export function checkApiPermissions(model: AccessModel, perm: PermissionSpec | null, authid: string | undefined, params: Record<string, unknown>): void {
  if (authid === undefined) {
    if (perm?.user === "world") return;
    throw permError("user != null");
  }
  if (authid === "root@pam") return;
  if (!perm) throw permError("user != root@pam");
  if (perm.user === "all") return;
  if (perm.check) {
    execCheck(model, perm.check, authid, params, false);
    return;
  }
  throw permError();
}

const capCategories: Record<string, RegExp> = {
  vms: /^(VM\.|Permissions\.Modify)/,
  access: /^((User|Group)\.|Permissions\.Modify)/,
  storage: /^(Datastore\.|Permissions\.Modify)/,
  nodes: /^(Sys\.|Permissions\.Modify)/,
  sdn: /^(SDN\.|Permissions\.Modify)/,
  dc: /^(Sys\.Audit|Sys\.Modify|SDN\.)/,
  mapping: /^(Mapping\.|Permissions.Modify)/,
};

/** RPCEnvironment::compute_api_permission: the `cap` object of a login reply, used by the GUI. */
export function computeCap(model: AccessModel, authid: string): Record<string, Record<string, number>> {
  const cap: Record<string, Record<string, number>> = Object.fromEntries(Object.keys(capCategories).map((k) => [k, {}]));
  const paths = new Set(["/", "/nodes", "/access/groups", "/vms", "/storage", "/sdn", "/mapping", ...model.acl.map((e) => e.path)]);
  for (const path of paths) {
    const top = /^\/(\w+)/.exec(path)?.[1] ?? "dc";
    const category = capCategories[top];
    if (!category) continue;
    for (const priv of privileges(model, authid, path).keys()) if (category.test(priv)) cap[top][priv] = 1;
  }
  return cap;
}

/** RPCEnvironment::get_effective_permissions: GET /access/permissions without a path. */
export function effectivePermissions(model: AccessModel, authid: string): Record<string, Record<string, number>> {
  const paths = new Set(["/", "/access", "/access/groups", "/nodes", "/pool", "/sdn", "/storage", "/vms", ...model.acl.map((e) => e.path)]);
  const out: Record<string, Record<string, number>> = {};
  for (const path of paths) {
    const privs = privileges(model, authid, path);
    if (privs.size) out[path] = Object.fromEntries(privs);
  }
  return out;
}
