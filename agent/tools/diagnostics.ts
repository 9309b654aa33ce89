import { z } from "zod";
import { ToolError } from "../../shared/errors.ts";
import { diagnose } from "../../shared/tools/diagnostics.ts";
import type { PveClient } from "../pve.ts";
import { whoami } from "./access.ts";
import { implement, type ToolContext } from "./registry.ts";
import { parseReply } from "./replies.ts";
import { flag, num } from "./values.ts";

type Status = "ok" | "warning" | "failed" | "skipped";
interface Check {
  check: string;
  status: Status;
  detail: string;
  fix?: string;
}

const FULL = 0.9;

const statusRow = z.looseObject({ type: z.string(), name: z.string(), quorate: flag.optional(), online: flag.optional(), nodes: num.optional() });
const storageRow = z.looseObject({ storage: z.string().optional(), node: z.string().optional(), status: z.string().optional(), disk: num.optional(), maxdisk: num.optional(), shared: flag.optional() });

/** Where a first request failed: the network, TLS, the token, or PVE itself; with what to do about it. */
function classify(err: unknown, client: PveClient, label: string): Check[] {
  const e = err instanceof ToolError ? err : new ToolError("internal", String(err));
  const where = new URL(client.url);
  const hostPort = `${where.hostname}:${where.port || 443}`;
  const ok = (check: string, detail: string): Check => ({ check, status: "ok", detail });
  if (e.code === "deadline_exceeded") {
    return [{ check: `${label}reachability`, status: "failed", detail: `${client.url} did not answer in time.`, fix: `Check that ${hostPort} is reachable from the agent's host (routing, a firewall dropping packets) and that ${client.product === "PBS" ? "proxmox-backup-proxy" : "pveproxy"} is not overloaded.` }];
  }
  const cause = e.message;
  if (e.details?.connection) {
    if (/does not match the pinned/.test(cause)) {
      return [
        ok(`${label}reachability`, `${hostPort} accepts connections.`),
        { check: `${label}tls`, status: "failed", detail: `The certificate ${client.product} presents is not the pinned one: ${cause.replace(/^.*?: /, "")}.`, fix: `If the certificate was renewed (e.g. by ACME), pin the new fingerprint (${client.product === "PBS" ? "proxmox-backup-manager cert info" : "pvenode cert info"} shows it) in the agent config's fingerprint, or use ca_file instead. If it was not renewed, something is intercepting the connection: do not pin it.` },
      ];
    }
    if (/certificate|self[- ]signed|CERT_|altname|unable to verify/i.test(cause)) {
      return [
        ok(`${label}reachability`, `${hostPort} accepts connections.`),
        { check: `${label}tls`, status: "failed", detail: `TLS verification failed (${client.trust === "ca_file" ? "with the configured ca_file" : "with the system CAs"}): ${cause.replace(/^.*?: /, "")}.`, fix: client.product === "PBS" ? "Pin the server certificate's SHA-256 fingerprint (fingerprint in the pbs entry), as PBS uses a self-signed certificate." : "Set pve.ca_file to /etc/pve/pve-root-ca.pem (on the PVE host), or pin the certificate with pve.fingerprint (pvenode cert info)." },
      ];
    }
    const refused = /ECONNREFUSED/.test(cause);
    const dns = /ENOTFOUND|EAI_AGAIN/.test(cause);
    return [
      {
        check: `${label}reachability`,
        status: "failed",
        detail: refused ? `Nothing accepts connections on ${hostPort}.` : dns ? `The name ${where.hostname} does not resolve.` : `Cannot connect to ${hostPort}: ${cause.replace(/^.*?: /, "")}.`,
        fix: refused
          ? `Check the url's port (${client.product === "PBS" ? "8007" : "8006"}) and that ${client.product === "PBS" ? "proxmox-backup-proxy" : "pveproxy"} runs (systemctl status ${client.product === "PBS" ? "proxmox-backup-proxy" : "pveproxy"}).`
          : dns
            ? "Use an IP address or a name the agent's host can resolve."
            : "Check routing and firewalls between the agent and the server.",
      },
    ];
  }
  const status = e.details?.status as number | undefined;
  const reached = [ok(`${label}reachability`, `${hostPort} answers.`), ok(`${label}tls`, `The certificate is trusted (${client.trust === "fingerprint" ? "pinned fingerprint" : client.trust === "ca_file" ? "ca_file" : "system CAs"}).`)];
  if (status === 401) {
    return [
      ...reached,
      { check: `${label}authentication`, status: "failed", detail: `${client.product} refused the API token ${client.tokenId}: ${cause}.`, fix: `Check token_id (USER@REALM!TOKENID, e.g. root@pam!mcp) and token_secret, and that the token and its user exist, are enabled and not expired (${client.product === "PBS" ? "proxmox-backup-manager user list-tokens" : "pveum user token list"} USER).` },
    ];
  }
  return [...reached, { check: `${label}authentication`, status: "failed", detail: `${client.product} answered the first request with an error: ${cause}.` }];
}

