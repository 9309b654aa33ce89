import { SignJWT, importPKCS8 } from "jose";
import WebSocket from "ws";
import { toToolError } from "../shared/errors.ts";
import { FrameDecoder, encodeFrame } from "../shared/framing.ts";
import type { Logger } from "../shared/log.ts";
import { AGENT_TOKEN_AUDIENCE, AGENT_TOKEN_TYPE, MAX_FRAME_BYTES, PING_TEXT, PROTOCOL_VERSION, type Frame, type HelloFrame } from "../shared/protocol.ts";

export interface TunnelOptions {
  url: string;
  agentId: string;
  /** PKCS#8 PEM of the agent's Ed25519 key. */
  privateKeyPem: string;
  heartbeatMs: number;
  reconnectMaxMs: number;
  hello: () => Omit<HelloFrame, "t" | "v">;
  onFrame: (frame: Frame) => void;
  onConnected?: () => void;
  log: Logger;
}

const BASE_BACKOFF_MS = 250;

/**
 * The agent's outbound connection to the worker: signs a short-lived token, says hello, keeps the link
 * alive with heartbeats, and reconnects with exponential backoff and full jitter when it drops.
 */
export class Tunnel {
  private ws?: WebSocket;
  private stopped = false;
  private attempt = 0;
  private heartbeat?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private lastSeen = 0;
  private decoder = new FrameDecoder();
  private readonly opts: TunnelOptions;
  private sendQueue: Promise<void> = Promise.resolve();
  connected = false;
  reconnects = 0;

  constructor(opts: TunnelOptions) {
    this.opts = opts;
  }

  start(): void {
    void this.connect();
  }

  /** Sends a frame; large frames go out as chunks, yielding between them so other calls' frames interleave. */
  send(frame: Frame): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    const texts = encodeFrame(frame);
    if (texts.length === 1) {
      ws.send(texts[0]);
      return true;
    }
    this.sendQueue = this.sendQueue.then(() => sendChunks(ws, texts));
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once("close", () => resolve());
      ws.close(1001, "agent shutting down");
      setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2_000).unref();
    });
  }

  /** Cuts the connection as if the network dropped (used by tests and on heartbeat loss). */
  drop(): void {
    this.ws?.terminate();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let token: string;
    try {
      token = await this.signToken();
    } catch (err) {
      this.opts.log.error("cannot sign the agent token; check private_key", { error: (err as Error).message });
      return this.scheduleReconnect();
    }
    const ws = new WebSocket(this.opts.url, {
      headers: { Authorization: `Bearer ${token}` },
      maxPayload: MAX_FRAME_BYTES + 64 * 1024,
      perMessageDeflate: false,
      handshakeTimeout: 10_000,
    });
    this.ws = ws;
    this.decoder = new FrameDecoder();
    ws.on("open", () => {
      this.lastSeen = Date.now();
      ws.send(JSON.stringify({ t: "hello", v: PROTOCOL_VERSION, ...this.opts.hello() }));
      this.startHeartbeat(ws);
    });
    ws.on("message", (data, isBinary) => this.receive(data.toString(), isBinary));
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () =>
        this.opts.log.error("worker refused the agent connection", {
          status: res.statusCode,
          reason: String(res.headers["www-authenticate"] ?? "").replace(/^Bearer\s+/, ""),
          body: body.slice(0, 500),
        }),
      );
    });
    ws.on("error", (err) => this.opts.log.warn("tunnel error", { error: err.message }));
    ws.on("close", (code, reason) => {
      clearInterval(this.heartbeat);
      const was = this.connected;
      this.connected = false;
      if (this.ws === ws) this.ws = undefined;
      this.opts.log.info("tunnel closed", { code, reason: reason.toString(), was_connected: was });
      this.scheduleReconnect();
    });
  }

  private receive(text: string, isBinary: boolean): void {
    this.lastSeen = Date.now();
    if (isBinary) return this.opts.log.warn("ignoring a binary frame from the worker");
    let frame: Frame | undefined;
    try {
      frame = this.decoder.decode(text);
    } catch (err) {
      return this.opts.log.warn("ignoring an invalid frame from the worker", { error: toToolError(err).message });
    }
    if (!frame || frame.t === "pong") return;
    if (frame.t === "welcome") {
      this.connected = true;
      if (this.attempt > 0) this.reconnects++;
      this.attempt = 0;
      this.opts.log.info("tunnel connected", { url: this.opts.url });
      this.opts.onConnected?.();
    }
    this.opts.onFrame(frame);
  }

  private startHeartbeat(ws: WebSocket): void {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      if (Date.now() - this.lastSeen > 2 * this.opts.heartbeatMs) {
        this.opts.log.warn("worker silent for two heartbeats; reconnecting");
        ws.terminate();
        return;
      }
      if (ws.readyState === WebSocket.OPEN) ws.send(PING_TEXT);
    }, this.opts.heartbeatMs);
    this.heartbeat.unref();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const cap = Math.min(this.opts.reconnectMaxMs, BASE_BACKOFF_MS * 2 ** this.attempt);
    this.attempt++;
    const delay = Math.random() * cap;
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  private signToken(): Promise<string> {
    return signAgentToken(this.opts.agentId, this.opts.privateKeyPem);
  }
}

/** A short-lived connection token, signed with the agent's own key; the worker knows only the public half. */
export async function signAgentToken(agentId: string, privateKeyPem: string): Promise<string> {
  const key = await importPKCS8(privateKeyPem, "EdDSA");
  return new SignJWT({})
    .setProtectedHeader({ alg: "EdDSA", typ: AGENT_TOKEN_TYPE })
    .setSubject(agentId)
    .setIssuer(agentId)
    .setAudience(AGENT_TOKEN_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("2m")
    .setJti(crypto.randomUUID())
    .sign(key);
}

/** Sends chunk texts one by one, waiting for the socket buffer to drain so a big result cannot starve others. */
async function sendChunks(ws: WebSocket, texts: string[]): Promise<void> {
  for (const text of texts) {
    if (ws.readyState !== WebSocket.OPEN) return;
    await new Promise<void>((resolve) => ws.send(text, () => resolve()));
    while (ws.bufferedAmount > MAX_FRAME_BYTES && ws.readyState === WebSocket.OPEN) await new Promise((r) => setTimeout(r, 5));
  }
}
