import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { z } from "zod";
import { scopeSchema } from "../shared/protocol.ts";
import { mintClientToken } from "./lib/credentials.ts";

/**
 * Mints a client token for a worker in JWT_SECRET (HS256) mode and prints how to use it.
 * Reads JWT_SECRET, JWT_ISSUER and JWT_AUDIENCE from the environment, or from .dev/worker.env (npm start).
 *
 *   npm run token -- --sub alice --scopes proxmox:read,proxmox:write --ttl 30d --url https://mcp.example.com
 */
const { values } = parseArgs({
  options: {
    sub: { type: "string", default: "admin" },
    scopes: { type: "string", default: "proxmox:read" },
    ttl: { type: "string", default: "30d" },
    url: { type: "string", default: "http://127.0.0.1:8787" },
  },
});

function devEnv(): Record<string, string> {
  const file = ".dev/worker.env";
  if (!existsSync(file)) return {};
  return Object.fromEntries(
    readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

const ttlSeconds = (ttl: string): number => {
  const m = /^(\d+)([smhd])$/.exec(ttl);
  if (!m) throw new Error(`--ttl: expected a number with s, m, h or d (e.g. 30d), got '${ttl}'`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "s" | "m" | "h" | "d"];
};

const env = { ...devEnv(), ...process.env };
const cfg = z
  .object({ JWT_SECRET: z.string().min(32), JWT_ISSUER: z.string().min(1), JWT_AUDIENCE: z.string().min(1) })
  .safeParse(env);
if (!cfg.success) {
  console.error(`token: set JWT_SECRET (32+ chars), JWT_ISSUER and JWT_AUDIENCE as the worker has them (${cfg.error.issues.map((i) => i.path.join(".")).join(", ")} missing)`);
  process.exit(2);
}
const scopes = z.array(scopeSchema).parse((values.scopes ?? "").split(",").map((s) => s.trim()));
const token = await mintClientToken({
  secret: cfg.data.JWT_SECRET,
  issuer: cfg.data.JWT_ISSUER,
  audience: cfg.data.JWT_AUDIENCE,
  subject: values.sub ?? "admin",
  scopes,
  ttl: ttlSeconds(values.ttl ?? "30d"),
});
const mcpUrl = `${(values.url ?? "").replace(/\/$/, "")}/mcp`;
console.log(`token (sub ${values.sub}, scopes ${scopes.join(" ")}, valid ${values.ttl}):
${token}

Claude Code:
  claude mcp add --transport http proxmox ${mcpUrl} --header "Authorization: Bearer ${token}"

n8n (MCP Client Tool node):
  Endpoint: ${mcpUrl}
  Server Transport: HTTP Streamable
  Authentication: Bearer Auth, token above

Claude Desktop (claude_desktop_config.json):
  {"mcpServers": {"proxmox": {"command": "npx", "args": ["mcp-remote", "${mcpUrl}", "--header", "Authorization: Bearer ${token}"]}}}`);
