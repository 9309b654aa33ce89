import { readFileSync } from "node:fs";
import type { TLSSocket } from "node:tls";
import { proxmoxApi, type ApiRequestable, type Proxmox } from "proxmox-api";
import { Agent, buildConnector, fetch } from "undici";
import { z } from "zod";
import { ToolError } from "../shared/errors.ts";
import type { PveEndpointConfig as ParsedEndpoint } from "./config.ts";

/** An endpoint as the config parses it; the failover lists may be left out by callers that build one. */
type PveEndpointConfig = Omit<ParsedEndpoint, "failover_urls" | "failover_fingerprints"> & Partial<Pick<ParsedEndpoint, "failover_urls" | "failover_fingerprints">>;

/** Per-request context: cancellation and the call id, sent as X-Call-Id so a mutation can be traced. */
export interface PveRequestContext {
  signal?: AbortSignal;
  callId?: string;
}

/** Which API the client talks to: PVE (pveproxy, port 8006) or Proxmox Backup Server (port 8007). */
export type ProxmoxProduct = "PVE" | "PBS";

export interface PveClientOptions {
  /** PBS sends `PBSAPIToken=ID:SECRET` and answers errors as plain text; PVE by default. */
  product?: ProxmoxProduct;
}

const envelope = z.object({ data: z.unknown(), errors: z.record(z.string(), z.string()).optional(), message: z.string().optional() });
const READ_RETRIES = 2;

/**
 * The agent's PVE client. proxmox-api gives the typed path tree (`api.nodes.$(node).status.$get()`);
 * this class is its request engine, because the stock engine retries every request once after a
 * connection error (a POST that reached PVE would run twice) and cannot pin a certificate.
 */
export class PveClient {
  private readonly dispatcher: Agent;
  /** The endpoint's addresses: `url`, then the failover nodes; `current` is the one that last answered. */
  private readonly bases: URL[];
  private current = 0;
  private readonly auth: string;
  private readonly timeoutMs: number;
  readonly product: ProxmoxProduct;
  /** How the server's certificate is trusted, for explanations (diagnose). */
  readonly trust: "fingerprint" | "ca_file" | "system";
  readonly url: string;
  readonly tokenId: string;

  constructor(cfg: PveEndpointConfig, options: PveClientOptions = {}) {
    this.bases = [cfg.url, ...(cfg.failover_urls ?? [])].map((u) => new URL(u));
    this.product = options.product ?? "PVE";
    this.auth = this.product === "PBS" ? `PBSAPIToken=${cfg.token_id}:${cfg.token_secret}` : `PVEAPIToken=${cfg.token_id}=${cfg.token_secret}`;
    this.timeoutMs = cfg.timeout_ms;
    this.trust = cfg.fingerprint ? "fingerprint" : cfg.ca_file ? "ca_file" : "system";
    this.url = cfg.url;
    this.tokenId = cfg.token_id;
    this.dispatcher = new Agent({ connect: tlsConnector(cfg), keepAliveTimeout: 30_000 });
  }

  /** A proxmox-api path tree bound to one request context. */
  api(ctx: PveRequestContext = {}): Proxmox.Api {
    const engine: ApiRequestable = {
      doRequest: (method, path, _template, params) => this.request(method, path.replace(/^\/api2\/json/, ""), params, ctx),
    };
    return proxmoxApi(engine);
  }

