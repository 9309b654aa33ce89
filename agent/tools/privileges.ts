/**
 * What each tool needs from PVE's access control, derived from the `permissions` of the API
 * endpoints it calls (the PVE API schema), and whether a token's effective permissions satisfy it.
 * Endpoints PVE opens to every user but filters inside ("user: all" with a description) carry an
 * extra check here, the privilege their filter looks for.
 */
import type { Catalog, Method, PermissionSpec } from "../../shared/pve-schema/catalog.ts";
import type { ToolDefinition } from "../../shared/tool.ts";

type Check = unknown[];

/** One call a tool makes: "METHOD /template", plus the check PVE makes inside the method, if any. */
interface Call {
  endpoint: string;
  also?: Check;
}

/** A tool, or one action of a grouped tool, and its calls. */
interface Use {
  action?: string;
  calls: Call[];
}

const audit = (path: string, priv: string): Check => ["perm", path, [priv]];
const guest = "/nodes/{node}/qemu/{vmid}";

/** The calls each tool makes, by tool name; tools not listed are reported as not checked. */
export const toolCalls: Record<string, Use[]> = {
  cluster_status: [{ calls: [{ endpoint: "GET /cluster/status" }] }],
  node_list: [{ calls: [{ endpoint: "GET /nodes", also: audit("/nodes/{node}", "Sys.Audit") }] }],
  node_status: [{ calls: [{ endpoint: "GET /nodes/{node}/status" }] }],
  cluster_info: [
    { action: "resources", calls: [{ endpoint: "GET /cluster/resources", also: ["or", audit("/vms/{vmid}", "VM.Audit"), audit("/nodes/{node}", "Sys.Audit"), audit("/storage/{storage}", "Datastore.Audit")] }] },
    { action: "log", calls: [{ endpoint: "GET /cluster/log", also: audit("/", "Sys.Syslog") }] },
    { action: "nextid", calls: [{ endpoint: "GET /cluster/nextid" }] },
    { action: "ceph_status", calls: [{ endpoint: "GET /cluster/ceph/status" }] },
    { action: "sdn_status", calls: [{ endpoint: "GET /cluster/resources", also: audit("/sdn/zones/{zone}", "SDN.Audit") }] },
    { action: "pools", calls: [{ endpoint: "GET /pools", also: audit("/pool/{poolid}", "Pool.Audit") }] },
  ],
  node_info: [
    { action: "services", calls: [{ endpoint: "GET /nodes/{node}/services" }] },
    { action: "journal", calls: [{ endpoint: "GET /nodes/{node}/journal" }] },
    { action: "syslog", calls: [{ endpoint: "GET /nodes/{node}/syslog" }] },
    { action: "network", calls: [{ endpoint: "GET /nodes/{node}/network", also: audit("/nodes/{node}", "Sys.Audit") }] },
    { action: "disks", calls: [{ endpoint: "GET /nodes/{node}/disks/list" }] },
    { action: "smart", calls: [{ endpoint: "GET /nodes/{node}/disks/smart" }] },
    { action: "updates", calls: [{ endpoint: "GET /nodes/{node}/apt/update" }] },
    { action: "certificates", calls: [{ endpoint: "GET /nodes/{node}/certificates/info" }] },
    { action: "rrd", calls: [{ endpoint: "GET /nodes/{node}/rrddata" }] },
    { action: "version", calls: [{ endpoint: "GET /nodes/{node}/version" }] },
  ],
  node_service: [{ calls: ["start", "stop", "restart", "reload"].map((action) => ({ endpoint: `POST /nodes/{node}/services/{service}/${action}` })) }],
  ha_info: [
    { action: "status", calls: [{ endpoint: "GET /cluster/ha/status/current" }] },
    { action: "resources", calls: [{ endpoint: "GET /cluster/ha/resources" }] },
    { action: "groups", calls: [{ endpoint: "GET /cluster/ha/groups" }, { endpoint: "GET /cluster/ha/rules" }] },
    { action: "replication", calls: [{ endpoint: "GET /nodes/{node}/replication", also: audit("/vms/{vmid}", "VM.Audit") }] },
  ],
  ha_resource: [
    {
      calls: ["POST /cluster/ha/resources", "PUT /cluster/ha/resources/{sid}", "DELETE /cluster/ha/resources/{sid}", "POST /cluster/ha/resources/{sid}/migrate",
        "POST /cluster/ha/resources/{sid}/relocate", "GET /cluster/ha/status/current"].map((endpoint) => ({ endpoint })),
    },
  ],
  replication_job: [
    {
      calls: [
        ...["POST /cluster/replication", "PUT /cluster/replication/{id}", "DELETE /cluster/replication/{id}", "POST /nodes/{node}/replication/{id}/schedule_now"]
          .map((endpoint) => ({ endpoint, also: audit("/vms/{vmid}", "VM.Replicate") })),
        { endpoint: "GET /nodes/{node}/replication", also: audit("/vms/{vmid}", "VM.Audit") },
      ],
    },
  ],
  firewall_info: [
    { action: "cluster", calls: [{ endpoint: "GET /cluster/firewall/rules" }, { endpoint: "GET /cluster/firewall/options" }] },
    { action: "node", calls: [{ endpoint: "GET /nodes/{node}/firewall/rules" }, { endpoint: "GET /nodes/{node}/firewall/options" }] },
    { action: "guest", calls: [{ endpoint: `GET ${guest}/firewall/rules` }, { endpoint: `GET ${guest}/firewall/options` }] },
  ],
  firewall_rule_add: [
    { action: "cluster", calls: [{ endpoint: "POST /cluster/firewall/rules" }] },
    { action: "node", calls: [{ endpoint: "POST /nodes/{node}/firewall/rules" }] },
    { action: "guest", calls: [{ endpoint: `POST ${guest}/firewall/rules` }] },
  ],
  firewall_rule_delete: [
    { action: "cluster", calls: [{ endpoint: "DELETE /cluster/firewall/rules/{pos}" }] },
    { action: "node", calls: [{ endpoint: "DELETE /nodes/{node}/firewall/rules/{pos}" }] },
    { action: "guest", calls: [{ endpoint: `DELETE ${guest}/firewall/rules/{pos}` }] },
  ],
  access_info: [
    { action: "users", calls: [{ endpoint: "GET /access/users", also: ["perm", "/access/groups", ["User.Modify", "Sys.Audit"], "any", 1] }] },
    { action: "tokens", calls: [{ endpoint: "GET /access/users/{userid}/token" }] },
    { action: "acl", calls: [{ endpoint: "GET /access/acl", also: audit("/", "Permissions.Modify") }] },
    { action: "whoami", calls: [{ endpoint: "GET /access/permissions" }] },
  ],
  guest_agent_info: [
    { action: "ping", calls: [{ endpoint: `POST ${guest}/agent/ping` }] },
    { action: "osinfo", calls: [{ endpoint: `GET ${guest}/agent/get-osinfo` }] },
    { action: "network", calls: [{ endpoint: `GET ${guest}/agent/network-get-interfaces` }] },
    { action: "fsinfo", calls: [{ endpoint: `GET ${guest}/agent/get-fsinfo` }] },
    { action: "users", calls: [{ endpoint: `GET ${guest}/agent/get-users` }] },
    { action: "hostname", calls: [{ endpoint: `GET ${guest}/agent/get-host-name` }] },
    { action: "file_read", calls: [{ endpoint: `GET ${guest}/agent/file-read` }] },
  ],
  guest_agent_file_write: [{ calls: [{ endpoint: `POST ${guest}/agent/file-write` }] }],
  guest_agent_fs: [
    { action: "freeze", calls: [{ endpoint: `POST ${guest}/agent/fsfreeze-freeze` }] },
    { action: "thaw", calls: [{ endpoint: `POST ${guest}/agent/fsfreeze-thaw` }] },
    { action: "trim", calls: [{ endpoint: `POST ${guest}/agent/fstrim` }] },
  ],
  diagnose: [{ calls: [{ endpoint: "GET /version" }, { endpoint: "GET /access/permissions" }, { endpoint: "GET /cluster/status" }, { endpoint: "GET /cluster/resources" }] }],
  guest_list: [{ calls: [{ endpoint: "GET /cluster/resources", also: audit("/vms/{vmid}", "VM.Audit") }] }],
  guest_status: [{ calls: [{ endpoint: `GET ${guest}/status/current` }] }],
  guest_info: [{ calls: [{ endpoint: `GET ${guest}/config` }] }],
  guest_power: [{ calls: [{ endpoint: `POST ${guest}/status/start` }, { endpoint: `POST ${guest}/status/shutdown` }] }],
  guest_stop: [{ calls: [{ endpoint: `POST ${guest}/status/stop` }] }],
  guest_config_update: [{ calls: [{ endpoint: `PUT ${guest}/config` }] }],
  guest_create: [{ calls: [{ endpoint: "POST /nodes/{node}/qemu", also: ["and", audit("/vms/{vmid}", "VM.Allocate"), audit("/storage/{storage}", "Datastore.AllocateSpace")] }] }],
  guest_clone: [{ calls: [{ endpoint: `POST ${guest}/clone` }] }],
  guest_template: [{ calls: [{ endpoint: `POST ${guest}/template` }] }],
  guest_delete: [{ calls: [{ endpoint: `DELETE ${guest}` }] }],
  guest_migrate: [{ calls: [{ endpoint: `POST ${guest}/migrate` }] }],
  guest_disk: [{ calls: [{ endpoint: `PUT ${guest}/resize` }, { endpoint: `PUT ${guest}/config` }] }],
  guest_network: [{ calls: [{ endpoint: `PUT ${guest}/config` }] }],
  guest_cloudinit: [{ calls: [{ endpoint: `PUT ${guest}/config` }, { endpoint: `PUT ${guest}/cloudinit` }] }],
  guest_pool: [{ calls: [{ endpoint: "PUT /pools" }] }],
  pool: [{ calls: [{ endpoint: "POST /pools" }, { endpoint: "PUT /pools" }, { endpoint: "DELETE /pools" }, { endpoint: "GET /pools", also: audit("/pool/{poolid}", "Pool.Audit") }] }],
  guest_console: [{ calls: [{ endpoint: `POST ${guest}/vncproxy` }] }],
  snapshot_create: [{ calls: [{ endpoint: `POST ${guest}/snapshot` }] }],
  snapshot_rollback: [{ calls: [{ endpoint: `POST ${guest}/snapshot/{snapname}/rollback` }] }],
  snapshot_delete: [{ calls: [{ endpoint: `DELETE ${guest}/snapshot/{snapname}` }] }],
  backup_info: [{ calls: [{ endpoint: "GET /cluster/backup" }, { endpoint: "GET /nodes/{node}/storage", also: audit("/storage/{storage}", "Datastore.Audit") }] }],
  backup_run: [{ calls: [{ endpoint: "POST /nodes/{node}/vzdump", also: ["and", audit("/vms/{vmid}", "VM.Backup"), audit("/storage/{storage}", "Datastore.AllocateSpace")] }] }],
  backup_job: [
    { action: "create", calls: [{ endpoint: "POST /cluster/backup", also: audit("/storage/{storage}", "Datastore.Allocate") }, { endpoint: "GET /cluster/backup/{id}" }] },
    { action: "update", calls: [{ endpoint: "PUT /cluster/backup/{id}", also: audit("/storage/{storage}", "Datastore.Allocate") }, { endpoint: "GET /cluster/backup/{id}" }] },
    { action: "delete", calls: [{ endpoint: "GET /cluster/backup/{id}" }, { endpoint: "DELETE /cluster/backup/{id}" }] },
    { action: "run", calls: [{ endpoint: "GET /cluster/backup/{id}" }, { endpoint: "POST /nodes/{node}/vzdump", also: ["and", audit("/vms/{vmid}", "VM.Backup"), audit("/storage/{storage}", "Datastore.AllocateSpace")] }] },
  ],
  backup_restore: [{ calls: [{ endpoint: "POST /nodes/{node}/qemu", also: ["and", audit("/vms/{vmid}", "VM.Allocate"), audit("/storage/{storage}", "Datastore.AllocateSpace")] }] }],
  storage_info: [{ calls: [{ endpoint: "GET /nodes/{node}/storage", also: audit("/storage/{storage}", "Datastore.Audit") }] }],
  storage_download: [{ calls: [{ endpoint: "POST /nodes/{node}/storage/{storage}/download-url" }] }],
  storage_delete_volume: [{ calls: [{ endpoint: "DELETE /nodes/{node}/storage/{storage}/content/{volume}", also: audit("/storage/{storage}", "Datastore.Allocate") }] }],
  task_info: [{ calls: [{ endpoint: "GET /nodes/{node}/tasks", also: audit("/nodes/{node}", "Sys.Audit") }] }],
  task_stop: [{ calls: [{ endpoint: "DELETE /nodes/{node}/tasks/{upid}" }] }],
};

