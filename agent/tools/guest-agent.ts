import { z } from "zod";
import { ToolError } from "../../shared/errors.ts";
import { guestAgentFileWrite, guestAgentFs, guestAgentInfo } from "../../shared/tools/guest-agent.ts";
import { locate } from "./guests.ts";
import { implement, type ToolContext } from "./registry.ts";
import { parseReply } from "./replies.ts";
import { compact, num } from "./values.ts";

const FILE_READ_MAX = 64 * 1024;

const result = <T extends z.ZodType>(schema: T) => z.looseObject({ result: schema });
const ifaceRow = z.looseObject({
  name: z.string(),
  "hardware-address": z.string().optional(),
  "ip-addresses": z.array(z.looseObject({ "ip-address": z.string(), prefix: num.optional() })).optional(),
  statistics: z.looseObject({ "rx-bytes": num.optional(), "tx-bytes": num.optional() }).optional(),
});
const fsRow = z.looseObject({ name: z.string().optional(), mountpoint: z.string(), type: z.string(), "total-bytes": num.optional(), "used-bytes": num.optional() });
const userRow = z.looseObject({ user: z.string(), domain: z.string().optional(), "login-time": num.optional() });
const fileReply = z.looseObject({ content: z.string(), "bytes-read": num.optional(), truncated: z.unknown().optional() });
const trimReply = result(z.looseObject({ paths: z.array(z.looseObject({ path: z.string(), trimmed: num.optional(), error: z.string().optional() })).optional() }));

/** The VM's node and the API base of its agent; containers have no QEMU guest agent. */
async function agentBase(ctx: ToolContext, vmid: number, node?: string): Promise<{ node: string; base: string }> {
  const where = await locate(ctx, vmid, node);
  if (where.type !== "qemu") throw new ToolError("invalid_arguments", `${vmid} is a container: only VMs have a QEMU guest agent (use guest_exec for containers)`);
  return { node: where.node, base: `/nodes/${where.node}/qemu/${vmid}/agent` };
}

async function call<T extends z.ZodType>(ctx: ToolContext, method: string, path: string, schema: T, params: Record<string, unknown> = {}): Promise<z.output<T>> {
  return parseReply(schema, await ctx.pve.request(method, path, params, ctx), `${method} ${path}`);
}

export const guestAgentTools = [
  implement(guestAgentInfo, async ({ vmid, node: given, action, file }, ctx) => {
    const { node, base } = await agentBase(ctx, vmid, given);
    const head = { vmid, node, action };
    switch (action) {
      case "ping":
        await call(ctx, "POST", `${base}/ping`, z.unknown());
        return { ...head, ok: true };
      case "osinfo":
        return { ...head, osinfo: (await call(ctx, "GET", `${base}/get-osinfo`, result(z.record(z.string(), z.unknown())))).result };
      case "hostname":
        return { ...head, hostname: (await call(ctx, "GET", `${base}/get-host-name`, result(z.looseObject({ "host-name": z.string() })))).result["host-name"] };
      case "network": {
        const rows = (await call(ctx, "GET", `${base}/network-get-interfaces`, result(z.array(ifaceRow)))).result;
        const interfaces = rows.map((i) =>
          compact({ name: i.name, mac: i["hardware-address"], addresses: (i["ip-addresses"] ?? []).map((a) => (a.prefix === undefined ? a["ip-address"] : `${a["ip-address"]}/${a.prefix}`)), rx_bytes: i.statistics?.["rx-bytes"], tx_bytes: i.statistics?.["tx-bytes"] }),
        );
        return { ...head, interfaces };
      }
      case "fsinfo": {
        const rows = (await call(ctx, "GET", `${base}/get-fsinfo`, result(z.array(fsRow)))).result;
        const filesystems = rows.map((f) => {
          const total = f["total-bytes"];
          const used = f["used-bytes"];
          return compact({ mountpoint: f.mountpoint, type: f.type, name: f.name, total_bytes: total, used_bytes: used, usage: total && used !== undefined ? Number((used / total).toFixed(4)) : undefined });
        });
        return { ...head, filesystems };
      }
      case "users": {
        const rows = (await call(ctx, "GET", `${base}/get-users`, result(z.array(userRow)))).result;
        return { ...head, users: rows.map((u) => compact({ user: u.user, domain: u.domain, login_time: u["login-time"] })) };
      }
      case "file_read": {
        if (!file) throw new ToolError("invalid_arguments", "action file_read needs file, an absolute path in the guest");
        const f = await call(ctx, "GET", `${base}/file-read`, fileReply, { file });
        const cut = f.content.length > FILE_READ_MAX;
        const content = cut ? f.content.slice(0, FILE_READ_MAX) : f.content;
        return { ...head, file: { path: file, content, bytes: f["bytes-read"] ?? Buffer.byteLength(f.content), truncated: cut || Boolean(f.truncated) } };
      }
    }
  }),
  implement(guestAgentFileWrite, async ({ vmid, node: given, file, content, encode }, ctx) => {
    const { node, base } = await agentBase(ctx, vmid, given);
    await ctx.pve.request("POST", `${base}/file-write`, { file, content, encode: encode ? 1 : 0 }, ctx);
    return { vmid, node, file, bytes: encode ? Buffer.byteLength(content) : Buffer.from(content, "base64").length };
  }),
  implement(guestAgentFs, async ({ vmid, node: given, action }, ctx) => {
    const { node, base } = await agentBase(ctx, vmid, given);
    const head = { vmid, node, action };
    if (action === "trim") {
      const paths = (await call(ctx, "POST", `${base}/fstrim`, trimReply)).result.paths ?? [];
      return { ...head, trimmed: paths.map((p) => compact({ path: p.path, bytes: p.trimmed, error: p.error })) };
    }
    const count = (await call(ctx, "POST", `${base}/${action === "freeze" ? "fsfreeze-freeze" : "fsfreeze-thaw"}`, result(num))).result;
    const state = (await call(ctx, "POST", `${base}/fsfreeze-status`, result(z.string()))).result;
    return { ...head, filesystems: count, frozen: state === "frozen" };
  }),
];
