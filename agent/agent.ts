import { ToolError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import type { Event } from "../shared/event.ts";
import type { CallFrame, Frame } from "../shared/protocol.ts";
import { toolDescriptor } from "../shared/tool.ts";
import type { AgentConfig } from "./config.ts";
import { EventService } from "./events/index.ts";
import type { ExecRuntime } from "./exec/runtime.ts";
import { CallLedger, type Outcome } from "./ledger.ts";
import { PbsClients } from "./pbs.ts";
import { PveClient } from "./pve.ts";
import type { AgentTool, ToolContext } from "./tools/registry.ts";
import { Tunnel } from "./tunnel.ts";

export const AGENT_VERSION = "0.1.0";
const OUTBOX_MAX = 1000;
const STATUS_EVERY_MS = 30_000;

/** A counting semaphore whose waits end on abort. */
class Slots {
  private free: number;
  private waiters: Array<() => void> = [];
  constructor(size: number) {
    this.free = size;
  }
  async take(signal: AbortSignal): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== grant);
        reject(new ToolError("cancelled", "call cancelled while waiting for a free slot"));
      };
      this.waiters.push(grant);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}

/** The agent daemon: owns the tunnel, the PVE client, the tools and the call ledger. */
export class ProxmoxAgent {
  readonly tunnel: Tunnel;
  readonly ledger: CallLedger;
  private readonly pve: PveClient;
  /** Every PVE endpoint by name; "default" is `pve` in the config. */
  private readonly pves: Map<string, PveClient>;
  private readonly pbs: PbsClients;
  private readonly tools: Map<string, AgentTool>;
  private readonly controllers = new Map<string, AbortController>();
  private readonly slots: Slots;
  private clockOffsetMs = 0;
  private readonly log: Logger;
  readonly events?: EventService;
  /** Loaded on first use: the shell parser and SSH client cost ~30 MB that an agent without commands never needs. */
  private exec?: Promise<ExecRuntime>;
  private readonly execConfig: AgentConfig["exec"];
  /** Events not yet handed to the worker (the tunnel was down); flushed on reconnect, oldest dropped past the bound. */
  private outbox: Event[] = [];
  private outboxDropped = 0;
  private statusTimer?: NodeJS.Timeout;

  constructor(cfg: AgentConfig, tools: Map<string, AgentTool>, privateKeyPem: string, log: Logger) {
    this.log = log;
    // Host command tools exist only where the admin enabled them.
    this.tools = cfg.exec.enabled ? tools : new Map([...tools].filter(([, t]) => t.def.scope !== "host:exec"));
    this.execConfig = cfg.exec;
    this.pve = new PveClient(cfg.pve);
    this.pves = new Map([["default", this.pve], ...Object.entries(cfg.endpoints).map(([name, c]) => [name, new PveClient(c)] as const)]);
    this.pbs = new PbsClients(cfg.pbs ?? []);
    this.ledger = new CallLedger(cfg.state_dir);
    this.slots = new Slots(cfg.max_concurrency);
    this.tunnel = new Tunnel({
      url: cfg.worker_url,
      agentId: cfg.agent_id,
      privateKeyPem,
      heartbeatMs: cfg.heartbeat_ms,
      reconnectMaxMs: cfg.reconnect_max_ms,
      log,
      hello: () => ({
        agent: { id: cfg.agent_id, version: AGENT_VERSION, capabilities: ["chunks", "ack", "progress", "cancel"] },
        tools: [...this.tools.values()].map((t) => withEndpoint(toolDescriptor(t.def), [...this.pves.keys()])),
      }),
      onFrame: (frame) => this.onFrame(frame),
    });
    if (cfg.events) {
      this.events = new EventService(cfg.events, { pve: { get: (path, params) => this.pve.request("GET", path, params) }, log });
      this.events.onEvent((event) => this.forward(event));
    }
  }

  start(): void {
    this.tunnel.start();
    void this.events?.start();
    this.statusTimer = setInterval(() => this.sendStatus(), STATUS_EVERY_MS);
    this.statusTimer.unref();
  }

  /** The agent's health as the worker's /healthz shows it. */
  status(): Record<string, unknown> {
    return {
      version: AGENT_VERSION,
      in_flight: this.ledger.inFlight,
      reconnects: this.tunnel.reconnects,
      event_outbox: this.outbox.length,
      event_outbox_dropped: this.outboxDropped,
      ...(this.events ? { events: this.events.status() } : {}),
    };
  }

  async stop(): Promise<void> {
    clearInterval(this.statusTimer);
    await this.events?.stop();
    await this.tunnel.stop();
    if (this.exec) (await this.exec).close();
    for (const c of this.controllers.values()) c.abort();
    await Promise.all([...this.pves.values()].map((p) => p.close()));
    await this.pbs.close();
  }

  private onFrame(frame: Frame): void {
    switch (frame.t) {
      case "welcome":
        this.clockOffsetMs = frame.now - Date.now();
        this.flushOutbox();
        this.sendStatus();
        return;
      case "call":
        return this.onCall(frame);
      case "cancel":
        this.controllers.get(frame.id)?.abort(new ToolError("cancelled", frame.reason ?? "cancelled by the client"));
        return;
      case "ack":
        this.ledger.ack(frame.ids);
        return;
      case "error":
        this.log.warn("worker reported an error", { code: frame.code, message: frame.message });
        return;
      default:
        this.log.debug("ignoring frame", { t: frame.t });
    }
  }