  /** Sends one API request and returns `data`; PVE's failures become ToolError("pve_error") with PVE's own message. */
  async request(method: string, path: string, params: Record<string, unknown> = {}, ctx: PveRequestContext = {}): Promise<unknown> {
    method = method.toUpperCase();
    const idempotent = method === "GET";
    for (let attempt = 0, failovers = 0; ; attempt++) {
      try {
        return await this.once(method, path, params, ctx);
      } catch (err) {
        // Nothing reached a node that refused the connection, so trying the next node is safe for writes too.
        if (isConnectRefused(err) && failovers < this.bases.length - 1 && !ctx.signal?.aborted) {
          failovers++;
          this.current = (this.current + 1) % this.bases.length;
          attempt--;
          continue;
        }
        const retry = idempotent && attempt < READ_RETRIES && isConnectionError(err) && !ctx.signal?.aborted;
        if (!retry) throw toPveError(err, method, path, this.product);
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private async once(method: string, path: string, params: Record<string, unknown>, ctx: PveRequestContext): Promise<unknown> {
    const url = new URL(`/api2/json${path.startsWith("/") ? path : `/${path}`}`, this.bases[this.current]);
    const form = encodeParams(params);
    const headers: Record<string, string> = { Authorization: this.auth, Accept: "application/json" };
    if (ctx.callId) headers["X-Call-Id"] = ctx.callId;
    let body: string | undefined;
    if (method === "GET" || method === "DELETE") url.search = form.toString();
    else {
      body = form.toString();
      headers["Content-Type"] = "application/x-www-form-urlencoded";
    }
    const limit = withTimeout(ctx.signal, this.timeoutMs);
    let res: Awaited<ReturnType<typeof fetch>>;
    let text: string;
    try {
      res = await fetch(url, { method, headers, body, dispatcher: this.dispatcher, signal: limit.signal });
      text = await res.text();
    } finally {
      limit.done();
    }
    const parsed = parseEnvelope(text);
    if (res.ok) {
      if (!parsed) throw new ToolError("pve_error", `${this.product} answered ${method} ${path} with a body that is not its JSON envelope`);
      return parsed.data;
    }
    // PBS (proxmox-rest-server) answers an error with the bare message as body.
    const plain = this.product === "PBS" && !parsed ? text.trim() : undefined;
    throw pveFailure(res.status, plain || res.statusText, parsed, method, path);
  }
}

function parseEnvelope(text: string): z.infer<typeof envelope> | undefined {
  try {
    const result = envelope.safeParse(JSON.parse(text));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}

/** PVE puts its error text in the HTTP status line (and, since PVE 7, in `message`); parameter errors in `errors`. */
function pveFailure(status: number, statusText: string, body: z.infer<typeof envelope> | undefined, method: string, path: string): ToolError {
  const message = (body?.message ?? statusText ?? "").trim() || `HTTP ${status}`;
  const perParam = body?.errors ? Object.entries(body.errors).map(([k, v]) => `${k}: ${v.trim()}`) : [];
  const text = perParam.length ? `${message} ${perParam.join("; ")}` : message;
  return new ToolError("pve_error", text, { status, method, path, ...(body?.errors ? { errors: body.errors } : {}) });
}

function toPveError(err: unknown, method: string, path: string, product: ProxmoxProduct): ToolError {
  if (err instanceof ToolError) return err;
  const e = err as Error & { cause?: Error & { code?: string } };
  if (e?.name === "AbortError" || e?.name === "TimeoutError") {
    return new ToolError(e.name === "TimeoutError" ? "deadline_exceeded" : "cancelled", `${product} request ${method} ${path} was ${e.name === "TimeoutError" ? "timed out" : "cancelled"}`);
  }
  const cause = e?.cause?.message ?? e?.message ?? String(err);
  return new ToolError("pve_error", `cannot reach ${product} for ${method} ${path}: ${cause}`, { method, path, connection: true });
}

/** The connection was never established: the request cannot have reached the server. */
function isConnectRefused(err: unknown): boolean {
  const code = ((err as { cause?: { code?: string } })?.cause?.code ?? "") as string;
  return ["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT", "ENOTFOUND", "EAI_AGAIN"].includes(code);
}

function isConnectionError(err: unknown): boolean {
  const e = err as { name?: string; cause?: unknown };
  return e?.name === "TypeError" && e.cause !== undefined && !(err instanceof ToolError);
}

function encodeParams(params: Record<string, unknown>): URLSearchParams {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      form.append(key, typeof item === "boolean" ? (item ? "1" : "0") : String(item));
    }
  }
  return form;
}

/**
 * TLS to PVE: with a CA file, normal verification; with a pinned fingerprint, the chain cannot verify
 * (PVE signs with its own cluster CA), so the leaf certificate is compared with the pin on connect and
 * the socket is destroyed before any request is written if it differs.
 */
function tlsConnector(cfg: PveEndpointConfig): buildConnector.connector {
  if (!cfg.fingerprint) {
    return buildConnector(cfg.ca_file ? { ca: readFileSync(cfg.ca_file) } : {});
  }
  const pins = new Set([cfg.fingerprint, ...(cfg.failover_fingerprints ?? [])]);
  // No TLS session resumption: a resumed TLS 1.3 session carries no peer certificate to compare.
  const connect = buildConnector({ rejectUnauthorized: false, maxCachedSessions: 0 });
  return (options, callback) => {
    connect(options, (err, socket) => {
      if (err || !socket) return callback(err ?? new Error("no socket"), null);
      const seen = (socket as TLSSocket).getPeerCertificate?.()?.fingerprint256;
      if (!seen || !pins.has(seen)) {
        socket.destroy();
        return callback(new Error(`the server certificate fingerprint ${seen ?? "(none)"} does not match the pinned ${[...pins].join(" or ")}`), null);
      }
      callback(null, socket);
    });
  };
}

/**
 * The caller's signal plus a timeout, released as soon as the request ends: AbortSignal.timeout would keep
 * every request's fetch state alive for the whole timeout (30 s of requests at a time under load), and
 * AbortSignal.any needs Node 20.3 (PVE 8 ships 18).
 */
function withTimeout(signal: AbortSignal | undefined, ms: number): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${ms} ms`, "TimeoutError")), ms);
  const onAbort = () => controller.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    done: () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
