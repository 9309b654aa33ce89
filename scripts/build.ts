import { build } from "esbuild";
import { statSync } from "node:fs";

/**
 * Bundles the agent into one CommonJS file that runs on the plain Node of a Proxmox host
 * (18 on PVE 8, 20 on PVE 9): no npm install on the host.
 */
const outfile = "dist/pve-mcp-agent.cjs";
await build({
  entryPoints: ["agent/main.ts"],
  outfile,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node18",
  minify: true,
  sourcemap: false,
  legalComments: "none",
  banner: { js: "#!/usr/bin/env node" },
  // Optional native speed-ups of ws and ssh2; both fall back to JavaScript when absent.
  external: ["bufferutil", "utf-8-validate", "cpu-features", "*.node"],
  logLevel: "warning",
});
console.log(`${outfile}: ${(statSync(outfile).size / 1024).toFixed(0)} KiB`);
