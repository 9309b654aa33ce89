import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import type { Event } from "../../../shared/event.ts";
import { createLogger, type Logger } from "../../../shared/log.ts";
import type { RawEvent } from "../../../agent/events/source.ts";

/** A logger that keeps its JSON lines for assertions instead of writing them. */
export function memoryLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { log: createLogger("test", "debug", (line) => lines.push(JSON.parse(line))), lines };
}

/** Collects what a listener emits. */
export function collector(): { emit: (e: RawEvent) => void; events: RawEvent[] } {
  const events: RawEvent[] = [];
  return { emit: (e) => events.push(e), events };
}

/** A failed-task event as the pipeline would deliver it. */
export const sampleEvent: Event = {
  id: "01KAQ7C1M0ABCDEFGHJKMNPQRS",
  time: "2026-11-23T09:00:00.000Z",
  source: "pve-task",
  node: "pve1",
  severity: "error",
  title: "Task failed: VM start 101: unable to find configuration file",
  message: "VM start 101 on pve1 by root@pam failed: unable to find configuration file",
  metadata: { type: "qmstart", vmid: 101 },
};

export function raw(overrides: Partial<RawEvent> = {}): RawEvent {
  return { source: "syslog", severity: "info", title: "t", message: "m", ...overrides };
}

export interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  url: string;
}

/** A real HTTP receiver on 127.0.0.1 recording every request; `status` decides the answer (and may take its time). */
export async function startReceiver(port = 0, status: (d: Delivery) => number | Promise<number> = () => 200) {
  const deliveries: Delivery[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      const d = { headers: req.headers, body, url: req.url ?? "/" };
      deliveries.push(d);
      void Promise.resolve(status(d)).then((code) => {
        if (!res.destroyed) res.writeHead(code, { "Content-Type": "application/json" }).end("{}");
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    deliveries,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Polls until `check` holds or the time is up. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
