import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const READ_BUFFER_BYTES = 64 * 1024;

/** One output channel of a child: `childEnd` goes into spawn's stdio, data arrives at `onData`. */
export interface OutputPipe {
  /** Give to spawn, then destroy in this process (the child has its own copy). */
  childEnd: Socket;
  /** Set before the child starts; `chunk` is only valid during the call (the buffer is reused). */
  onData: (chunk: Buffer) => void;
  /** Resolves when every holder of the child end has closed it. */
  ended: Promise<void>;
  destroy(): void;
}

export interface OutputPipes {
  stdout: OutputPipe;
  stderr: OutputPipe;
}

/**
 * Two connected UNIX socket pairs whose reading ends fill one reused buffer each (net's `onread` option), so
 * reading a command's output allocates nothing per chunk. Node's own stdio pipes allocate a fresh 64 KiB
 * buffer per read; for a command printing 50 MB that garbage grows the agent by 30+ MB before V8 collects it.
 * The listening socket lives in a fresh 0700 directory, so no other user can connect in between.
 */
export async function outputPipes(): Promise<OutputPipes> {
  const dir = await mkdtemp(join(tmpdir(), "pve-mcp-exec-"));
  const path = join(dir, "s");
  const server = createServer();
  try {
    server.listen(path);
    await once(server, "listening");
    return { stdout: await pair(server, path), stderr: await pair(server, path) };
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function pair(server: Server, path: string): Promise<OutputPipe> {
  const accepted = once(server, "connection") as Promise<[Socket]>;
  const pipe = new SocketPipe(path);
  await once(pipe.reader, "connect");
  [pipe.childEnd] = await accepted;
  return pipe;
}

class SocketPipe implements OutputPipe {
  onData: (chunk: Buffer) => void = () => {};
  childEnd!: Socket;
  readonly reader: Socket;
  readonly ended: Promise<void>;

  constructor(path: string) {
    this.reader = connect({
      path,
      onread: {
        buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
        callback: (n: number, buf: Uint8Array) => {
          this.onData(Buffer.from(buf.buffer, buf.byteOffset, n));
          return true;
        },
      },
    });
    this.ended = new Promise((resolve) => this.reader.once("close", () => resolve()));
    this.reader.on("error", () => this.reader.destroy());
  }

  destroy(): void {
    this.childEnd?.destroy();
    this.reader.destroy();
  }
}
