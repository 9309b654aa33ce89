import { StringDecoder } from "node:string_decoder";

export type OutputStream = "stdout" | "stderr";
export type OnOutput = (stream: OutputStream, text: string) => void;

export interface StreamingLimits {
  /** Shortest time between two onOutput calls. */
  intervalMs: number;
  /** Each call carries at most the newest this-many characters written since the call before. */
  maxChars: number;
  /** After this many bytes in all calls together, progress stops (the result still has the output). */
  totalBytes: number;
}

export const defaultStreaming: StreamingLimits = { intervalMs: 250, maxChars: 2048, totalBytes: 256 * 1024 };

interface Kept {
  chunks: Buffer[];
  kept: number;
  seen: number;
}

/** The output part of an exec result. */
export interface CapturedOutput {
  stdout: string;
  stderr: string;
  stdout_bytes: number;
  stderr_bytes: number;
  output_cap_bytes: number;
  truncated: boolean;
}

/**
 * Keeps the first `capBytes` of each stream and only counts the rest, so memory stays bounded whatever a
 * command prints; optionally reports the newest text to `onOutput`, throttled, for progress notifications.
 */
export class OutputCapture {
  private readonly streams: Record<OutputStream, Kept> = {
    stdout: { chunks: [], kept: 0, seen: 0 },
    stderr: { chunks: [], kept: 0, seen: 0 },
  };
  private readonly progress?: Progress;
  private readonly capBytes: number;

  constructor(capBytes: number, onOutput?: OnOutput, limits: StreamingLimits = defaultStreaming) {
    this.capBytes = capBytes;
    if (onOutput) this.progress = new Progress(onOutput, limits);
  }

  /** `chunk` is only read during the call. */
  push(stream: OutputStream, chunk: Buffer): void {
    const s = this.streams[stream];
    s.seen += chunk.length;
    const room = this.capBytes - s.kept;
    if (room > 0) {
      // Copied: the caller may reuse its buffer, and a partial chunk's dropped rest can be freed.
      const part = Buffer.from(chunk.subarray(0, room));
      s.chunks.push(part);
      s.kept += part.length;
    }
    this.progress?.push(stream, chunk);
  }

  /** Stops progress reports and returns what was kept, cut at a whole UTF-8 character. */
  finish(): CapturedOutput {
    this.progress?.stop();
    const text = (s: Kept) => new StringDecoder("utf8").write(Buffer.concat(s.chunks));
    const { stdout, stderr } = this.streams;
    return {
      stdout: text(stdout),
      stderr: text(stderr),
      stdout_bytes: stdout.seen,
      stderr_bytes: stderr.seen,
      output_cap_bytes: this.capBytes,
      truncated: stdout.seen > this.capBytes || stderr.seen > this.capBytes,
    };
  }
}

/** Throttles onOutput to one call per interval, taking turns between streams that have new text. */
class Progress {
  private readonly pending: Record<OutputStream, string> = { stdout: "", stderr: "" };
  private readonly decoders: Record<OutputStream, StringDecoder> = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
  private last: OutputStream = "stderr";
  private lastCallAt = -Infinity;
  private timer?: ReturnType<typeof setTimeout>;
  private sent = 0;
  private stopped = false;
  private readonly onOutput: OnOutput;
  private readonly limits: StreamingLimits;

  constructor(onOutput: OnOutput, limits: StreamingLimits) {
    this.onOutput = onOutput;
    this.limits = limits;
  }

  push(stream: OutputStream, chunk: Buffer): void {
    if (this.stopped) return;
    const text = this.pending[stream] + this.decoders[stream].write(chunk);
    this.pending[stream] = text.length > this.limits.maxChars ? newestLines(text, this.limits.maxChars) : text;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    const wait = Math.max(0, this.lastCallAt + this.limits.intervalMs - Date.now());
    this.timer = setTimeout(() => this.emit(), wait);
  }

  private emit(): void {
    this.timer = undefined;
    const other: OutputStream = this.last === "stdout" ? "stderr" : "stdout";
    const stream = this.pending[other] ? other : this.last;
    const text = this.pending[stream];
    if (!text) return;
    this.pending[stream] = "";
    this.last = stream;
    this.lastCallAt = Date.now();
    this.sent += Buffer.byteLength(text);
    if (this.sent >= this.limits.totalBytes) this.stop();
    try {
      this.onOutput(stream, text);
    } catch {
      // A failing progress listener must not break the command it watches.
    }
    if (this.pending.stdout || this.pending.stderr) this.schedule();
  }
}

/** The last `max` characters, starting at a line boundary when there is one. */
function newestLines(text: string, max: number): string {
  const tail = text.slice(-max);
  const nl = tail.indexOf("\n");
  return nl >= 0 && nl < tail.length - 1 ? tail.slice(nl + 1) : tail;
}
