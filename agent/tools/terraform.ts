/**
 * A guest's config as an OpenTofu/Terraform resource of the bpg/proxmox provider
 * (proxmox_virtual_environment_vm / proxmox_virtual_environment_container), with the `import` block
 * that adopts the existing guest ("node/vmid" is the provider's import id). Only attributes that
 * have a direct counterpart are written; the rest is listed in a comment so nothing is silently lost.
 */

type Conf = Record<string, string>;

/** "key=value,key2=value2" with an optional leading default value ("virtio=MAC" or a volume). */
function props(value: string): { head: string; kv: Record<string, string> } {
  const [head, ...rest] = value.split(",");
  const kv: Record<string, string> = {};
  for (const part of rest) {
    const i = part.indexOf("=");
    if (i > 0) kv[part.slice(0, i)] = part.slice(i + 1);
  }
  return { head, kv };
}

const quote = (s: string): string => JSON.stringify(s);
const flag = (v: string | undefined): boolean => v === "1" || v === "true" || v === "on";

/** Size strings such as 32G or 512M in whole GiB, as the provider's `size` wants. */
function gib(size: string | undefined): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGT])?$/.exec(size ?? "");
  if (!m) return undefined;
  const bytes = Number(m[1]) * 1024 ** ({ K: 1, M: 2, G: 3, T: 4 }[(m[2] ?? "") as "K"] ?? 0);
  return Math.max(1, Math.round(bytes / 1024 ** 3));
}

/** A Terraform identifier from a guest name. */
function label(name: string | undefined, vmid: number): string {
  const id = (name ?? "").toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "");
  return /^[a-z_]/.test(id) ? id : `guest_${vmid}`;
}

class Hcl {
  private readonly lines: string[] = [];
  private depth = 0;

  line(text: string): this {
    this.lines.push(`${"  ".repeat(this.depth)}${text}`);
    return this;
  }

  attr(key: string, value: string | number | boolean | string[] | undefined): this {
    if (value === undefined) return this;
    const rendered = Array.isArray(value) ? `[${value.map(quote).join(", ")}]` : typeof value === "string" ? quote(value) : String(value);
    return this.line(`${key} = ${rendered}`);
  }

  block(header: string, body: () => void): this {
    this.line(`${header} {`);
    this.depth++;
    body();
    this.depth--;
    return this.line("}");
  }

  text(): string {
    return `${this.lines.join("\n")}\n`;
  }
}

const tagsOf = (conf: Conf): string[] | undefined => (conf.tags ? conf.tags.split(/[;,\s]+/).filter(Boolean) : undefined);

function handledNote(h: Hcl, conf: Conf, handled: Set<string>): void {
  const rest = Object.keys(conf).filter((k) => !handled.has(k) && !/^(digest|meta|vmgenid|smbios1|lock|parent|unused\d+)$/.test(k)).sort();
  if (rest.length) h.line(`# not mapped, set by hand if needed: ${rest.map((k) => `${k}=${conf[k]}`).join("; ")}`);
}

