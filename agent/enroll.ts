import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";

export interface EnrollOptions {
  /** http(s) base URL of the worker. */
  worker: string;
  code: string;
  agentId: string;
  /** Where the agent's private key lives; created (0600) when absent. The private key never leaves the host. */
  keyFile: string;
}

const enrolled = z.object({ agent_id: z.string(), agent_url: z.string() });
const refused = z.object({ error: z.string(), error_description: z.string() });

/** Reads the agent's Ed25519 key, creating it on first use. */
export function ensureAgentKey(keyFile: string): string {
  if (existsSync(keyFile)) return readFileSync(keyFile, "utf8");
  mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync("ed25519");
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  writeFileSync(keyFile, pem, { mode: 0o600 });
  return pem;
}

/** Registers this host's public key with the worker using a one-time enrollment code. */
export async function enroll(opts: EnrollOptions): Promise<{ agent_id: string; agent_url: string }> {
  const pem = ensureAgentKey(opts.keyFile);
  const jwk = createPublicKey(createPrivateKey(pem)).export({ format: "jwk" });
  const res = await fetch(new URL("/enroll", opts.worker), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ code: opts.code, agent_id: opts.agentId, public_key: jwk }),
  });
  const body: unknown = await res.json().catch(() => ({}));
  if (!res.ok) {
    const why = refused.safeParse(body);
    throw new Error(`enrollment refused (${res.status}): ${why.success ? why.data.error_description : "no explanation from the worker"}`);
  }
  return enrolled.parse(body);
}
