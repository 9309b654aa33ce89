import type { MiddlewareHandler } from "hono";

export interface HostGuardOptions {
  /** Accepted Host header names (without port). */
  allowedHosts: string[];
  /** Accepted Origin values; requests without Origin (non-browser clients) pass. */
  allowedOrigins: string[];
}

function hostname(hostHeader: string): string {
  if (hostHeader.startsWith("[")) return hostHeader.slice(0, hostHeader.indexOf("]") + 1);
  return hostHeader.replace(/:\d+$/, "");
}

/**
 * DNS-rebinding protection: refuses a Host not on the allow-list, and a browser Origin that is neither
 * allowed nor the server's own, before anything else runs.
 *
 * @example app.use("*", hostGuard({ allowedHosts: ["localhost"], allowedOrigins: [] }))
 */
export function hostGuard(opts: HostGuardOptions): MiddlewareHandler {
  const hosts = new Set(opts.allowedHosts.map((h) => h.toLowerCase()));
  const origins = new Set(opts.allowedOrigins);
  return async (c, next) => {
    const host = hostname((c.req.header("host") ?? new URL(c.req.url).host).toLowerCase());
    if (!hosts.has(host)) {
      return c.json({ error: "forbidden_host", error_description: `Host '${host}' is not allowed; add it to ALLOWED_HOSTS` }, 403);
    }
    const origin = c.req.header("origin");
    if (origin && !origins.has(origin)) {
      let sameHost = false;
      try {
        sameHost = hosts.has(new URL(origin).hostname.toLowerCase());
      } catch {
        sameHost = false;
      }
      if (!sameHost) return c.json({ error: "forbidden_origin", error_description: `Origin '${origin}' is not allowed; add it to ALLOWED_ORIGINS` }, 403);
    }
    await next();
  };
}
