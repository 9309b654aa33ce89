import { connect as tlsConnect } from "node:tls";
import { z } from "zod";
import { toToolError } from "../shared/errors.ts";
import type { AgentConfig } from "./config.ts";
import { PveClient } from "./pve.ts";
import type { AgentTool } from "./tools/registry.ts";
import { signAgentToken } from "./tunnel.ts";

export interface Finding {
  check: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

const permissions = z.record(z.string(), z.record(z.string(), z.union([z.number(), z.boolean()])));
const TIMEOUT_MS = 8_000;
const MAX_SKEW_S = 30;

function httpBase(workerUrl: string): string {
  const url = new URL(workerUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  url.pathname = url.pathname.replace(/\/agent\/?$/, "");
  return url.toString().replace(/\/$/, "");
}

/** The SHA-256 fingerprint of the certificate a TLS server presents, as PVE shows it (AB:CD:...). */
function peerFingerprint(url: URL): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: url.hostname, port: Number(url.port || 443), servername: url.hostname, rejectUnauthorized: false }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fp);
    });
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error("TLS handshake timed out")));
    socket.on("error", reject);
  });
}

/**
 * Checks everything the agent depends on, in the order a failure is usually found, and says how to fix
 * each problem: the worker, the clock, the agent's enrollment, PVE's certificate, the token, its privileges.
 */
export async function doctor(cfg: AgentConfig, privateKeyPem: string, tools: Map<string, AgentTool>): Promise<Finding[]> {
  const findings: Finding[] = [];
  const base = httpBase(cfg.worker_url);

  try {
    const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    findings.push({ check: "worker", ok: res.ok, detail: `${base} answered ${res.status}`, fix: res.ok ? undefined : "check worker_url: it must be the worker's address ending in /agent" });
    const date = res.headers.get("date");
    if (date) {
      const skew = Math.round((Date.now() - Date.parse(date)) / 1000);
      const ok = Math.abs(skew) <= MAX_SKEW_S;
      findings.push({ check: "clock", ok, detail: `this host's clock is ${skew} s ${skew >= 0 ? "ahead of" : "behind"} the worker's`, fix: ok ? undefined : "agent tokens live 2 minutes: enable time sync (timedatectl set-ntp true)" });
    }
    const token = await signAgentToken(cfg.agent_id, privateKeyPem);
    const auth = await fetch(`${base}/agent`, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(TIMEOUT_MS) });
    const body = (await auth.json().catch(() => ({}))) as { error_description?: string };
    findings.push({
      check: "enrollment",
      ok: auth.ok,
      detail: auth.ok ? `the worker accepts agent '${cfg.agent_id}'` : `the worker refused agent '${cfg.agent_id}': ${body.error_description ?? auth.status}`,
      fix: auth.ok ? undefined : "mint a code on the worker (POST /admin/enrollment-codes) and run: pve-mcp-agent enroll --worker URL --code CODE --agent-id ID --key KEYFILE",
    });
  } catch (err) {
    findings.push({ check: "worker", ok: false, detail: `cannot reach the worker at ${base}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`, fix: "check worker_url, DNS and the network path to the worker, and that the worker is running" });
  }

  const pveUrl = new URL(cfg.pve.url);
  try {
    const seen = await peerFingerprint(pveUrl);
    if (cfg.pve.fingerprint) {
      const ok = seen === cfg.pve.fingerprint;
      findings.push({
        check: "pve-tls",
        ok,
        detail: ok ? "PVE presents the pinned certificate" : `PVE's certificate changed: it presents ${seen}, the config pins ${cfg.pve.fingerprint}`,
        fix: ok ? undefined : `if the certificate was renewed on purpose (check with: pvenode cert info), set pve.fingerprint to ${seen}`,
      });
    } else {
      findings.push({ check: "pve-tls", ok: true, detail: `verified against ${cfg.pve.ca_file ?? "the system CAs"}; presented ${seen}` });
    }
  } catch (err) {
    findings.push({ check: "pve-reachable", ok: false, detail: `cannot reach PVE at ${cfg.pve.url}: ${(err as Error).message}`, fix: "check pve.url (usually https://127.0.0.1:8006) and that pveproxy runs (systemctl status pveproxy)" });
    return findings;
  }

  const pve = new PveClient(cfg.pve);
  try {
    await pve.request("GET", "/version");
    findings.push({ check: "pve-auth", ok: true, detail: `token ${cfg.pve.token_id} is accepted` });
    const perms = permissions.parse(await pve.request("GET", "/access/permissions"));
    findings.push(...privilegeFindings(cfg, perms, tools));
  } catch (err) {
    const e = toToolError(err);
    const status = (e.details as { status?: number } | undefined)?.status;
    findings.push({
      check: "pve-auth",
      ok: false,
      detail: `PVE refused token ${cfg.pve.token_id}: ${e.message}`,
      fix: status === 401 ? `the token secret is wrong or the token was deleted: create one (pveum user token add ${cfg.pve.token_id.replace("!", " ")} --privsep 1) and set pve.token_secret` : undefined,
    });
  } finally {
    await pve.close();
  }
  return findings;
}

function privilegeFindings(cfg: AgentConfig, perms: z.infer<typeof permissions>, tools: Map<string, AgentTool>): Finding[] {
  const held = new Set(Object.values(perms).flatMap((privs) => Object.keys(privs).filter((p) => privs[p])));
  if (held.size === 0) {
    return [
      {
        check: "pve-privileges",
        ok: false,
        detail: `token ${cfg.pve.token_id} has no privileges at all: it was created with privilege separation and has no ACL`,
        fix: `grant its role on /: pveum acl modify / --tokens '${cfg.pve.token_id}' --roles PVEAuditor (or the role the installer created)`,
      },
    ];
  }
  const missing = [...tools.values()]
    .map((t) => ({ name: t.def.name, lacks: (t.def.privileges ?? []).filter((p) => !held.has(p)) }))
    .filter((t) => t.lacks.length);
  if (!missing.length) return [{ check: "pve-privileges", ok: true, detail: `the token holds every privilege the ${tools.size} enabled tools need` }];
  const privs = [...new Set(missing.flatMap((m) => m.lacks))];
  return [
    {
      check: "pve-privileges",
      ok: false,
      detail: `the token lacks ${privs.join(", ")}, so these tools will fail with 403: ${missing.map((m) => `${m.name} (${m.lacks.join(", ")})`).join("; ")}`,
      fix: `add ${privs.join(", ")} to the token's role on /, or disable those tools`,
    },
  ];
}

export function renderFindings(findings: Finding[]): string {
  return findings.map((f) => `${f.ok ? "ok  " : "FAIL"} ${f.check}: ${f.detail}${f.fix ? `\n       fix: ${f.fix}` : ""}`).join("\n");
}