/** Tools that do not go through the PVE API with the agent's token, and why. */
const notPve: Array<[RegExp, string]> = [
  [/^pbs_/, "runs against the Proxmox Backup Server with its own token; see diagnose"],
  [/^pve_api_/, "depends on the path called: each path's permissions are in PVE's API viewer"],
];

/** Privilege name to propagate flag, by ACL path: GET /access/permissions. */
export type EffectivePermissions = Record<string, Record<string, number>>;

type Status = "ok" | "partial" | "missing";
interface Verdict {
  status: Status;
  missing: string[];
}

const rank: Record<Status, number> = { ok: 2, partial: 1, missing: 0 };

/**
 * Privileges held on `path` (or, with `children`, on any object below it): the path's own entry, else
 * what the nearest listed ancestor propagates.
 */
function heldOn(perms: EffectivePermissions, path: string, children = false): Set<string> {
  let p = path;
  for (let own = !children; ; own = false) {
    const entry = perms[p];
    if (entry) return new Set(Object.entries(entry).filter(([, propagate]) => own || propagate).map(([priv]) => priv));
    if (p === "/") return new Set();
    p = p.slice(0, p.lastIndexOf("/")) || "/";
  }
}

function satisfied(held: Set<string>, privs: string[], any: boolean): boolean {
  return any ? privs.some((p) => held.has(p)) : privs.every((p) => held.has(p));
}

