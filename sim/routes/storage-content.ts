/**
 * Storage content handlers: list, volume info and attributes, delete, download-url, after pve-storage
 * PVE/API2/Storage/Content.pm and Status.pm (download_url) and PVE::Tools::download_file_from_url.
 */
import { createHash, randomInt } from "node:crypto";
import type { CallContext, RouteTable } from "../context.ts";
import { die, paramError } from "../errors.ts";
import { splitList } from "../../shared/pve-schema/formats.ts";
import { checkPrivileges } from "../permissions.ts";
import { truthy } from "../../shared/pve-schema/schema.ts";
import { epoch, type SimStorage } from "../state.ts";
import { findVolume, listContent, volumePath, type FileContent } from "../storage-content.ts";
import { forkWorker } from "../workers.ts";

/** PVE::Storage::storage_check_enabled on the executing node. */
function storageOf(ctx: CallContext): SimStorage {
  const id = String(ctx.params.storage);
  const s = ctx.sim.state.storages.find((x) => x.id === id);
  if (!s) throw die(`storage '${id}' does not exist`);
  return s;
}

function listVolumes(ctx: CallContext): unknown[] {
  const storage = storageOf(ctx);
  const content = ctx.params.content === undefined ? undefined : splitList(String(ctx.params.content));
  const vmid = ctx.params.vmid === undefined ? undefined : Number(ctx.params.vmid);
  return listContent(ctx.sim.state, storage, ctx.node.name, { content, vmid });
}

/** $real_volume_id: "local:iso/x.iso" or "iso/x.iso" with the storage from the URL. */
function realVolumeId(ctx: CallContext): { volid: string; storage: SimStorage } {
  const volume = String(ctx.params.volume);
  const given = ctx.params.storage === undefined ? undefined : String(ctx.params.storage);
  let volid = volume;
  let storeid = given;
  const m = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/i.exec(volume);
  if (volume.includes(":")) {
    if (!m) throw paramError({ volume: `unable to parse volume ID '${volume}'\n` });
    if (given && m[1] !== given) throw paramError({ volume: `storage ID mismatch (${m[1]} != ${given})\n` });
    storeid = m[1];
  } else {
    if (!given) throw paramError({ volume: "no storage specified - incomplete volume ID" });
    volid = `${given}:${volume}`;
  }
  const storage = ctx.sim.state.storages.find((s) => s.id === storeid);
  if (!storage) throw die(`storage '${storeid}' does not exist`);
  return { volid, storage };
}

function volumeEntry(ctx: CallContext, volid: string, storage: SimStorage) {
  return listContent(ctx.sim.state, storage, ctx.node.name).find((e) => e.volid === volid);
}

function volumeInfo(ctx: CallContext): Record<string, unknown> {
  const { volid, storage } = realVolumeId(ctx);
  const entry = volumeEntry(ctx, volid, storage);
  const path = volumePath(storage, volid.slice(storage.id.length + 1));
  if (!entry) throw die(`volume_size_info on '${volid}' failed - no format`);
  const out: Record<string, unknown> = { path, size: entry.size, used: entry.size, format: entry.format };
  const file = findVolume(ctx.sim.state, volid, ctx.node.name);
  if (file?.notes !== undefined) out.notes = file.notes;
  if (file?.content === "backup") out.protected = file.protected ? 1 : 0;
  return out;
}

function updateAttributes(ctx: CallContext): null {
  const { volid } = realVolumeId(ctx);
  const file = findVolume(ctx.sim.state, volid, ctx.node.name);
  if (!file) throw die(`volume '${volid}' does not exist`);
  if (ctx.params.notes !== undefined) file.notes = String(ctx.params.notes);
  if (ctx.params.protected !== undefined) {
    if (file.content !== "backup") throw die("protection is only supported for backups");
    file.protected = truthy(ctx.params.protected);
  }
  return null;
}

/** DELETE .../content/{volume}: an 'imgdel' worker; backups need only AllocateSpace plus VM.Backup on their guest. */
function deleteVolume(ctx: CallContext): string {
  const { volid, storage } = realVolumeId(ctx);
  const state = ctx.sim.state;
  const file = findVolume(state, volid, ctx.node.name);
  const volname = volid.slice(storage.id.length + 1);
  const owner = file?.vmid ?? Number(/^(?:\d+\/)?(?:vm|base)-(\d+)-/.exec(volname)?.[1] ?? NaN);
  const authid = ctx.authid ?? "";
  if (file?.content === "backup" && Number.isFinite(owner)) {
    checkPrivileges(ctx.sim.access, authid, `/storage/${storage.id}`, ["Datastore.AllocateSpace"]);
    checkPrivileges(ctx.sim.access, authid, `/vms/${owner}`, ["VM.Backup"]);
  } else {
    checkPrivileges(ctx.sim.access, authid, `/storage/${storage.id}`, ["Datastore.Allocate"]);
  }
  const id = `${Number.isFinite(owner) ? `${owner}@` : ""}${storage.id}`;
  const path = volumePath(storage, volname);
  return forkWorker(ctx, "imgdel", id, () => {
    if (file) {
      if (file.protected) throw die(`cannot remove protected archive '${path}'`);
      state.volumes.splice(state.volumes.indexOf(file), 1);
      return [`Removed volume '${volid}'`];
    }
    const guest = [...state.guests.values()].find((g) => Object.entries(g.config).some(([, v]) => v.split(",")[0] === volid));
    if (guest) {
      // lvremove refuses an open volume; a stopped guest's disk is removed under it (PVE does not check configs).
      if (guest.running) throw die(`lvremove '${storage.options.vgname ?? "pve"}/${volname}' error:   Logical volume ${storage.options.vgname ?? "pve"}/${volname} in use.`);
      for (const [k, v] of Object.entries(guest.config)) if (v.split(",")[0] === volid) delete guest.config[k];
      return [`  Logical volume "${volname}" successfully removed.`, `Removed volume '${volid}'`];
    }
    return [`WARN: disk image '${path}' does not exist`, `Removed volume '${volid}'`];
  });
}

