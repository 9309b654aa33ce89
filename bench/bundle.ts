import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { ROOT, WRANGLER } from "./stack.ts";

export interface BundleSize {
  /** The worker script, for `wrangler dev`. */
  script: string;
  bytes: number;
  gzip: number;
  /** Bytes each package (or folder of this project) contributes to the output, largest first. */
  byOrigin: Array<{ name: string; bytes: number }>;
}

interface Metafile {
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}

/**
 * Builds the worker as `wrangler deploy` would upload it (--dry-run, no network) into `out`, and measures it.
 * The benchmark runs `wrangler dev` on this file, so that edits to the sources during the run cannot reload it.
 */
export async function buildWorkerBundle(out: string, extraArgs: string[] = []): Promise<BundleSize> {
  mkdirSync(out, { recursive: true });
  await promisify(execFile)(WRANGLER, ["deploy", "--dry-run", "--outdir", out, "--metafile", join(out, "meta.json"), ...extraArgs], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
  });
  const code = readdirSync(out).filter((f) => f.endsWith(".js") || f.endsWith(".mjs"));
  const texts = code.map((f) => readFileSync(join(out, f)));
  const meta = JSON.parse(readFileSync(join(out, "meta.json"), "utf8")) as Metafile;
  const origins = new Map<string, number>();
  for (const output of Object.values(meta.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = originOf(input);
      origins.set(name, (origins.get(name) ?? 0) + bytesInOutput);
    }
  }
  return {
    script: join(out, code[0]),
    bytes: texts.reduce((sum, t) => sum + t.length, 0),
    gzip: texts.reduce((sum, t) => sum + gzipSync(t).length, 0),
    byOrigin: [...origins].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes),
  };
}

function originOf(input: string): string {
  const nm = input.lastIndexOf("node_modules/");
  if (nm < 0) return input.includes("/") && !input.startsWith(".") ? `${input.split("/")[0]}/` : input;
  const parts = input.slice(nm + "node_modules/".length).split("/");
  return parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
}
