/**
 * Runs the PVE simulator until SIGINT/SIGTERM:
 *
 *   node sim/main.ts --port 8006 --host 127.0.0.1 [--task-duration-ms 300]
 *
 * Prints one JSON line {url, fingerprint, tokenid, secret} on stdout once it listens.
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { startSimulator } from "./simulator.ts";

const argsSchema = z.object({
  host: z.string().min(1).default("127.0.0.1"),
  port: z.coerce.number().int().min(0).max(65535).default(8006),
  "task-duration-ms": z.coerce.number().int().min(0).default(300),
});

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { host: { type: "string" }, port: { type: "string" }, "task-duration-ms": { type: "string" } },
    strict: true,
  });
  const parsed = argsSchema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`--${issue.path.join(".")}: ${issue.message}`);
  }
  const args = parsed.data;
  const sim = await startSimulator({ host: args.host, port: args.port, taskDurationMs: args["task-duration-ms"] });
  process.stdout.write(`${JSON.stringify({ url: sim.url, fingerprint: sim.fingerprint, tokenid: sim.token.tokenid, secret: sim.token.secret })}\n`);
  const stop = (): void => {
    void sim.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ level: "error", msg: "simulator failed to start", error: err instanceof Error ? err.message : String(err) })}\n`);
  process.exit(1);
});
