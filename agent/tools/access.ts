import { z } from "zod";
import { ToolError } from "../../shared/errors.ts";
import { pveCatalog } from "../../shared/pve-schema/pve.ts";
import { accessInfo } from "../../shared/tools/access.ts";
import { toolDefinitions } from "../../shared/tools/index.ts";
import { hasNoPrivileges, toolPrivileges, type EffectivePermissions } from "./privileges.ts";
import { implement, type ToolContext } from "./registry.ts";
import { compact, flag, num, pveGet } from "./values.ts";

const tokenRow = z.looseObject({ tokenid: z.string(), privsep: flag.optional(), expire: num.optional(), comment: z.string().optional() });
const userRow = z.looseObject({ userid: z.string(), enable: flag.optional(), expire: num.optional(), "realm-type": z.string().optional(), comment: z.string().optional(), tokens: z.array(tokenRow).optional() });
const aclRow = z.looseObject({ path: z.string(), type: z.string(), ugid: z.string(), roleid: z.string(), propagate: flag.optional() });
const permissionsReply = z.record(z.string(), z.record(z.string(), num));


/** The fix for the most common access problem: a privilege-separated token nobody granted anything. */
export function noPrivilegesWarning(authid: string): string {
  const [user] = authid.split("!");
  return (
    `The API token ${authid} has no privileges at all, so PVE answers 403 "Permission check failed" and lists come back empty. ` +
    "PVE creates API tokens with privilege separation by default: such a token gets only what an ACL grants to the token itself, " +
    `not the rights of its user ${user}. Fix: grant the token a role, e.g. \`pveum acl modify / --tokens '${authid}' --roles PVEAuditor\` ` +
    "for read-only use (PVEVMAdmin, PVEDatastoreUser or Administrator for more), or recreate it without privilege separation " +
    `(\`pveum user token add ${user} ${authid.split("!")[1] ?? "mcp"} --privsep 0\`) so it inherits ${user}'s privileges.`
  );
}

/** whoami: the token's identity, its privileges per path, and each tool's verdict. */
export async function whoami(ctx: ToolContext) {
  const authid = ctx.pve.tokenId;
  const perms: EffectivePermissions = await pveGet(ctx, permissionsReply, "/access/permissions");
  const tools = toolPrivileges(toolDefinitions, pveCatalog(), perms);
  const warnings: string[] = [];
  if (hasNoPrivileges(perms)) warnings.push(noPrivilegesWarning(authid));
  else if (!perms["/"]?.["Sys.Audit"]) warnings.push("The token lacks Sys.Audit on /: cluster_status, node views and HA status will be refused.");
  const counts = { ok: 0, partial: 0, missing: 0, not_checked: 0 };
  for (const t of tools) counts[t.status]++;
  const summary =
    counts.missing + counts.partial === 0
      ? `${authid} holds the privileges every checked tool needs.`
      : `${authid}: ${counts.ok} tool actions have what they need, ${counts.partial} only for some objects, ${counts.missing} are missing privileges (see tools[].missing).`;
  return {
    authid,
    user: authid.split("!")[0],
    permissions: Object.entries(perms)
      .filter(([, privs]) => Object.keys(privs).length)
      .map(([path, privs]) => ({ path, privileges: Object.keys(privs).sort() }))
      .sort((a, b) => a.path.localeCompare(b.path)),
    tools: tools.map((t) => compact({ ...t })),
    warnings,
    summary,
  };
}

export const accessTools = [
  implement(accessInfo, async ({ action, userid }, ctx) => {
    switch (action) {
      case "users": {
        const rows = await pveGet(ctx, z.array(userRow), "/access/users", { full: 1 });
        const users = rows.map((u) => compact({ userid: u.userid, enable: u.enable ?? true, expire: u.expire || undefined, realm_type: u["realm-type"], comment: u.comment, tokens: u.tokens?.map((t) => t.tokenid) }));
        return { action, users };
      }
      case "tokens": {
        if (!userid) throw new ToolError("invalid_arguments", "action tokens needs userid (USER@REALM)");
        const rows = await pveGet(ctx, z.array(tokenRow), `/access/users/${encodeURIComponent(userid)}/token`);
        return { action, tokens: rows.map((t) => compact({ userid, tokenid: t.tokenid, privsep: t.privsep ?? true, expire: t.expire || undefined, comment: t.comment })) };
      }
      case "acl": {
        const rows = await pveGet(ctx, z.array(aclRow), "/access/acl");
        return { action, acl: rows.map((a) => ({ path: a.path, type: a.type, ugid: a.ugid, roleid: a.roleid, propagate: a.propagate ?? true })) };
      }
      case "whoami":
        return { action, whoami: await whoami(ctx) };
    }
  }),
];