async function pveChecks(ctx: ToolContext): Promise<Check[]> {
  const pve = ctx.pve;
  try {
    const version = parseReply(z.looseObject({ version: z.string() }), await pve.request("GET", "/version", {}, ctx), "GET /version");
    const checks: Check[] = [
      { check: "reachability", status: "ok", detail: `${pve.url} answers (PVE ${version.version}).` },
      { check: "tls", status: "ok", detail: `The certificate is trusted (${pve.trust === "fingerprint" ? "pinned fingerprint" : pve.trust === "ca_file" ? "ca_file" : "system CAs"}).` },
      { check: "authentication", status: "ok", detail: `The API token ${pve.tokenId} is valid.` },
    ];
    return [...checks, ...(await followUps(ctx))];
  } catch (err) {
    const failed = classify(err, pve, "");
    const done = new Set(failed.map((c) => c.check));
    const skipped = ["reachability", "tls", "authentication", "privileges", "quorum", "storage"].filter((c) => !done.has(c));
    return [...failed, ...skipped.map((check) => ({ check, status: "skipped" as const, detail: "not checked: an earlier check failed" }))];
  }
}

async function privilegeCheck(ctx: ToolContext): Promise<Check> {
  const me = await whoami(ctx);
  if (me.warnings.some((w) => w.includes("has no privileges"))) return { check: "privileges", status: "failed", detail: me.warnings[0], fix: "Grant the token a role with pveum acl modify (see detail)." };
  const missing = me.tools.filter((t) => t.status === "missing").map((t) => (t.action ? `${t.tool} (${t.action})` : t.tool));
  if (!missing.length) return { check: "privileges", status: "ok", detail: me.summary };
  const shown = missing.slice(0, 12).join(", ") + (missing.length > 12 ? `, and ${missing.length - 12} more` : "");
  return { check: "privileges", status: "warning", detail: `${me.summary} Refused: ${shown}.`, fix: "access_info action whoami shows each tool's missing privileges; grant a role on the path it names, or accept that those tools stay unavailable." };
}

async function quorumChecks(ctx: ToolContext): Promise<Check[]> {
  const rows = parseReply(z.array(statusRow), await ctx.pve.request("GET", "/cluster/status", {}, ctx), "GET /cluster/status");
  const cluster = rows.find((r) => r.type === "cluster");
  const nodes = rows.filter((r) => r.type === "node");
  const offline = nodes.filter((n) => !n.online).map((n) => n.name);
  const checks: Check[] = [];
  if (!cluster) checks.push({ check: "quorum", status: "ok", detail: "Standalone node: no cluster, no quorum needed." });
  else if (cluster.quorate) checks.push({ check: "quorum", status: "ok", detail: `Cluster ${cluster.name} is quorate (${nodes.length - offline.length} of ${nodes.length} nodes online).` });
  else {
    checks.push({
      check: "quorum",
      status: "failed",
      detail: `Cluster ${cluster.name} has lost quorum: only ${nodes.length - offline.length} of ${nodes.length} nodes are online. /etc/pve is read-only, so PVE refuses to start guests or change configuration.`,
      fix: "Bring the offline nodes back or repair corosync (pvecm status, journalctl -u corosync). Only as a last resort on a node that must work alone: pvecm expected 1.",
    });
  }
  checks.push(offline.length ? { check: "nodes", status: "warning", detail: `Offline: ${offline.join(", ")}. Calls for their guests fail with 595 No route to host.`, fix: "Check the nodes' power and network; ha_info status shows what HA does about their guests." } : { check: "nodes", status: "ok", detail: `All ${nodes.length} nodes are online.` });
  return checks;
}

