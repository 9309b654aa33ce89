import { ToolError, formatZodError } from "./errors.ts";
import { CHUNK_BYTES, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES, frameSchema, type Frame } from "./protocol.ts";

/** Characters per chunk: a UTF-16 unit is at most 3 UTF-8 bytes, so a chunk stays under CHUNK_BYTES * 3 < 1 MiB. */
const CHUNK_CHARS = CHUNK_BYTES;
const MAX_PARTIALS = 64;

let chunkCounter = 0;

/**
 * Serialises a frame into one or more texts, none over MAX_FRAME_BYTES: a large frame becomes chunk
 * frames that the sender can interleave with other traffic.
 */
export function encodeFrame(frame: Frame): string[] {
  const text = JSON.stringify(frame);
  if (text.length * 3 <= MAX_FRAME_BYTES || utf8Length(text) <= MAX_FRAME_BYTES) return [text];
  if (text.length > MAX_MESSAGE_BYTES) {
    throw new ToolError("frame_invalid", `message of ${text.length} characters exceeds the ${MAX_MESSAGE_BYTES}-byte limit`);
  }
  const cid = `c${Date.now().toString(36)}${(chunkCounter++).toString(36)}`;
  const texts: string[] = [];
  for (let seq = 0, at = 0; at < text.length; seq++, at += CHUNK_CHARS) {
    const data = text.slice(at, at + CHUNK_CHARS);
    texts.push(JSON.stringify({ t: "chunk", cid, seq, last: at + CHUNK_CHARS >= text.length, data }));
  }
  return texts;
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

interface Partial {
  next: number;
  parts: string[];
  size: number;
}

/** Parses incoming texts into frames, reassembling chunked messages; bad input throws ToolError("frame_invalid"). */
export class FrameDecoder {
  private partials = new Map<string, Partial>();
  private buffered = 0;

  /** Returns the completed frame, or undefined while a chunked message is still incomplete. */
  decode(text: string): Frame | undefined {
    if (text.length > MAX_FRAME_BYTES) {
      throw new ToolError("frame_invalid", `frame of ${text.length} characters exceeds ${MAX_FRAME_BYTES} bytes`);
    }
    const frame = parseFrame(text);
    if (frame.t !== "chunk") return frame;
    return this.addChunk(frame);
  }

  /** Bytes held for incomplete chunked messages. */
  get pendingBytes(): number {
    return this.buffered;
  }

  private addChunk(chunk: Extract<Frame, { t: "chunk" }>): Frame | undefined {
    let partial = this.partials.get(chunk.cid);
    if (!partial) {
      if (chunk.seq !== 0) throw new ToolError("frame_invalid", `chunk ${chunk.seq} of unknown message ${chunk.cid}`);
      if (this.partials.size >= MAX_PARTIALS) throw new ToolError("frame_invalid", "too many chunked messages in flight");
      partial = { next: 0, parts: [], size: 0 };
      this.partials.set(chunk.cid, partial);
    }
    if (chunk.seq !== partial.next) {
      this.drop(chunk.cid, partial);
      throw new ToolError("frame_invalid", `chunk ${chunk.seq} of ${chunk.cid} out of order (expected ${partial.next})`);
    }
    if (this.buffered + chunk.data.length > MAX_MESSAGE_BYTES) {
      this.drop(chunk.cid, partial);
      throw new ToolError("frame_invalid", `chunked message ${chunk.cid} exceeds ${MAX_MESSAGE_BYTES} bytes`);
    }
    partial.parts.push(chunk.data);
    partial.size += chunk.data.length;
    partial.next++;
    this.buffered += chunk.data.length;
    if (!chunk.last) return undefined;
    this.drop(chunk.cid, partial);
    const whole = parseFrame(partial.parts.join(""));
    if (whole.t === "chunk") throw new ToolError("frame_invalid", "a chunked message cannot contain a chunk");
    return whole;
  }

  private drop(cid: string, partial: Partial): void {
    this.partials.delete(cid);
    this.buffered -= partial.size;
  }
}

/** Parses one frame's JSON text with the protocol schema. */
export function parseFrame(text: string): Frame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ToolError("frame_invalid", "frame is not valid JSON");
  }
  const parsed = frameSchema.safeParse(raw);
  if (!parsed.success) throw new ToolError("frame_invalid", `invalid frame: ${formatZodError(parsed.error)}`);
  return parsed.data;
}
