import { generateKeyPairSync, randomBytes } from "node:crypto";
import { SignJWT } from "jose";
import type { Scope } from "../../shared/protocol.ts";

export const ALL_SCOPES: Scope[] = ["proxmox:read", "proxmox:write", "host:exec"];

export interface ClientTokenOptions {
  secret: string;
  issuer: string;
  audience: string;
  subject: string;
  scopes: Scope[];
  /** Lifetime in seconds. */
  ttl: number;
}

/** Mints an HS256 client token for the worker's JWT_SECRET mode. */
export async function mintClientToken(o: ClientTokenOptions): Promise<string> {
  return new SignJWT({ scope: o.scopes.join(" ") })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(o.issuer)
    .setAudience(o.audience)
    .setSubject(o.subject)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + o.ttl)
    .setJti(crypto.randomUUID())
    .sign(new TextEncoder().encode(o.secret));
}

/** A fresh Ed25519 key pair for an agent, as PEM. */
export function agentKeyPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

/** A random HS256 secret (256 bits, base64url). */
export function newSecret(): string {
  return randomBytes(32).toString("base64url");
}
