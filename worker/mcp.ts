import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import {
  CallToolRequestSchema,
  ElicitResultSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolResult,
} from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import { ToolError, formatZodError, toToolError } from "../shared/errors.ts";
import { toolDescriptor, type ToolDefinition } from "../shared/tool.ts";
import { eventsRead, eventsWait, workerToolDefinitions } from "../shared/tools/events.ts";
import { principalSchema, type Principal, type ToolDescriptor } from "../shared/protocol.ts";
import type { AgentSession } from "./hub.ts";
import { prompts } from "./prompts.ts";

export const SERVER_NAME = "proxmox-mcp";
export const SERVER_VERSION = "0.1.0";

/** What every tool shares, said once here rather than in each tool's schema (clients show it to the model). */
const instructions =
  "Tools for administering Proxmox VE through an agent on the host. Arguments use PVE's own names: vmid is a VM or container ID; " +
  "type is qemu (VM) or lxc (container); node is a cluster node name (pve1). A guest's node and type are looked up from its vmid when omitted (a node argument that names a target says so). " +
  "Tools that start a PVE task follow it, sending progress, for up to wait_seconds (default 45) and return its exit status; " +
  "past that, or with wait=false, they answer status 'running' with the UPID, and task_info action=status waits again. " +
  "Lists are paged: pass an answer's next_cursor back as cursor (limit is the page size). " +
  "Tools that change state say so in their annotations; tool errors start with a [code] and say whether a retry makes sense.";

/** A resource URI from the templates, as the agent tool call that reads it. */
function templatedRead(uri: string): { tool: string; args: Record<string, unknown> } | undefined {
  const guest = /^proxmox:\/\/guests\/(\d+)\/config$/.exec(uri);
  if (guest) return { tool: "guest_info", args: { vmid: Number(guest[1]), action: "config" } };
  const node = /^proxmox:\/\/nodes\/([A-Za-z0-9.-]+)\/status$/.exec(uri);
  if (node) return { tool: "node_status", args: { node: node[1] } };
  return undefined;
}

function headerOf(headers: Record<string, string | string[] | undefined> | undefined, name: string): string | undefined {
  const value = headers?.[name];
  return Array.isArray(value) ? value[0] : value;
}

export function authInfoOf(principal: Principal): AuthInfo {
  return { token: "", clientId: principal.sub, scopes: principal.scopes, extra: { sub: principal.sub } };
}

function principalOf(authInfo: AuthInfo | undefined): Principal {
  const parsed = principalSchema.safeParse({ sub: authInfo?.clientId, scopes: authInfo?.scopes });
  if (!parsed.success) throw new ToolError("missing_scope", "the request carried no verified identity");
  return parsed.data;
}

/** A tool error as MCP carries it: readable text with the stable code, plus the code in _meta. */
export function toolErrorResult(err: unknown): CallToolResult {
  const e = toToolError(err);
  const retry = e.retryable ? " This can be retried." : "";
  return {
    isError: true,
    content: [{ type: "text", text: `[${e.code}] ${e.message}${retry}` }],
    _meta: { code: e.code, retryable: e.retryable, ...(e.details ? { details: e.details } : {}) },
  };
}

type Extra = { signal: AbortSignal; sendNotification: (n: { method: "notifications/progress"; params: Record<string, unknown> }) => Promise<void> };

/** Tools the worker answers itself, from the agent's event log (which outlives the agent's connection). */
async function runWorkerTool(
  def: ToolDefinition,
  principal: Principal,
  rawArgs: Record<string, unknown>,
  agent: AgentSession,
  extra: Extra,
  progressToken: string | number | undefined,
): Promise<CallToolResult> {
  if (!principal.scopes.includes(def.scope)) throw new ToolError("missing_scope", `${def.name} needs the '${def.scope}' scope`);
  const parsed = def.input.safeParse(rawArgs);
  if (!parsed.success) throw new ToolError("invalid_arguments", `invalid arguments for ${def.name}: ${formatZodError(parsed.error)}`);
  const { since, limit, timeout_seconds, ...filter } = parsed.data as Record<string, any>;
  let structured: Record<string, unknown>;
  if (def.name === eventsRead.name) {
    structured = agent.events.read(filter, since, limit);
  } else if (def.name === eventsWait.name) {
    const started = Date.now();
    const ticker = setInterval(() => {
      if (progressToken === undefined) return;
      const waited = Date.now() - started;
      void extra
        .sendNotification({ method: "notifications/progress", params: { progressToken, progress: waited, total: timeout_seconds * 1000, message: `waiting for a matching event (${Math.round(waited / 1000)} s)` } })
        .catch(() => undefined);
    }, PROGRESS_EVERY_MS);
    try {
      const found = await agent.events.wait(filter, since, timeout_seconds * 1000, extra.signal);
      structured = { matched: Boolean(found.event), ...(found.event ? { event: found.event } : {}), cursor: found.cursor, waited_ms: Date.now() - started };
    } finally {
      clearInterval(ticker);
    }
  } else {
    throw new ToolError("unknown_tool", `no worker tool named ${def.name}`);
  }
  const out = def.output.parse(structured) as Record<string, unknown>;
  const text = def.name === eventsWait.name && !out.matched ? `No matching event within ${timeout_seconds} s. ${JSON.stringify(out)}` : JSON.stringify(out);
  return { content: [{ type: "text", text }], structuredContent: out };
}

