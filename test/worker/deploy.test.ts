import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";

describe("wrangler deploy", () => {
  it("bundles the worker as it is (--dry-run) and reports the size", () => {
    const out = mkdtempSync(join(tmpdir(), "wrangler-out-"));
    try {
      const log = execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", out], {
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 120_000,
      }).toString();
      expect(log).toMatch(/--dry-run: exiting now/);
      const bundle = readdirSync(out).find((f) => f.endsWith(".js"));
      expect(bundle).toBeDefined();
      const raw = readFileSync(join(out, bundle as string));
      const gzipped = gzipSync(raw).length;
      console.log(`worker bundle: ${(raw.length / 1024).toFixed(0)} KiB, ${(gzipped / 1024).toFixed(0)} KiB gzipped`);
      // Workers' free plan allows 3 MiB compressed.
      expect(gzipped).toBeLessThan(3 * 1024 * 1024);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 150_000);
});