/** ["perm", "/vms/{vmid}", [...]]: granted on every object (propagated from above), on some, or none. */
function permVerdict(perms: EffectivePermissions, template: string, privs: string[], any: boolean): Verdict {
  const at = template.indexOf("/{");
  const concrete = at < 0;
  const prefix = concrete ? template : template.slice(0, at) || "/";
  const held = heldOn(perms, prefix, !concrete);
  if (satisfied(held, privs, any)) return { status: "ok", missing: [] };
  const missing = any ? [`${privs.join(" or ")} on ${template}`] : privs.filter((p) => !held.has(p)).map((p) => `${p} on ${template}`);
  if (!concrete) {
    const under = Object.keys(perms).filter((p) => p.startsWith(`${prefix === "/" ? "" : prefix}/`));
    if (under.some((p) => satisfied(heldOn(perms, p), privs, any))) return { status: "partial", missing };
  }
  return { status: "missing", missing };
}

function evaluate(perms: EffectivePermissions, check: Check): Verdict {
  const [test, ...rest] = check;
  if (test === "and" || test === "or") {
    const verdicts = rest.map((sub) => evaluate(perms, sub as Check));
    const pick = test === "and" ? Math.min : Math.max;
    const best = pick(...verdicts.map((v) => rank[v.status]));
    const status = (Object.keys(rank) as Status[]).find((s) => rank[s] === best)!;
    return { status, missing: status === "ok" ? [] : [...new Set(verdicts.flatMap((v) => v.missing))] };
  }
  if (test === "perm") {
    const [template, privs, ...opts] = rest as [string, string[], ...unknown[]];
    const any = opts.some((o, i) => o === "any" && opts[i + 1]);
    return permVerdict(perms, template, privs, any);
  }
  if (test === "userid-param") return { status: "ok", missing: [] };
  if (test === "userid-group") return permVerdict(perms, "/access/groups", rest[0] as string[], true);
  if (test === "perm-modify") return permVerdict(perms, String(rest[0]).startsWith("/") ? String(rest[0]) : "/", ["Permissions.Modify"], false);
  return { status: "missing", missing: [`${String(test)} check`] };
}