async function storageCheck(ctx: ToolContext): Promise<Check> {
  const all = parseReply(z.array(storageRow.extend({ type: z.string() })), await ctx.pve.request("GET", "/cluster/resources", {}, ctx), "GET /cluster/resources");
  // Storages of an offline node read as unknown; the nodes check already reports the node.
  const offline = new Set(all.filter((r) => r.type === "node" && r.status !== "online").map((r) => r.node));
  const rows = all.filter((r) => r.type === "storage" && !offline.has(r.node));
  const problems: string[] = [];
  const full: string[] = [];
  const seenShared = new Set<string>();
  for (const s of rows) {
    const name = `${s.storage} on ${s.node}`;
    if (s.shared && s.storage) {
      if (seenShared.has(s.storage)) continue;
      seenShared.add(s.storage);
    }
    if (s.status !== "available") problems.push(`${name} is ${s.status ?? "unknown"}`);
    else if (s.maxdisk && (s.disk ?? 0) / s.maxdisk > FULL) full.push(`${s.shared ? s.storage : name} is ${Math.round(((s.disk ?? 0) / s.maxdisk) * 100)} % full`);
  }
  if (!rows.length) return { check: "storage", status: "warning", detail: "No storage is visible to the token.", fix: "Grant Datastore.Audit on /storage (PVEAuditor includes it)." };
  if (!problems.length && !full.length) return { check: "storage", status: "ok", detail: `${rows.length} storage entries are active and below ${FULL * 100} % usage.` };
  const detail = [...problems, ...full].join("; ") + ".";
  const fix = [
    problems.length ? "An inactive storage is unreachable or unmounted on that node (storage offline, NFS server down, node offline): check with pvesm status on the node." : "",
    full.length ? "Free space before it runs out (a full thin pool corrupts guest disks): remove old backups or unused disks, prune with pbs_prune, or extend the storage." : "",
  ].filter(Boolean).join(" ");
  return { check: "storage", status: full.some((f) => /(9[5-9]|100) %/.test(f)) || problems.length ? "failed" : "warning", detail, fix };
}

/** Checks that need a working, authenticated connection; each one alone may be refused for lack of privileges. */
async function followUps(ctx: ToolContext): Promise<Check[]> {
  const guarded = async (names: string[], run: () => Promise<Check | Check[]>): Promise<Check[]> => {
    try {
      const out = await run();
      return Array.isArray(out) ? out : [out];
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return names.map((check) => ({ check, status: "skipped" as const, detail: `not checked: ${message}` }));
    }
  };
  return [...(await guarded(["privileges"], () => privilegeCheck(ctx))), ...(await guarded(["quorum", "nodes"], () => quorumChecks(ctx))), ...(await guarded(["storage"], () => storageCheck(ctx)))];
}

async function pbsChecks(ctx: ToolContext): Promise<Check[]> {
  const out: Check[] = [];
  for (const name of ctx.pbs?.names() ?? []) {
    const client = ctx.pbs!.get(name);
    try {
      const version = parseReply(z.looseObject({ version: z.string() }), await client.request("GET", "/version", {}, ctx), "PBS GET /version");
      out.push({ check: `pbs:${name}`, status: "ok", detail: `${client.url} answers (Proxmox Backup Server ${version.version}) and accepts the token ${client.tokenId}.` });
    } catch (err) {
      const failed = classify(err, client, `pbs:${name} `).filter((c) => c.status !== "ok");
      out.push(...failed.map((c) => ({ ...c, check: `pbs:${name}` })));
    }
  }
  return out;
}

export const diagnosticTools = [
  implement(diagnose, async (_args, ctx) => {
    const checks = [...(await pveChecks(ctx)), ...(await pbsChecks(ctx))];
    const failed = checks.filter((c) => c.status === "failed");
    const warned = checks.filter((c) => c.status === "warning");
    const summary = !failed.length && !warned.length
      ? `All ${checks.length} checks passed.`
      : [...failed, ...warned].map((c) => `${c.status === "failed" ? "Problem" : "Warning"} (${c.check}): ${c.detail}`).join(" ");
    return { ok: failed.length === 0, summary, checks };
  }),
];
