import { describe, expect, it } from "vitest";
import { defaultAgentId, parseWorkerConfig } from "../../worker/config.ts";

const base = { JWT_ISSUER: "iss", JWT_AUDIENCE: "aud", JWT_SECRET: "s".repeat(32) };

describe("worker config", () => {
  it("parses lists, JSON and defaults", () => {
    const cfg = parseWorkerConfig({ ...base, AGENT_KEYS: '{"pve1":"PEM"}', ALLOWED_ORIGINS: "http://localhost:6274, http://a" });
    expect(cfg.ALLOWED_ORIGINS).toEqual(["http://localhost:6274", "http://a"]);
    expect(cfg.ALLOWED_HOSTS).toContain("127.0.0.1");
    expect(defaultAgentId(cfg)).toBe("pve1");
    expect(cfg.CALL_TIMEOUT_MS).toBe(55_000);
  });
  it("names the bad variable", () => {
    expect(() => parseWorkerConfig({ ...base, JWT_SECRET: "short" })).toThrow(/JWT_SECRET: must be at least 32 characters/);
    expect(() => parseWorkerConfig({ ...base, AGENT_KEYS: "{nope" })).toThrow(/AGENT_KEYS: must be a JSON object/);
    expect(() => parseWorkerConfig({ JWT_ISSUER: "i", JWT_AUDIENCE: "a" })).toThrow(/set exactly one of JWT_SECRET, JWT_JWKS_URL, JWT_PUBLIC_KEY/);
    expect(() => parseWorkerConfig({ ...base, JWT_CLOCK_TOLERANCE_S: "300" })).toThrow(/JWT_CLOCK_TOLERANCE_S/);
    expect(() => parseWorkerConfig({ ...base, JWT_ALGORITHMS: "RS256" })).toThrow(/JWT_SECRET only verifies HS256/);
  });
});
