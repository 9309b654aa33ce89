import { setTimeout as sleep } from "node:timers/promises";
import type { TcpProxy } from "../test/support/tcp-proxy.ts";
import type { Call } from "./load.ts";

/**
 * Cuts the agent's tunnel at the TCP proxy and times until a call succeeds again, `drops` times. The cut
 * resets both sockets, so the agent notices at once; a silent network loss adds heartbeat detection.
 */
export async function measureReconnect(proxy: TcpProxy, call: Call, drops: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < drops; i++) {
    await untilSuccess(call, 20_000);
    await sleep(300);
    const started = performance.now();
    if (proxy.cut() === 0) throw new Error("the agent's tunnel does not go through the proxy");
    await untilSuccess(call, 20_000);
    times.push(performance.now() - started);
  }
  return times;
}

async function untilSuccess(call: Call, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (performance.now() > until) throw new Error(`no successful call within ${timeoutMs} ms: ${(err as Error).message}`);
      await sleep(2);
    }
  }
}
