import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";

/**
 * Announces a benchmark child as ready (one `READY {json}` line on stdout), then stops it on SIGTERM or
 * SIGINT, or when the benchmark that spawned it is gone, and exits. With `profileTo`, SIGUSR2 starts the
 * V8 CPU profiler and the stop writes the profile there, so that it covers the measured load only and not
 * the start-up.
 */
export function serveUntilStopped(ready: Record<string, unknown>, stop: () => Promise<void>, profileTo?: string): void {
  const session = profileTo ? new Session() : undefined;
  let profiling = false;
  if (session) {
    session.connect();
    process.on("SIGUSR2", () => {
      profiling = true;
      void session.post("Profiler.enable").then(() => session.post("Profiler.setSamplingInterval", { interval: 250 })).then(() => session.post("Profiler.start"));
    });
  }
  const writeProfile = async () => {
    if (!session || !profiling || !profileTo) return;
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(profileTo, JSON.stringify(profile));
  };
  process.stdout.write(`READY ${JSON.stringify(ready)}\n`);
  const parent = process.ppid;
  let stopping = false;
  const end = () => {
    if (stopping) return;
    stopping = true;
    void writeProfile()
      .then(stop)
      .finally(() => process.exit(0));
  };
  process.once("SIGTERM", end);
  process.once("SIGINT", end);
  setInterval(() => {
    if (process.ppid !== parent) end();
  }, 1000).unref();
}
