import { generateKeyPairSync } from "node:crypto";
import { createServer, type Server } from "node:http";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthError, createClientVerifier } from "../../worker/auth.ts";
import { parseWorkerConfig } from "../../worker/config.ts";

describe("client tokens from an external identity provider", () => {
  let jwks: Server;
  let url: string;
  let sign: (claims: Record<string, unknown>, kid?: string) => Promise<string>;

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "idp-1", alg: "ES256", use: "sig" };
    jwks = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((r) => jwks.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/.well-known/jwks.json`;
    sign = (claims, kid = "idp-1") =>
      new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid }).setIssuer("https://idp.example").setAudience("proxmox-mcp").setSubject("alice").setExpirationTime("5m").sign(privateKey);
  });
  afterAll(() => new Promise<void>((r) => jwks.close(() => r())));

  it("verifies ES256 tokens against the provider's JWKS URL and reads scopes", async () => {
    const verify = createClientVerifier(parseWorkerConfig({ JWT_ISSUER: "https://idp.example", JWT_AUDIENCE: "proxmox-mcp", JWT_JWKS_URL: url }));
    const principal = await verify(`Bearer ${await sign({ scope: "proxmox:read openid host:exec" })}`);
    expect(principal).toEqual({ sub: "alice", scopes: ["proxmox:read", "host:exec"] });
    await expect(verify(`Bearer ${await sign({ scope: "proxmox:read" }, "unknown-kid")}`)).rejects.toThrow(AuthError);
  });

  it("refuses an HS256 token when only asymmetric algorithms are pinned (key confusion)", async () => {
    const verify = createClientVerifier(parseWorkerConfig({ JWT_ISSUER: "https://idp.example", JWT_AUDIENCE: "proxmox-mcp", JWT_JWKS_URL: url }));
    const hs = await new SignJWT({ scope: "proxmox:read" }).setProtectedHeader({ alg: "HS256" }).setIssuer("https://idp.example").setAudience("proxmox-mcp").setSubject("x").setExpirationTime("5m").sign(new TextEncoder().encode("k".repeat(32)));
    await expect(verify(`Bearer ${hs}`)).rejects.toThrow(/alg/);
  });

  it("verifies EdDSA tokens against a configured PEM public key", async () => {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const verify = createClientVerifier(
      parseWorkerConfig({ JWT_ISSUER: "iss", JWT_AUDIENCE: "aud", JWT_PUBLIC_KEY: publicKey.export({ type: "spki", format: "pem" }).toString(), JWT_ALGORITHMS: "EdDSA" }),
    );
    const token = await new SignJWT({ scope: "proxmox:write" }).setProtectedHeader({ alg: "EdDSA" }).setIssuer("iss").setAudience("aud").setSubject("bob").setExpirationTime("1m").sign(privateKey);
    expect(await verify(`Bearer ${token}`)).toEqual({ sub: "bob", scopes: ["proxmox:write"] });
  });
});
