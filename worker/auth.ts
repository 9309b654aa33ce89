import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  importJWK,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JWK,
  type JWTVerifyGetKey,
  type KeyObject,
} from "jose";
import { AGENT_TOKEN_AUDIENCE, AGENT_TOKEN_TYPE, scopeSchema, type Principal, type Scope } from "../shared/protocol.ts";
import type { WorkerConfig } from "./config.ts";
import type { AgentRegistryApi } from "./registry.ts";

/** A refused request: the status, the OAuth error code, and a sentence saying what was wrong. */
export class AuthError extends Error {
  readonly status: 401 | 403;
  readonly error: string;
  readonly scope?: string;
  constructor(status: 401 | 403, error: string, description: string, scope?: string) {
    super(description);
    this.status = status;
    this.error = error;
    this.scope = scope;
  }
}

type Key = CryptoKey | KeyObject | Uint8Array;
type Verifier = Key | JWTVerifyGetKey;

function bearer(header: string | undefined | null): string {
  if (!header) throw new AuthError(401, "invalid_request", "no bearer token: send Authorization: Bearer <JWT>");
  const match = /^Bearer\s+([A-Za-z0-9_\-.]+)$/i.exec(header.trim());
  if (!match) throw new AuthError(401, "invalid_request", "Authorization header is not 'Bearer <JWT>'");
  return match[1];
}

async function importPublicKey(text: string, alg: string): Promise<Key> {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) return importJWK(JSON.parse(trimmed) as JWK, alg) as Promise<Key>;
  return importSPKI(trimmed.replace(/\\n/g, "\n"), alg);
}

/** jose's messages are precise ("\"exp\" claim timestamp check failed"); keep them, under a stable error code. */
function describeJoseError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return `token rejected: ${e.message ?? String(err)}${e.code ? ` (${e.code})` : ""}`;
}

/** Verifies client bearer tokens: pinned algorithms, required iss/aud/exp, bounded clock tolerance. */
export function createClientVerifier(cfg: WorkerConfig): (header: string | undefined | null) => Promise<Principal> {
  const algorithms = cfg.JWT_ALGORITHMS ?? (cfg.JWT_SECRET ? ["HS256"] : ["EdDSA", "ES256", "RS256"]);
  let keyPromise: Promise<Verifier> | undefined;
  const key = (): Promise<Verifier> => {
    keyPromise ??= (async (): Promise<Verifier> => {
      // Imported once: jose would import a raw secret again on every verification.
      if (cfg.JWT_SECRET) return crypto.subtle.importKey("raw", new TextEncoder().encode(cfg.JWT_SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
      if (cfg.JWT_JWKS_URL) return createRemoteJWKSet(new URL(cfg.JWT_JWKS_URL));
      return importPublicKey(cfg.JWT_PUBLIC_KEY as string, algorithms[0]);
    })();
    return keyPromise;
  };
  const cache = new VerifiedTokens();
  return async (header) => {
    const token = bearer(header);
    const known = cache.get(token);
    if (known) return known;
    let typ: string | undefined;
    try {
      typ = decodeProtectedHeader(token).typ;
    } catch {
      throw new AuthError(401, "invalid_token", "token is not a JWT");
    }
    if (typ === AGENT_TOKEN_TYPE) throw new AuthError(401, "invalid_token", "an agent credential cannot open an MCP session");
    let payload;
    try {
      const verifier = await key();
      const options = {
        algorithms,
        issuer: cfg.JWT_ISSUER,
        audience: cfg.JWT_AUDIENCE,
        clockTolerance: cfg.JWT_CLOCK_TOLERANCE_S,
        requiredClaims: ["exp", "iss", "aud", "sub"],
      };
      ({ payload } = typeof verifier === "function" ? await jwtVerify(token, verifier, options) : await jwtVerify(token, verifier, options));
    } catch (err) {
      throw new AuthError(401, "invalid_token", describeJoseError(err));
    }
    const principal = { sub: String(payload.sub), scopes: scopesOf(payload.scope ?? payload.scp) };
    cache.set(token, principal, Number(payload.exp) * 1000);
    return principal;
  };
}

const CACHE_MAX = 1000;
const CACHE_TTL_MS = 60_000;

/**
 * Tokens already verified, until they expire or for a minute at most: a client sends the same token with
 * every request, and verifying it each time was a fifth of the worker's CPU per call.
 */
class VerifiedTokens {
  private entries = new Map<string, { principal: Principal; until: number }>();

  get(token: string): Principal | undefined {
    const hit = this.entries.get(token);
    if (!hit) return undefined;
    if (hit.until > Date.now()) return hit.principal;
    this.entries.delete(token);
    return undefined;
  }

  set(token: string, principal: Principal, expiresAt: number): void {
    if (this.entries.size >= CACHE_MAX) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(token, { principal, until: Math.min(expiresAt, Date.now() + CACHE_TTL_MS) });
  }
}

function scopesOf(claim: unknown): Scope[] {
  const words = typeof claim === "string" ? claim.split(/\s+/) : Array.isArray(claim) ? claim.map(String) : [];
  return words.filter((w): w is Scope => scopeSchema.safeParse(w).success);
}

/**
 * Verifies an agent's connection token: EdDSA only, signed by the key registered for the agent named
 * in `sub`, with the agent audience and token type, and at most a few minutes old.
 */
export function createAgentVerifier(cfg: WorkerConfig, registry: AgentRegistryApi): (header: string | undefined | null) => Promise<string> {
  const staticKeys = new Map<string, Promise<Key>>();
  const keyFor = async (agentId: string): Promise<Key> => {
    if (await registry.isRevoked(agentId)) throw new AuthError(401, "invalid_token", `agent '${agentId}' has been revoked`);
    const enrolled = await registry.get(agentId);
    if (enrolled) return importJWK(enrolled.public_key as JWK, "EdDSA") as Promise<Key>;
    const raw = cfg.AGENT_KEYS[agentId];
    if (raw === undefined) throw new AuthError(401, "invalid_token", `agent '${agentId}' is not registered with this worker`);
    let key = staticKeys.get(agentId);
    if (!key) {
      key = typeof raw === "string" ? importPublicKey(raw, "EdDSA") : (importJWK(raw as JWK, "EdDSA") as Promise<Key>);
      staticKeys.set(agentId, key);
    }
    return key;
  };
  return async (header) => {
    const token = bearer(header);
    let agentId: string;
    try {
      agentId = String(decodeJwt(token).sub ?? "");
    } catch {
      throw new AuthError(401, "invalid_token", "agent token is not a JWT");
    }
    if (!agentId) throw new AuthError(401, "invalid_token", "agent token has no sub");
    const key = await keyFor(agentId);
    try {
      await jwtVerify(token, key, {
        algorithms: ["EdDSA"],
        typ: AGENT_TOKEN_TYPE,
        audience: AGENT_TOKEN_AUDIENCE,
        issuer: agentId,
        subject: agentId,
        maxTokenAge: "5m",
        clockTolerance: 60,
        requiredClaims: ["exp", "iat"],
      });
    } catch (err) {
      throw new AuthError(401, "invalid_token", describeJoseError(err));
    }
    return agentId;
  };
}
