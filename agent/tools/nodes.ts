import { z } from "zod";
import { ToolError } from "../../shared/errors.ts";
import { paginate } from "../../shared/tool.ts";
import { nodeInfo, nodeList, nodeService, nodeStatus, type pveServices } from "../../shared/tools/nodes.ts";
import { implement } from "./registry.ts";
import { nodeStatusReply, nodesReply, parseReply } from "./replies.ts";
import { startTask } from "./tasks.ts";
import { compact, fitNewest, num, pveGet, toEpoch } from "./values.ts";

const serviceRow = z.looseObject({ service: z.string(), name: z.string().optional(), state: z.string(), "active-state": z.string().optional(), "unit-state": z.string().optional(), desc: z.string().optional() });
const diskRow = z.looseObject({ devpath: z.string(), type: z.string().optional(), size: num, model: z.string().optional(), serial: z.string().optional(), health: z.string().optional(), wearout: z.unknown().optional(), used: z.string().optional() });
const smartReply = z.looseObject({ health: z.string(), type: z.string().optional(), attributes: z.array(z.looseObject({ name: z.string().optional(), fail: z.string().optional() })).optional(), text: z.string().optional() });
const updateRow = z.looseObject({ Package: z.string(), Version: z.string(), OldVersion: z.string().optional(), Origin: z.string().optional(), Title: z.string().optional() });
const certRow = z.looseObject({ filename: z.string(), subject: z.string().optional(), issuer: z.string().optional(), fingerprint: z.string().optional(), notbefore: num.optional(), notafter: num.optional(), san: z.array(z.string()).optional() });
const versionReply = z.looseObject({ version: z.string(), release: z.string(), repoid: z.string() });
const syslogRow = z.looseObject({ n: num, t: z.string() });

/** syslog takes "YYYY-MM-DD HH:MM:SS" in the node's time zone; the agent passes UTC. */
function syslogTime(value: string): string {
  return new Date(toEpoch(value) * 1000).toISOString().slice(0, 19).replace("T", " ");
}

/**
 * Services whose stop cuts the cluster or the API this agent works through (calls for any node pass its
 * pveproxy and pvedaemon), so nothing could start them again through it. PVE itself refuses to stop
 * pve-cluster, pveproxy and pvedaemon, but only once the task runs; corosync it stops.
 */
const vitalServices: Partial<Record<(typeof pveServices)[number], string>> = {
  "pve-cluster": "takes the cluster filesystem /etc/pve down: guest, storage and cluster configuration vanish and the PVE API fails",
  corosync: "drops the node out of the cluster: quorum is lost, /etc/pve turns read-only, and with HA the node fences (resets) itself",
  pveproxy: "takes the PVE API on port 8006 offline, which this agent and the web interface use, so nothing could start it again",
  pvedaemon: "takes down the API backend behind pveproxy, so this agent's calls fail and nothing could start it again",
};

