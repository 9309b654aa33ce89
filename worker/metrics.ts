/**
 * The worker's counters in Prometheus text format. Small on purpose: a few counters, one histogram and
 * gauges read at scrape time; prom-client would bring Node-only code into a runtime-neutral app.
 */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

function labels(values: Record<string, string>): string {
  const parts = Object.entries(values).map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

export class Metrics {
  private calls = new Map<string, number>();
  private latency = new Map<string, { buckets: number[]; sum: number; count: number }>();
  private counters = new Map<string, number>();

  /** One relayed tool call: its tool, how it ended (ok or an error code) and how long it took. */
  call(tool: string, outcome: string, seconds: number): void {
    const key = `${tool}\u0000${outcome}`;
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
    let h = this.latency.get(tool);
    if (!h) this.latency.set(tool, (h = { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 }));
    BUCKETS.forEach((b, i) => {
      if (seconds <= b) h.buckets[i]++;
    });
    h.sum += seconds;
    h.count++;
  }

  inc(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  /** Renders everything, with gauges supplied at scrape time. */
  render(gauges: Array<{ name: string; help: string; labels?: Record<string, string>; value: number }>): string {
    const out: string[] = [];
    out.push("# HELP pve_mcp_tool_calls_total Relayed tool calls by tool and outcome.", "# TYPE pve_mcp_tool_calls_total counter");
    for (const [key, n] of this.calls) {
      const [tool, outcome] = key.split("\u0000");
      out.push(`pve_mcp_tool_calls_total${labels({ tool, outcome })} ${n}`);
    }
    out.push("# HELP pve_mcp_tool_call_duration_seconds Latency of relayed tool calls.", "# TYPE pve_mcp_tool_call_duration_seconds histogram");
    for (const [tool, h] of this.latency) {
      BUCKETS.forEach((b, i) => out.push(`pve_mcp_tool_call_duration_seconds_bucket${labels({ tool, le: String(b) })} ${h.buckets[i]}`));
      out.push(`pve_mcp_tool_call_duration_seconds_bucket${labels({ tool, le: "+Inf" })} ${h.count}`);
      out.push(`pve_mcp_tool_call_duration_seconds_sum${labels({ tool })} ${h.sum}`, `pve_mcp_tool_call_duration_seconds_count${labels({ tool })} ${h.count}`);
    }
    for (const [name, n] of this.counters) out.push(`# TYPE ${name} counter`, `${name} ${n}`);
    const seen = new Set<string>();
    for (const g of gauges) {
      if (!seen.has(g.name)) out.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
      seen.add(g.name);
      out.push(`${g.name}${labels(g.labels ?? {})} ${g.value}`);
    }
    return out.join("\n") + "\n";
  }
}