const isoExt = /[^/]+\.(?:iso|img)$/i;
const vztmplExt = /[^/]+\.tar\.(gz|xz|zst|bz2)$/i;

/** PVE::Storage::normalize_content_filename. */
function normalizeFilename(name: string): string {
  return name.trim().replace(/^.*[/\\]/, "").replace(/[^a-zA-Z0-9_.-]/g, "_");
}

/** PVE::Tools::encode_text: the worker id must not hold ':' or the like. */
function encodeText(text: string): string {
  return text.replace(/[^-_.a-zA-Z0-9]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** The bytes the simulated web serves for a URL, so a checksum can be computed (and a test can know it). */
export function urlChecksum(url: string, algorithm: string): string {
  return createHash(algorithm).update(url).digest("hex");
}

/** POST .../download-url: a 'download' worker that fetches the file with wget and checks its checksum. */
function downloadUrl(ctx: CallContext): string {
  const { params, sim, node } = ctx;
  const storage = storageOf(ctx);
  if (storage.type === "lvmthin") throw die(`can't upload to storage type '${storage.type}', not a file based storage!`);
  const content = String(params.content) as FileContent;
  const url = String(params.url);
  if (!storage.content.includes(content)) throw die(`storage '${storage.id}' is not configured for content-type '${content}'`);
  const filename = normalizeFilename(String(params.filename));
  if (content === "iso" && !isoExt.test(filename)) throw paramError({ filename: "wrong file extension" });
  if (content === "vztmpl" && !vztmplExt.test(filename)) throw paramError({ filename: "wrong file extension" });
  if (content !== "iso" && content !== "vztmpl") throw paramError({ content: `upload content-type '${content}' is not allowed` });
  if (params.compression !== undefined && content !== "iso") throw die(`decompression not supported for ${content}`);
  const volid = `${storage.id}:${content}/${filename}`;
  const dest = volumePath(storage, `${content}/${filename}`);
  const algorithm = params["checksum-algorithm"] === undefined ? undefined : String(params["checksum-algorithm"]);
  const expected = params.checksum === undefined ? undefined : String(params.checksum);
  const size = 50_000_000 + (parseInt(urlChecksum(url, "sha1").slice(0, 6), 16) % 900_000_000);
  const tmp = `${dest}.tmp_dwnl.${randomInt(10_000, 999_999)}`;
  const host = (() => {
    try {
      return new URL(url).hostname;
    } catch {
      return "";
    }
  })();
  const unreachable = host.endsWith(".invalid") || host === "";
  const mb = Math.round(size / 1024 / 1024);
  const log = [
    `downloading ${url} to ${dest}`,
    `--${new Date().toISOString().replace("T", " ").slice(0, 19)}--  ${url}`,
    `Resolving ${host} (${host})... ${unreachable ? "failed: Name or service not known." : "198.51.100.7"}`,
  ];
  if (!unreachable) {
    log.push(`Connecting to ${host} (${host})|198.51.100.7|:443... connected.`, "HTTP request sent, awaiting response... 200 OK",
      `Length: ${size} (${mb}M) [application/octet-stream]`, `Saving to: '${tmp}'`);
    for (const pct of [25, 50, 75, 100]) log.push(`${String(Math.round((mb * pct) / 100)).padStart(7)}M ${".".repeat(32)} ${String(pct).padStart(3)}%  96.4M ${Math.round((mb * (100 - pct)) / 9600)}s`);
  }
  return forkWorker(ctx, "download", encodeText(filename), () => {
    const exists = findVolume(sim.state, volid, node.name);
    if (exists) {
      if (!algorithm || !expected) throw die(`refusing to override existing file '${dest}'`);
      const got = urlChecksum(url, algorithm);
      if (got.toLowerCase() === expected.toLowerCase()) return ["calculating checksum of existing file...OK, got correct file already, no need to download"];
      throw die(`checksum mismatch: got '${got}' != expect '${expected}', aborting`);
    }
    if (unreachable) throw die(`download failed: command 'wget --progress=dot:giga -O ${tmp} ${url}' failed: exit code 4`);
    const lines: string[] = [];
    if (algorithm && expected) {
      const got = urlChecksum(url, algorithm);
      if (got.toLowerCase() !== expected.toLowerCase()) throw die(`checksum mismatch: got '${got}' != expect '${expected}'`);
      lines.push("calculating checksum...OK, checksum verified");
    }
    sim.state.volumes.push({
      volid, storage: storage.id, ...(storage.shared ? {} : { node: node.name }), content, size, ctime: epoch(),
      format: content === "iso" ? "iso" : ({ gz: "tgz", xz: "txz", zst: "tzst", bz2: "tbz2" }[vztmplExt.exec(filename)![1].toLowerCase()] ?? "tgz"),
    });
    lines.push(`download of '${url}' to '${dest}' finished`);
    return lines;
  }, { log });
}

export const storageContentRoutes: RouteTable = {
  "GET /nodes/{node}/storage/{storage}/content": listVolumes,
  "GET /nodes/{node}/storage/{storage}/content/{volume}": volumeInfo,
  "PUT /nodes/{node}/storage/{storage}/content/{volume}": updateAttributes,
  "DELETE /nodes/{node}/storage/{storage}/content/{volume}": deleteVolume,
  "POST /nodes/{node}/storage/{storage}/download-url": downloadUrl,
};