export const nodeTools = [
  implement(nodeList, async (_args, ctx) => {
    const rows = parseReply(nodesReply, await ctx.pve.api(ctx).nodes.$get(), "GET /nodes");
    const nodes = rows
      .map(({ node, status, cpu, maxcpu, mem, maxmem, uptime }) => ({ node, status, cpu, maxcpu, mem, maxmem, uptime }))
      .sort((a, b) => a.node.localeCompare(b.node));
    return { nodes };
  }),
  implement(nodeStatus, async ({ node }, ctx) => {
    const s = parseReply(nodeStatusReply, await ctx.pve.api(ctx).nodes.$(node).status.$get(), `GET /nodes/${node}/status`);
    return {
      node,
      cpu: s.cpu,
      cpus: s.cpuinfo?.cpus,
      cpu_model: s.cpuinfo?.model,
      loadavg: s.loadavg,
      memory: { used: s.memory.used, total: s.memory.total, free: s.memory.free ?? s.memory.total - s.memory.used },
      swap: s.swap ? { used: s.swap.used, total: s.swap.total, free: s.swap.free ?? s.swap.total - s.swap.used } : undefined,
      rootfs: s.rootfs ? { used: s.rootfs.used, total: s.rootfs.total, avail: s.rootfs.avail ?? s.rootfs.free ?? 0 } : undefined,
      uptime: s.uptime,
      kernel: s.kversion,
      pve_version: s.pveversion,
    };
  }),
  implement(nodeInfo, async (args, ctx) => {
    const { node, action } = args;
    const base = `/nodes/${node}`;
    switch (action) {
      case "services": {
        const rows = await pveGet(ctx, z.array(serviceRow), `${base}/services`);
        const services = rows.map((s) => compact({ service: s.service, name: s.name ?? s.service, state: s.state, active_state: s["active-state"], unit_state: s["unit-state"], desc: s.desc }));
        return { node, action, services };
      }
      case "journal": {
        const params = compact({ since: args.since && toEpoch(args.since), until: args.until && toEpoch(args.until), lastentries: args.since || args.until ? undefined : args.lines });
        const raw = await pveGet(ctx, z.array(z.string()), `${base}/journal`, params);
        // mini-journalreader frames the entries with the cursors before and after them.
        const entries = raw.slice(1, -1).slice(-args.lines);
        const fitted = fitNewest(entries);
        return { node, action, lines: fitted.lines, ...(fitted.truncated || entries.length < raw.length - 2 ? { truncated: true } : {}) };
      }
      case "syslog": {
        const start = args.cursor ? Number.parseInt(args.cursor, 10) || 0 : 0;
        const params = compact({ start, limit: args.limit, since: args.since && syslogTime(args.since), until: args.until && syslogTime(args.until), service: args.service });
        const raw = await ctx.pve.request("GET", `${base}/syslog`, params, ctx);
        const rows = parseReply(z.array(syslogRow), raw, `GET ${base}/syslog`).filter((r) => r.t !== "no content");
        const fitted = fitNewest(rows.map((r) => r.t));
        const next = rows.length === args.limit ? String(start + rows.length) : undefined;
        return { node, action, lines: fitted.lines, first_line: start + 1 + (rows.length - fitted.lines.length), ...(fitted.truncated ? { truncated: true } : {}), next_cursor: next };
      }
      case "network": {
        const rows = await pveGet(ctx, z.array(z.looseObject({ iface: z.string() })), `${base}/network`);
        const page = paginate(rows.sort((a, b) => a.iface.localeCompare(b.iface)), args.limit, args.cursor);
        return { node, action, interfaces: page.items, total: page.total, next_cursor: page.next_cursor };
      }
      case "disks": {
        const rows = await pveGet(ctx, z.array(diskRow), `${base}/disks/list`);
        const disks = rows.map((d) => compact({ devpath: d.devpath, type: d.type, size: d.size, model: d.model, serial: d.serial, health: d.health, wearout: typeof d.wearout === "number" ? d.wearout : undefined, used: d.used }));
        return { node, action, disks };
      }
      case "smart": {
        if (!args.disk) throw new ToolError("invalid_arguments", "action smart needs disk, e.g. /dev/sda (action disks lists them)");
        const s = await pveGet(ctx, smartReply, `${base}/disks/smart`, { disk: args.disk });
        const failing = s.attributes?.filter((a) => a.fail && a.fail !== "-").map((a) => String(a.name));
        return { node, action, smart: compact({ disk: args.disk, health: s.health, type: s.type, attributes: s.attributes, text: s.text, failing: failing?.length ? failing : undefined }) };
      }
      case "updates": {
        const rows = await pveGet(ctx, z.array(updateRow), `${base}/apt/update`);
        return { node, action, updates: rows.map((u) => compact({ package: u.Package, old_version: u.OldVersion, version: u.Version, origin: u.Origin, title: u.Title })) };
      }
      case "certificates": {
        const now = Date.now() / 1000;
        const rows = await pveGet(ctx, z.array(certRow), `${base}/certificates/info`);
        const certificates = rows.map((c) =>
          compact({ filename: c.filename, subject: c.subject, issuer: c.issuer, fingerprint: c.fingerprint, notbefore: c.notbefore, notafter: c.notafter, expires_in_days: c.notafter === undefined ? undefined : Math.floor((c.notafter - now) / 86400), san: c.san }),
        );
        return { node, action, certificates };
      }
      case "rrd": {
        const rows = await pveGet(ctx, z.array(z.record(z.string(), z.unknown())), `${base}/rrddata`, { timeframe: args.timeframe, cf: args.cf });
        const rrd = rows.map((r) => Object.fromEntries(Object.entries(r).filter((e): e is [string, number] => typeof e[1] === "number")));
        return { node, action, rrd };
      }
      case "version":
        return { node, action, version: await pveGet(ctx, versionReply, `${base}/version`) };
    }
  }),
  implement(nodeService, async (args, ctx) => {
    const { node, service, action } = args;
    const why = action === "stop" ? vitalServices[service] : undefined;
    if (why) throw new ToolError("policy_refused", `refused to stop ${service} on ${node}: stopping it ${why}. Use action restart (or reload) instead.`, { service, action });
    return { node, service, action, ...(await startTask(ctx, "POST", `/nodes/${node}/services/${service}/${action}`, {}, args)) };
  }),
];
