import { Agent, fetch, type Headers } from "undici";
import { startSimulator, type Simulator, type SimulatorOptions } from "../../sim/simulator.ts";

export interface Reply {
  status: number;
  statusText: string;
  contentType: string | null;
  headers: Headers;
  text: string;
  /** The parsed body when it is JSON, else undefined. */
  json: any;
}

export interface CallOptions {
  /** Authorization header; defaults to the root@pam!mcp token, null sends none. */
  auth?: string | null;
  headers?: Record<string, string>;
  form?: Record<string, string>;
  json?: unknown;
}

export interface SimClient {
  sim: Simulator;
  dispatcher: Agent;
  /** One HTTPS request below /api2/json, trusting only the simulator's certificate. */
  call(method: string, path: string, opts?: CallOptions): Promise<Reply>;
  /** Polls a task's status until it has stopped and returns that status. */
  waitTask(node: string, upid: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function openSimulator(options: SimulatorOptions = {}): Promise<SimClient> {
  const sim = await startSimulator({ taskDurationMs: 150, ...options });
  const dispatcher = new Agent({ connect: { ca: sim.certPem } });

  const call = async (method: string, path: string, opts: CallOptions = {}): Promise<Reply> => {
    const headers: Record<string, string> = { ...opts.headers };
    const auth = opts.auth === undefined ? sim.token.header : opts.auth;
    if (auth !== null) headers.Authorization = auth;
    let body: string | undefined;
    if (opts.form) {
      body = new URLSearchParams(opts.form).toString();
      headers["Content-Type"] = "application/x-www-form-urlencoded";
    } else if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers["Content-Type"] = "application/json";
    }
    const res = await fetch(`${sim.url}/api2/json${path}`, { method, headers, body, dispatcher });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, statusText: res.statusText, contentType: res.headers.get("content-type"), headers: res.headers, text, json };
  };

  const waitTask = async (node: string, upid: string): Promise<Record<string, unknown>> => {
    const until = Date.now() + 10_000;
    for (;;) {
      const res = await call("GET", `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`);
      if (res.json?.data?.status === "stopped") return res.json.data;
      if (Date.now() > until) throw new Error(`task ${upid} did not stop: ${res.text}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  return {
    sim,
    dispatcher,
    call,
    waitTask,
    async close() {
      await dispatcher.close();
      await sim.close();
    },
  };
}
