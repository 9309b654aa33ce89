import { readFileSync } from "node:fs";
import { z } from "zod";
import { formatZodError } from "../shared/errors.ts";
import { eventsConfigSchema } from "./events/config.ts";
import { DEFAULT_KNOWN_HOSTS } from "./exec/known-hosts.ts";
import { policyRuleConfigSchema } from "./policy/rule-config.ts";

/** Host commands (host_exec, node_exec, guest_exec, audit_read). Off unless enabled. */
export const execConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Run commands as this user (the agent must run as root for that); unset: as the agent's own user. */
    run_as: z.string().regex(/^[a-z_][a-z0-9_-]*$/).optional(),
    default_timeout_s: z.number().int().min(1).max(3600).default(60),
    /** Cap per output stream; what is beyond is counted and dropped. */
    max_output_bytes: z.number().int().min(1024).max(4 * 1024 * 1024).default(1024 * 1024),
    max_concurrency: z.number().int().min(1).max(64).default(4),
    audit_file: z.string().default("/var/log/pve-mcp/audit.jsonl"),
    audit_max_bytes: z.number().int().min(4096).default(10 * 1024 * 1024),
    audit_keep: z.number().int().min(1).max(100).default(5),
    /** Extra deny/allow rules on top of the built-in policy (agent/policy/rules.ts). */
    policy_rules: z.array(policyRuleConfigSchema).default([]),
    /** The pct binary that runs commands in containers. */
    pct: z.string().default("/usr/sbin/pct"),
    ssh: z
      .object({
        user: z.string().default("root"),
        /** Private key (PEM file) used to reach the other nodes. */
        private_key: z.string().default("/root/.ssh/id_rsa"),
        known_hosts: z.array(z.string()).default(DEFAULT_KNOWN_HOSTS),
        port: z.number().int().min(1).max(65535).default(22),
        /** Address per node name; unset nodes use the address PVE reports in /cluster/status. */
        nodes: z.record(z.string(), z.string()).default({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type ExecConfig = z.infer<typeof execConfigSchema>;

const fingerprint = z
  .string()
  .regex(/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, "expected a SHA-256 fingerprint like AB:CD:...(32 bytes)")
  .transform((s) => s.toUpperCase());

export const pveEndpointSchema = z
  .object({
    /** https://host:8006 of the PVE API. */
    url: z.url({ protocol: /^https?$/ }),
    token_id: z.string().regex(/^[^@!\s]+@[^@!\s]+![A-Za-z][A-Za-z0-9._-]*$/, "expected USER@REALM!TOKENID"),
    token_secret: z.string().min(1),
    /** Trust this certificate (SHA-256 of the leaf) instead of a CA: the way to use PVE's self-signed certificate. */
    fingerprint: fingerprint.optional(),
    /** CA bundle that signs the PVE certificate; on a PVE host /etc/pve/pve-root-ca.pem. */
    ca_file: z.string().optional(),
    /** Other node addresses of the same cluster, tried in order when the current one cannot be reached. */
    failover_urls: z.array(z.url({ protocol: /^https?$/ })).default([]),
    /** Pins of those nodes' certificates, when trusting by fingerprint (each node has its own certificate). */
    failover_fingerprints: z.array(fingerprint).default([]),
    timeout_ms: z.number().int().positive().default(30_000),
  })
  .strict();

/** A Proxmox Backup Server the PBS tools may use: the PVE endpoint's keys plus a name (the tools' `pbs` argument). */
export const pbsEndpointSchema = pveEndpointSchema.extend({
  name: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/, "expected a short name like pbs1").default("pbs"),
});

export const agentConfigSchema = z
  .object({
    /** ws:// or wss:// address of the worker's /agent endpoint. */
    worker_url: z.url({ protocol: /^wss?$/ }),
    agent_id: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/),
    /** Ed25519 private key (PKCS#8 PEM) the agent signs its connection token with; a path or the PEM itself. */
    private_key: z.string().min(1),
    pve: pveEndpointSchema,
    /** More PVE clusters or standalone hosts, by name; tools pick one with their `endpoint` argument. */
    endpoints: z.record(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/), pveEndpointSchema).default({}),
    /** Where the call journal lives, so a call is never run twice across restarts. Unset: memory only. */
    state_dir: z.string().optional(),
    max_concurrency: z.number().int().min(1).max(256).default(32),
    heartbeat_ms: z.number().int().min(1000).max(120_000).default(10_000),
    reconnect_max_ms: z.number().int().min(100).max(300_000).default(30_000),
    log_level: z.enum(["debug", "info", "warn", "error"]).default("info"),
    /** Event listeners, filters and notifiers (agent/events/README.md); absent: no listening. */
    events: eventsConfigSchema.optional(),
    exec: execConfigSchema.prefault({}),
    /** Proxmox Backup Servers for the pbs_* tools (https://host:8007, token USER@REALM!TOKENID); absent: none. */
    pbs: z
      .array(pbsEndpointSchema)
      .refine((list) => new Set(list.map((p) => p.name)).size === list.length, "every pbs entry needs its own name")
      .optional(),
  })
  .strict();

export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type PveEndpointConfig = z.infer<typeof pveEndpointSchema>;
export type PbsEndpointConfig = z.infer<typeof pbsEndpointSchema>;

/** Environment variables that override the file, for secrets kept out of it. */
const envOverrides: Record<string, (cfg: Record<string, any>, value: string) => void> = {
  PVE_MCP_WORKER_URL: (c, v) => (c.worker_url = v),
  PVE_MCP_AGENT_ID: (c, v) => (c.agent_id = v),
  PVE_MCP_PRIVATE_KEY: (c, v) => (c.private_key = v),
  PVE_MCP_STATE_DIR: (c, v) => (c.state_dir = v),
  PVE_URL: (c, v) => ((c.pve ??= {}).url = v),
  PVE_TOKEN_ID: (c, v) => ((c.pve ??= {}).token_id = v),
  PVE_TOKEN_SECRET: (c, v) => ((c.pve ??= {}).token_secret = v),
  PVE_FINGERPRINT: (c, v) => ((c.pve ??= {}).fingerprint = v),
};

/** Reads the config file (JSON) named by --config or PVE_MCP_CONFIG, applies env overrides, validates once. */
export function loadAgentConfig(path: string | undefined, env: Record<string, string | undefined>): AgentConfig {
  let raw: Record<string, any> = {};
  if (path) {
    try {
      raw = JSON.parse(readFileSync(path, "utf8"));
    } catch (err) {
      throw new Error(`cannot read agent config ${path}: ${(err as Error).message}`);
    }
  }
  for (const [name, apply] of Object.entries(envOverrides)) {
    const value = env[name];
    if (value) apply(raw, value);
  }
  return parseAgentConfig(raw, path ?? "environment");
}

export function parseAgentConfig(raw: unknown, source: string): AgentConfig {
  const parsed = agentConfigSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`invalid agent config (${source}): ${formatZodError(parsed.error)}`);
  return parsed.data;
}
