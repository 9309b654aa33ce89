/**
 * A node's system views and service control: services (start, stop, restart, reload tasks), journal
 * and syslog, network, disks and SMART, apt updates, certificates, RRD statistics and version, after
 * pve-manager PVE/API2/{Services,Nodes,Network,APT}.pm, PVE/API2/Certificates.pm and pve-storage
 * PVE/API2/Disks.pm.
 */
import { createHash } from "node:crypto";
import type { CallContext, RouteTable } from "../context.ts";
import { die } from "../errors.ts";
import { journal, nodeDisks, nodeInterfaces, nodeServices, pendingUpdates, serviceCommand, type ServiceCommand } from "../host.ts";
import { truthy } from "../../shared/pve-schema/schema.ts";
import { nodeStats } from "../stats.ts";
import { epoch } from "../state.ts";
import { forkWorker } from "../workers.ts";

/** journalctl's cursor of an entry, "s=<boot>;i=<seq>;..." shortened to what clients pass back. */
function cursor(node: string, time: number): string {
  const boot = createHash("sha1").update(node).digest("hex").slice(0, 32);
  return `s=${boot};i=${time.toString(16)};t=${(time * 1_000_000).toString(16)}`;
}

function cursorTime(value: unknown): number | undefined {
  const m = /;i=([0-9a-f]+);/.exec(String(value ?? ""));
  return m ? parseInt(m[1], 16) : undefined;
}

/**
 * GET /nodes/{node}/journal: mini-journalreader's output, the first line the cursor before the
 * entries and the last the cursor after them; without a range, the last 50 entries.
 */
function readJournal({ node, params }: CallContext): string[] {
  let lines = journal(node, epoch());
  const since = params.since !== undefined ? Number(params.since) : cursorTime(params.startcursor);
  const until = params.until !== undefined ? Number(params.until) : cursorTime(params.endcursor);
  if (since !== undefined) lines = lines.filter((l) => l.time >= since);
  if (until !== undefined) lines = lines.filter((l) => l.time <= until);
  const ranged = since !== undefined || until !== undefined;
  const last = params.lastentries !== undefined ? Number(params.lastentries) : ranged ? undefined : 50;
  if (last !== undefined) lines = lines.slice(-last || lines.length);
  const first = lines[0]?.time ?? epoch();
  const end = lines.at(-1)?.time ?? epoch();
  return [cursor(node.name, first), ...lines.map((l) => l.text), cursor(node.name, end)];
}

/** "YYYY-MM-DD[ HH:MM[:SS]]" in the node's time zone (UTC here) to epoch seconds. */
function parseStamp(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})(?: (\d{2}:\d{2})(?::(\d{2}))?)?$/.exec(String(value));
  return m ? Date.parse(`${m[1]}T${m[2] ?? "00:00"}:${m[3] ?? "00"}Z`) / 1000 : undefined;
}

/** GET /nodes/{node}/syslog: PVE::Tools::dump_journal, lines {n, t} numbered from start + 1, with total. */
function readSyslog(ctx: CallContext): unknown[] {
  const { node, params } = ctx;
  const since = parseStamp(params.since);
  const until = parseStamp(params.until);
  const service = params.service === undefined ? undefined : String(params.service);
  const lines = journal(node, epoch())
    .filter((l) => (since === undefined || l.time >= since) && (until === undefined || l.time <= until))
    .filter((l) => service === undefined || l.text.includes(` ${service}[`) || l.text.includes(` ${service}:`))
    .map((l) => {
      const d = new Date(l.time * 1000);
      const stamp = `${d.toUTCString().slice(8, 11)} ${String(d.getUTCDate()).padStart(2, " ")} ${d.toISOString().slice(11, 19)}`;
      return `${stamp} ${l.text.slice(l.text.indexOf(" ") + 1)}`;
    });
  const start = Number(params.start ?? 0);
  const limit = Number(params.limit ?? 50);
  const page = lines.slice(start, start + limit).map((t, i) => ({ n: start + i + 1, t }));
  ctx.setTotal(lines.length);
  return page.length ? page : [{ n: 1, t: "no content" }];
}

function listNetwork({ node, params }: CallContext): unknown[] {
  const type = params.type === undefined ? undefined : String(params.type);
  const bridgeTypes = new Set(["bridge", "OVSBridge"]);
  return nodeInterfaces(node).filter((i) => {
    if (!type || type === "include_sdn") return true;
    if (type === "any_bridge" || type === "any_local_bridge") return bridgeTypes.has(String(i.type));
    return i.type === type;
  });
}

function listDisks({ node, params }: CallContext): unknown[] {
  if (params.type === "journal_disks") return [];
  return nodeDisks(node)
    .filter(() => params.type !== "unused")
    .map((d) => ({
      devpath: d.devpath,
      type: d.type,
      size: d.size,
      model: d.model,
      serial: d.serial,
      vendor: d.vendor,
      wwn: d.wwn,
      health: truthy(params.skipsmart) ? undefined : d.health,
      wearout: d.wearout,
      rpm: d.rpm,
      used: d.used,
      gpt: 1,
      mounted: d.used === "ext4" ? 1 : 0,
      osdid: -1,
      "osdid-list": null,
      by_id_link: `/dev/disk/by-id/${d.type === "nvme" ? "nvme" : "ata"}-${d.model.replace(/ /g, "_")}_${d.serial}`,
    }));
}

