import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const DIR = join(import.meta.dirname, "../../.cache/node18");
const BIN = join(DIR, "node_modules/.bin/node");

/**
 * Node 18, the Node that PVE 8 ships, fetched from the npm registry (package `node@18`) into .cache/
 * the first time, so the agent bundle is tested on it as well as on the machine's Node 20.
 */
export function node18(): string {
  if (!existsSync(BIN)) {
    mkdirSync(DIR, { recursive: true });
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--no-save", "--prefix", DIR, "node@18"], { stdio: "ignore", timeout: 180_000 });
  }
  return BIN;
}
