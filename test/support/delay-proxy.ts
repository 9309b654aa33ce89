import { createServer, connect, type Socket } from "node:net";

export interface DelayProxy {
  port: number;
  /** Stops forwarding in both directions without closing anything: a dead peer, as seen by TCP. */
  blackhole(on: boolean): void;
  close(): Promise<void>;
}

export interface DelayOptions {
  /** One-way delay added to every chunk (ms). */
  delayMs: number;
  /** Share of chunks that are "lost" and arrive only after a retransmission timeout. */
  lossRate: number;
  /** The extra delay of a lost chunk (Linux's minimum RTO is 200 ms; doubled on repeats). */
  retransmitMs: number;
}

/**
 * A loopback TCP proxy that adds latency and loss. The kernel here has no sch_netem, so `tc netem` cannot
 * run; at the TCP level a lost segment shows up as a retransmission delay, which this reproduces in order
 * (each direction is a FIFO, as TCP delivers).
 */
export async function startDelayProxy(targetPort: number, opts: DelayOptions): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  let holed = false;
  const pipe = (from: Socket, to: Socket) => {
    let ready = Date.now();
    from.on("data", (chunk) => {
      if (holed) return;
      const extra = Math.random() < opts.lossRate ? opts.retransmitMs : 0;
      ready = Math.max(ready, Date.now() + opts.delayMs + extra);
      setTimeout(() => !holed && !to.destroyed && to.write(chunk), ready - Date.now());
    });
  };
  const server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => {
        sockets.delete(s);
        // A dead path carries no FIN or RST either: the other side only learns from its own heartbeats.
        if (holed) return;
        client.destroy();
        upstream.destroy();
      });
    }
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    blackhole(on) {
      holed = on;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