function smart({ node, params }: CallContext): Record<string, unknown> {
  const path = String(params.disk);
  const disk = nodeDisks(node).find((d) => d.devpath === path);
  if (!disk) throw die(`no such block device '${path}'`);
  if (truthy(params.healthonly)) return { health: disk.health };
  return { health: disk.health, ...disk.smart };
}

/** pve-root-ca.pem and the node's pve-ssl.pem, as PVE::Certificate::get_certificate_info reads them. */
function certificates({ node }: CallContext): unknown[] {
  const now = epoch();
  const caCreated = now - 86400 * 400;
  const caFingerprint = createHash("sha256").update(`ca:${node.name}`).digest("hex").toUpperCase().match(/../g)!.join(":");
  return [
    {
      filename: "pve-root-ca.pem",
      fingerprint: caFingerprint,
      issuer: "/CN=Proxmox Virtual Environment/OU=5e8a6a3c0b2f4d1e9c7a/O=PVE Cluster Manager CA",
      subject: "/CN=Proxmox Virtual Environment/OU=5e8a6a3c0b2f4d1e9c7a/O=PVE Cluster Manager CA",
      notbefore: caCreated,
      notafter: caCreated + 86400 * 3650,
      "public-key-type": "rsaEncryption",
      "public-key-bits": 4096,
      san: [],
    },
    {
      filename: "pve-ssl.pem",
      fingerprint: node.sslFingerprint,
      issuer: "/CN=Proxmox Virtual Environment/OU=5e8a6a3c0b2f4d1e9c7a/O=PVE Cluster Manager CA",
      subject: `/OU=PVE Cluster Node/O=Proxmox Virtual Environment/CN=${node.name}.sim.lan`,
      notbefore: caCreated,
      notafter: caCreated + 86400 * 730,
      "public-key-type": "rsaEncryption",
      "public-key-bits": 2048,
      san: ["127.0.0.1", "0000:0000:0000:0000:0000:0000:0000:0001", "localhost", node.ip, node.name, `${node.name}.sim.lan`],
    },
  ];
}

const rrdSteps: Record<string, number> = { hour: 60, day: 1800, week: 10800, month: 43200, year: 604800, decade: 2_592_000 };

/** GET /nodes/{node}/rrddata: 70 rows of the RRD archive for the timeframe, around today's load. */
function rrdData({ sim, node, params }: CallContext): unknown[] {
  const step = rrdSteps[String(params.timeframe)];
  const now = epoch();
  const s = nodeStats(sim.state, node, now);
  const peak = params.cf === "MAX" ? 1.35 : 1;
  const rows: unknown[] = [];
  for (let i = 69; i >= 0; i--) {
    const time = now - (now % step) - i * step;
    const wave = 1 + 0.25 * Math.sin((time / 86400) * 2 * Math.PI + node.nodeid);
    const f = (v: number) => Number((v * wave * peak).toFixed(6));
    rows.push({
      time,
      cpu: Math.min(1, f(s.cpu)),
      maxcpu: s.maxcpu,
      iowait: f(s.wait),
      loadavg: f(Number(s.loadavg[1])),
      memtotal: s.maxmem,
      memused: Math.min(s.maxmem, Math.round(f(s.mem))),
      swaptotal: node.swapTotal,
      swapused: s.swap,
      roottotal: s.maxdisk,
      rootused: s.disk,
      netin: Math.round(f(120_000 + 40_000 * node.nodeid)),
      netout: Math.round(f(60_000 + 20_000 * node.nodeid)),
    });
  }
  return rows;
}

/** POST /nodes/{node}/services/{service}/<action>: a srv<action> task; reload is systemctl try-reload-or-restart. */
const serviceActions: Record<string, ServiceCommand> = { start: "start", stop: "stop", restart: "restart", reload: "try-reload-or-restart" };
const serviceRoutes: RouteTable = Object.fromEntries(
  Object.entries(serviceActions).map(([action, cmd]) => [
    `POST /nodes/{node}/services/{service}/${action}`,
    (ctx: CallContext) => forkWorker(ctx, `srv${action}`, String(ctx.params.service), () => serviceCommand(ctx.node, String(ctx.params.service), cmd)),
  ]),
);

export const nodeSystemRoutes: RouteTable = {
  ...serviceRoutes,
  "GET /nodes/{node}/services": ({ node }) => nodeServices(node),
  "GET /nodes/{node}/services/{service}/state": ({ node, params }) => {
    const found = nodeServices(node).find((s) => s.service === params.service);
    if (!found) throw die(`unknown service '${params.service}'`);
    return found;
  },
  "GET /nodes/{node}/journal": readJournal,
  "GET /nodes/{node}/syslog": readSyslog,
  "GET /nodes/{node}/network": listNetwork,
  "GET /nodes/{node}/disks/list": listDisks,
  "GET /nodes/{node}/disks/smart": smart,
  "GET /nodes/{node}/apt/update": ({ node }) => pendingUpdates(node),
  "GET /nodes/{node}/certificates/info": certificates,
  "GET /nodes/{node}/rrddata": rrdData,
  "GET /nodes/{node}/version": ({ sim }) => ({ ...sim.version }),
};