  private onCall(frame: CallFrame): void {
    const tool = this.tools.get(frame.tool);
    const mutating = tool?.def.mutating ?? false;
    const started = Date.now();
    const repeat = this.ledger.has(frame.id);
    const outcome = this.ledger.run(frame.id, frame.tool, mutating, (note) => this.execute(frame, tool, note));
    void outcome.then((o) => {
      this.log.info("call", {
        call_id: frame.id,
        request_id: frame.requestId,
        tool: frame.tool,
        sub: frame.principal.sub,
        outcome: o.ok ? "ok" : o.code,
        ms: Date.now() - started,
        ...(repeat ? { answered_from_ledger: true } : {}),
      });
      this.reply(frame.id, o);
    });
  }

  private async execute(frame: CallFrame, tool: AgentTool | undefined, journal: ToolContext["note"]) {
    const facts: Record<string, unknown> = {};
    const note: ToolContext["note"] = (f) => {
      Object.assign(facts, f);
      journal(f);
    };
    if (!tool) throw new ToolError("unknown_tool", `this agent has no tool named ${frame.tool}`);
    if (!frame.principal.scopes.includes(tool.def.scope)) {
      throw new ToolError("missing_scope", `${frame.tool} needs the ${tool.def.scope} scope, which the caller's token lacks`);
    }
    const deadline = frame.deadline - this.clockOffsetMs;
    const controller = new AbortController();
    this.controllers.set(frame.id, controller);
    const timer = setTimeout(() => controller.abort(new ToolError("deadline_exceeded", "the call's deadline passed")), Math.max(0, deadline - Date.now()));
    try {
      await this.slots.take(controller.signal);
      try {
        const ctx: ToolContext = {
          callId: frame.id,
          principal: frame.principal,
          signal: controller.signal,
          deadline,
          pve: this.endpoint(frame.args.endpoint),
          pbs: this.pbs,
          log: this.log,
          exec: tool.def.scope === "host:exec" ? await this.execRuntime() : undefined,
          note,
          progress: (progress, total, message) => {
            this.tunnel.send({ t: "progress", id: frame.id, progress, total, message });
          },
        };
        const run = tool.run(frame.args, ctx);
        if (!tool.def.mutating) return await abortable(run, controller.signal);
        // A mutating handler is left to finish (it honours the signal): racing it could report a failure
        // for something PVE did. Cut by the deadline, its outcome is unknown, with what it had started.
        try {
          return await run;
        } catch (err) {
          if (controller.signal.aborted && (controller.signal.reason as ToolError | undefined)?.code === "deadline_exceeded") {
            throw new ToolError("outcome_unknown", `${frame.tool} was cut by its deadline; it may have taken effect${facts.upid ? ` (PVE task ${String(facts.upid)})` : ""}`, { ...facts });
          }
          throw err;
        }
      } finally {
        this.slots.release();
      }
    } finally {
      clearTimeout(timer);
      this.controllers.delete(frame.id);
    }
  }

  /** The PVE endpoint a call names with its `endpoint` argument (default: the one in `pve`). */
  private endpoint(name: unknown): PveClient {
    if (name === undefined || name === null || name === "") return this.pve;
    const client = this.pves.get(String(name));
    if (!client) throw new ToolError("invalid_arguments", `unknown endpoint '${String(name)}'; this agent has: ${[...this.pves.keys()].join(", ")}`);
    return client;
  }

  private execRuntime(): Promise<ExecRuntime> {
    this.exec ??= import("./exec/runtime.ts").then((m) => new m.ExecRuntime(this.execConfig, this.log));
    return this.exec;
  }

  private forward(event: Event): void {
    if (this.tunnel.connected && this.tunnel.send({ t: "event", event })) return;
    this.outbox.push(event);
    if (this.outbox.length > OUTBOX_MAX) {
      this.outbox.shift();
      this.outboxDropped++;
    }
  }

  private flushOutbox(): void {
    const pending = this.outbox;
    this.outbox = [];
    for (const event of pending) this.forward(event);
  }

  private sendStatus(): void {
    if (this.tunnel.connected) this.tunnel.send({ t: "status", status: this.status() });
  }

  private reply(id: string, outcome: Outcome): void {
    let sent: boolean;
    try {
      sent = outcome.ok
        ? this.tunnel.send({ t: "result", id, result: outcome.result })
        : this.tunnel.send({ t: "error", id, code: outcome.code, message: outcome.message, retryable: outcome.retryable, details: outcome.details });
    } catch (err) {
      sent = this.tunnel.send({ t: "error", id, code: "internal", message: `the result cannot be sent: ${(err as Error).message}`, retryable: false });
    }
    if (!sent) this.log.info("result kept until the worker asks again", { call_id: id });
  }
}

/** With several PVE endpoints, every Proxmox tool takes an optional `endpoint` naming one of them. */
function withEndpoint(descriptor: ReturnType<typeof toolDescriptor>, names: string[]): ReturnType<typeof toolDescriptor> {
  if (names.length < 2 || descriptor.scope === "admin") return descriptor;
  const properties = (descriptor.inputSchema.properties ?? {}) as Record<string, unknown>;
  return {
    ...descriptor,
    inputSchema: {
      ...descriptor.inputSchema,
      properties: { ...properties, endpoint: { type: "string", enum: names, description: "Which Proxmox cluster or host (default: default)." } },
    },
  };
}

/** Ends with the signal's reason as soon as the call is aborted, even if the handler ignores the signal. */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
