import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { severities, type Severity } from "../../../shared/event.ts";
import type { Logger } from "../../../shared/log.ts";
import type { Emit, EventListener, ListenerCounters } from "../source.ts";
import { firstLine, validDate } from "../text.ts";

export interface WebhookOptions {
  /** Loopback only: PVE posts from the same host, and nothing else should reach this port. */
  host: string;
  /** 0 picks a free port (tests); read it back from `port`. */
  port: number;
  path: string;
  secret: string;
  /** Request header carrying the secret, e.g. a PVE webhook target header `X-Webhook-Secret: {{ secrets.token }}`. */
  secret_header: string;
  max_body_bytes: number;
  emit: Emit;
  log: Logger;
}

/**
 * The body we ask PVE's webhook target to send (Handlebars template in the target's `body`):
 * `{"title":"{{ escape title }}","message":"{{ escape message }}","severity":"{{ severity }}","timestamp":{{ timestamp }},"fields":{{ json fields }}}`.
 * Every key is optional so hand-written templates work too; a `secret` key is accepted when the
 * header cannot be set.
 */
const notificationBody = z.looseObject({
  title: z.string().optional(),
  message: z.string().optional(),
  severity: z.string().optional(),
  timestamp: z.union([z.number(), z.string()]).optional(),
  fields: z.record(z.string(), z.unknown()).optional(),
  secret: z.string().optional(),
});

/** PVE's notification severities: info, notice, warning, error, unknown (forwarded system mail). */
const pveSeverity: Record<string, Severity> = { unknown: "notice", err: "error", warn: "warning", crit: "critical" };

class HttpRefusal extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Receives PVE notification-system webhooks (PVE 8.3+ "Webhook" targets) on a loopback HTTP port:
 * checks the shared secret in constant time, bounds the body, and turns each POST into an event.
 * Answers 401 on a wrong or missing secret, 413 over the size limit, 400 on a body it cannot read.
 */
export class WebhookListener implements EventListener {
  readonly name = "webhook";
  private readonly opts: WebhookOptions;
  private server?: Server;
  private readonly secretDigest: Buffer;
  private readonly stats: ListenerCounters = { received: 0, emitted: 0, errors: 0, rejected: 0, too_large: 0, malformed: 0 };

  constructor(opts: WebhookOptions) {
    if (!isLoopback(opts.host)) throw new Error(`webhook listener must bind a loopback address, not ${opts.host}`);
    this.opts = opts;
    this.secretDigest = digest(opts.secret);
  }

  /** The bound port (the configured one, or the one the system picked for 0). */
  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.opts.port;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (err) => this.opts.log.error("webhook listener error", { error: err.message }));
    this.server = server;
    this.opts.log.info("webhook listener ready", { host: this.opts.host, port: this.port, path: this.opts.path });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  counters(): ListenerCounters {
    return { ...this.stats };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.received++;
    try {
      const path = new URL(req.url ?? "/", "http://localhost").pathname;
      if (path !== this.opts.path) throw new HttpRefusal(404, "not found");
      if (req.method !== "POST") {
        res.setHeader("Allow", "POST");
        throw new HttpRefusal(405, "only POST");
      }
      const headerSecret = req.headers[this.opts.secret_header.toLowerCase()];
      if (headerSecret !== undefined && !this.secretMatches(headerSecret)) throw new HttpRefusal(401, "wrong secret");
      const body = await readBody(req, this.opts.max_body_bytes);
      const parsed = parseNotification(body, req);
      if (headerSecret === undefined && !this.secretMatches(parsed.secret)) throw new HttpRefusal(401, "missing or wrong secret");
      this.stats.emitted++;
      this.opts.emit(parsed.event);
      reply(res, 200, { ok: true });
    } catch (err) {
      this.refuse(req, res, err);
    }
  }

  private refuse(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const status = err instanceof HttpRefusal ? err.status : 500;
    if (status === 401) this.stats.rejected++;
    else if (status === 413) this.stats.too_large++;
    else if (status === 400) this.stats.malformed++;
    else if (status === 500) this.stats.errors++;
    if (status === 401 || status === 500) this.opts.log.warn("webhook request refused", { status, reason: (err as Error).message, remote: req.socket.remoteAddress });
    // Unread request data would otherwise keep the connection busy; the client must reconnect.
    res.setHeader("Connection", "close");
    reply(res, status, { error: status === 500 ? "internal error" : (err as Error).message });
    res.once("finish", () => req.destroy());
  }

  private secretMatches(candidate: unknown): boolean {
    if (typeof candidate !== "string") return false;
    return timingSafeEqual(digest(candidate), this.secretDigest);
  }
}

/** Hashing both sides first makes the comparison constant-time whatever the lengths. */
function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

function reply(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (declared > limit) return Promise.reject(new HttpRefusal(413, `body larger than ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        reject(new HttpRefusal(413, `body larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function parseNotification(body: Buffer, req: IncomingMessage): { event: Parameters<Emit>[0]; secret?: string } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    throw new HttpRefusal(400, "body is not UTF-8 text");
  }
  if (!text.trim()) throw new HttpRefusal(400, "empty body");
  const declaredJson = /\bjson\b/i.test(req.headers["content-type"] ?? "");
  if (declaredJson || text.trimStart().startsWith("{")) {
    const json = tryJson(text);
    if (json !== undefined) return fromJson(json);
    if (declaredJson) throw new HttpRefusal(400, "body is not valid JSON (in the PVE target's body template, wrap values in {{ escape ... }})");
  }
  return { event: fromText(text, req) };
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function fromJson(json: unknown): { event: Parameters<Emit>[0]; secret?: string } {
  const parsed = notificationBody.safeParse(json);
  if (!parsed.success) throw new HttpRefusal(400, "body must be a JSON object with title, message, severity, timestamp, fields");
  const { title, message, severity, timestamp, fields = {}, secret, ...rest } = parsed.data;
  if (!title && !message) throw new HttpRefusal(400, "body has neither title nor message");
  const hostname = typeof fields.hostname === "string" ? fields.hostname : typeof rest.hostname === "string" ? rest.hostname : undefined;
  const type = typeof fields.type === "string" ? fields.type : typeof rest.type === "string" ? rest.type : undefined;
  return {
    secret,
    event: {
      source: "pve-notify",
      time: parseTimestamp(timestamp),
      node: hostname,
      severity: mapSeverity(severity),
      title: title || firstLine(message ?? ""),
      message: message ?? title ?? "",
      metadata: { ...(type ? { type } : {}), ...(severity ? { pve_severity: severity } : {}), fields, ...rest },
    },
  };
}

/** A body template such as `{{ message }}` alone: the title may come in a `Title` header. */
function fromText(text: string, req: IncomingMessage): Parameters<Emit>[0] {
  const title = headerText(req, "title") ?? firstLine(text);
  return { source: "pve-notify", severity: mapSeverity(headerText(req, "severity")), title, message: text, metadata: {} };
}

function headerText(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name] ?? req.headers[`x-${name}`];
  return typeof value === "string" && value ? value : undefined;
}

function mapSeverity(value: string | undefined): Severity {
  const v = (value ?? "").toLowerCase();
  if ((severities as readonly string[]).includes(v)) return v as Severity;
  return pveSeverity[v] ?? "info";
}

/** PVE sends a UNIX epoch in seconds; milliseconds and ISO strings are accepted from other senders. */
function parseTimestamp(value: number | string | undefined): Date | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (Number.isFinite(n)) return new Date(n > 1e12 ? n : n * 1000);
  return validDate(value);
}
