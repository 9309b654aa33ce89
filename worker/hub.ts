import { ToolError, formatZodError, toToolError } from "../shared/errors.ts";
import { eventSchema, type Event } from "../shared/event.ts";
import { FrameDecoder, encodeFrame } from "../shared/framing.ts";
import type { Logger } from "../shared/log.ts";
import {
  PONG_TEXT,
  PROTOCOL_VERSION,
  type CallFrame,
  type Frame,
  type HelloFrame,
  type Principal,
  type ToolDescriptor,
  type ToolResult,
} from "../shared/protocol.ts";
import { EventLog, type EventLogSnapshot } from "./events.ts";

/** The runtime's WebSocket, reduced to what a session needs (ws on Node, a hibernatable socket on Workers). */
export interface AgentSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
}

export interface CallRequest {
  tool: string;
  args: Record<string, unknown>;
  principal: Principal;
  timeoutMs: number;
  signal?: AbortSignal;
  requestId?: string;
  onProgress?: (progress: number, total?: number, message?: string) => void;
}

interface Pending {
  frame: CallFrame;
  /** The call frame as sent, kept to re-send it verbatim after a reconnect. */
  texts: string[];
  mutating: boolean;
  resolve: (result: ToolResult) => void;
  reject: (err: ToolError) => void;
  onProgress?: CallRequest["onProgress"];
  deadlineTimer: ReturnType<typeof setTimeout>;
  graceTimer?: ReturnType<typeof setTimeout>;
}

export interface SessionOptions {
  graceMs: number;
  heartbeatMs: number;
  log: Logger;
  /** Called when the agent announces a catalog (to persist it where the runtime can hibernate). */
  onHello?: (hello: HelloFrame) => void;
  /** Called after an event was added to a session's log (to persist it). */
  onEvent?: (session: AgentSession, event: Event, seq: number) => void;
  /** Events kept from before a restart, by agent id. */
  eventSnapshot?: (agentId: string) => EventLogSnapshot | undefined;
}

/**
 * The worker's side of one agent: its socket, its tool catalog, and the calls in flight. A call in
 * flight when the socket drops stays pending and is re-sent, with the same id, when the agent is back;
 * the agent answers a known id from its ledger instead of running it again.
 */
export class AgentSession {
  readonly id: string;
  catalog: ToolDescriptor[] = [];
  info?: HelloFrame["agent"];
  /** When the agent last connected or went offline (epoch ms); undefined before it ever connected. */
  since?: number;
  /** What the agent observed; kept while it is offline so clients can catch up. */
  readonly events: EventLog;
  /** The agent's latest self-reported status (listeners, notifiers, counters). */
  agentStatus?: Record<string, unknown>;
  private socket?: AgentSocket;
  private ready = false;
  private decoder = new FrameDecoder();
  private pending = new Map<string, Pending>();
  private toAck: string[] = [];
  private ackTimer?: ReturnType<typeof setTimeout>;
  private readonly opts: SessionOptions;
  private readonly createdAt = Date.now();
  stats = { calls: 0, results: 0, errors: 0, reconnects: 0, invalidFrames: 0 };

  constructor(id: string, opts: SessionOptions) {
    this.id = id;
    this.opts = opts;
    this.events = new EventLog(1000, opts.eventSnapshot?.(id));
  }

