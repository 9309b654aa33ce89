import { z } from "zod";

/**
 * Self-describing MCP session ids: `<random>.<claims>.<hmac>`. The claims are what the session learned
 * at initialize (who opened it, the protocol version, the client's capabilities), so that after a worker
 * restart or a Durable Object eviction the session can be rebuilt from the id alone and the client
 * carries on (the SDK client does not re-initialize on a 404).
 */
export const sessionClaimsSchema = z.object({
  sub: z.string(),
  pv: z.string(),
  caps: z.record(z.string(), z.unknown()),
  ci: z.object({ name: z.string(), version: z.string() }).loose(),
});
export type SessionClaims = z.infer<typeof sessionClaimsSchema>;

const encoder = new TextEncoder();

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromB64url(text: string): Uint8Array {
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

export class SessionIds {
  private readonly key: Promise<CryptoKey>;

  /** `secret` must be stable across restarts for rebuilt sessions to verify. */
  constructor(secret: string) {
    this.key = crypto.subtle.importKey("raw", encoder.encode(`mcp-session:${secret}`), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
  }

  async mint(claims: SessionClaims): Promise<string> {
    const body = `${crypto.randomUUID().replace(/-/g, "")}.${b64url(encoder.encode(JSON.stringify(claims)))}`;
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await this.key, encoder.encode(body)));
    return `${body}.${b64url(mac)}`;
  }

  /** The claims of a genuine id, or undefined for anything forged, truncated or malformed. */
  async verify(id: string): Promise<SessionClaims | undefined> {
    const parts = id.split(".");
    if (parts.length !== 3 || id.length > 8192) return undefined;
    try {
      const ok = await crypto.subtle.verify("HMAC", await this.key, fromB64url(parts[2]) as BufferSource, encoder.encode(`${parts[0]}.${parts[1]}`));
      if (!ok) return undefined;
      const claims = sessionClaimsSchema.safeParse(JSON.parse(new TextDecoder().decode(fromB64url(parts[1]))));
      return claims.success ? claims.data : undefined;
    } catch {
      return undefined;
    }
  }
}
