/**
 * /nodes, /nodes/{node}/status and the storage status calls, after pve-manager PVE/API2/Nodes.pm and
 * pve-storage PVE/API2/Storage/Status.pm.
 */
import type { CallContext, RouteTable } from "../context.ts";
import { paramError } from "../errors.ts";
import { splitList } from "../../shared/pve-schema/formats.ts";
import { hasPrivileges } from "../permissions.ts";
import { contentString, nodeEntry } from "../resources.ts";
import { truthy } from "../../shared/pve-schema/schema.ts";
import { nodeStats, storageUsage } from "../stats.ts";
import { epoch, type SimStorage } from "../state.ts";

function listNodes({ sim, authid }: CallContext): unknown[] {
  const { state, access } = sim;
  return state.nodes.map((n) => {
    const canAudit = authid !== undefined && hasPrivileges(access, authid, `/nodes/${n.name}`, ["Sys.Audit"]);
    return { ...nodeEntry(state, n, epoch(), canAudit), ssl_fingerprint: n.sslFingerprint };
  });
}

/** A shortened /proc/cpuinfo flags line; svm or vmx tells PVE the host can run KVM. */
function cpuFlags(model: string): string {
  const virt = model.startsWith("AMD") ? "svm" : "vmx";
  return `fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl pni pclmulqdq ${virt} ssse3 fma cx16 sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm abm fsgsbase bmi1 avx2 smep bmi2 erms rdseed adx smap clflushopt sha_ni xsaveopt xsavec xgetbv1 arat`;
}

function nodeStatus({ sim, node }: CallContext): Record<string, unknown> {
  const s = nodeStats(sim.state, node, epoch());
  const kernel = { sysname: "Linux", release: "6.17.4-2-pve", version: "#1 SMP PREEMPT_DYNAMIC PMX 6.17.4-2 (2025-12-19T07:49Z)", machine: "x86_64" };
  const memFree = node.memTotal - s.mem;
  return {
    uptime: s.uptime,
    idle: 0,
    loadavg: s.loadavg,
    kversion: `${kernel.sysname} ${kernel.release} ${kernel.version}`,
    "current-kernel": kernel,
    "boot-info": { mode: "efi", secureboot: 0 },
    cpuinfo: { user_hz: 100, mhz: node.mhz, model: node.cpuModel, cpus: node.cpus, sockets: node.sockets, cores: node.cores, hvm: "1",
      flags: cpuFlags(node.cpuModel) },
    cpu: s.cpu,
    wait: s.wait,
    memory: { free: memFree, total: node.memTotal, available: memFree, used: s.mem },
    ksm: { shared: 0 },
    swap: { free: node.swapTotal - s.swap, total: node.swapTotal, used: s.swap },
    pveversion: `pve-manager/${sim.version.version}/${sim.version.repoid}`,
    rootfs: { total: node.rootfsTotal, avail: node.rootfsTotal - node.rootfsUsed, used: node.rootfsUsed, free: node.rootfsTotal - node.rootfsUsed },
  };
}

/** The image formats each storage plugin offers (plugin get_formats), for the `format` parameter. */
const pluginFormats: Record<SimStorage["type"], { supported: string[]; default: string }> = {
  dir: { supported: ["qcow2", "raw", "vmdk"], default: "qcow2" },
  nfs: { supported: ["qcow2", "raw", "vmdk"], default: "qcow2" },
  lvmthin: { supported: ["raw"], default: "raw" },
};

/** PVE::Storage::storage_info for one storage on the executing node. */
function storageInfo(ctx: CallContext, storage: SimStorage, withFormats: boolean): Record<string, unknown> {
  const usage = storageUsage(ctx.sim.state, storage, ctx.node.name);
  const info: Record<string, unknown> = {
    type: storage.type,
    total: usage.total,
    avail: usage.avail,
    used: usage.used,
    shared: storage.shared ? 1 : 0,
    content: contentString(storage),
    active: 1,
    enabled: 1,
  };
  if (withFormats) {
    const formats = pluginFormats[storage.type];
    info.formats = formats;
    // Deprecated twin of `formats` that PVE still sends.
    info.format = [Object.fromEntries(formats.supported.map((f) => [f, 1])), formats.default];
  }
  return info;
}

/** Storages matching the `content` filter, as storage_info selects them. */
function storagesFor(ctx: CallContext): SimStorage[] {
  const wanted = ctx.params.content === undefined ? undefined : splitList(String(ctx.params.content));
  return ctx.sim.state.storages.filter((s) => !wanted || wanted.some((c) => s.content.includes(c)));
}

function listStorage(ctx: CallContext): unknown[] {
  const { params, sim, authid } = ctx;
  const candidates = storagesFor(ctx);
  if (truthy(params.storage) && !candidates.some((s) => s.id === params.storage)) throw paramError({ storage: "No such storage." });
  const target = params.target === ctx.node.name || params.target === "localhost" ? undefined : params.target;
  return candidates
    .filter((s) => authid !== undefined && hasPrivileges(sim.access, authid, `/storage/${s.id}`, ["Datastore.Audit", "Datastore.AllocateSpace"], true))
    .filter((s) => !truthy(params.storage) || s.id === params.storage)
    .filter((s) => !truthy(target) || s.shared)
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((s) => {
      const info = storageInfo(ctx, s, truthy(params.format));
      return { storage: s.id, ...info, used_fraction: (info.used as number) / (info.total as number) };
    });
}

function storageStatus(ctx: CallContext): Record<string, unknown> {
  const storage = storagesFor(ctx).find((s) => s.id === ctx.params.storage);
  if (!storage) throw paramError({ storage: "No such storage." });
  return storageInfo(ctx, storage, false);
}

export const nodeRoutes: RouteTable = {
  "GET /nodes": listNodes,
  "GET /nodes/{node}/status": nodeStatus,
  "GET /nodes/{node}/storage": listStorage,
  "GET /nodes/{node}/storage/{storage}/status": storageStatus,
};