export interface McpServerOptions {
  agent: () => AgentSession | undefined;
  /** Counts calls by tool and outcome; logs each call with the request id that follows it to the agent. */
  observe?: (record: { tool: string; outcome: string; ms: number; requestId?: string; sub: string }) => void;
  callTimeoutMs: number;
  confirmDestructive: "off" | "elicit" | "require";
}

/** Arguments that name what a call acts on, in the order a person reads them. */
const targetKeys = ["vmid", "node", "snapname", "storage", "volume", "archive", "disk", "upid", "target", "method", "path", "command"];
const CONFIRM_TIMEOUT_MS = 120_000;
export const EVENTS_URI = "proxmox://events/recent";
const PROGRESS_EVERY_MS = 5_000;
const workerTools = new Map(workerToolDefinitions.map((d) => [d.name, { def: d as ToolDefinition, descriptor: toolDescriptor(d) }]));

function describeTarget(args: Record<string, unknown>): string {
  const parts = targetKeys.filter((k) => args[k] !== undefined && args[k] !== "").map((k) => `${k} ${JSON.stringify(args[k])}`);
  return parts.length ? parts.join(", ") : "the arguments given";
}

/**
 * One MCP server per client session, built on the SDK's low-level Server because the tool list is not
 * known at build time: it is the connected agent's catalog.
 */
