import { z } from "zod";
import { errorCodeSchema } from "./errors.ts";

/** Version of the tunnel protocol; the worker refuses an agent speaking another one. */
export const PROTOCOL_VERSION = 1;
/** No frame on the tunnel is larger than this; bigger payloads travel as chunk frames. */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Size of each chunk's data, leaving room for the chunk envelope under MAX_FRAME_BYTES. */
export const CHUNK_BYTES = 256 * 1024;
/** Largest message reassembled from chunks; anything larger is refused. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/**
 * The agent's heartbeat text. It is a constant string so that a Cloudflare Durable Object can answer
 * it with setWebSocketAutoResponse without waking up from hibernation.
 */
export const PING_TEXT = '{"t":"ping"}';
export const PONG_TEXT = '{"t":"pong"}';
/** JWT header `typ` and audience of agent connection tokens; a client token never carries them. */
export const AGENT_TOKEN_TYPE = "pve-mcp-agent+jwt";
export const AGENT_TOKEN_AUDIENCE = "urn:pve-mcp:agent";

/** `admin` manages the worker itself (enrollment, agents); no tool requires it. */
export const scopeSchema = z.enum(["proxmox:read", "proxmox:write", "host:exec", "admin"]);
export type Scope = z.infer<typeof scopeSchema>;

const jsonObject = z.record(z.string(), z.unknown());

export const toolAnnotationsSchema = z.object({
  title: z.string().optional(),
  readOnlyHint: z.boolean().optional(),
  destructiveHint: z.boolean().optional(),
  idempotentHint: z.boolean().optional(),
  openWorldHint: z.boolean().optional(),
});

/** A tool as the agent announces it: everything the worker needs to list it and to gate it. */
export const toolDescriptorSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/),
  title: z.string().optional(),
  description: z.string().max(2048),
  inputSchema: jsonObject,
  outputSchema: jsonObject.optional(),
  annotations: toolAnnotationsSchema,
  scope: scopeSchema,
  mutating: z.boolean(),
});
export type ToolDescriptor = z.infer<typeof toolDescriptorSchema>;

export const principalSchema = z.object({ sub: z.string(), scopes: z.array(scopeSchema) });
export type Principal = z.infer<typeof principalSchema>;

/** What a tool returns through the tunnel: readable text plus the typed result. */
export const toolResultSchema = z.object({
  text: z.string(),
  structured: jsonObject.optional(),
});
export type ToolResult = z.infer<typeof toolResultSchema>;

const callId = z.string().min(8).max(128);

export const helloFrame = z.object({
  t: z.literal("hello"),
  v: z.number().int(),
  agent: z.object({
    id: z.string().min(1).max(128),
    version: z.string(),
    capabilities: z.array(z.string()),
  }),
  tools: z.array(toolDescriptorSchema),
});
export const welcomeFrame = z.object({
  t: z.literal("welcome"),
  v: z.number().int(),
  heartbeatMs: z.number().int().positive(),
  /** The worker's clock (epoch ms), so the agent can correct call deadlines for clock skew. */
  now: z.number(),
});
export const callFrame = z.object({
  t: z.literal("call"),
  id: callId,
  tool: z.string(),
  args: jsonObject,
  /** Epoch milliseconds after which the caller no longer waits. */
  deadline: z.number(),
  principal: principalSchema,
  requestId: z.string().optional(),
});
export const resultFrame = z.object({ t: z.literal("result"), id: callId, result: toolResultSchema });
export const errorFrame = z.object({
  t: z.literal("error"),
  id: callId.optional(),
  code: errorCodeSchema,
  message: z.string(),
  retryable: z.boolean(),
  details: jsonObject.optional(),
});
export const progressFrame = z.object({
  t: z.literal("progress"),
  id: callId,
  progress: z.number(),
  total: z.number().optional(),
  message: z.string().optional(),
});
export const cancelFrame = z.object({ t: z.literal("cancel"), id: callId, reason: z.string().optional() });
/** The worker has delivered these results; the agent may forget them. */
export const ackFrame = z.object({ t: z.literal("ack"), ids: z.array(callId).max(1024) });
export const eventFrame = z.object({ t: z.literal("event"), event: jsonObject });
/** The agent's own health (listeners, notifiers, counters), sent after connecting and then periodically. */
export const statusFrame = z.object({ t: z.literal("status"), status: jsonObject });
export const pingFrame = z.object({ t: z.literal("ping") });
export const pongFrame = z.object({ t: z.literal("pong") });
/** One piece of a message larger than MAX_FRAME_BYTES; `data` is a slice of the message's JSON text. */
export const chunkFrame = z.object({
  t: z.literal("chunk"),
  cid: z.string().min(1).max(64),
  seq: z.number().int().nonnegative(),
  last: z.boolean(),
  data: z.string(),
});

export const frameSchema = z.discriminatedUnion("t", [
  helloFrame,
  welcomeFrame,
  callFrame,
  resultFrame,
  errorFrame,
  progressFrame,
  cancelFrame,
  ackFrame,
  eventFrame,
  statusFrame,
  pingFrame,
  pongFrame,
  chunkFrame,
]);
export type Frame = z.infer<typeof frameSchema>;
export type HelloFrame = z.infer<typeof helloFrame>;
export type CallFrame = z.infer<typeof callFrame>;
export type ErrorFrame = z.infer<typeof errorFrame>;
export type ProgressFrame = z.infer<typeof progressFrame>;
