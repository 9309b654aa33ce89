import { z } from "zod";

/** An enrolled agent: its public key (JWK), when it enrolled, and whether it was revoked. */
export const agentRecordSchema = z.object({
  id: z.string(),
  public_key: z.record(z.string(), z.unknown()),
  enrolled_at: z.string(),
  revoked_at: z.string().optional(),
});
export type AgentRecord = z.infer<typeof agentRecordSchema>;

const codeRecord = z.object({ expires_at: z.number(), used_at: z.number().optional(), agent_id: z.string().optional() });

export const registryDataSchema = z.object({
  agents: z.record(z.string(), agentRecordSchema).default({}),
  /** Enrollment codes by SHA-256 of the code: the codes themselves are never stored. */
  codes: z.record(z.string(), codeRecord).default({}),
  /** Agents from the static AGENT_KEYS that were revoked. */
  revoked: z.array(z.string()).default([]),
});
export type RegistryData = z.infer<typeof registryDataSchema>;

/** Where the registry lives: a file on Node, Durable Object storage on Workers. */
export interface RegistryStore {
  load(): Promise<unknown>;
  save(data: RegistryData): Promise<void>;
}

/** The registry's operations; on Workers they are called over Durable Object RPC with the same names. */
export interface AgentRegistryApi {
  createCode(ttlSeconds: number): Promise<{ code: string; expires_at: string }>;
  enroll(code: string, agentId: string, publicKey: Record<string, unknown>): Promise<EnrollResult>;
  get(agentId: string): Promise<AgentRecord | undefined>;
  isRevoked(agentId: string): Promise<boolean>;
  list(): Promise<AgentRecord[]>;
  revoke(agentId: string): Promise<boolean>;
}

export type EnrollResult = { ok: true; agent: AgentRecord } | { ok: false; status: 400 | 401 | 409 | 410; error: string; message: string };

const ed25519Jwk = z.object({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), x: z.string().regex(/^[A-Za-z0-9_-]{43}$/) }).loose();
export const agentIdSchema = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/, "agent id: letters, digits, . _ - (up to 64)");
const CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

async function sha256(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function newCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  const chars = [...bytes].map((b) => CODE_ALPHABET[b % CODE_ALPHABET.length]).join("");
  return `pmc_${chars.slice(0, 5)}-${chars.slice(5, 10)}-${chars.slice(10, 15)}-${chars.slice(15, 20)}`;
}

/**
 * Enrolled agents and one-time enrollment codes. Every change is a read-modify-write of the whole
 * (small) document, serialised here, so a code can be consumed only once.
 */
export class AgentRegistry implements AgentRegistryApi {
  private readonly store: RegistryStore;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(store: RegistryStore) {
    this.store = store;
  }

  createCode(ttlSeconds: number): Promise<{ code: string; expires_at: string }> {
    return this.change(async (data) => {
      const code = newCode();
      const expires = Date.now() + ttlSeconds * 1000;
      data.codes[await sha256(code)] = { expires_at: expires };
      this.prune(data);
      return { code, expires_at: new Date(expires).toISOString() };
    });
  }

  enroll(code: string, agentId: string, publicKey: Record<string, unknown>): Promise<EnrollResult> {
    return this.change(async (data): Promise<EnrollResult> => {
      if (!agentIdSchema.safeParse(agentId).success) return { ok: false, status: 400, error: "invalid_request", message: "agent_id: letters, digits, . _ - (up to 64)" };
      const key = ed25519Jwk.safeParse(publicKey);
      if (!key.success) return { ok: false, status: 400, error: "invalid_request", message: "public_key must be an Ed25519 public JWK {kty: OKP, crv: Ed25519, x}" };
      if ("d" in publicKey) return { ok: false, status: 400, error: "invalid_request", message: "public_key contains a private part (d); send only the public key" };
      const hash = await sha256(code);
      const entry = data.codes[hash];
      if (!entry) return { ok: false, status: 401, error: "invalid_code", message: "unknown enrollment code" };
      if (entry.used_at) return { ok: false, status: 410, error: "code_used", message: "this enrollment code was already used; mint a new one" };
      if (entry.expires_at < Date.now()) return { ok: false, status: 410, error: "code_expired", message: "this enrollment code has expired; mint a new one" };
      const existing = data.agents[agentId];
      if (existing && !existing.revoked_at) return { ok: false, status: 409, error: "agent_exists", message: `agent '${agentId}' is already enrolled; revoke it first to re-enroll` };
      entry.used_at = Date.now();
      entry.agent_id = agentId;
      const { kty, crv, x } = key.data;
      const agent: AgentRecord = { id: agentId, public_key: { kty, crv, x }, enrolled_at: new Date().toISOString() };
      data.agents[agentId] = agent;
      data.revoked = data.revoked.filter((id) => id !== agentId);
      return { ok: true, agent };
    });
  }

  async get(agentId: string): Promise<AgentRecord | undefined> {
    const record = (await this.read()).agents[agentId];
    return record && !record.revoked_at ? record : undefined;
  }

  async isRevoked(agentId: string): Promise<boolean> {
    const data = await this.read();
    return data.revoked.includes(agentId) || Boolean(data.agents[agentId]?.revoked_at);
  }

  async list(): Promise<AgentRecord[]> {
    return Object.values((await this.read()).agents);
  }

  revoke(agentId: string): Promise<boolean> {
    return this.change(async (data) => {
      const record = data.agents[agentId];
      if (record) record.revoked_at = new Date().toISOString();
      if (!data.revoked.includes(agentId)) data.revoked.push(agentId);
      return true;
    });
  }

  /** The store is read once and then kept: this object is its only writer (one process, or one Durable Object). */
  private cached?: RegistryData;

  private async read(): Promise<RegistryData> {
    await this.queue.catch(() => undefined);
    return this.loadFresh();
  }

  private change<T>(apply: (data: RegistryData) => Promise<T>): Promise<T> {
    const run = this.queue.catch(() => undefined).then(async () => {
      const data = structuredClone(await this.loadFresh());
      const result = await apply(data);
      await this.store.save(data);
      this.cached = data;
      return result;
    });
    this.queue = run;
    return run;
  }

  private async loadFresh(): Promise<RegistryData> {
    this.cached ??= registryDataSchema.parse((await this.store.load()) ?? {});
    return this.cached;
  }

  /** Forgets codes that expired or were used more than a day ago. */
  private prune(data: RegistryData): void {
    const cutoff = Date.now() - 86_400_000;
    for (const [hash, c] of Object.entries(data.codes)) if ((c.used_at ?? c.expires_at) < cutoff) delete data.codes[hash];
  }
}

/** A registry kept in memory (tests, and Node when no file is configured). */
export function memoryStore(): RegistryStore {
  let data: unknown;
  return {
    load: async () => data,
    save: async (d) => {
      data = structuredClone(d);
    },
  };
}