/** "VM.PowerMgmt on /vms/{vmid}" and friends, for a person to read. */
function describe(check: Check): string {
  const [test, ...rest] = check;
  if (test === "and" || test === "or") return rest.map((sub) => describe(sub as Check)).join(test === "and" ? " and " : " or ");
  if (test === "perm") {
    const [template, privs, ...opts] = rest as [string, string[], ...unknown[]];
    return `${privs.join(opts.includes("any") ? " or " : " and ")} on ${template}`;
  }
  if (test === "userid-group") return `${(rest[0] as string[]).join(" or ")} on the user's groups`;
  if (test === "userid-param") return "being that user";
  return String(test);
}

function specCheck(spec: PermissionSpec | null): { check?: Check; open?: boolean; rootOnly?: boolean; description?: string } {
  if (!spec) return { rootOnly: true };
  if (spec.check) return { check: spec.check, description: spec.description };
  return { open: spec.user === "all" || spec.user === "world", description: spec.description };
}

export interface ToolPrivilege {
  tool: string;
  action?: string;
  status: Status | "not_checked";
  needs?: string;
  missing?: string[];
  note?: string;
}

/** For every tool definition, whether `perms` (a token's effective permissions) lets it work. */
export function toolPrivileges(definitions: readonly ToolDefinition[], catalog: Catalog, perms: EffectivePermissions): ToolPrivilege[] {
  const rows: ToolPrivilege[] = [];
  for (const def of definitions) {
    const reason = notPve.find(([re]) => re.test(def.name))?.[1] ?? (def.scope === "host:exec" ? "runs commands on the host, not PVE API calls" : undefined);
    const uses = toolCalls[def.name];
    if (reason || !uses) {
      rows.push({ tool: def.name, status: "not_checked", note: reason ?? "no table of the PVE calls this tool makes" });
      continue;
    }
    for (const use of uses) {
      const checks: Check[] = [];
      const notes: string[] = [];
      for (const call of use.calls) {
        const [method, template] = call.endpoint.split(" ") as [Method, string];
        const endpoint = catalog.byTemplate(method, template);
        if (!endpoint) {
          notes.push(`${call.endpoint} is not in the PVE 9 API`);
          continue;
        }
        const spec = specCheck(endpoint.permissions);
        if (spec.rootOnly) {
          // No permissions object: only root@pam may call it; a token inheriting root's rights holds everything on /.
          checks.push(["perm", "/", ["Permissions.Modify"]]);
          notes.push(`${call.endpoint} is for root@pam only`);
        }
        if (spec.check) checks.push(spec.check);
        if (call.also) checks.push(call.also);
        else if (spec.open && spec.description) notes.push(spec.description);
      }
      const verdict = checks.length ? evaluate(perms, ["and", ...checks]) : { status: "ok" as const, missing: [] };
      rows.push({
        tool: def.name,
        ...(use.action ? { action: use.action } : {}),
        status: verdict.status,
        ...(checks.length ? { needs: [...new Set(checks.map(describe))].join("; ") } : { needs: "any authenticated user" }),
        ...(verdict.missing.length ? { missing: verdict.missing } : {}),
        ...(notes.length ? { note: notes.join(" ").slice(0, 300) } : {}),
      });
    }
  }
  return rows;
}

/** True when the permission dump grants nothing anywhere. */
export function hasNoPrivileges(perms: EffectivePermissions): boolean {
  return Object.values(perms).every((privs) => Object.keys(privs).length === 0);
}