function vmResource(node: string, vmid: number, conf: Conf, running: boolean): string {
  const name = label(conf.name, vmid);
  const h = new Hcl();
  const handled = new Set<string>(["name", "description", "tags", "onboot", "template", "cores", "sockets", "cpu", "memory", "balloon", "agent", "ostype",
    "bios", "machine", "scsihw", "boot", "ciuser", "cipassword", "sshkeys", "nameserver", "searchdomain"]);
  h.block(`resource "proxmox_virtual_environment_vm" ${quote(name)}`, () => {
    h.attr("node_name", node).attr("vm_id", vmid).attr("name", conf.name).attr("description", conf.description).attr("tags", tagsOf(conf));
    h.attr("on_boot", conf.onboot === undefined ? undefined : flag(conf.onboot));
    if (flag(conf.template)) h.attr("template", true);
    else h.attr("started", running);
    h.attr("bios", conf.bios).attr("machine", conf.machine).attr("scsi_hardware", conf.scsihw);
    if (conf.agent) h.block("agent", () => h.attr("enabled", /^(1|enabled=1)/.test(conf.agent)));
    h.block("cpu", () => h.attr("cores", Number(conf.cores ?? 1)).attr("sockets", Number(conf.sockets ?? 1)).attr("type", conf.cpu ? props(conf.cpu).head : undefined));
    const memory = Number(/^(?:current=)?(\d+)/.exec(conf.memory ?? "512")?.[1] ?? 512);
    h.block("memory", () => h.attr("dedicated", memory).attr("floating", conf.balloon === undefined ? undefined : Number(conf.balloon)));
    if (conf.ostype) h.block("operating_system", () => h.attr("type", conf.ostype));
    for (const key of Object.keys(conf).filter((k) => /^(scsi|virtio|sata|ide)\d+$/.test(k)).sort()) {
      handled.add(key);
      const { head, kv } = props(conf[key]);
      if (kv.media === "cdrom") {
        if (/cloudinit/.test(head)) continue;
        h.block("cdrom", () => h.attr("interface", key).attr("file_id", head === "none" ? "none" : head));
        continue;
      }
      const [datastore] = head.split(":");
      h.block("disk", () => {
        h.attr("datastore_id", datastore).attr("interface", key).attr("size", gib(kv.size));
        if (kv.iothread) h.attr("iothread", flag(kv.iothread));
        if (kv.discard) h.attr("discard", kv.discard);
        if (kv.ssd) h.attr("ssd", flag(kv.ssd));
        if (kv.cache) h.attr("cache", kv.cache);
        if (kv.backup !== undefined) h.attr("backup", flag(kv.backup));
      });
    }
    if (conf.efidisk0) {
      handled.add("efidisk0");
      const { head, kv } = props(conf.efidisk0);
      h.block("efi_disk", () => h.attr("datastore_id", head.split(":")[0]).attr("type", kv.efitype).attr("pre_enrolled_keys", kv["pre-enrolled-keys"] === undefined ? undefined : flag(kv["pre-enrolled-keys"])));
    }
    if (conf.tpmstate0) {
      handled.add("tpmstate0");
      const { head, kv } = props(conf.tpmstate0);
      h.block("tpm_state", () => h.attr("datastore_id", head.split(":")[0]).attr("version", kv.version));
    }
    for (const key of Object.keys(conf).filter((k) => /^net\d+$/.test(k)).sort()) {
      handled.add(key);
      const { head, kv } = props(conf[key]);
      const [model, mac] = head.split("=");
      h.block("network_device", () => {
        h.attr("model", model).attr("mac_address", mac).attr("bridge", kv.bridge);
        if (kv.firewall !== undefined) h.attr("firewall", flag(kv.firewall));
        if (kv.tag) h.attr("vlan_id", Number(kv.tag));
        if (kv.rate) h.attr("rate_limit", Number(kv.rate));
        if (kv.mtu) h.attr("mtu", Number(kv.mtu));
        if (kv.link_down) h.attr("disconnected", flag(kv.link_down));
      });
    }
    const ci = Object.entries(conf).find(([k, v]) => /^(scsi|virtio|sata|ide)\d+$/.test(k) && /cloudinit/.test(v));
    const ipconfigs = Object.keys(conf).filter((k) => /^ipconfig\d+$/.test(k)).sort();
    if (ci || conf.ciuser || ipconfigs.length) {
      h.block("initialization", () => {
        if (ci) h.attr("datastore_id", ci[1].split(":")[0]).attr("interface", ci[0]);
        if (conf.nameserver || conf.searchdomain) h.block("dns", () => h.attr("servers", conf.nameserver?.split(/\s+/)).attr("domain", conf.searchdomain));
        for (const key of ipconfigs) {
          handled.add(key);
          const kv = Object.fromEntries(conf[key].split(",").map((p) => p.split("=") as [string, string]));
          h.block("ip_config", () => {
            if (kv.ip) h.block("ipv4", () => h.attr("address", kv.ip).attr("gateway", kv.gw));
            if (kv.ip6) h.block("ipv6", () => h.attr("address", kv.ip6).attr("gateway", kv.gw6));
          });
        }
        if (conf.ciuser || conf.sshkeys) {
          h.block("user_account", () => {
            h.attr("username", conf.ciuser);
            if (conf.sshkeys) h.attr("keys", decodeURIComponent(conf.sshkeys).split("\n").filter(Boolean));
            if (conf.cipassword) h.line("# password = var.cipassword  (PVE does not return the stored password)");
          });
        }
      });
    }
    handledNote(h, conf, handled);
  });
  h.line("");
  h.block("import", () => h.line(`to = proxmox_virtual_environment_vm.${name}`).attr("id", `${node}/${vmid}`));
  return h.text();
}