export function createMcpServer(opts: McpServerOptions): Server {
  const server = new Server({ name: SERVER_NAME, version: SERVER_VERSION }, {
    capabilities: { tools: { listChanged: true }, resources: { subscribe: true }, prompts: {} },
    instructions,
    // The cfworker validator needs no code generation, which Workers forbid; used on Node too so both behave alike.
    jsonSchemaValidator: new CfWorkerJsonSchemaValidator(),
  });

  server.setRequestHandler(ListToolsRequestSchema, async (_req, extra) => {
    const principal = principalOf(extra.authInfo);
    const catalog = [...(opts.agent()?.catalog ?? []), ...[...workerTools.values()].map((t) => t.descriptor)];
    return {
      tools: catalog
        .filter((t) => principal.scopes.includes(t.scope))
        .map((t) => ({ name: t.name, title: t.title, description: t.description, inputSchema: t.inputSchema as never, outputSchema: t.outputSchema as never, annotations: t.annotations })),
    };
  });

  server.setRequestHandler(CallToolRequestSchema, async (req, extra): Promise<CallToolResult> => {
    const started = Date.now();
    const requestId = headerOf(extra.requestInfo?.headers, "x-request-id");
    const result = await callTool(req, extra, requestId);
    const code = result.isError ? String((result._meta as { code?: string } | undefined)?.code ?? "error") : "ok";
    opts.observe?.({ tool: req.params.name, outcome: code, ms: Date.now() - started, requestId, sub: extra.authInfo?.clientId ?? "" });
    return result;
  });

  async function callTool(req: z.infer<typeof CallToolRequestSchema>, extra: Parameters<Parameters<typeof server.setRequestHandler>[1]>[1], requestId: string | undefined): Promise<CallToolResult> {
    try {
      const principal = principalOf(extra.authInfo);
      const agent = opts.agent();
      if (!agent) throw new ToolError("agent_offline", "no agent is configured for this endpoint (set DEFAULT_AGENT or register one agent)");
      const name = req.params.name;
      const local = workerTools.get(name);
      if (local) return await runWorkerTool(local.def, principal, (req.params.arguments ?? {}) as Record<string, unknown>, agent, extra, req.params._meta?.progressToken);
      const tool = agent.catalog.find((t) => t.name === name);
      if (!tool) throw agent.connected ? new ToolError("unknown_tool", `no tool named '${name}'; call tools/list to see the tools`) : agent.offlineError();
      if (!principal.scopes.includes(tool.scope)) {
        throw new ToolError("missing_scope", `${name} needs the '${tool.scope}' scope; this token has: ${principal.scopes.join(", ") || "none"}`);
      }
      const args = (req.params.arguments ?? {}) as Record<string, unknown>;
      if (tool.annotations.destructiveHint && opts.confirmDestructive !== "off") await confirm(tool, args, extra);
      const progressToken = req.params._meta?.progressToken;
      const result = await agent.call({
        tool: name,
        args,
        principal,
        timeoutMs: opts.callTimeoutMs,
        signal: extra.signal,
        requestId,
        onProgress:
          progressToken === undefined
            ? undefined
            : (progress, total, message) =>
                void extra
                  .sendNotification({ method: "notifications/progress", params: { progressToken, progress, total, message } })
                  .catch(() => undefined),
      });
      return { content: [{ type: "text", text: result.text }], ...(result.structured ? { structuredContent: result.structured } : {}) };
    } catch (err) {
      return toolErrorResult(err);
    }
  }

  // The events the agent streamed, as a resource clients can subscribe to.
  let unsubscribe: (() => void) | undefined;
  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: [{ uri: EVENTS_URI, name: "Recent Proxmox events", description: "The latest events the agent observed, newest last", mimeType: "application/json" }],
  }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
    resourceTemplates: [
      { uriTemplate: "proxmox://guests/{vmid}/config", name: "Guest configuration", description: "A VM's or container's current config (with its digest)", mimeType: "application/json" },
      { uriTemplate: "proxmox://nodes/{node}/status", name: "Node status", description: "CPU, memory, load, uptime, kernel and PVE versions of a node", mimeType: "application/json" },
    ],
  }));
  server.setRequestHandler(ReadResourceRequestSchema, async (req, extra) => {
    const templated = templatedRead(req.params.uri);
    if (templated) {
      const principal = principalOf(extra.authInfo);
      if (!principal.scopes.includes("proxmox:read")) throw new ToolError("missing_scope", "reading resources needs the 'proxmox:read' scope");
      const agent = opts.agent();
      if (!agent) throw new ToolError("agent_offline", "no agent is configured for this endpoint");
      const result = await agent.call({ ...templated, principal, timeoutMs: opts.callTimeoutMs, signal: extra.signal });
      return { contents: [{ uri: req.params.uri, mimeType: "application/json", text: JSON.stringify(result.structured ?? result.text) }] };
    }
    if (req.params.uri !== EVENTS_URI) throw new ToolError("invalid_arguments", `unknown resource ${req.params.uri}`);
    const log = opts.agent()?.events;
    const page = log ? log.read({}, undefined, 100) : { events: [], cursor: 0, missed: false };
    return { contents: [{ uri: EVENTS_URI, mimeType: "application/json", text: JSON.stringify(page) }] };
  });
  server.setRequestHandler(SubscribeRequestSchema, async (req) => {
    if (req.params.uri !== EVENTS_URI) throw new ToolError("invalid_arguments", `unknown resource ${req.params.uri}`);
    unsubscribe ??= opts.agent()?.events.subscribe(() => void server.sendResourceUpdated({ uri: EVENTS_URI }).catch(() => undefined));
    return {};
  });
  server.setRequestHandler(UnsubscribeRequestSchema, async () => {
    unsubscribe?.();
    unsubscribe = undefined;
    return {};
  });
  server.onclose = () => unsubscribe?.();

  server.setRequestHandler(ListPromptsRequestSchema, async () => ({
    prompts: prompts.map(({ name, description, arguments: args }) => ({ name, description, arguments: args })),
  }));
  server.setRequestHandler(GetPromptRequestSchema, async (req) => {
    const prompt = prompts.find((p) => p.name === req.params.name);
    if (!prompt) throw new ToolError("invalid_arguments", `no prompt named ${req.params.name}`);
    const args = req.params.arguments ?? {};
    const missing = prompt.arguments.filter((a) => a.required && !args[a.name]).map((a) => a.name);
    if (missing.length) throw new ToolError("invalid_arguments", `prompt ${prompt.name} needs: ${missing.join(", ")}`);
    return { description: prompt.description, messages: [{ role: "user", content: { type: "text", text: prompt.text(args) } }] };
  });

  /** Asks the human, through the client, before a destructive call is relayed; nothing is sent unless they accept. */
  async function confirm(tool: ToolDescriptor, args: Record<string, unknown>, extra: { signal: AbortSignal; sendRequest: Function }) {
    if (!server.getClientCapabilities()?.elicitation) {
      if (opts.confirmDestructive === "require") {
        throw new ToolError("confirmation_required", `${tool.name} is destructive and this server requires a human to confirm it, but this client cannot ask (no MCP elicitation support)`);
      }
      return;
    }
    const message = `Confirm: ${tool.title ?? tool.name} on ${describeTarget(args)}. This is destructive and cannot be undone.`;
    const answer = (await extra.sendRequest(
      {
        method: "elicitation/create",
        params: {
          message,
          requestedSchema: { type: "object", properties: { confirm: { type: "boolean", title: "Go ahead", description: message } }, required: ["confirm"] },
        },
      },
      ElicitResultSchema,
      { signal: extra.signal, timeout: CONFIRM_TIMEOUT_MS },
    )) as { action: string; content?: { confirm?: unknown } };
    if (answer.action !== "accept" || answer.content?.confirm !== true) {
      throw new ToolError("declined", `the user did not confirm ${tool.name} on ${describeTarget(args)} (${answer.action}); nothing was done`);
    }
  }
  return server;
}
