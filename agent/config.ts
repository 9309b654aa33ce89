import { readFileSync } from "node:fs";
import { z } from "zod";
import { formatZodError } from "../shared/errors.ts";

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
    timeout_ms: z.number().int().positive().default(30_000),
  })
  .strict();

export const agentConfigSchema = z
  .object({
    /** ws:// or wss:// address of the worker's /agent endpoint. */
    worker_url: z.url({ protocol: /^wss?$/ }),
    agent_id: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/),
    /** Ed25519 private key (PKCS#8 PEM) the agent signs its connection token with; a path or the PEM itself. */
    private_key: z.string().min(1),
    pve: pveEndpointSchema,
    /** Where the call journal lives, so a call is never run twice across restarts. Unset: memory only. */
    state_dir: z.string().optional(),
    max_concurrency: z.number().int().min(1).max(256).default(32),
    heartbeat_ms: z.number().int().min(1000).max(120_000).default(10_000),
    reconnect_max_ms: z.number().int().min(100).max(300_000).default(30_000),
    log_level: z.enum(["debug", "info", "warn", "error"]).default("info"),
  })
  .strict();

export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type PveEndpointConfig = z.infer<typeof pveEndpointSchema>;

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