  get connected(): boolean {
    return this.ready && this.socket !== undefined;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** A new socket for this agent; an older one is closed (the agent reconnected). */
  attach(socket: AgentSocket): void {
    if (this.socket && this.socket !== socket) this.socket.close(4000, "replaced by a newer connection");
    this.socket = socket;
    this.ready = false;
    this.decoder = new FrameDecoder();
  }

  /** Drops the agent now (it was revoked); its calls in flight fail like after a lost tunnel. */
  disconnect(code: number, reason: string): void {
    const socket = this.socket;
    if (!socket) return;
    socket.close(code, reason);
    this.detach(socket, reason);
  }

  /** Restores a socket that survived hibernation, with the catalog kept in storage. */
  restore(socket: AgentSocket, hello: HelloFrame): void {
    this.socket = socket;
    this.catalog = hello.tools;
    this.info = hello.agent;
    this.ready = true;
  }

  detach(socket: AgentSocket, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    this.ready = false;
    this.since = Date.now();
    this.opts.log.info("agent disconnected", { agent: this.id, reason, in_flight: this.pending.size });
    // Partial chunked messages of the dead socket will never complete.
    this.decoder = new FrameDecoder();
    for (const [id, p] of this.pending) {
      // The grace period runs from the first drop: a connection that came and went before its hello does not extend it.
      p.graceTimer ??= setTimeout(() => this.fail(id, lostError(p, this.id)), this.opts.graceMs);
    }
  }

  receive(socket: AgentSocket, text: string): void {
    if (socket !== this.socket) return;
    let frame: Frame | undefined;
    try {
      frame = this.decoder.decode(text);
    } catch (err) {
      this.stats.invalidFrames++;
      const e = toToolError(err);
      this.opts.log.warn("invalid frame from agent", { agent: this.id, error: e.message });
      this.sendFrame({ t: "error", code: "frame_invalid", message: e.message, retryable: false });
      return;
    }
    if (frame) this.dispatch(frame);
  }

  /** Relays one tool call and resolves with the agent's result. */
  call(req: CallRequest): Promise<ToolResult> {
    if (!this.connected) return Promise.reject(this.offlineError());
    const descriptor = this.catalog.find((t) => t.name === req.tool);
    const id = crypto.randomUUID();
    const frame: CallFrame = {
      t: "call",
      id,
      tool: req.tool,
      args: req.args,
      deadline: Date.now() + req.timeoutMs,
      principal: req.principal,
      ...(req.requestId ? { requestId: req.requestId } : {}),
    };
    let texts: string[];
    try {
      texts = encodeFrame(frame);
    } catch (err) {
      return Promise.reject(new ToolError("invalid_arguments", `the arguments of ${req.tool} cannot be sent: ${(err as Error).message}`));
    }
    this.stats.calls++;
    const mutating = descriptor?.mutating ?? true;
    return new Promise<ToolResult>((resolve, reject) => {
      const deadlineTimer = setTimeout(() => {
        this.sendFrame({ t: "cancel", id, reason: "deadline passed" });
        // A mutating call the agent may be running has no known outcome: a retry would be a second run.
        const err = mutating
          ? new ToolError("outcome_unknown", `${req.tool} did not answer within ${Math.round(req.timeoutMs / 1000)} s and may still be running; check the state before retrying`, { call_id: id })
          : new ToolError("deadline_exceeded", `${req.tool} did not answer within ${Math.round(req.timeoutMs / 1000)} s`);
        this.fail(id, err);
      }, req.timeoutMs);
      this.pending.set(id, { frame, texts, mutating, resolve, reject, onProgress: req.onProgress, deadlineTimer });
      req.signal?.addEventListener(
        "abort",
        () => {
          this.sendFrame({ t: "cancel", id, reason: "cancelled by the client" });
          this.fail(id, new ToolError("cancelled", `${req.tool} was cancelled by the client`));
        },
        { once: true },
      );
      this.sendTexts(texts);
    });
  }

  offlineError(): ToolError {
    const when = this.since
      ? `since ${new Date(this.since).toISOString()} (${Math.round((Date.now() - this.since) / 1000)} s ago)`
      : `and has not connected since the worker started at ${new Date(this.createdAt).toISOString()}`;
    return new ToolError("agent_offline", `Agent '${this.id}' is offline ${when}. Check that the agent service is running on the Proxmox host.`, {
      agent: this.id,
      since: this.since,
    });
  }

  status() {
    return {
      id: this.id,
      connected: this.connected,
      since: this.since ? new Date(this.since).toISOString() : undefined,
      version: this.info?.version,
      tools: this.catalog.length,
      in_flight: this.pending.size,
      events: this.events.cursor,
      ...this.stats,
      ...(this.agentStatus ? { agent_status: this.agentStatus } : {}),
    };
  }

  private dispatch(frame: Frame): void {
    switch (frame.t) {
      case "hello":
        return this.onHello(frame);
      case "ping":
        return this.socket?.send(PONG_TEXT);
      case "result":
        return this.settle(frame.id, (p) => {
          this.stats.results++;
          p.resolve(frame.result);
        });
      case "error":
        if (!frame.id) return this.opts.log.warn("agent error", { agent: this.id, code: frame.code, message: frame.message });
        return this.settle(frame.id, (p) => {
          this.stats.errors++;
          p.reject(new ToolError(frame.code, frame.message, frame.details));
        });
      case "progress":
        this.pending.get(frame.id)?.onProgress?.(frame.progress, frame.total, frame.message);
        return;
      case "event":
        return this.onEventFrame(frame.event);
      case "status":
        this.agentStatus = frame.status;
        return;
      case "pong":
        return;
      default:
        this.stats.invalidFrames++;
        this.sendFrame({ t: "error", code: "frame_invalid", message: `an agent does not send '${frame.t}' frames`, retryable: false });
    }
  }

  private onEventFrame(raw: unknown): void {
    const event = eventSchema.safeParse(raw);
    if (!event.success) {
      this.stats.invalidFrames++;
      this.sendFrame({ t: "error", code: "frame_invalid", message: `invalid event: ${formatZodError(event.error)}`, retryable: false });
      return;
    }
    if (this.events.add(event.data)) this.opts.onEvent?.(this, event.data, this.events.cursor);
  }

  private onHello(hello: HelloFrame): void {
    if (hello.v !== PROTOCOL_VERSION) {
      this.sendFrame({ t: "error", code: "frame_invalid", message: `protocol version ${hello.v} not supported (worker speaks ${PROTOCOL_VERSION})`, retryable: false });
      this.socket?.close(4002, "protocol version mismatch");
      return;
    }
    if (hello.agent.id !== this.id) {
      this.socket?.close(4003, "hello names another agent than the token");
      return;
    }
    const wasOffline = this.since !== undefined;
    this.catalog = hello.tools;
    this.info = hello.agent;
    this.ready = true;
    if (wasOffline) this.stats.reconnects++;
    this.since = Date.now();
    this.opts.onHello?.(hello);
    this.sendFrame({ t: "welcome", v: PROTOCOL_VERSION, heartbeatMs: this.opts.heartbeatMs, now: Date.now() });
    this.opts.log.info("agent connected", { agent: this.id, version: hello.agent.version, tools: hello.tools.length, resending: this.pending.size });
    for (const p of this.pending.values()) {
      if (p.graceTimer) clearTimeout(p.graceTimer);
      p.graceTimer = undefined;
      this.sendTexts(p.texts);
    }
  }

  private settle(id: string, apply: (p: Pending) => void): void {
    const p = this.pending.get(id);
    this.queueAck(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.deadlineTimer);
    if (p.graceTimer) clearTimeout(p.graceTimer);
    apply(p);
  }

  private fail(id: string, err: ToolError): void {
    this.settle(id, (p) => p.reject(err));
  }

  private queueAck(id: string): void {
    this.toAck.push(id);
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = undefined;
      const ids = this.toAck.splice(0, 1024);
      if (ids.length && this.connected) this.sendFrame({ t: "ack", ids });
      if (this.toAck.length) this.queueAck(this.toAck.pop() as string);
    }, 20);
  }

  private sendFrame(frame: Frame): void {
    this.sendTexts(encodeFrame(frame));
  }

  private sendTexts(texts: string[]): void {
    if (!this.socket) return;
    for (const text of texts) this.socket.send(text);
  }
}

function lostError(p: Pending, agent: string): ToolError {
  if (p.mutating) {
    return new ToolError(
      "outcome_unknown",
      `the tunnel to agent '${agent}' dropped while ${p.frame.tool} was running and the agent did not come back in time; it may or may not have run. Check the state before retrying.`,
      { call_id: p.frame.id },
    );
  }
  return new ToolError("tunnel_lost", `the tunnel to agent '${agent}' dropped during ${p.frame.tool}; retry when it is back`, { call_id: p.frame.id });
}

/** The agents a worker knows, by id. On Node one hub holds all; on Workers each Durable Object holds one. */
export class Hub {
  private sessions = new Map<string, AgentSession>();
  private readonly opts: SessionOptions;

  constructor(opts: SessionOptions) {
    this.opts = opts;
  }

  get(id: string): AgentSession {
    let session = this.sessions.get(id);
    if (!session) {
      session = new AgentSession(id, this.opts);
      this.sessions.set(id, session);
    }
    return session;
  }

  list(): AgentSession[] {
    return [...this.sessions.values()];
  }
}