function containerResource(node: string, vmid: number, conf: Conf, running: boolean): string {
  const name = label(conf.hostname, vmid);
  const h = new Hcl();
  const handled = new Set<string>(["hostname", "description", "tags", "onboot", "template", "cores", "memory", "swap", "arch", "ostype", "unprivileged",
    "features", "rootfs", "nameserver", "searchdomain"]);
  h.block(`resource "proxmox_virtual_environment_container" ${quote(name)}`, () => {
    h.attr("node_name", node).attr("vm_id", vmid).attr("description", conf.description).attr("tags", tagsOf(conf));
    h.attr("unprivileged", flag(conf.unprivileged));
    h.attr("start_on_boot", conf.onboot === undefined ? undefined : flag(conf.onboot));
    if (flag(conf.template)) h.attr("template", true);
    else h.attr("started", running);
    h.block("cpu", () => h.attr("cores", Number(conf.cores ?? 1)).attr("architecture", conf.arch));
    h.block("memory", () => h.attr("dedicated", Number(conf.memory ?? 512)).attr("swap", Number(conf.swap ?? 512)));
    if (conf.rootfs) {
      const { head, kv } = props(conf.rootfs);
      h.block("disk", () => h.attr("datastore_id", head.split(":")[0]).attr("size", gib(kv.size)));
    }
    for (const key of Object.keys(conf).filter((k) => /^mp\d+$/.test(k)).sort()) {
      handled.add(key);
      const { head, kv } = props(conf[key]);
      h.block("mount_point", () => h.attr("volume", head.split(":")[0]).attr("path", kv.mp).attr("size", kv.size));
    }
    if (conf.features) {
      const kv = Object.fromEntries(conf.features.split(",").map((p) => p.split("=") as [string, string]));
      h.block("features", () => {
        if (kv.nesting) h.attr("nesting", flag(kv.nesting));
        if (kv.keyctl) h.attr("keyctl", flag(kv.keyctl));
        if (kv.fuse) h.attr("fuse", flag(kv.fuse));
      });
    }
    h.block("operating_system", () => {
      h.line("# the template the container was created from is not recorded in its config; set it for re-creation");
      h.attr("template_file_id", "local:vztmpl/REPLACE-ME.tar.zst").attr("type", conf.ostype);
    });
    const nets = Object.keys(conf).filter((k) => /^net\d+$/.test(k)).sort();
    for (const key of nets) {
      handled.add(key);
      const { kv } = props(`x,${conf[key]}`);
      h.block("network_interface", () => {
        h.attr("name", kv.name).attr("bridge", kv.bridge).attr("mac_address", kv.hwaddr);
        if (kv.firewall !== undefined) h.attr("firewall", flag(kv.firewall));
        if (kv.tag) h.attr("vlan_id", Number(kv.tag));
        if (kv.rate) h.attr("rate_limit", Number(kv.rate));
        if (kv.mtu) h.attr("mtu", Number(kv.mtu));
      });
    }
    h.block("initialization", () => {
      h.attr("hostname", conf.hostname);
      if (conf.nameserver || conf.searchdomain) h.block("dns", () => h.attr("servers", conf.nameserver?.split(/\s+/)).attr("domain", conf.searchdomain));
      for (const key of nets) {
        const { kv } = props(`x,${conf[key]}`);
        if (!kv.ip && !kv.ip6) continue;
        h.block("ip_config", () => {
          if (kv.ip) h.block("ipv4", () => h.attr("address", kv.ip).attr("gateway", kv.gw));
          if (kv.ip6) h.block("ipv6", () => h.attr("address", kv.ip6).attr("gateway", kv.gw6));
        });
      }
    });
    handledNote(h, conf, handled);
  });
  h.line("");
  h.block("import", () => h.line(`to = proxmox_virtual_environment_container.${name}`).attr("id", `${node}/${vmid}`));
  return h.text();
}

/** The HCL for a guest: its resource and the import block adopting it. */
export function terraformOf(type: "qemu" | "lxc", node: string, vmid: number, conf: Conf, running: boolean): string {
  const header = `# ${type === "qemu" ? "VM" : "Container"} ${vmid} on ${node}, exported for the bpg/proxmox provider.\n`;
  return header + (type === "qemu" ? vmResource(node, vmid, conf, running) : containerResource(node, vmid, conf, running));
}
