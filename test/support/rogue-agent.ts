import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT, importPKCS8 } from "jose";
import WebSocket from "ws";
import { ALL_SCOPES, agentKeyPair, mintClientToken, newSecret } from "../../scripts/lib/credentials.ts";
import { AGENT_TOKEN_AUDIENCE, AGENT_TOKEN_TYPE, PROTOCOL_VERSION, type Scope, type ToolDescriptor } from "../../shared/protocol.ts";
import { startNodeWorker, type NodeWorker } from "../../worker/node.ts";
import { freePort } from "./ports.ts";

const ISSUER = "rogue-issuer";
const AUDIENCE = "proxmox-mcp-rogue";

/** A tool the rogue agent announces, so that clients have something to call through it. */
export const ECHO_TOOL: ToolDescriptor = {
  name: "echo",
  description: "Answers whatever the test's rogue agent decides.",
  inputSchema: { type: "object", properties: {} },
  annotations: { readOnlyHint: true },
  scope: "proxmox:read",
  mutating: false,
};

export interface BareWorker {
  url: string;
  port: number;
  agentId: string;
  worker: NodeWorker;
  clientToken(scopes?: Scope[]): Promise<string>;
  /** A signed agent connection token; `claims` overrides the standard ones, `privatePem` signs with another key (forged tokens). */
  agentToken(claims?: { sub?: string; iss?: string; aud?: string; typ?: string; exp?: number; privatePem?: string }): Promise<string>;
  /** Opens the agent WebSocket with a valid token (or the given one) but speaks no protocol on its own. */
  connectAgent(token?: string): Promise<RawAgent>;
  close(): Promise<void>;
}

/** The worker on Node in-process, with an agent key pair the test holds, and no agent: the test plays it. */
export async function startBareWorker(env: Record<string, string> = {}): Promise<BareWorker> {
  const agentId = "rogue";
  const keys = agentKeyPair();
  const secret = newSecret();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "pve-mcp-rogue-"));
  const worker = await startNodeWorker({
    JWT_SECRET: secret,
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    AGENT_KEYS: JSON.stringify({ [agentId]: keys.publicPem }),
    HEARTBEAT_MS: "60000",
    LOG_LEVEL: "error",
    HOST: "127.0.0.1",
    PORT: String(port),
    AGENT_REGISTRY_FILE: join(dir, "agents.json"),
    ...env,
  });
  const privateKey = await importPKCS8(keys.privatePem, "EdDSA");
  const self: BareWorker = {
    url: worker.url,
    port,
    agentId,
    worker,
    clientToken: (scopes = ALL_SCOPES) => mintClientToken({ secret, issuer: ISSUER, audience: AUDIENCE, subject: "rogue-test", scopes, ttl: 600 }),
    agentToken: async (c = {}) =>
      new SignJWT({})
        .setProtectedHeader({ alg: "EdDSA", typ: c.typ ?? AGENT_TOKEN_TYPE })
        .setSubject(c.sub ?? agentId)
        .setIssuer(c.iss ?? c.sub ?? agentId)
        .setAudience(c.aud ?? AGENT_TOKEN_AUDIENCE)
        .setIssuedAt(c.exp !== undefined ? c.exp - 120 : undefined)
        .setExpirationTime(c.exp ?? "2m")
        .sign(c.privatePem ? await importPKCS8(c.privatePem, "EdDSA") : privateKey),
    async connectAgent(token) {
      return openRawAgent(`${worker.url.replace(/^http/, "ws")}/agent`, token ?? (await self.agentToken()), agentId);
    },
    async close() {
      await worker.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}

export interface RawAgent {
  ws: WebSocket;
  /** Every text the worker sent, parsed when it is JSON. */
  received: unknown[];
  send(data: string | Buffer): void;
  sendFrame(frame: object): void;
  hello(overrides?: Record<string, unknown>): void;
  /** Resolves with the first frame at index `from` or later (received or arriving) that matches; rejects after the timeout. */
  waitFor<T = any>(match: (frame: any) => boolean, opts?: { timeoutMs?: number; from?: number }): Promise<T>;
  /** Sends a ping and resolves with every frame received before the pong: the worker's answer to what was sent before. */
  answersSoFar(timeoutMs?: number): Promise<unknown[]>;
  closed: Promise<{ code: number; reason: string }>;
  isOpen(): boolean;
  close(): void;
}

/** The worker answered the agent's upgrade with an HTTP error instead of 101. */
export class UpgradeRefused extends Error {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
  constructor(status: number, body: string, headers: Record<string, string | string[] | undefined> = {}) {
    super(`agent upgrade refused with HTTP ${status}: ${body.slice(0, 300)}`);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

function openRawAgent(url: string, token: string, agentId: string): Promise<RawAgent> {
  const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` }, perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
  const received: unknown[] = [];
  const listeners = new Set<() => void>();
  ws.on("message", (data, isBinary) => {
    const text = data.toString();
    let value: unknown = text;
    if (!isBinary) {
      try {
        value = JSON.parse(text);
      } catch {
        // keep the raw text
      }
    }
    received.push(value);
    for (const l of listeners) l();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on("error", () => undefined);
  const agent: RawAgent = {
    ws,
    received,
    send: (data) => ws.send(data),
    sendFrame: (frame) => ws.send(JSON.stringify(frame)),
    hello: (overrides = {}) =>
      agent.sendFrame({ t: "hello", v: PROTOCOL_VERSION, agent: { id: agentId, version: "rogue", capabilities: [] }, tools: [ECHO_TOOL], ...overrides }),
    waitFor(match, { timeoutMs = 5_000, from = 0 } = {}) {
      return new Promise((resolve, reject) => {
        let seen = from;
        const check = () => {
          for (; seen < received.length; seen++) {
            if (match(received[seen])) {
              cleanup();
              return resolve(received[seen] as never);
            }
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`rogue agent: no matching frame within ${timeoutMs} ms; got ${JSON.stringify(received.slice(-5)).slice(0, 1000)}`));
        }, timeoutMs);
        const onClose = () => {
          check();
          cleanup();
          reject(new Error(`rogue agent: socket closed before a matching frame; got ${JSON.stringify(received.slice(-5)).slice(0, 1000)}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          ws.off("close", onClose);
        };
        listeners.add(check);
        ws.once("close", onClose);
        check();
      });
    },
    async answersSoFar(timeoutMs = 5_000) {
      const from = received.length;
      agent.sendFrame({ t: "ping" });
      const pong = await agent.waitFor((f) => f?.t === "pong", { timeoutMs, from });
      return received.slice(from, received.indexOf(pong, from));
    },
    closed,
    isOpen: () => ws.readyState === WebSocket.OPEN,
    close: () => ws.terminate(),
  };
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(agent));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.on("end", () => {
        reject(new UpgradeRefused(res.statusCode ?? 0, body, res.headers));
        ws.terminate();
      });
    });
    ws.once("error", reject);
  });
}
