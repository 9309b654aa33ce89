import { z } from "zod";
import { formatZodError } from "../shared/errors.ts";

const list = z
  .string()
  .transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean));

const algorithms = z.enum(["HS256", "EdDSA", "ES256", "RS256"]);

/**
 * The worker's configuration, from environment variables (Node) or bindings and secrets (Workers).
 * Exactly one client-token verifier must be set: JWT_SECRET (HS256), JWT_JWKS_URL, or JWT_PUBLIC_KEY.
 */
export const workerConfigSchema = z
  .object({
    /** Required `iss` of client tokens. */
    JWT_ISSUER: z.string().min(1),
    /** Required `aud` of client tokens: the MCP resource, e.g. https://mcp.example.com/mcp. */
    JWT_AUDIENCE: z.string().min(1),
    JWT_SECRET: z.string().min(32, "must be at least 32 characters (256 bits) for HS256").optional(),
    JWT_JWKS_URL: z.url().optional(),
    /** A PEM (SPKI) public key or a public JWK as JSON. */
    JWT_PUBLIC_KEY: z.string().optional(),
    JWT_ALGORITHMS: list.pipe(z.array(algorithms).min(1)).optional(),
    JWT_CLOCK_TOLERANCE_S: z.coerce.number().int().min(0).max(60).default(30),
    /** Authorization server to advertise in the protected-resource metadata (external identity provider). */
    AUTH_SERVER_URL: z.url().optional(),
    /** JSON object {agentId: public key (PEM or JWK)} of the agents allowed to connect. */
    AGENT_KEYS: z
      .string()
      .default("{}")
      .transform((s, ctx) => {
        try {
          return JSON.parse(s) as unknown;
        } catch {
          ctx.addIssue({ code: "custom", message: "must be a JSON object {agentId: publicKey}" });
          return z.NEVER;
        }
      })
      .pipe(z.record(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/), z.union([z.string(), z.record(z.string(), z.unknown())]))),
    /** Node only: where enrolled agents and enrollment codes are kept (Workers keep them in a Durable Object). */
    AGENT_REGISTRY_FILE: z.string().default("data/agents.json"),
    /** The agent /mcp talks to; defaults to the only configured agent. */
    DEFAULT_AGENT: z.string().optional(),
    /** Host header values accepted (DNS-rebinding protection); ports are ignored. */
    ALLOWED_HOSTS: list.default(["localhost", "127.0.0.1", "[::1]"]),
    /** Browser origins accepted (CORS and Origin check), e.g. http://localhost:6274 for MCP Inspector. */
    ALLOWED_ORIGINS: list.default([]),
    /** Public base URL, used in WWW-Authenticate and discovery documents. Derived from the request when unset. */
    PUBLIC_URL: z.url().optional(),
    CALL_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(55_000),
    /** How long a call in flight waits for a dropped agent to come back before failing. */
    RECONNECT_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(30_000),
    HEARTBEAT_MS: z.coerce.number().int().min(1000).max(120_000).default(10_000),
    MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(16 * 1024 * 1024).default(1024 * 1024),
    /**
     * Human confirmation of destructive tools: `off` never asks; `elicit` asks through MCP elicitation when the
     * client supports it and otherwise relies on the client's own confirmation of destructive tools;
     * `require` asks, and refuses when the client cannot ask.
     */
    CONFIRM_DESTRUCTIVE: z.enum(["off", "elicit", "require"]).default("elicit"),
    /** Signs MCP session ids so sessions survive a restart; defaults to one derived from JWT_SECRET. */
    SESSION_SECRET: z.string().min(32).optional(),
    LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  })
  .superRefine((cfg, ctx) => {
    const verifiers = [cfg.JWT_SECRET, cfg.JWT_JWKS_URL, cfg.JWT_PUBLIC_KEY].filter(Boolean).length;
    if (verifiers !== 1) {
      ctx.addIssue({ code: "custom", path: ["JWT_SECRET"], message: "set exactly one of JWT_SECRET, JWT_JWKS_URL, JWT_PUBLIC_KEY" });
    }
    if (cfg.JWT_SECRET && cfg.JWT_ALGORITHMS?.some((a) => a !== "HS256")) {
      ctx.addIssue({ code: "custom", path: ["JWT_ALGORITHMS"], message: "JWT_SECRET only verifies HS256" });
    }
  });

export type WorkerConfig = z.infer<typeof workerConfigSchema>;

/** Parses the environment once; the error names each bad variable. */
export function parseWorkerConfig(env: Record<string, unknown>): WorkerConfig {
  const strings = Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === "string" && v !== ""));
  const parsed = workerConfigSchema.safeParse(strings);
  if (!parsed.success) throw new Error(`invalid worker configuration: ${formatZodError(parsed.error)}`);
  return parsed.data;
}

/** The key that signs session ids: SESSION_SECRET, else JWT_SECRET, else random (sessions then end with the process). */
export function sessionSecret(cfg: WorkerConfig): string {
  return cfg.SESSION_SECRET ?? cfg.JWT_SECRET ?? crypto.randomUUID() + crypto.randomUUID();
}

/** The agent that /mcp relays to. */
export function defaultAgentId(cfg: WorkerConfig): string | undefined {
  return cfg.DEFAULT_AGENT ?? (Object.keys(cfg.AGENT_KEYS).length === 1 ? Object.keys(cfg.AGENT_KEYS)[0] : undefined);
}

/** The agent behind /mcp, also looking at enrolled agents when none is configured: the only one enrolled. */
export async function resolveDefaultAgent(cfg: WorkerConfig, enrolled: () => Promise<Array<{ id: string; revoked_at?: string }>>): Promise<string | undefined> {
  const configured = defaultAgentId(cfg);
  if (configured || Object.keys(cfg.AGENT_KEYS).length > 1) return configured;
  const active = (await enrolled()).filter((a) => !a.revoked_at);
  return active.length === 1 ? active[0].id : undefined;
}
